from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from alerts import escalation, outbox
from monitor import defaults
from monitor.clock import FixedClock
from monitor.models import Alert, NotifyReason


def _alert(store: sa.Engine, clock: FixedClock) -> Alert:
    with store.begin() as conn:
        return escalation.fire(
            conn,
            brand="acme",
            level="warning",
            group_key="acme:1",
            now=clock.now(),
            ack_deadline=None,
            summary="s",
            evidence={},
            reason="test",
        )


def _enqueue(
    store: sa.Engine,
    alert: Alert,
    clock: FixedClock,
    contact: str = "zhang-san",
    channel: str = "hook",
    reason: NotifyReason = NotifyReason.FIRST,
    seq: int = 0,
) -> bool:
    with store.begin() as conn:
        return outbox.enqueue(
            conn, alert, contact, channel, reason, {"level": alert.level}, clock.now(), seq=seq
        )


def test_enqueue_is_idempotent(store: sa.Engine, clock: FixedClock) -> None:
    alert = _alert(store, clock)
    assert _enqueue(store, alert, clock) is True
    assert _enqueue(store, alert, clock) is False  # same decision again: no second row
    assert _enqueue(store, alert, clock, channel="console") is True
    assert _enqueue(store, alert, clock, reason=NotifyReason.REPEAT, seq=0) is True
    assert _enqueue(store, alert, clock, reason=NotifyReason.REPEAT, seq=1) is True
    with store.connect() as conn:
        rows = outbox.rows_for(conn, alert.id)
        assert [r.dedupe_key for r in rows] == [
            f"{alert.id}:zhang-san:hook:first:0",
            f"{alert.id}:zhang-san:console:first:0",
            f"{alert.id}:zhang-san:hook:repeat:0",
            f"{alert.id}:zhang-san:hook:repeat:1",
        ]
        assert outbox.backlog(conn) == {"pending": 4, "sending": 0, "done": 0, "failed": 0, "muted": 0}
        assert outbox.recipients(conn, alert.id) == [("zhang-san", "hook"), ("zhang-san", "console")]


def test_claim_complete(store: sa.Engine, clock: FixedClock) -> None:
    alert = _alert(store, clock)
    for contact in ("a", "b", "c"):
        _enqueue(store, alert, clock, contact=contact)
    first = outbox.claim(store, clock.now(), limit=2)
    assert [r.contact for r in first] == ["a", "b"]
    assert all(r.status == "sending" and r.attempts == 1 for r in first)
    second = outbox.claim(store, clock.now(), limit=10)
    assert [r.contact for r in second] == ["c"]  # claimed rows are not handed out twice
    assert outbox.claim(store, clock.now(), limit=10) == []
    with store.begin() as conn:
        outbox.complete(conn, first[0].id, clock.now())
    with store.connect() as conn:
        assert outbox.backlog(conn) == {"pending": 0, "sending": 2, "done": 1, "failed": 0, "muted": 0}
        assert outbox.rows_for(conn, alert.id)[0].delivered_at == clock.now()


def test_expired_claim_is_claimable_again(store: sa.Engine, clock: FixedClock) -> None:
    alert = _alert(store, clock)
    _enqueue(store, alert, clock)
    [row] = outbox.claim(store, clock.now(), limit=5)
    clock.advance(seconds=defaults.OUTBOX_CLAIM_SECONDS - 1)
    assert outbox.claim(store, clock.now(), limit=5) == []  # the sender may still be working
    clock.advance(seconds=1)
    [again] = outbox.claim(store, clock.now(), limit=5)  # the sender crashed: take it over
    assert again.id == row.id and again.attempts == 2


def test_retry_backoff_then_give_up(store: sa.Engine, clock: FixedClock) -> None:
    alert = _alert(store, clock)
    _enqueue(store, alert, clock)
    delays = []
    for attempt in range(1, defaults.NOTIFY_MAX_ATTEMPTS + 1):
        [row] = outbox.claim(store, clock.now(), limit=1)
        assert row.attempts == attempt
        with store.begin() as conn:
            status = outbox.fail(conn, row.id, clock.now(), "HTTP 503", retryable=True, attempts=row.attempts)
        if attempt < defaults.NOTIFY_MAX_ATTEMPTS:
            assert status == "pending"
            with store.connect() as conn:
                [pending] = outbox.rows_for(conn, alert.id)
            delay = (pending.next_attempt_at - clock.now()).total_seconds()
            delays.append(delay)
            clock.advance(seconds=delay - 1)
            assert outbox.claim(store, clock.now(), limit=1) == []  # not due yet
            clock.advance(seconds=1)
        else:
            assert status == "failed"
    assert delays[:4] == [5.0, 10.0, 20.0, 40.0]
    assert max(delays) <= defaults.NOTIFY_RETRY_MAX_SECONDS
    assert outbox.retry_delay(30) == defaults.NOTIFY_RETRY_MAX_SECONDS
    clock.advance(days=1)
    assert outbox.claim(store, clock.now(), limit=1) == []  # given up for good
    with store.connect() as conn:
        [row] = outbox.rows_for(conn, alert.id)
        assert row.status == "failed" and row.last_error == "HTTP 503"


def test_permanent_failure_is_not_retried(store: sa.Engine, clock: FixedClock) -> None:
    alert = _alert(store, clock)
    _enqueue(store, alert, clock)
    [row] = outbox.claim(store, clock.now(), limit=1)
    with store.begin() as conn:
        assert (
            outbox.fail(conn, row.id, clock.now(), "HTTP 400", retryable=False, attempts=row.attempts)
            == "failed"
        )
    clock.advance(hours=1)
    assert outbox.claim(store, clock.now(), limit=1) == []


def test_a_row_whose_sender_keeps_crashing_is_retried_slowly_never_given_up(
        store: sa.Engine, clock: FixedClock) -> None:
    alert = _alert(store, clock)
    _enqueue(store, alert, clock)
    for _ in range(defaults.NOTIFY_MAX_ATTEMPTS):
        assert len(outbox.claim(store, clock.now(), limit=1)) == 1  # ... and the sender dies each time
        clock.advance(seconds=defaults.OUTBOX_CLAIM_SECONDS)
    assert outbox.claim(store, clock.now(), limit=1) == []  # not right away: it may be what kills the sender
    with store.connect() as conn:
        [row] = outbox.rows_for(conn, alert.id)
    assert row.status == "pending" and "claim expired" in (row.last_error or "")
    assert row.next_attempt_at == clock.now() + timedelta(seconds=defaults.NOTIFY_RETRY_MAX_SECONDS)
    clock.advance(seconds=defaults.NOTIFY_RETRY_MAX_SECONDS)
    assert len(outbox.claim(store, clock.now(), limit=1)) == 1  # a crash delays a notification, never loses it


def test_claim_by_two_dispatchers_at_once_splits_the_rows(store: sa.Engine, clock: FixedClock) -> None:
    import threading

    alert = _alert(store, clock)
    for i in range(40):
        _enqueue(store, alert, clock, contact=f"c{i}")
    got: list[list[int]] = [[], []]

    def worker(k: int) -> None:
        while rows := outbox.claim(store, clock.now() + timedelta(seconds=1), limit=3):
            got[k].extend(r.id for r in rows)

    threads = [threading.Thread(target=worker, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got[0] + got[1]) == sorted(set(got[0] + got[1])) and len(got[0] + got[1]) == 40
