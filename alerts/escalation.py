"""The alert state machine. Every change of an alert's state goes through here.

::

    (none) --fire--> firing --acknowledge--> acknowledged --resolve--> resolved
                       |                          |
                       +--escalate--> escalated <-+   (ack deadline passed, or a worse signal)
                                         |
                                         +--acknowledge / resolve

Each function checks the transition is allowed (else AlertStateError with a clear message),
updates the ``alerts`` row only if nobody changed it meanwhile, and appends an
``alert_events`` row saying who, when and why. They run inside the caller's transaction, so
the engine can write the alert, its event and its outbox rows atomically:

    with engine.begin() as conn:
        alert = acknowledge(conn, 42, by="zhang-san", now=clock.now(), note="on it")
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from alerts.records import get_alert
from monitor.errors import AlertStateError
from monitor.models import Alert, AlertState
from monitor.store import schema

if TYPE_CHECKING:
    from monitor.metrics import Metrics

log = logging.getLogger(__name__)

ENGINE = "engine"  # the actor recorded for changes the alert engine makes on its own

F, A, E, R = AlertState.FIRING, AlertState.ACKNOWLEDGED, AlertState.ESCALATED, AlertState.RESOLVED
ALLOWED: dict[str, frozenset[AlertState]] = {
    "acknowledge": frozenset({F, E}),
    "escalate": frozenset({F, E, A}),  # a worse signal re-opens an acknowledged alert to the new level
    "resolve": frozenset({F, E, A}),
}


def _when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%SZ") if dt else "?"


def _check(alert: Alert, action: str) -> None:
    if alert.state in ALLOWED[action]:
        return
    if alert.state is R:
        why = f"it was resolved at {_when(alert.resolved_at)} by {alert.resolved_by!r}"
    elif alert.state is A:
        why = f"it is already acknowledged by {alert.acknowledged_by!r} at {_when(alert.acknowledged_at)}"
    else:
        why = f"it is {alert.state.value}"
    raise AlertStateError(f"cannot {action}: {why}", alert_id=alert.id)


def _event(
    conn: sa.Connection,
    alert_id: int,
    now: datetime,
    from_state: AlertState | None,
    to_state: AlertState,
    level: str,
    actor: str,
    reason: str,
) -> None:
    conn.execute(
        schema.alert_events.insert().values(
            alert_id=alert_id,
            at=now,
            from_state=from_state.value if from_state else None,
            to_state=to_state.value,
            level=level,
            actor=actor,
            reason=reason,
        )
    )


def _update(conn: sa.Connection, alert: Alert, values: dict[str, Any]) -> Alert:
    """Compare-and-set: only if state and level are still what we read (a concurrent ack or
    engine tick would otherwise be silently overwritten)."""
    c = schema.alerts.c
    result = conn.execute(
        schema.alerts.update()
        .where(c.id == alert.id, c.state == alert.state.value, c.level == alert.level)
        .values(**values)
    )
    if result.rowcount != 1:
        raise AlertStateError(
            "was changed by someone else meanwhile; reload and try again", alert_id=alert.id
        )
    return get_alert(conn, alert.id)


def _count(metrics: Metrics | None, alert: Alert) -> None:
    if metrics is not None:
        metrics.alert_transitions.labels(brand=alert.brand, level=alert.level, state=alert.state.value).inc()


def _drill(alert: Alert) -> str:
    return "true" if alert.drill else "false"


def _need_actor(alert_id: int, by: str, action: str) -> str:
    by = (by or "").strip()
    if not by:
        raise AlertStateError(f"cannot {action}: say who does it (by is empty)", alert_id=alert_id)
    return by


def fire(
    conn: sa.Connection,
    *,
    brand: str,
    level: str,
    group_key: str,
    now: datetime,
    ack_deadline: datetime | None,
    summary: str,
    evidence: dict[str, Any],
    reason: str,
    drill: bool = False,
    by: str = ENGINE,
    metrics: Metrics | None = None,
) -> Alert:
    """Open a new alert (state firing) and record why."""
    alert_id = conn.execute(
        schema.alerts.insert()
        .values(
            group_key=group_key,
            brand=brand,
            level=level,
            state=F.value,
            drill=drill,
            opened_at=now,
            updated_at=now,
            ack_deadline=ack_deadline,
            last_signal_at=now,
            summary=summary,
            evidence=evidence,
        )
        .returning(schema.alerts.c.id)
    ).scalar_one()
    _event(conn, alert_id, now, None, F, level, by, reason)
    alert = get_alert(conn, alert_id)
    if metrics is not None:
        metrics.alerts_raised.labels(brand=brand, level=level, drill=_drill(alert)).inc()
    _count(metrics, alert)
    log.info(
        "alert fired alert=%s brand=%s level=%s drill=%s reason=%s", alert_id, brand, level, drill, reason
    )
    return alert


def record_signal(conn: sa.Connection, alert: Alert, now: datetime) -> None:
    """The incident is still going on: push back its automatic resolution. Not a state change."""
    conn.execute(
        schema.alerts.update()
        .where(schema.alerts.c.id == alert.id)
        .values(last_signal_at=now, updated_at=now)
    )


def acknowledge(
    conn: sa.Connection, alert_id: int, by: str, now: datetime, note: str = "", metrics: Metrics | None = None
) -> Alert:
    """Someone took responsibility: escalation stops; the alert stays open until resolved."""
    by = _need_actor(alert_id, by, "acknowledge")
    alert = get_alert(conn, alert_id)
    _check(alert, "acknowledge")
    updated = _update(
        conn, alert, {"state": A.value, "acknowledged_at": now, "acknowledged_by": by, "updated_at": now}
    )
    _event(conn, alert_id, now, alert.state, A, alert.level, by, note.strip() or "acknowledged")
    _count(metrics, updated)
    if metrics is not None:  # 危机处理时效: detection -> acknowledgement (again after an escalation)
        metrics.time_to_ack.labels(level=updated.level, drill=_drill(updated)).observe(
            max(0.0, (now - alert.opened_at).total_seconds())
        )
    log.info("alert acknowledged alert=%s brand=%s level=%s by=%s", alert_id, alert.brand, alert.level, by)
    return updated


def escalate(
    conn: sa.Connection,
    alert_id: int,
    *,
    to_level: str,
    now: datetime,
    ack_deadline: datetime | None,
    reason: str,
    by: str = ENGINE,
    evidence: dict[str, Any] | None = None,
    summary: str | None = None,
    metrics: Metrics | None = None,
) -> Alert:
    """Move an open alert to another (more severe) level; it must be acknowledged anew."""
    alert = get_alert(conn, alert_id)
    _check(alert, "escalate")
    if to_level == alert.level:
        raise ValueError(f"alert {alert_id} is already at level {to_level!r}")
    values: dict[str, Any] = {
        "state": E.value,
        "level": to_level,
        "ack_deadline": ack_deadline,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "updated_at": now,
    }
    if evidence is not None:
        values["evidence"] = evidence
    if summary is not None:
        values["summary"] = summary
    updated = _update(conn, alert, values)
    _event(conn, alert_id, now, alert.state, E, to_level, by, reason)
    _count(metrics, updated)
    log.info(
        "alert escalated alert=%s brand=%s from_level=%s level=%s reason=%s",
        alert_id,
        alert.brand,
        alert.level,
        to_level,
        reason,
    )
    return updated


def resolve(
    conn: sa.Connection, alert_id: int, by: str, now: datetime, reason: str, metrics: Metrics | None = None
) -> Alert:
    """Close the incident. A later spike for the brand opens a new alert."""
    by = _need_actor(alert_id, by, "resolve")
    alert = get_alert(conn, alert_id)
    _check(alert, "resolve")
    updated = _update(
        conn, alert, {"state": R.value, "resolved_at": now, "resolved_by": by, "updated_at": now}
    )
    _event(conn, alert_id, now, alert.state, R, alert.level, by, reason.strip() or "resolved")
    _count(metrics, updated)
    if metrics is not None:  # 危机处理时效: detection -> resolution
        metrics.time_to_resolve.labels(level=updated.level, drill=_drill(updated)).observe(
            max(0.0, (now - alert.opened_at).total_seconds())
        )
    log.info("alert resolved alert=%s brand=%s level=%s by=%s", alert_id, alert.brand, alert.level, by)
    return updated
