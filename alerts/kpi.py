"""Crisis KPIs from the alert records (评估标准五), for the quarterly review.

- **How often**: incidents (alerts opened) per level and per brand. An alert's level is the
  most severe it reached (alerts only move up).
- **How fast** (危机处理时效): detection -> first acknowledgement, and detection -> resolution;
  median and 90th percentile, overall and per level. The first acknowledgement comes from the
  alert's timeline, so a later escalation (which clears the acknowledgement) does not hide it.
- **Was opinion brought back under control** (舆论控制效果): for each resolved real incident,
  the brand's negative share (negative / all mentions) over the ``recovery_hours`` after
  resolution, compared with its baseline share over the ``baseline_days`` before the incident
  opened. It "returned to baseline" when it is at most the baseline share plus ``tolerance``
  (absolute, 0.05 = 5 percentage points). Incidents whose recovery window has not ended by
  ``until`` are counted as pending. Hours without mentions count as calm.

Drills are left out unless asked for (``include_drills`` adds them, ``only_drills`` gives the
drill report: how fast people responded to the simulated incidents). Drills change no
mentions, so the control measure is computed for real incidents only.

    with engine.connect() as conn:
        kpis = crisis_kpis(conn, now - timedelta(days=90), now)
    kpis["time_to_ack"]["median_seconds"], kpis["control"]["share"]
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from alerts.records import to_alert
from monitor.models import Alert
from monitor.store import mentions as store_mentions
from monitor.store import schema

HOUR = 3600
RECOVERY_HOURS = 24  # how long after resolution negative share is measured
BASELINE_DAYS = 7  # how far before the incident the brand's normal negative share is measured
TOLERANCE = 0.05  # negative share may exceed the baseline by this much and still count as back


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _summary(values: list[float]) -> dict[str, Any]:
    def rounded(v: float | None) -> float | None:
        return None if v is None else round(v, 1)

    return {
        "count": len(values),
        "median_seconds": rounded(percentile(values, 50)),
        "p90_seconds": rounded(percentile(values, 90)),
    }


def _first_acks(conn: sa.Connection, ids: list[int]) -> dict[int, datetime]:
    e = schema.alert_events.c
    out: dict[int, datetime] = {}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        rows = conn.execute(
            sa.select(e.alert_id, sa.func.min(e.at))
            .where(e.alert_id.in_(chunk), e.to_state == "acknowledged")
            .group_by(e.alert_id)
        )
        out.update({int(a): at for a, at in rows})
    return out


def negative_share(conn: sa.Connection, brand: str, since: datetime, until: datetime) -> tuple[float, int]:
    """(negative / all mentions, all mentions) of ``brand`` in [since, until); (0.0, 0) if none."""
    counts = store_mentions.bucket_counts(conn, brand, since, until, HOUR)
    total = sum(sum(c.values()) for c in counts.values())
    negative = sum(c.get("negative", 0) for c in counts.values())
    return (negative / total if total else 0.0), total


def _control(
    conn: sa.Connection, alert: Alert, until: datetime, recovery: timedelta, baseline_days: int, tolerance: float
) -> dict[str, Any] | None:
    """The opinion-control check for one resolved incident; None while its window is still open."""
    assert alert.resolved_at is not None
    end = alert.resolved_at + recovery
    if end > until:
        return None
    base, base_n = negative_share(conn, alert.brand, alert.opened_at - timedelta(days=baseline_days), alert.opened_at)
    after, after_n = negative_share(conn, alert.brand, alert.resolved_at, end)
    return {
        "alert_id": alert.id,
        "brand": alert.brand,
        "level": alert.level,
        "baseline_share": round(base, 3),
        "baseline_mentions": base_n,
        "after_share": round(after, 3),
        "after_mentions": after_n,
        "returned": after <= base + tolerance,
    }


def crisis_kpis(
    conn: sa.Connection,
    since: datetime,
    until: datetime,
    include_drills: bool = False,
    *,
    only_drills: bool = False,
    recovery_hours: float = RECOVERY_HOURS,
    baseline_days: int = BASELINE_DAYS,
    tolerance: float = TOLERANCE,
) -> dict[str, Any]:
    """KPIs of the incidents opened in [since, until), as a JSON-ready dict (see the module doc)."""
    if until <= since:
        raise ValueError(f"until ({until.isoformat()}) must be after since ({since.isoformat()})")
    a = schema.alerts.c
    query = sa.select(schema.alerts).where(a.opened_at >= since, a.opened_at < until).order_by(a.opened_at, a.id)
    if only_drills:
        query = query.where(a.drill.is_(True))
    elif not include_drills:
        query = query.where(a.drill.is_(False))
    alerts = [to_alert(r) for r in conn.execute(query)]
    acks = _first_acks(conn, [al.id for al in alerts])

    ack_all: list[float] = []
    resolve_all: list[float] = []
    ack_by_level: dict[str, list[float]] = {}
    resolve_by_level: dict[str, list[float]] = {}
    control: list[dict[str, Any]] = []
    pending = 0
    recovery = timedelta(hours=recovery_hours)
    for al in alerts:
        if al.id in acks:
            seconds = (acks[al.id] - al.opened_at).total_seconds()
            ack_all.append(seconds)
            ack_by_level.setdefault(al.level, []).append(seconds)
        if al.resolved_at is not None:
            seconds = (al.resolved_at - al.opened_at).total_seconds()
            resolve_all.append(seconds)
            resolve_by_level.setdefault(al.level, []).append(seconds)
            if not al.drill:
                check = _control(conn, al, until, recovery, baseline_days, tolerance)
                if check is None:
                    pending += 1
                else:
                    control.append(check)
    returned = sum(1 for c in control if c["returned"])
    levels = sorted({al.level for al in alerts})
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "drills": "only" if only_drills else "included" if include_drills else "excluded",
        "incidents": len(alerts),
        "by_level": dict(Counter(al.level for al in alerts)),
        "by_brand": dict(Counter(al.brand for al in alerts)),
        "open": sum(1 for al in alerts if al.state.is_open),
        "time_to_ack": {
            **_summary(ack_all),
            "unacknowledged": len(alerts) - len(ack_all),
            "by_level": {lvl: _summary(ack_by_level.get(lvl, [])) for lvl in levels},
        },
        "time_to_resolve": {
            **_summary(resolve_all),
            "unresolved": len(alerts) - len(resolve_all),
            "by_level": {lvl: _summary(resolve_by_level.get(lvl, [])) for lvl in levels},
        },
        "control": {
            "recovery_hours": recovery_hours,
            "baseline_days": baseline_days,
            "tolerance": tolerance,
            "evaluated": len(control),
            "returned": returned,
            "share": round(returned / len(control), 3) if control else None,
            "pending": pending,
            "incidents": control,
        },
    }
