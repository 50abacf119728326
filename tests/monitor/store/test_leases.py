"""Leases on both databases: claim, renew, release, expiry and takeover, and fencing.

Times come from a FixedClock passed as ``now`` (the daemon passes the database's clock on
PostgreSQL); only ``database_now`` reads a real clock.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from monitor.store import leases
from monitor.store.cursors import load_cursor, save_cursor
from monitor.store.engine import begin_immediate
from monitor.store.leases import Lease, LeaseLost

from .conftest import T0

TTL = 30.0
A, B, C = "host-a-101-aaaa", "host-b-202-bbbb", "host-c-303-cccc"


def claim(engine: sa.Engine, name: str, holder: str, now: datetime, ttl: float = TTL) -> Lease | None:
    with begin_immediate(engine) as conn:
        return leases.claim(conn, name, holder, ttl, now)


def test_first_claim_wins_and_others_are_refused_until_expiry(engine: sa.Engine) -> None:
    lease = claim(engine, "source:weibo", A, T0)
    assert lease is not None
    assert (lease.holder, lease.token, lease.kind) == (A, 1, "source")
    assert lease.acquired_at == T0 and lease.expires_at == T0 + timedelta(seconds=TTL)
    assert lease.expires_at.tzinfo is UTC
    assert claim(engine, "source:weibo", B, T0 + timedelta(seconds=29)) is None
    with engine.connect() as conn:
        assert leases.holder(conn, "source:weibo", T0 + timedelta(seconds=29)) == lease
        assert leases.holder(conn, "source:weibo", T0 + timedelta(seconds=30)) is None  # expired
        assert leases.holder(conn, "source:never-claimed", T0) is None


def test_claiming_again_starts_a_new_tenure_even_for_the_same_holder(engine: sa.Engine) -> None:
    """A replica restarted under a fixed id (or whose lease lapsed locally) claims again: its
    old process's writes must not pass the fence, so the token moves on."""
    first = claim(engine, "eval:acme", A, T0)
    with begin_immediate(engine) as conn:
        assert first is not None and leases.mark_ready(conn, first, T0)
    again = claim(engine, "eval:acme", A, T0 + timedelta(seconds=10))
    assert again is not None
    assert (again.token, again.acquired_at, again.ready_at) == (2, T0 + timedelta(seconds=10), None)
    assert again.expires_at == T0 + timedelta(seconds=10 + TTL)
    with pytest.raises(LeaseLost), engine.begin() as conn:
        leases.fence(conn, first)


def test_takeover_after_expiry_increases_the_token_and_fences_the_old_holder(engine: sa.Engine) -> None:
    old = claim(engine, "source:weibo", A, T0)
    assert old is not None
    with begin_immediate(engine) as conn:
        assert leases.mark_ready(conn, old, T0)
    later = T0 + timedelta(seconds=TTL)
    new = claim(engine, "source:weibo", B, later)
    assert new is not None
    assert (new.holder, new.token, new.acquired_at, new.ready_at) == (B, 2, later, None)

    # the old holder wakes up: its renewal and its writes are refused
    with begin_immediate(engine) as conn:
        assert leases.renew(conn, A, {old.name: old.token}, TTL, later) == []
    with pytest.raises(LeaseLost) as info:
        with engine.begin() as conn:
            leases.fence(conn, old)
            save_cursor(conn, "weibo", "rss", {"etag": "stale"}, later)
    assert f"now held by {B} with token 2" in str(info.value) and "\n" not in str(info.value)
    with engine.begin() as conn:
        assert load_cursor(conn, "weibo") is None  # rolled back
        leases.fence(conn, new)  # the new holder writes
        save_cursor(conn, "weibo", "rss", {"etag": "fresh"}, later)
    with engine.connect() as conn:
        assert load_cursor(conn, "weibo") == {"etag": "fresh"}


