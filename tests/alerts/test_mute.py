"""Muting: silences, maintenance windows (hold / suppress) and inhibition, on their own and
wired through the engine (at enqueue) and the dispatcher (at send time) on real databases and
a real webhook receiver on loopback."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from alerts import outbox
from alerts.dispatch import Dispatcher
from alerts.engine import AlertEngine
from alerts.mute import Inhibitor, MaintenanceMuter, PlanMuter, SilenceMuter, Target, window_end
from alerts.notify import build_notifier
from alerts.plan import CrisisPlan, load_plan
from monitor.clock import FixedClock
from monitor.errors import ConfigError
from monitor.metrics import Metrics
from monitor.models import Alert, AlertState, NotifyReason

from .conftest import PLAN, add_history, add_mentions

# The clock fixture starts at Monday 2026-03-02 09:00 UTC = 17:00 in Asia/Shanghai.


def _plan(**extra: Any) -> CrisisPlan:
    data = copy.deepcopy(PLAN)
    data["contacts"] = [
        {"id": "zhang-san", "name": "张三", "channels": ["hook"]},
        {"id": "li-si", "name": "李四", "channels": ["hook"]},
        {"id": "wang-wu", "name": "Wang Wu", "channels": ["hook"]},
    ]
    data.update(extra)
    return load_plan(data, file="plan.yaml", notifier_ids={"hook"})


def _alert(level: str = "warning", brand: str = "acme", drill: bool = False) -> Alert:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    return Alert(1, f"{brand}:1", brand, level, AlertState.FIRING, now, now, "s", drill=drill)


def _target(
    level: str = "warning", reason: NotifyReason = NotifyReason.FIRST, open_levels: tuple[str, ...] = ()
) -> Target:
    return Target("zhang-san", "hook", level, reason, frozenset(open_levels))


SILENCE = {
    "brand": "acme",
    "level": "warning",
    "starts": "2026-03-02T16:00:00+08:00",
    "ends": "2026-03-02T18:00:00+08:00",
    "comment": "发布会彩排",
    "created_by": "zhang-san",
}


def test_silence_matches_brand_level_and_half_open_time_range() -> None:
    muter = SilenceMuter(_plan(silences=[SILENCE]).silences)
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    mute = muter.mutes(_alert(), _target(), at)
    assert mute is not None and mute.kind == "silence" and mute.hold_until is None
    assert str(mute) == "silence: 发布会彩排 (by zhang-san, until 2026-03-02 10:00 UTC)"
    assert muter.mutes(_alert(brand="beta"), _target(), at) is None  # another brand
    assert muter.mutes(_alert(), _target("crisis"), at) is None  # another level
    assert muter.mutes(_alert(), _target(), datetime(2026, 3, 2, 10, 0, tzinfo=UTC)) is None  # ends is exclusive
    assert muter.mutes(_alert(), _target(), datetime(2026, 3, 2, 7, 59, tzinfo=UTC)) is None  # before starts
    everything = SilenceMuter(
        _plan(silences=[{k: v for k, v in SILENCE.items() if k not in ("brand", "level")}]).silences
    )
    assert everything.mutes(_alert("crisis", brand="beta"), _target("crisis"), at) is not None


def test_maintenance_window_in_local_time_including_overnight() -> None:
    plan = _plan(
        maintenance=[
            {"days": ["sat", "sun"], "from": "02:00", "to": "04:00", "timezone": "Asia/Shanghai"},
            {
                "days": ["mon"],
                "from": "23:00",
                "to": "01:30",
                "timezone": "Asia/Shanghai",
                "action": "suppress",
                "brands": ["beta"],
            },
        ]
    )
    weekend, overnight = plan.maintenance
    # Saturday 2026-03-07 02:30 Shanghai = Friday 18:30 UTC
    assert window_end(weekend, datetime(2026, 3, 6, 18, 30, tzinfo=UTC)) == datetime(2026, 3, 6, 20, 0, tzinfo=UTC)
    assert window_end(weekend, datetime(2026, 3, 6, 20, 0, tzinfo=UTC)) is None  # 04:00 is outside
    assert window_end(weekend, datetime(2026, 3, 5, 18, 30, tzinfo=UTC)) is None  # a Friday
    # Monday 23:00 -> Tuesday 01:30 Shanghai; Tuesday 00:30 local is still Monday's window
    assert window_end(overnight, datetime(2026, 3, 2, 16, 30, tzinfo=UTC)) == datetime(2026, 3, 2, 17, 30, tzinfo=UTC)
    assert window_end(overnight, datetime(2026, 3, 3, 16, 30, tzinfo=UTC)) is None  # Tuesday night: no window

    muter = MaintenanceMuter(plan.maintenance)
    held = muter.mutes(_alert(), _target(), datetime(2026, 3, 6, 18, 30, tzinfo=UTC))
    assert held is not None and held.kind == "maintenance"
    assert held.hold_until == datetime(2026, 3, 6, 20, 0, tzinfo=UTC)
    assert str(held) == "maintenance: sat, sun 02:00-04:00 Asia/Shanghai, held until 2026-03-06 20:00 UTC"
    at = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)
    assert muter.mutes(_alert(), _target(), at) is None  # the overnight window is only for beta
    suppressed = muter.mutes(_alert(brand="beta"), _target(), at)
    assert suppressed is not None and suppressed.hold_until is None


def test_inhibition_more_severe_open_level_supersedes_but_never_resolved() -> None:
    inhibitor = Inhibitor(_plan())
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    mute = inhibitor.mutes(_alert("crisis"), _target("warning", open_levels=("crisis",)), at)
    assert mute is not None and mute.kind == "inhibition"
    assert "open alert at level 'crisis', which supersedes 'warning'" in str(mute)
    assert inhibitor.mutes(_alert(), _target("crisis", open_levels=("crisis", "warning")), at) is None
    assert inhibitor.mutes(_alert(), _target("warning", open_levels=("warning",)), at) is None
    resolved = _target("warning", NotifyReason.RESOLVED, open_levels=("crisis",))
    assert inhibitor.mutes(_alert(), resolved, at) is None


def test_drills_are_never_muted() -> None:
    muter = PlanMuter(_plan(silences=[{k: v for k, v in SILENCE.items() if k not in ("brand", "level")}]))
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert muter.mutes(_alert(), _target(), at) is not None
    assert muter.mutes(_alert(drill=True), _target(), at) is None


@pytest.mark.parametrize(
    "extra,needle",
    [
        (
            {"silences": [{**SILENCE, "starts": "2026-03-02T16:00:00"}]},
            "silences[0].starts: '2026-03-02 16:00:00' has no timezone",
        ),
        (
            {"silences": [{**SILENCE, "ends": "2026-03-02T15:00:00+08:00"}]},
            "silences[0]: ends (2026-03-02T15:00:00+08:00) must be after starts",
        ),
        (
            {"silences": [{**SILENCE, "level": "panic"}]},
            "silences[0].level: unknown level 'panic' (known: warning, crisis, exec)",
        ),
        (
            {"silences": [{k: v for k, v in SILENCE.items() if k != "comment"}]},
            "silences[0].comment: required key missing",
        ),
        ({"maintenance": [{"days": ["sat", "caturday"], "from": "02:00", "to": "04:00"}]}, "unknown day 'caturday'"),
        (
            {"maintenance": [{"from": 120, "to": "04:00"}]},
            'maintenance[0].from: bad time of day 120 (write "HH:MM" in quotes',
        ),
        ({"maintenance": [{"from": "02:00", "to": "02:00"}]}, "maintenance[0]: from and to are the same time"),
        (
            {"maintenance": [{"from": "02:00", "to": "04:00", "timezone": "Mars/Olympus"}]},
            "unknown timezone 'Mars/Olympus'",
        ),
        (
            {"maintenance": [{"from": "02:00", "to": "04:00", "levels": ["warning", "nope"]}]},
            "maintenance[0].levels[1]: unknown level 'nope'",
        ),
        ({"maintenance": [{"from": "02:00", "to": "04:00", "action": "drop"}]}, "maintenance[0].action"),
    ],
)
def test_bad_silences_and_windows_are_reported_with_their_key(extra: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        _plan(**extra)
    lines = info.value.lines() if hasattr(info.value, "lines") else [str(info.value)]
    assert any(needle in line for line in lines), lines


def test_brands_are_checked_when_known() -> None:
    data = {
        **copy.deepcopy(PLAN),
        "silences": [SILENCE],
        "maintenance": [{"from": "02:00", "to": "04:00", "brands": ["acme", "acne"]}],
    }
    load_plan(data, notifier_ids=None)  # on its own: any brand, any channel
    with pytest.raises(ConfigError, match=r"maintenance\[0\]\.brands\[1\]: unknown brand 'acne' \(known: acme, beta\)"):
        load_plan(data, notifier_ids=None, brand_ids={"acme", "beta"})


# --- through the engine and the dispatcher ------------------------------------------------------


def _setup(store: sa.Engine, clock: FixedClock) -> None:
    add_history(store, "acme", clock.now(), days=3, negative=2, neutral=2)
    clock.advance(minutes=5)  # 09:05 UTC, Monday 17:05 in Shanghai


def _burst(store: sa.Engine, clock: FixedClock, negative: int, neutral: int = 5) -> None:
    add_mentions(
        store,
        "acme",
        clock.now() - timedelta(minutes=4),
        negative=negative,
        neutral=neutral,
        spread=timedelta(minutes=4),
    )


def _rows(store: sa.Engine, alert_id: int) -> list[outbox.OutboxRow]:
    with store.connect() as conn:
        return outbox.rows_for(conn, alert_id)


def _dispatcher(store: sa.Engine, clock: FixedClock, plan: CrisisPlan, url: str, metrics: Metrics) -> Dispatcher:
    return Dispatcher(
        store, {"hook": build_notifier("hook", "webhook", {"url": url})}, clock, metrics, muter=PlanMuter(plan)
    )


def test_silenced_notifications_are_recorded_muted_counted_and_never_sent(
    store: sa.Engine, clock: FixedClock, http_server
) -> None:
    http_server.route("/hook", status=200)
    plan = _plan(silences=[SILENCE])
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    engine = AlertEngine(store, plan, clock, metrics)
    _setup(store, clock)
    _burst(store, clock, negative=30)
    [opened] = engine.evaluate("acme")
    assert opened.alert.level == "warning" and opened.notifications == 1  # recorded, not lost
    [row] = _rows(store, opened.alert.id)
    assert row.status == outbox.MUTED and row.mute_reason and row.mute_reason.startswith("silence: 发布会彩排")
    assert (
        registry.get_sample_value("brandpulse_notifications_suppressed_total", {"channel": "hook", "reason": "silence"})
        == 1
    )
    assert engine.evaluate("acme") == [] and len(_rows(store, opened.alert.id)) == 1  # decided once
    assert _dispatcher(store, clock, plan, http_server.url("/hook"), metrics).drain() == 0
    assert http_server.requests_to("/hook") == []
    # Nobody was told, so nobody is told it is over.
    resolved = engine.resolve(opened.alert.id, by="zhang-san")
    assert resolved.state is AlertState.RESOLVED and len(_rows(store, opened.alert.id)) == 1


def test_maintenance_holds_until_the_window_ends_then_sends_if_still_unacknowledged(
    store: sa.Engine, clock: FixedClock, http_server
) -> None:
    http_server.route("/hook", status=200)
    plan = _plan(maintenance=[{"days": ["mon"], "from": "17:00", "to": "18:00", "timezone": "Asia/Shanghai"}])
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    engine = AlertEngine(store, plan, clock, metrics)
    dispatcher = _dispatcher(store, clock, plan, http_server.url("/hook"), metrics)
    _setup(store, clock)
    _burst(store, clock, negative=30)
    [opened] = engine.evaluate("acme")
    [row] = _rows(store, opened.alert.id)
    window_end_utc = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert (row.status, row.next_attempt_at) == (outbox.PENDING, window_end_utc)
    assert row.payload["held"]["reason"].startswith("maintenance: mon 17:00-18:00 Asia/Shanghai")
    assert (
        registry.get_sample_value(
            "brandpulse_notifications_suppressed_total", {"channel": "hook", "reason": "maintenance"}
        )
        == 1
    )
    clock.advance(minutes=30)
    assert dispatcher.drain() == 0 and http_server.requests_to("/hook") == []
    clock.set(window_end_utc)
    assert dispatcher.drain() == 1
    [sent] = _rows(store, opened.alert.id)
    assert sent.status == outbox.DONE and sent.attempts == 1
    assert len(http_server.requests_to("/hook")) == 1
    assert (
        registry.get_sample_value(
            "brandpulse_notifications_suppressed_total", {"channel": "hook", "reason": "maintenance"}
        )
        == 1
    )  # counted once


def test_held_notification_is_muted_when_the_alert_was_acknowledged_meanwhile(
    store: sa.Engine, clock: FixedClock, http_server
) -> None:
    http_server.route("/hook", status=200)
    plan = _plan(maintenance=[{"days": ["mon"], "from": "17:00", "to": "18:00", "timezone": "Asia/Shanghai"}])
    engine = AlertEngine(store, plan, clock)
    dispatcher = _dispatcher(store, clock, plan, http_server.url("/hook"), Metrics(CollectorRegistry()))
    _setup(store, clock)
    _burst(store, clock, negative=30)
    [opened] = engine.evaluate("acme")
    engine.acknowledge(opened.alert.id, by="zhang-san", note="saw it on the dashboard")
    clock.set(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    assert dispatcher.drain() == 1
    [row] = _rows(store, opened.alert.id)
    assert row.status == outbox.MUTED
    assert row.mute_reason and "the alert was acknowledged meanwhile" in row.mute_reason
    assert http_server.requests_to("/hook") == []


def test_a_warning_notice_still_queued_when_the_alert_becomes_a_crisis_is_inhibited(
    store: sa.Engine, clock: FixedClock, http_server
) -> None:
    http_server.route("/hook", status=200)
    plan = _plan()
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    engine = AlertEngine(store, plan, clock, metrics)
    _setup(store, clock)
    _burst(store, clock, negative=20)
    [opened] = engine.evaluate("acme")
    clock.advance(minutes=2)
    _burst(store, clock, negative=80, neutral=0)
    [raised] = engine.evaluate("acme")
    assert raised.alert.level == "crisis"
    assert _dispatcher(store, clock, plan, http_server.url("/hook"), metrics).drain() == 2
    rows = {(r.contact, r.reason.value): r for r in _rows(store, opened.alert.id)}
    warning = rows[("zhang-san", "first")]
    assert warning.status == outbox.MUTED and warning.mute_reason
    assert warning.mute_reason.startswith("inhibition: brand 'acme' has an open alert at level 'crisis'")
    assert rows[("li-si", "escalated")].status == outbox.DONE
    [call] = http_server.requests_to("/hook")
    assert call.json()["contact"] == "li-si"
    assert (
        registry.get_sample_value(
            "brandpulse_notifications_suppressed_total", {"channel": "hook", "reason": "inhibition"}
        )
        == 1
    )


def test_a_drill_goes_out_even_when_everything_is_silenced(store: sa.Engine, clock: FixedClock, http_server) -> None:
    http_server.route("/hook", status=200)
    plan = _plan(silences=[{k: v for k, v in SILENCE.items() if k not in ("brand", "level")}])
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    drill = AlertEngine(store, plan, clock, metrics).drill("acme", "crisis", by="zhang-san", note="Q1 演练")
    assert drill.alert.drill and drill.notifications == 1
    assert _dispatcher(store, clock, plan, http_server.url("/hook"), metrics).drain() == 1
    [call] = http_server.requests_to("/hook")
    assert call.json()["contact"] == "li-si"
    assert (
        registry.get_sample_value("brandpulse_notifications_suppressed_total", {"channel": "hook", "reason": "silence"})
        is None
    )
