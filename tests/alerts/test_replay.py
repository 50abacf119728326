"""``backtest --brand``: replaying stored history through the plan, escalations included.

Nobody acknowledges in a replay, so the timeline shows what the plan does when nobody answers:
each ack deadline escalates at the deadline itself, the top level repeats, the incident resolves
after ``resolve_after`` without a signal. Runs on SQLite and PostgreSQL (``store``).
"""

from __future__ import annotations

import copy
from datetime import timedelta

import sqlalchemy as sa

from alerts.backtest import replay_history as reexported
from alerts.plan import CrisisPlan, load_plan
from alerts.replay import format_timeline, replay_history
from monitor.clock import FixedClock
from monitor.store.mentions import insert_mentions

from .conftest import NOTIFIERS, PLAN, add_history, add_mentions, mention


def _replay(store: sa.Engine, plan: CrisisPlan, since: object, until: object) -> list:
    with store.connect() as conn:
        return replay_history(conn, "acme", since, until, plan)  # type: ignore[arg-type]


def test_unacknowledged_burst_escalates_at_each_deadline_then_repeats_and_resolves(
    store: sa.Engine, clock: FixedClock, plan: CrisisPlan
) -> None:
    plan = plan.model_copy(update={"resolve_after": 2 * 3600})  # long enough to see the top level repeat
    t0 = clock.now()  # 09:00, a bucket start
    add_history(store, "acme", t0, days=3, negative=2, neutral=2)
    add_mentions(store, "acme", t0, negative=25, neutral=5)  # a warning-size burst in 09:00-09:10
    events = _replay(store, plan, t0 - timedelta(days=1), t0 + timedelta(hours=4))
    assert reexported is replay_history

    steps = [(e.at - t0, e.action, e.level) for e in events]
    opened = t0 + timedelta(minutes=15)  # decided when the burst's bucket ended
    assert steps[:4] == [
        (timedelta(minutes=15), "opened", "warning"),
        (timedelta(minutes=45), "escalated", "crisis"),  # warning's 30 minutes, exactly
        (timedelta(minutes=60), "escalated", "exec"),  # crisis's 15 minutes
        (timedelta(minutes=75), "repeated", "exec"),  # exec's 15 minutes: nobody left, remind
    ]
    [resolved] = events[4:]
    assert resolved.action == "resolved" and resolved.level == "exec"
    # The next bucket's end no longer sees the burst in the window (15 minutes + the bucket in
    # progress): two hours without a signal after the opening it resolves.
    assert resolved.at == opened + timedelta(hours=2) and "no signal for 2h" in resolved.detail
    assert resolved.notify == ("zhang-san", "li-si", "wang-wu")  # everyone who was told
    assert {e.incident for e in events} == {1}
    first = events[0]
    assert first.signal is not None and first.signal.kind == "negative_spike" and first.notify == ("zhang-san",)
    assert first.detail.startswith("negative_spike: acme: ") and "negative mentions vs baseline" in first.detail

    lines = format_timeline(events, plan)
    assert lines[1].split("\t") == [
        f"{opened + timedelta(minutes=30):%Y-%m-%d %H:%M}Z", "#1", "crisis", "escalated",
        "not acknowledged within 30m", "-> 李四",
    ]

    # No look-ahead: replaying only up to 09:50 gives the same first steps, and nothing later.
    early = _replay(store, plan, t0 - timedelta(days=1), t0 + timedelta(minutes=50))
    assert [(e.at, e.action) for e in early] == [(e.at, e.action) for e in events[:2]]


def test_crisis_terms_open_an_incident_in_the_replay_and_a_quiet_range_has_none(
    store: sa.Engine, clock: FixedClock
) -> None:
    raw = copy.deepcopy(PLAN)
    raw["levels"][1]["when"]["crisis_keyword"] = {"min_followers": 100_000}
    raw["resolve_after"] = "30m"
    plan = load_plan(raw, notifier_ids=NOTIFIERS)
    t0 = clock.now()
    add_history(store, "acme", t0, days=3, negative=2, neutral=2)
    with store.begin() as conn:
        insert_mentions(conn, [
            mention("acme", t0 + timedelta(hours=2, minutes=3), crisis_terms=("召回",), author_followers=250_000),
            mention("acme", t0 + timedelta(hours=1), crisis_terms=("召回",), author_followers=500),  # small
        ])
    assert _replay(store, plan, t0 - timedelta(days=1), t0 + timedelta(hours=1, minutes=50)) == []
    events = _replay(store, plan, t0 - timedelta(days=1), t0 + timedelta(hours=4))
    first = events[0]
    assert (first.at - t0, first.action, first.level) == (timedelta(hours=2, minutes=15), "opened", "crisis")
    assert first.signal is not None and first.signal.kind == "crisis_keyword"
    assert "1 mentions with crisis terms (widest reach 250,000 followers)" in first.detail
    # crisis -> exec after 15 minutes; 30 minutes without a signal resolves it, at the moment exec's
    # deadline would remind: like the engine, a resolved incident is not reminded about.
    assert [(e.at - first.at, e.action, e.level) for e in events] == [
        (timedelta(0), "opened", "crisis"),
        (timedelta(minutes=15), "escalated", "exec"),
        (timedelta(minutes=30), "resolved", "exec"),
    ]