def test_our_own_expired_lease_is_a_new_tenure_when_claimed_but_renewable_while_nobody_took_it(
        engine: sa.Engine) -> None:
    first = claim(engine, "source:x", A, T0)
    assert first is not None
    late = T0 + timedelta(seconds=TTL + 5)
    # nobody took it over: a late heartbeat still extends it with the same token
    with begin_immediate(engine) as conn:
        [renewed] = leases.renew(conn, A, {"source:x": 1}, TTL, late)
    assert renewed.token == 1 and renewed.expires_at == late + timedelta(seconds=TTL)
    # but a claim after expiry starts a new tenure: writes begun under token 1 are fenced
    again = claim(engine, "source:x", A, late + timedelta(seconds=TTL))
    assert again is not None and again.token == 2
    with pytest.raises(LeaseLost), engine.begin() as conn:
        leases.fence(conn, first)


def test_renew_extends_only_the_leases_still_held(engine: sa.Engine) -> None:
    held = {n: claim(engine, n, A, T0) for n in ("source:a", "source:b", "source:c")}
    assert all(held.values())
    # source:b expires and B takes it
    assert claim(engine, "source:b", B, T0 + timedelta(seconds=TTL)) is not None
    now = T0 + timedelta(seconds=TTL + 1)
    with begin_immediate(engine) as conn:
        renewed = leases.renew(conn, A, {n: lease.token for n, lease in held.items() if lease}, TTL, now)
        assert leases.renew(conn, A, {}, TTL, now) == []
    assert [r.name for r in renewed] == ["source:a", "source:c"]
    assert all(r.expires_at == now + timedelta(seconds=TTL) for r in renewed)
    # a renewal with a wrong token (a stale tenure) renews nothing
    with begin_immediate(engine) as conn:
        assert leases.renew(conn, A, {"source:a": 7}, TTL, now) == []


def test_a_live_lease_is_taken_from_a_holder_known_dead_only_while_it_still_holds_it(engine: sa.Engine) -> None:
    lease = claim(engine, "source:x", A, T0)
    assert lease is not None
    with begin_immediate(engine) as conn:
        assert leases.claim(conn, "source:x", B, TTL, T0, takeover_from=C) is None  # C does not hold it
        taken = leases.claim(conn, "source:x", B, TTL, T0, takeover_from=A)
    assert taken is not None and (taken.holder, taken.token) == (B, 2)
    with begin_immediate(engine) as conn:  # A is no longer the holder: naming it takes nothing
        assert leases.claim(conn, "source:x", C, TTL, T0, takeover_from=A) is None


def test_release_frees_the_lease_at_once_and_keeps_the_token_growing(engine: sa.Engine) -> None:
    lease = claim(engine, "eval:acme", A, T0)
    assert lease is not None
    with begin_immediate(engine) as conn:
        assert not leases.release(conn, Lease("eval:acme", B, 1, T0, T0), T0)  # not B's to release
        assert leases.release(conn, lease, T0 + timedelta(seconds=1))
        assert leases.holder(conn, "eval:acme", T0 + timedelta(seconds=1)) is None
    taken = claim(engine, "eval:acme", B, T0 + timedelta(seconds=1))
    assert taken is not None and taken.token == 2
    with begin_immediate(engine) as conn:
        assert not leases.release(conn, lease, T0 + timedelta(seconds=2))  # A's tenure is over
        assert [x.name for x in leases.all_leases(conn)] == ["eval:acme"]


def test_concurrent_claims_of_one_lease_have_exactly_one_winner(engine: sa.Engine) -> None:
    names = [f"source:s{i}" for i in range(5)]
    holders = [f"replica-{i}" for i in range(6)]
    barrier = threading.Barrier(len(holders))
    won: dict[str, list[str]] = {n: [] for n in names}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(holder: str) -> None:
        try:
            barrier.wait(10)
            for name in names:
                if claim(engine, name, holder, T0) is not None:
                    with lock:
                        won[name].append(holder)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(h,)) for h in holders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert all(len(w) == 1 for w in won.values()), won
    with engine.connect() as conn:
        assert {x.name: (x.holder, x.token) for x in leases.all_leases(conn)} == {n: (w[0], 1) for n, w in won.items()}


