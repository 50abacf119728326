"""Reading alert records: one alert, alerts by state and brand, an alert's history.

Writes go through :mod:`alerts.escalation` (the state machine); this module only reads.

    with engine.connect() as conn:
        for alert in list_alerts(conn, state=AlertState.FIRING, brand="acme"):
            print(alert.id, alert.level, alert_events(conn, alert.id)[-1]["reason"])
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from monitor.errors import AlertStateError
from monitor.models import Alert, AlertState
from monitor.store import schema

_A = schema.alerts.c
_OPEN_STATES = [s.value for s in AlertState if s.is_open]


def to_alert(row: Any) -> Alert:
    return Alert(
        id=int(row.id),
        group_key=row.group_key,
        brand=row.brand,
        level=row.level,
        state=AlertState(row.state),
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        summary=row.summary,
        evidence=dict(row.evidence or {}),
        ack_deadline=row.ack_deadline,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        last_signal_at=row.last_signal_at,
        drill=bool(row.drill),
    )


def find_alert(conn: sa.Connection, alert_id: int) -> Alert | None:
    row = conn.execute(sa.select(schema.alerts).where(_A.id == alert_id)).first()
    return to_alert(row) if row is not None else None


def get_alert(conn: sa.Connection, alert_id: int) -> Alert:
    """The alert with this id; AlertStateError when there is none."""
    alert = find_alert(conn, alert_id)
    if alert is None:
        raise AlertStateError("no such alert", alert_id=alert_id)
    return alert


def list_alerts(
    conn: sa.Connection,
    state: AlertState | str | None = None,
    brand: str | None = None,
    limit: int = 100,
    *,
    open_only: bool = False,
    drill: bool | None = None,
) -> list[Alert]:
    """Alerts, newest first, optionally only one state / brand / the open ones / drills or not."""
    query = sa.select(schema.alerts).order_by(_A.opened_at.desc(), _A.id.desc()).limit(limit)
    if state is not None:
        try:
            state = AlertState(state)
        except ValueError:
            valid = ", ".join(s.value for s in AlertState)
            raise AlertStateError(f"unknown alert state {state!r} (valid: {valid})") from None
        query = query.where(_A.state == state.value)
    if open_only:
        query = query.where(_A.state.in_(_OPEN_STATES))
    if brand is not None:
        query = query.where(_A.brand == brand)
    if drill is not None:
        query = query.where(_A.drill == drill)
    return [to_alert(r) for r in conn.execute(query)]


def open_alert(conn: sa.Connection, brand: str, *, drill: bool = False) -> Alert | None:
    """The brand's open (not resolved) alert, if any: the incident new signals belong to."""
    alerts = list_alerts(conn, brand=brand, open_only=True, drill=drill, limit=1)
    return alerts[0] if alerts else None


def alert_events(conn: sa.Connection, alert_id: int) -> list[dict[str, Any]]:
    """The alert's history, oldest first: at, from_state, to_state, level, actor, reason."""
    e = schema.alert_events.c
    rows = conn.execute(sa.select(schema.alert_events).where(e.alert_id == alert_id).order_by(e.at, e.id))
    return [dict(r._mapping) for r in rows]
