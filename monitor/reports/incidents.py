"""The incidents of a report period and how they were handled (评估标准五 per period).

For each alert opened in the period: the level it opened at and the most severe it reached,
detection -> first acknowledgement -> resolution from its timeline, the acknowledgement
deadline of the level it opened at in the plan (``ack_within``) and whether it was met, and
whether the brand's negative share returned to its pre-incident baseline after resolution.
That last check is alerts/kpi.py's (``crisis_kpis``), not a second implementation, and so
are the percentiles. Drills are listed apart and never counted as incidents.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from alerts.kpi import RECOVERY_HOURS, TOLERANCE, crisis_kpis, percentile
from alerts.plan import CrisisPlan
from alerts.records import to_alert
from monitor.reports.period import Period
from monitor.store import schema


@dataclass(frozen=True)
class Incident:
    id: int
    brand: str
    level: str  # the most severe level reached
    opened_level: str
    state: str
    drill: bool
    summary: str
    opened_at: datetime
    acknowledged_at: datetime | None  # the first acknowledgement (a later escalation does not hide it)
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    escalations: int
    escalated_unacknowledged: bool  # escalated before its first acknowledgement: a deadline was missed
    ack_target: float | None  # seconds: ack_within of the level it opened at (None: not in the plan)
    control: dict[str, Any] | None  # crisis_kpis' check: baseline_share, after_share, returned
    control_pending: bool  # resolved, but the recovery window has not ended yet

    @property
    def ack_seconds(self) -> float | None:
        return None if self.acknowledged_at is None else (self.acknowledged_at - self.opened_at).total_seconds()

    @property
    def resolve_seconds(self) -> float | None:
        return None if self.resolved_at is None else (self.resolved_at - self.opened_at).total_seconds()

    def ack_met(self, now: datetime) -> bool | None:
        """Acknowledged within the target? None while it still can be (or without a target)."""
        if self.ack_target is None:  # no plan: only an escalation for want of an ack tells
            return False if self.escalated_unacknowledged else None
        if self.ack_seconds is not None:
            return self.ack_seconds <= self.ack_target
        if self.resolved_at is None and (now - self.opened_at).total_seconds() <= self.ack_target:
            return None
        return False


@dataclass(frozen=True)
class IncidentSummary:
    incidents: int
    by_level: dict[str, int]
    open: int
    acknowledged: int
    ack_median: float | None
    ack_p90: float | None
    resolved: int
    resolve_median: float | None
    resolve_p90: float | None
    within_target: int  # acknowledged within the plan's deadline
    judged: int  # incidents whose deadline verdict is known
    control_evaluated: int
    control_returned: int
    control_pending: int
    recovery_hours: float = RECOVERY_HOURS
    tolerance: float = TOLERANCE


def _events(conn: sa.Connection, ids: list[int]) -> dict[int, list[Any]]:
    e = schema.alert_events.c
    out: dict[int, list[Any]] = {i: [] for i in ids}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        rows = conn.execute(sa.select(schema.alert_events).where(e.alert_id.in_(chunk)).order_by(e.at, e.id))
        for r in rows:
            out[int(r.alert_id)].append(r)
    return out


def incidents_in(
    conn: sa.Connection, period: Period, scope: list[str], *, plan: CrisisPlan | None, now: datetime
) -> tuple[list[Incident], list[Incident], IncidentSummary]:
    """(incidents, drills, summary) of the alerts opened in ``period`` for the ``scope`` brands."""
    a = schema.alerts.c
    rows = conn.execute(
        sa.select(schema.alerts)
        .where(a.opened_at >= period.start, a.opened_at < period.end, a.brand.in_(scope))
        .order_by(a.opened_at, a.id)
    )
    alerts = [to_alert(r) for r in rows]
    events = _events(conn, [al.id for al in alerts])
    control: dict[int, dict[str, Any]] = {}
    if alerts and now > period.start:
        kpis = crisis_kpis(conn, period.start, now)
        control = {int(c["alert_id"]): c for c in kpis["control"]["incidents"]}
    out: list[Incident] = []
    for al in alerts:
        timeline = events[al.id]
        acks = [ev for ev in timeline if ev.to_state == "acknowledged"]
        opened_level = timeline[0].level if timeline else al.level
        target: float | None = None
        if plan is not None:
            try:
                target = float(plan.level(opened_level).ack_within)
            except KeyError:  # a level since removed from the plan
                target = None
        check = control.get(al.id)
        out.append(Incident(
            id=al.id, brand=al.brand, level=al.level, opened_level=opened_level, state=al.state.value,
            drill=al.drill, summary=al.summary, opened_at=al.opened_at,
            acknowledged_at=acks[0].at if acks else None, acknowledged_by=acks[0].actor if acks else None,
            resolved_at=al.resolved_at, resolved_by=al.resolved_by,
            escalations=sum(1 for ev in timeline if ev.to_state == "escalated"),
            escalated_unacknowledged=any(ev.to_state == "escalated" and (not acks or ev.at <= acks[0].at)
                                         for ev in timeline),
            ack_target=target, control=check,
            control_pending=al.resolved_at is not None and not al.drill and check is None,
        ))
    real = [i for i in out if not i.drill]
    return real, [i for i in out if i.drill], summarize(real, now)


def summarize(incidents: list[Incident], now: datetime) -> IncidentSummary:
    acks = [s for i in incidents if (s := i.ack_seconds) is not None]
    resolves = [s for i in incidents if (s := i.resolve_seconds) is not None]
    verdicts = [v for i in incidents if (v := i.ack_met(now)) is not None]
    checked = [i.control for i in incidents if i.control is not None]
    return IncidentSummary(
        incidents=len(incidents),
        by_level=dict(Counter(i.level for i in incidents)),
        open=sum(1 for i in incidents if i.resolved_at is None),
        acknowledged=len(acks),
        ack_median=percentile(acks, 50),
        ack_p90=percentile(acks, 90),
        resolved=len(resolves),
        resolve_median=percentile(resolves, 50),
        resolve_p90=percentile(resolves, 90),
        within_target=sum(1 for v in verdicts if v),
        judged=len(verdicts),
        control_evaluated=len(checked),
        control_returned=sum(1 for c in checked if c["returned"]),
        control_pending=sum(1 for i in incidents if i.control_pending),
    )
