from __future__ import annotations

import copy
from datetime import timedelta

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from alerts import outbox
from alerts.engine import AlertEngine
from alerts.plan import CrisisPlan, load_plan
from alerts.records import alert_events, list_alerts
from monitor.clock import FixedClock
from monitor.errors import AlertStateError, ConfigError
from monitor.metrics import Metrics
from monitor.models import AlertState, NotifyReason

from .conftest import NOTIFIERS, PLAN, add_history, add_mentions


def _rows(store: sa.Engine, alert_id: int) -> list[tuple[str, str, str]]:
    with store.connect() as conn:
        return [(r.contact, r.channel, r.reason.value) for r in outbox.rows_for(conn, alert_id)]


def _burst(store: sa.Engine, clock: FixedClock, negative: int, neutral: int = 5) -> None:
    """A burst published over the last few minutes before now."""
    add_mentions(
        store,
        "acme",
        clock.now() - timedelta(minutes=4),
        negative=negative,
        neutral=neutral,
        spread=timedelta(minutes=4),
    )


def _setup(store: sa.Engine, clock: FixedClock) -> None:
    for brand in ("acme", "beta"):
        add_history(store, brand, clock.now(), days=3, negative=2, neutral=2)
    clock.advance(minutes=5)  # 09:05


def test_a_burst_opens_exactly_one_alert_and_notifies_each_contact_channel(
    store: sa.Engine, clock: FixedClock, plan: CrisisPlan
) -> None:
    _setup(store, clock)
    registry = CollectorRegistry()
    engine = AlertEngine(store, plan, clock, Metrics(registry), brand_names={"acme": "阿克米咖啡"})
    assert engine.evaluate("acme") == [] and engine.evaluate("beta") == []  # quiet history: nothing

    _burst(store, clock, negative=30)
    [change] = engine.evaluate("acme")
    alert = change.alert
    assert change.action == "opened" and change.notifications == 2
    assert (alert.brand, alert.level, alert.state) == ("acme", "warning", AlertState.FIRING)
    assert alert.group_key == f"acme:{int(clock.now().timestamp())}"
    assert alert.ack_deadline == clock.now() + timedelta(minutes=30)
    ev = alert.evidence
    assert ev["negative"] >= 30 and ev["baseline"] < 5 and ev["ratio"] >= 3 and 0 < ev["negative_share"] <= 1
    assert len(ev["samples"]) == 5
    assert all(
        s["url"].startswith("https://weibo.example/") and s["author"] and "退款" in s["text"]
        for s in ev["samples"]
    )
    assert sorted(_rows(store, alert.id)) == [
        ("zhang-san", "console", "first"),
        ("zhang-san", "hook", "first"),
    ]
    with store.connect() as conn:
        [first] = outbox.rows_for(conn, alert.id)[:1]
    assert first.payload["level_name"] == "预警" and first.payload["brand_name"] == "阿克米咖啡"
    assert first.payload["contact_name"] == "张三" and first.payload["evidence"]["negative"] == ev["negative"]

    # The incident goes on: more negatives, many evaluations, the same time twice.
    for _ in range(10):
        clock.advance(minutes=1)
        add_mentions(store, "acme", clock.now() - timedelta(seconds=30), negative=1, neutral=8)
        assert engine.evaluate("acme") == []
        assert engine.evaluate("acme") == []
    assert engine.evaluate("beta") == []
    with store.connect() as conn:
        alerts = list_alerts(conn)
        assert [a.id for a in alerts] == [alert.id]
        assert alerts[0].last_signal_at == clock.now()
        assert len(alert_events(conn, alert.id)) == 1
        assert outbox.backlog(conn)["pending"] == 2
    assert (
        registry.get_sample_value(
            "brandpulse_alerts_raised_total", {"brand": "acme", "level": "warning", "drill": "false"}
        )
        == 1
    )


def test_worse_signal_raises_the_level_and_notifies_the_new_contacts(
    store: sa.Engine, clock: FixedClock, plan: CrisisPlan
) -> None:
    _setup(store, clock)
    engine = AlertEngine(store, plan, clock)
    _burst(store, clock, negative=20)
    [opened] = engine.evaluate("acme")
    assert opened.alert.level == "warning"
    clock.advance(minutes=2)
    _burst(store, clock, negative=80, neutral=0)
    [raised] = engine.evaluate("acme")
    assert raised.action == "raised" and raised.alert.id == opened.alert.id
    assert (raised.alert.level, raised.alert.state) == ("crisis", AlertState.ESCALATED)
    assert raised.alert.ack_deadline == clock.now() + timedelta(minutes=15)
    assert raised.alert.evidence["negative"] >= 100
    assert _rows(store, opened.alert.id)[2:] == [("li-si", "hook", "escalated")]
    assert engine.evaluate("acme") == []  # same level again: no change, no new rows
    with store.connect() as conn:
        events = alert_events(conn, opened.alert.id)
    assert [e["to_state"] for e in events] == ["firing", "escalated"]
    assert events[1]["reason"].startswith("worse signal at level 'crisis'")


