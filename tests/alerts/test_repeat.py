"""Repeats while an incident is acknowledged but its signals still fire (plan ``repeat_every``).

Acknowledged is not over: while the detector still finds the spike, the level's contacts are
reminded every ``repeat_every`` after the acknowledgement, once per repeat slot, on both stores.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from alerts import outbox
from alerts.engine import AlertEngine, repeat_slot
from alerts.plan import CrisisPlan
from monitor.clock import FixedClock
from monitor.models import AlertState, NotifyReason

from .conftest import add_history, add_mentions


def _burst(store: sa.Engine, clock: FixedClock) -> None:
    """25 negatives over the 4 minutes before now: a warning (3x, >= 10) but not a crisis."""
    add_mentions(store, "acme", clock.now() - timedelta(minutes=4), negative=25, neutral=5,
                 spread=timedelta(minutes=4))


def _repeats(store: sa.Engine, alert_id: int) -> list[tuple[str, str, str]]:
    with store.connect() as conn:
        return [(r.contact, r.channel, r.dedupe_key) for r in outbox.rows_for(conn, alert_id)
                if r.reason is NotifyReason.REPEAT]


def test_repeat_slot_counts_from_the_acknowledgement() -> None:
    acked = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    every = 4 * 3600
    assert repeat_slot(acked, acked, every) is None
    assert repeat_slot(acked, acked + timedelta(hours=3, minutes=59), every) is None  # not yet
    first = int((acked + timedelta(hours=4)).timestamp())
    assert repeat_slot(acked, acked + timedelta(hours=4), every) == first
    assert repeat_slot(acked, acked + timedelta(hours=7, minutes=59), every) == first  # same slot
    assert repeat_slot(acked, acked + timedelta(hours=8), every) == first + every


def test_acknowledged_alert_still_firing_repeats_to_its_level_once_per_slot(
    store: sa.Engine, clock: FixedClock, plan: CrisisPlan
) -> None:
    add_history(store, "acme", clock.now(), days=3, negative=2, neutral=2)
    clock.advance(minutes=5)
    engine = AlertEngine(store, plan, clock)
    _burst(store, clock)
    [opened] = engine.evaluate("acme")
    alert_id = opened.alert.id
    clock.advance(minutes=10)
    acked = engine.acknowledge(alert_id, by="zhang-san", note="on it")
    assert acked.state is AlertState.ACKNOWLEDGED

    # The burst goes on for 9 hours: evaluated every 15 minutes, each time with a fresh burst.
    changes = []
    end = acked.acknowledged_at + timedelta(hours=9)
    while clock.now() < end:
        clock.advance(minutes=15)
        _burst(store, clock)
        got = engine.evaluate("acme")
        assert engine.evaluate("acme") == []  # deciding twice at the same moment adds nothing
        changes += [(clock.now(), c) for c in got]
    assert [c.action for _, c in changes] == ["repeated", "repeated"]  # at +4 h and +8 h, not before
    (t1, rep1), (t2, rep2) = changes
    assert acked.acknowledged_at + timedelta(hours=4) <= t1 < acked.acknowledged_at + timedelta(hours=4, minutes=15)
    assert acked.acknowledged_at + timedelta(hours=8) <= t2 < acked.acknowledged_at + timedelta(hours=8, minutes=15)
    assert rep1.notifications == 2 and rep1.alert.state is AlertState.ACKNOWLEDGED  # still acknowledged
    assert rep1.reason.startswith("acknowledged by zhang-san 4h") and "still firing" in rep1.reason
    slot1 = repeat_slot(acked.acknowledged_at, t1, plan.repeat_every)
    slot2 = repeat_slot(acked.acknowledged_at, t2, plan.repeat_every)
    assert sorted(_repeats(store, alert_id)) == sorted(
        [
            ("zhang-san", "console", outbox.dedupe_key(alert_id, "zhang-san", "console", "repeat", slot1)),
            ("zhang-san", "hook", outbox.dedupe_key(alert_id, "zhang-san", "hook", "repeat", slot1)),
            ("zhang-san", "console", outbox.dedupe_key(alert_id, "zhang-san", "console", "repeat", slot2)),
            ("zhang-san", "hook", outbox.dedupe_key(alert_id, "zhang-san", "hook", "repeat", slot2)),
        ]
    )
    with store.connect() as conn:
        [row] = [r for r in outbox.rows_for(conn, alert_id) if r.reason is NotifyReason.REPEAT][:1]
    assert row.payload["state"] == "acknowledged" and row.payload["level"] == "warning"


def test_acknowledged_alert_whose_signals_stopped_does_not_repeat(
    store: sa.Engine, clock: FixedClock, plan: CrisisPlan
) -> None:
    add_history(store, "acme", clock.now(), days=3, negative=2, neutral=2)
    clock.advance(minutes=5)
    engine = AlertEngine(store, plan.model_copy(update={"resolve_after": 86_400}), clock)
    _burst(store, clock)
    [opened] = engine.evaluate("acme")
    engine.acknowledge(opened.alert.id, by="zhang-san")
    for _ in range(4 * 9):  # 9 quiet hours, still open (resolve_after 1 d): no repeat
        clock.advance(minutes=15)
        assert engine.evaluate("acme") == []
    assert _repeats(store, opened.alert.id) == []
