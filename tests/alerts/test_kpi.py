"""Crisis KPIs from real alert records and stored mentions (SQLite and PostgreSQL), and the
time-to-ack / time-to-resolve histograms observed as the transitions happen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from alerts import escalation
from alerts.engine import AlertEngine
from alerts.kpi import crisis_kpis, percentile
from alerts.plan import CrisisPlan
from monitor.clock import FixedClock
from monitor.metrics import Metrics
from monitor.models import Alert

from .conftest import add_mentions

T0 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)


def _fire(store: sa.Engine, brand: str, level: str, at: datetime, metrics: Metrics) -> Alert:
    with store.begin() as conn:
        return escalation.fire(
            conn,
            brand=brand,
            level=level,
            group_key=f"{brand}:{int(at.timestamp())}",
            now=at,
            ack_deadline=at + timedelta(minutes=30),
            summary="s",
            evidence={},
            reason="test",
            metrics=metrics,
        )


def _ack(store: sa.Engine, alert: Alert, at: datetime, metrics: Metrics, by: str = "zhang-san") -> None:
    with store.begin() as conn:
        escalation.acknowledge(conn, alert.id, by, at, metrics=metrics)


def _resolve(store: sa.Engine, alert: Alert, at: datetime, metrics: Metrics) -> None:
    with store.begin() as conn:
        escalation.resolve(conn, alert.id, "li-si", at, "statement published", metrics=metrics)


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90) == pytest.approx(91.0)


def test_kpis_per_level_times_and_opinion_control(store: sa.Engine, clock: FixedClock, plan: CrisisPlan) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    # Normal talk before the incidents: 20% negative for both brands.
    for brand in ("acme", "beta"):
        add_mentions(store, brand, T0 - timedelta(days=2), negative=2, neutral=8, spread=timedelta(hours=5))

    # 1. acme warning: acked after 10 min, resolved after 2 h; afterwards 10% negative -> back to baseline.
    a1 = _fire(store, "acme", "warning", T0, metrics)
    _ack(store, a1, T0 + timedelta(minutes=10), metrics)
    _resolve(store, a1, T0 + timedelta(hours=2), metrics)
    add_mentions(store, "acme", T0 + timedelta(hours=5), negative=1, neutral=9)

    # 2. beta: warning acked after 30 min, raised to crisis (ack cleared), acked again, resolved after
    #    5 h; afterwards 60% negative -> not back. Its first ack counts for time to acknowledge.
    t2 = T0 + timedelta(days=1)
    a2 = _fire(store, "beta", "warning", t2, metrics)
    _ack(store, a2, t2 + timedelta(minutes=30), metrics)
    with store.begin() as conn:
        escalation.escalate(
            conn,
            a2.id,
            to_level="crisis",
            now=t2 + timedelta(hours=1),
            ack_deadline=None,
            reason="worse",
            metrics=metrics,
        )
    _ack(store, a2, t2 + timedelta(hours=1, minutes=5), metrics, by="li-si")
    _resolve(store, a2, t2 + timedelta(hours=5), metrics)
    add_mentions(store, "beta", t2 + timedelta(hours=8), negative=6, neutral=4)

    # 3. acme crisis, never acknowledged, still open.
    _fire(store, "acme", "crisis", T0 + timedelta(days=3), metrics)
    # 4. acme warning resolved 2 h before `until`: its 24 h recovery window is still running.
    until = T0 + timedelta(days=10)
    a4 = _fire(store, "acme", "warning", until - timedelta(hours=4), metrics)
    _resolve(store, a4, until - timedelta(hours=2), metrics)
    # 5. a drill (acknowledged after 3 min): left out unless asked for.
    clock.set(T0 + timedelta(days=4))
    drill = AlertEngine(store, plan, clock, metrics).drill("acme", "crisis", by="zhang-san")
    clock.advance(minutes=3)
    AlertEngine(store, plan, clock, metrics).acknowledge(drill.alert.id, by="li-si", note="drill: on it")
    # 6. before the period: not counted.
    _fire(store, "acme", "warning", T0 - timedelta(days=1), metrics)

    with store.connect() as conn:
        k = crisis_kpis(conn, T0, until)
        with_drills = crisis_kpis(conn, T0, until, include_drills=True)
        drills = crisis_kpis(conn, T0, until, only_drills=True)

    assert k["drills"] == "excluded" and k["incidents"] == 4
    assert k["by_level"] == {"warning": 2, "crisis": 2} and k["by_brand"] == {"acme": 3, "beta": 1}
    assert k["open"] == 1
    ack = k["time_to_ack"]
    assert (ack["count"], ack["unacknowledged"]) == (2, 2)
    assert (ack["median_seconds"], ack["p90_seconds"]) == (1200.0, 1680.0)  # 10 and 30 minutes
    assert ack["by_level"]["crisis"] == {"count": 1, "median_seconds": 1800.0, "p90_seconds": 1800.0}
    res = k["time_to_resolve"]
    assert (res["count"], res["unresolved"]) == (3, 1)
    assert res["median_seconds"] == 7200.0 and res["by_level"]["crisis"]["median_seconds"] == 18000.0
    control = k["control"]
    assert (control["evaluated"], control["returned"], control["pending"], control["share"]) == (2, 1, 1, 0.5)
    by_id = {c["alert_id"]: c for c in control["incidents"]}
    assert by_id[a1.id]["returned"] is True and by_id[a1.id]["baseline_share"] == 0.2
    assert by_id[a1.id]["after_share"] == 0.1
    assert by_id[a2.id]["returned"] is False and by_id[a2.id]["after_share"] == 0.6

    assert with_drills["incidents"] == 5 and with_drills["time_to_ack"]["count"] == 3
    assert drills["drills"] == "only" and drills["incidents"] == 1
    assert drills["time_to_ack"]["median_seconds"] == 180.0 and drills["control"]["evaluated"] == 0

    # The histograms saw each transition as it happened, drills under drill="true".
    def sample(name: str, level: str, drill: str = "false") -> float | None:
        return registry.get_sample_value(name, {"level": level, "drill": drill})

    assert sample("brandpulse_alert_time_to_ack_seconds_count", "warning") == 2  # a1, a2's first ack
    assert sample("brandpulse_alert_time_to_ack_seconds_sum", "warning") == 600 + 1800
    assert sample("brandpulse_alert_time_to_ack_seconds_sum", "crisis") == 3900  # a2 again, at crisis
    assert sample("brandpulse_alert_time_to_ack_seconds_sum", "crisis", "true") == 180
    assert sample("brandpulse_alert_time_to_resolve_seconds_sum", "crisis") == 18000
    assert sample("brandpulse_alert_time_to_resolve_seconds_count", "warning") == 2
    assert (
        registry.get_sample_value(
            "brandpulse_alerts_raised_total", {"brand": "acme", "level": "crisis", "drill": "true"}
        )
        == 1
    )


def test_kpis_of_an_empty_period(store: sa.Engine) -> None:
    with store.connect() as conn:
        k = crisis_kpis(conn, T0, T0 + timedelta(days=90))
        with pytest.raises(ValueError, match="must be after since"):
            crisis_kpis(conn, T0, T0)
    assert k["incidents"] == 0 and k["time_to_ack"]["median_seconds"] is None and k["control"]["share"] is None