def test_quiet_period_resolves_and_tells_whoever_was_told(
    store: sa.Engine, clock: FixedClock, plan: CrisisPlan
) -> None:
    _setup(store, clock)
    engine = AlertEngine(store, plan, clock)
    _burst(store, clock, negative=25)
    [opened] = engine.evaluate("acme")
    clock.advance(minutes=3)
    acked = engine.acknowledge(opened.alert.id, by="zhang-san", note="在处理")
    assert acked.state is AlertState.ACKNOWLEDGED
    # The burst leaves the window at 09:30; the last signal is the last evaluation before that.
    last_signal = None
    while clock.now() < opened.alert.opened_at + timedelta(hours=3):
        changes = engine.evaluate("acme")
        with store.connect() as conn:
            [alert] = list_alerts(conn, brand="acme")
        if changes:
            break
        last_signal = alert.last_signal_at
        clock.advance(minutes=5)
    [resolved] = changes
    assert resolved.action == "resolved" and resolved.alert.resolved_by == "engine"
    assert last_signal is not None and clock.now() - last_signal == timedelta(hours=1)
    assert resolved.alert.state is AlertState.RESOLVED and resolved.notifications == 2
    assert sorted(r for r in _rows(store, opened.alert.id) if r[2] == "resolved") == [
        ("zhang-san", "console", "resolved"),
        ("zhang-san", "hook", "resolved"),
    ]
    assert engine.evaluate("acme") == []  # history is quiet again: no new alert
    with store.connect() as conn:
        events = alert_events(conn, opened.alert.id)
    assert [(e["to_state"], e["actor"]) for e in events] == [
        ("firing", "engine"),
        ("acknowledged", "zhang-san"),
        ("resolved", "engine"),
    ]
    assert events[2]["reason"] == "no signal for 1h: back to baseline"


def test_a_new_burst_after_resolution_is_a_new_incident(
    store: sa.Engine, clock: FixedClock, plan: CrisisPlan
) -> None:
    _setup(store, clock)
    engine = AlertEngine(store, plan, clock)
    _burst(store, clock, negative=25)
    [first] = engine.evaluate("acme")
    engine.resolve(first.alert.id, by="zhang-san", reason="已回应")
    assert sorted(r for r in _rows(store, first.alert.id) if r[2] == "resolved") == [
        ("zhang-san", "console", "resolved"),
        ("zhang-san", "hook", "resolved"),
    ]
    clock.advance(hours=2)
    _burst(store, clock, negative=25)
    [second] = engine.evaluate("acme")
    assert second.action == "opened" and second.alert.id != first.alert.id
    assert second.alert.group_key != first.alert.group_key


def test_missed_ack_deadlines_escalate_level_by_level_then_repeat(
    store: sa.Engine, clock: FixedClock
) -> None:
    data = copy.deepcopy(PLAN)
    data["resolve_after"] = "1d"  # keep the alert open while nobody answers
    plan = load_plan(data, notifier_ids=NOTIFIERS)
    _setup(store, clock)
    engine = AlertEngine(store, plan, clock)
    _burst(store, clock, negative=25)
    [opened] = engine.evaluate("acme")
    t0 = clock.now()

    clock.set(t0 + timedelta(minutes=29))
    assert engine.evaluate("acme") == []
    clock.set(t0 + timedelta(minutes=30))
    [esc] = engine.evaluate("acme")
    assert esc.action == "escalated" and (esc.alert.level, esc.alert.state) == (
        "crisis",
        AlertState.ESCALATED,
    )
    assert esc.alert.ack_deadline == clock.now() + timedelta(minutes=15)
    assert esc.reason.startswith("not acknowledged within 30m")
    assert engine.evaluate("acme") == []  # evaluated twice: no second escalation, no duplicate rows

    clock.set(t0 + timedelta(minutes=45))
    [esc2] = engine.evaluate("acme")
    assert esc2.alert.level == "exec"

    clock.set(t0 + timedelta(minutes=60))  # top level's deadline: remind, once
    [rep] = engine.evaluate("acme")
    assert rep.action == "repeated" and rep.notifications == 1
    assert engine.evaluate("acme") == []
    clock.set(t0 + timedelta(minutes=60, hours=3, seconds=59 * 60))
    assert engine.evaluate("acme") == []
    clock.set(t0 + timedelta(minutes=60, hours=4))  # repeat_every later: the second reminder
    [rep2] = engine.evaluate("acme")
    assert rep2.action == "repeated"

    assert _rows(store, opened.alert.id) == [
        ("zhang-san", "console", "first"),
        ("zhang-san", "hook", "first"),
        ("li-si", "hook", "escalated"),
        ("wang-wu", "hook", "escalated"),
        ("wang-wu", "hook", "repeat"),
        ("wang-wu", "hook", "repeat"),
    ]
    with store.connect() as conn:
        rows = outbox.rows_for(conn, opened.alert.id)
        assert rows[3].payload["lang"] == "en" and rows[3].payload["level_name"] == "高管"
        events = alert_events(conn, opened.alert.id)
    assert [(e["to_state"], e["level"]) for e in events] == [
        ("firing", "warning"),
        ("escalated", "crisis"),
        ("escalated", "exec"),
    ]

    # Acknowledged: reminders stop.
    engine.acknowledge(opened.alert.id, by="wang-wu")
    clock.advance(hours=8)
    assert engine.evaluate("acme") == []
    assert [r for r in _rows(store, opened.alert.id) if r[2] == NotifyReason.REPEAT.value] == [
        ("wang-wu", "hook", "repeat")
    ] * 2


