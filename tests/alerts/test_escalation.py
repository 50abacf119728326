from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from alerts import escalation
from alerts.records import alert_events, get_alert, list_alerts, open_alert
from monitor.clock import FixedClock
from monitor.errors import AlertStateError
from monitor.metrics import Metrics
from monitor.models import AlertState


def _fire(conn: sa.Connection, clock: FixedClock, brand: str = "acme", level: str = "warning", **kw):  # type: ignore[no-untyped-def]
    now = clock.now()
    return escalation.fire(
        conn,
        brand=brand,
        level=level,
        group_key=f"{brand}:{int(now.timestamp())}",
        now=now,
        ack_deadline=now + timedelta(minutes=30),
        summary="acme: 30 negative vs 2",
        evidence={"negative": 30, "baseline": 2.0},
        reason="negative_spike: 30 vs 2",
        **kw,
    )


def test_lifecycle_is_recorded_with_who_when_why(store: sa.Engine, clock: FixedClock) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    t0 = clock.now()
    with store.begin() as conn:
        alert = _fire(conn, clock, metrics=metrics)
    assert alert.state is AlertState.FIRING and alert.level == "warning" and alert.evidence["negative"] == 30
    assert alert.ack_deadline == t0 + timedelta(minutes=30) and alert.last_signal_at == t0

    clock.advance(minutes=40)
    with store.begin() as conn:
        alert = escalation.escalate(
            conn,
            alert.id,
            to_level="crisis",
            now=clock.now(),
            ack_deadline=clock.now() + timedelta(minutes=15),
            reason="not acknowledged within 30m",
            metrics=metrics,
        )
    assert alert.state is AlertState.ESCALATED and alert.level == "crisis"

    clock.advance(minutes=5)
    with store.begin() as conn:
        alert = escalation.acknowledge(
            conn, alert.id, by="li-si", now=clock.now(), note="公关部跟进中", metrics=metrics
        )
    assert alert.state is AlertState.ACKNOWLEDGED
    assert (alert.acknowledged_by, alert.acknowledged_at) == ("li-si", t0 + timedelta(minutes=45))

    clock.advance(hours=2)
    with store.begin() as conn:
        alert = escalation.resolve(
            conn, alert.id, by="li-si", now=clock.now(), reason="回应声明已发布", metrics=metrics
        )
    assert alert.state is AlertState.RESOLVED and alert.resolved_by == "li-si"

    with store.connect() as conn:
        events = alert_events(conn, alert.id)
    assert [
        (e["from_state"], e["to_state"], e["level"], e["actor"], e["reason"], e["at"]) for e in events
    ] == [
        (None, "firing", "warning", "engine", "negative_spike: 30 vs 2", t0),
        (
            "firing",
            "escalated",
            "crisis",
            "engine",
            "not acknowledged within 30m",
            t0 + timedelta(minutes=40),
        ),
        ("escalated", "acknowledged", "crisis", "li-si", "公关部跟进中", t0 + timedelta(minutes=45)),
        ("acknowledged", "resolved", "crisis", "li-si", "回应声明已发布", t0 + timedelta(minutes=165)),
    ]
    assert (
        registry.get_sample_value(
            "brandpulse_alerts_raised_total", {"brand": "acme", "level": "warning", "drill": "false"}
        )
        == 1
    )
    for level, state in (
        ("warning", "firing"),
        ("crisis", "escalated"),
        ("crisis", "acknowledged"),
        ("crisis", "resolved"),
    ):
        assert (
            registry.get_sample_value(
                "brandpulse_alert_transitions_total", {"brand": "acme", "level": level, "state": state}
            )
            == 1
        )


def test_invalid_transitions_say_why(store: sa.Engine, clock: FixedClock) -> None:
    with store.begin() as conn:
        alert = _fire(conn, clock)
        escalation.acknowledge(conn, alert.id, by="zhang-san", now=clock.now())
    with store.begin() as conn, pytest.raises(AlertStateError) as info:
        escalation.acknowledge(conn, alert.id, by="li-si", now=clock.now())
    assert str(info.value) == (
        f"alert {alert.id}: cannot acknowledge: it is already acknowledged by 'zhang-san' "
        f"at 2026-03-02 09:00:00Z"
    )
    with store.begin() as conn:
        escalation.resolve(conn, alert.id, by="zhang-san", now=clock.now(), reason="done")
    for action in (
        lambda c: escalation.acknowledge(c, alert.id, by="li-si", now=clock.now()),
        lambda c: escalation.resolve(c, alert.id, by="li-si", now=clock.now(), reason="x"),
        lambda c: escalation.escalate(
            c, alert.id, to_level="crisis", now=clock.now(), ack_deadline=None, reason="x"
        ),
    ):
        with (
            store.begin() as conn,
            pytest.raises(
                AlertStateError,
                match=r"it was resolved at 2026-03-02 09:00:00Z "
                r"by 'zhang-san'",
            ),
        ):
            action(conn)
    with store.connect() as conn:  # nothing was written by the refused changes
        assert len(alert_events(conn, alert.id)) == 3
        assert get_alert(conn, alert.id).state is AlertState.RESOLVED


def test_unknown_alert_and_missing_actor(store: sa.Engine, clock: FixedClock) -> None:
    with store.begin() as conn:
        with pytest.raises(AlertStateError, match=r"^alert 999: no such alert$"):
            escalation.acknowledge(conn, 999, by="li-si", now=clock.now())
        alert = _fire(conn, clock)
        with pytest.raises(AlertStateError, match=r"cannot acknowledge: say who does it"):
            escalation.acknowledge(conn, alert.id, by="  ", now=clock.now())
        with pytest.raises(ValueError, match="already at level 'warning'"):
            escalation.escalate(
                conn, alert.id, to_level="warning", now=clock.now(), ack_deadline=None, reason="x"
            )


def test_a_stale_read_cannot_overwrite_a_concurrent_change(store: sa.Engine, clock: FixedClock) -> None:
    with store.begin() as conn:
        alert = _fire(conn, clock)
    with store.begin() as conn:
        escalation.acknowledge(conn, alert.id, by="zhang-san", now=clock.now())
    with store.begin() as conn, pytest.raises(AlertStateError, match="changed by someone else"):
        escalation._update(conn, alert, {"state": "escalated"})  # `alert` still says firing


def test_queries(store: sa.Engine, clock: FixedClock) -> None:
    with store.begin() as conn:
        a1 = _fire(conn, clock, brand="acme")
        clock.advance(minutes=1)
        a2 = _fire(conn, clock, brand="beta")
        clock.advance(minutes=1)
        a3 = _fire(conn, clock, brand="acme", drill=True)
        escalation.resolve(conn, a1.id, by="engine", now=clock.now(), reason="quiet")
    with store.connect() as conn:
        assert [a.id for a in list_alerts(conn)] == [a3.id, a2.id, a1.id]  # newest first
        assert [a.id for a in list_alerts(conn, state="firing")] == [a3.id, a2.id]
        assert [a.id for a in list_alerts(conn, state=AlertState.RESOLVED, brand="acme")] == [a1.id]
        assert [a.id for a in list_alerts(conn, brand="acme", limit=1)] == [a3.id]
        assert open_alert(conn, "acme") is None  # the drill does not count as the real incident
        assert open_alert(conn, "acme", drill=True).id == a3.id  # type: ignore[union-attr]
        assert open_alert(conn, "beta").id == a2.id  # type: ignore[union-attr]
        with pytest.raises(
            AlertStateError, match=r"^unknown alert state 'exploded' \(valid: firing, acknowledged"
        ):
            list_alerts(conn, state="exploded")