def test_a_takeover_waits_for_a_fenced_write_already_under_way(engine: sa.Engine) -> None:
    """fence() locks the lease until the writer commits: the new holder's claim waits for it,
    so the old holder's last cursor lands before the new tenure starts, never after."""
    old = claim(engine, "source:weibo", A, T0)
    assert old is not None
    later = T0 + timedelta(seconds=TTL + 1)  # old has expired: B may take it
    fenced, claimed = threading.Event(), threading.Event()
    result: list[Lease | None] = []

    def take_over() -> None:
        fenced.wait(10)
        result.append(claim(engine, "source:weibo", B, later))
        claimed.set()

    t = threading.Thread(target=take_over)
    t.start()
    with engine.begin() as conn:
        leases.fence(conn, old)
        fenced.set()
        # the claim cannot complete while this transaction holds the lease row
        assert not claimed.wait(0.5)
        save_cursor(conn, "weibo", "rss", {"offset": 10}, later)
    t.join(20)
    assert claimed.is_set() and result[0] is not None and result[0].token == 2
    with engine.connect() as conn:
        assert load_cursor(conn, "weibo") == {"offset": 10}


def test_mark_ready_belongs_to_one_tenure(engine: sa.Engine) -> None:
    lease = claim(engine, "source:a", A, T0)
    assert lease is not None
    with begin_immediate(engine) as conn:
        assert leases.mark_ready(conn, lease, T0 + timedelta(seconds=1))
        assert not leases.mark_ready(conn, lease, T0 + timedelta(seconds=2))  # already marked
        [row] = leases.all_leases(conn)
    assert row.ready_at == T0 + timedelta(seconds=1)
    taken = claim(engine, "source:a", B, T0 + timedelta(seconds=TTL))
    assert taken is not None and taken.ready_at is None
    with begin_immediate(engine) as conn:
        assert not leases.mark_ready(conn, lease, T0 + timedelta(seconds=TTL))  # A's tenure is over


def test_membership_rows_can_be_forgotten_and_pruned(engine: sa.Engine) -> None:
    mine = claim(engine, f"replica:{A}", A, T0)
    claim(engine, f"replica:{B}", B, T0 - timedelta(hours=2))
    claim(engine, f"replica:{C}", C, T0)
    claim(engine, "source:replica-feed", C, T0 - timedelta(hours=2))  # not a membership row
    assert mine is not None
    with begin_immediate(engine) as conn:
        assert leases.forget(conn, mine)
        assert leases.prune_expired(conn, "replica:", T0 - timedelta(hours=1)) == 1
        names = [x.name for x in leases.all_leases(conn)]
        assert [x.name for x in leases.all_leases(conn, "replica:")] == [f"replica:{C}"]
    assert names == [f"replica:{C}", "source:replica-feed"]


def test_database_now_is_aware_utc(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        now = leases.database_now(conn)
    assert now.tzinfo is UTC
    assert abs((now - datetime.now(UTC)).total_seconds()) < 60  # the database server shares this host


@pytest.mark.parametrize(("name", "holder", "now", "ttl", "problem"), [
    ("", A, T0, TTL, "lease name"),
    ("x" * 301, A, T0, TTL, "lease name"),
    ("source:a", "", T0, TTL, "holder"),
    ("source:a", A, datetime(2026, 3, 2, 9, 0), TTL, "naive"),
    ("source:a", A, T0, 0.0, "ttl must be positive"),
])
def test_bad_arguments_are_refused_before_any_sql(engine: sa.Engine, name: str, holder: str, now: datetime,
                                                  ttl: float, problem: str) -> None:
    with pytest.raises(ValueError, match=problem), begin_immediate(engine) as conn:
        leases.claim(conn, name, holder, ttl, now)


def test_0004_adds_the_leases_table_to_a_0003_database(db_url: str) -> None:
    from monitor.store.engine import make_engine
    from monitor.store.migrate import current_revision, upgrade

    eng = make_engine(db_url)
    try:
        upgrade(eng, "0003")
        assert "leases" not in sa.inspect(eng).get_table_names()
        upgrade(eng, "0004")
        assert current_revision(eng) == "0004"
        insp = sa.inspect(eng)
        assert insp.get_pk_constraint("leases")["constrained_columns"] == ["name"]
        assert {c["name"]: c["nullable"] for c in insp.get_columns("leases")} == {
            "name": False, "holder": False, "token": False, "acquired_at": False, "renewed_at": False,
            "expires_at": False, "ready_at": True}
        assert claim(eng, "source:a", A, T0) is not None
    finally:
        eng.dispose()