def test_a_drill_runs_beside_real_incidents_escalates_and_ends_after_its_ack(
    store: sa.Engine, clock: FixedClock, plan: CrisisPlan
) -> None:
    _setup(store, clock)
    registry = CollectorRegistry()
    engine = AlertEngine(store, plan, clock, Metrics(registry))
    with pytest.raises(AlertStateError, match=r"unknown level 'panic' \(known: warning, crisis, exec\)"):
        engine.drill("acme", "panic")
    drill = engine.drill("acme", "crisis", by="zhang-san", note="Q1 演练")
    assert drill.alert.drill and drill.alert.level == "crisis" and drill.notifications == 1
    assert _rows(store, drill.alert.id) == [("li-si", "hook", "first")]
    assert "DRILL" in drill.alert.summary and drill.alert.evidence["kind"] == "drill"

    # A real burst still opens its own alert: the drill neither blocks nor absorbs it.
    _burst(store, clock, negative=30)
    [real] = engine.evaluate("acme")
    assert real.action == "opened" and not real.alert.drill and real.alert.id != drill.alert.id

    # Unacknowledged past its deadline, the drill escalates like a real incident.
    clock.advance(minutes=16)
    changes = {c.alert.id: c for c in engine.evaluate("acme")}
    assert changes[drill.alert.id].action == "escalated" and changes[drill.alert.id].alert.level == "exec"
    assert _rows(store, drill.alert.id)[-1] == ("wang-wu", "hook", "escalated")
    engine.acknowledge(drill.alert.id, by="wang-wu")
    clock.advance(minutes=59)
    assert drill.alert.id not in {c.alert.id for c in engine.evaluate("acme")}
    clock.advance(minutes=1)
    ended = {c.alert.id: c for c in engine.evaluate("acme")}[drill.alert.id]
    assert ended.action == "resolved" and ended.reason == "drill over: acknowledged 1h ago"
    assert registry.get_sample_value(
        "brandpulse_alerts_raised_total", {"brand": "acme", "level": "crisis", "drill": "true"}
    ) == 1
    assert registry.get_sample_value(
        "brandpulse_alerts_raised_total", {"brand": "acme", "level": "warning", "drill": "false"}
    ) == 1


def test_the_summary_names_what_spiked(store: sa.Engine, clock: FixedClock, plan: CrisisPlan) -> None:
    """A volume spike counts all mentions, a negative spike negative ones: the summary says which."""
    _setup(store, clock)
    buzz = {"id": "buzz", "name": "热度", "when": {"volume_spike": 3.0, "min_volume": 30}, "notify": ["zhang-san"]}
    volume_plan = load_plan(
        {**copy.deepcopy(PLAN), "levels": [buzz]},
        file="plan.yaml",
        notifier_ids=NOTIFIERS,
    )
    add_mentions(store, "beta", clock.now() - timedelta(minutes=4), neutral=60, spread=timedelta(minutes=4))
    [volume] = AlertEngine(store, volume_plan, clock).evaluate("beta")
    assert volume.alert.evidence["kind"] == "volume_spike"
    assert volume.alert.summary.startswith(f"beta: {volume.alert.evidence['volume']} mentions vs baseline ")
    assert "negative mentions" not in volume.alert.summary and volume.alert.summary.endswith("negative share 0%")

    _burst(store, clock, negative=30)
    [negative] = AlertEngine(store, plan, clock).evaluate("acme")
    assert negative.alert.summary.startswith(f"acme: {negative.alert.evidence['negative']} negative mentions vs ")


def test_a_level_without_conditions_is_reached_only_by_escalation(store: sa.Engine, clock: FixedClock) -> None:
    data = copy.deepcopy(PLAN)
    data["resolve_after"] = "1d"
    del data["levels"][-1]["when"]  # exec: escalation only
    plan = load_plan(data, notifier_ids=NOTIFIERS)
    _setup(store, clock)
    engine = AlertEngine(store, plan, clock)
    _burst(store, clock, negative=900)  # far beyond every threshold: still opens at crisis, not exec
    [opened] = engine.evaluate("acme")
    assert opened.alert.level == "crisis"
    clock.advance(minutes=15)
    [esc] = engine.evaluate("acme")
    assert esc.action == "escalated" and esc.alert.level == "exec"


def test_the_least_severe_level_needs_conditions() -> None:
    data = copy.deepcopy(PLAN)
    del data["levels"][0]["when"]
    with pytest.raises(ConfigError, match=r"levels\[0\]\.when: the least severe level needs `when:`"):
        load_plan(data, file="plan.yaml", notifier_ids=NOTIFIERS)


# --- crisis_keyword and the terms in the evidence ----------------------------------------------

from .conftest import mention  # noqa: E402


def _crisis_plan() -> CrisisPlan:
    raw = copy.deepcopy(PLAN)
    raw["levels"][1]["when"]["crisis_keyword"] = {"min_followers": 100_000, "min_mentions": 5}
    return load_plan(raw, file="plan.yaml", notifier_ids=NOTIFIERS)


def _store(store: sa.Engine, *mentions_: object) -> None:
    from monitor.store.mentions import insert_mentions

    with store.begin() as conn:
        insert_mentions(conn, list(mentions_))  # type: ignore[arg-type]


def test_crisis_term_from_a_high_reach_author_opens_a_crisis(store: sa.Engine, clock: FixedClock) -> None:
    _setup(store, clock)
    engine = AlertEngine(store, _crisis_plan(), clock)
    now = clock.now()
    _store(store, mention("acme", now - timedelta(minutes=2), crisis_terms=("召回",), author_followers=5_000))
    assert engine.evaluate("acme") == []  # a small account: not enough on its own
    _store(
        store,
        mention(
            "acme",
            now - timedelta(minutes=1),
            crisis_terms=("召回", "起诉"),
            keywords=("召回", "牛奶", "起诉"),
            author_followers=320_000,
            author="大V",
        ),
    )
    [change] = engine.evaluate("acme")
    alert = change.alert
    assert change.action == "opened" and alert.level == "crisis"
    assert sorted(_rows(store, alert.id)) == [("li-si", "hook", "first")]
    ev = alert.evidence
    assert ev["kind"] == "crisis_keyword" and ev["crisis_mentions"] == 2 and ev["max_followers"] == 320_000
    assert ev["crisis_terms"] == [{"term": "召回", "mentions": 2}, {"term": "起诉", "mentions": 1}]
    assert {"term": "牛奶", "mentions": 1} in ev["top_terms"]
    assert "2 mentions with crisis terms (widest reach 320,000 followers)" in alert.summary
    assert engine.evaluate("beta") == []  # the other brand's history has no crisis terms


def test_several_crisis_mentions_open_a_crisis_and_existing_plans_ignore_them(
    store: sa.Engine, clock: FixedClock, plan: CrisisPlan
) -> None:
    _setup(store, clock)
    crisis_engine = AlertEngine(store, _crisis_plan(), clock)
    plain_engine = AlertEngine(store, plan, clock)  # the same data, a plan without crisis_keyword
    now = clock.now()
    for i in range(4):
        _store(store, mention("acme", now - timedelta(minutes=4 - i), "neutral", crisis_terms=("维权",)))
    assert crisis_engine.evaluate("acme") == []  # 4 < min_mentions
    _store(store, mention("acme", now - timedelta(seconds=10), "neutral", crisis_terms=("维权",)))
    assert plain_engine.evaluate("acme") == []
    [change] = crisis_engine.evaluate("acme")
    assert change.alert.level == "crisis" and change.alert.evidence["crisis_mentions"] == 5
    assert change.alert.evidence["crisis_terms"] == [{"term": "维权", "mentions": 5}]


def test_spike_evidence_lists_the_top_terms_of_the_negative_mentions(
    store: sa.Engine, clock: FixedClock, plan: CrisisPlan
) -> None:
    _setup(store, clock)
    engine = AlertEngine(store, plan, clock, top_terms=2)
    now = clock.now()
    burst = [
        mention("acme", now - timedelta(minutes=3, seconds=i), keywords=("变质", "退款") if i % 2 else ("变质", "客服"))
        for i in range(30)
    ]
    burst.append(mention("acme", now - timedelta(minutes=2), "positive", keywords=("好喝", "好喝2", "好喝3")))
    _store(store, *burst)
    [change] = engine.evaluate("acme")
    ev = change.alert.evidence
    assert ev["kind"] == "negative_spike"
    assert ev["top_terms"] == [{"term": "变质", "mentions": 30}, {"term": "客服", "mentions": 15}]
    assert ev["crisis_terms"] == []
