"""Lease keepers of several replicas on one database (SQLite and PostgreSQL): fair shares,
takeover when a replica dies, hand-over on a clean stop and when a replica joins, lapsing
locally when the database is unreachable, and a poll fenced out after a takeover.

Each keeper is ticked by hand with a FixedClock as lease clock and a hand-moved monotonic
clock, so expiry is exact and nothing sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from monitor.clock import FixedClock
from monitor.cluster import LeaseKeeper, gone_from_this_host, replica_id
from monitor.metrics import Metrics
from monitor.models import Brand
from monitor.pipeline import Pipeline
from monitor.store import leases
from monitor.store.cursors import load_cursor, save_cursor, source_states
from monitor.store.engine import make_engine
from monitor.store.migrate import upgrade
from monitor.store.schema import mentions
from nlp.process import TextProcessor
from nlp.sentiment import SentimentModel
from sources import build_source

TTL, HEARTBEAT = 30.0, 10.0
SOURCES = [f"source:s{i}" for i in range(6)]
BRANDS = ["eval:acme", "eval:beta"]
TASKS = ["task:retention"]  # a chore one replica runs for all


class Mono:
    """A monotonic clock moved by hand, shared by the keepers of one test."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


def keeper(engine: sa.Engine, name: str, clock: FixedClock, mono: Mono, **kw) -> LeaseKeeper:
    k = LeaseKeeper(engine, name, ttl=TTL, heartbeat=HEARTBEAT, clock=clock, monotonic=mono, **kw)
    k.want(SOURCES + BRANDS)
    return k


def owners(engine: sa.Engine, clock: FixedClock) -> dict[str, str]:
    with engine.connect() as conn:
        return {x.name: x.holder for x in leases.all_leases(conn) if x.live(clock.now()) and x.kind != "replica"}


def test_replica_ids_are_unique_and_readable() -> None:
    a, b = replica_id(), replica_id()
    assert a != b
    host, pid, rnd = a.rsplit("-", 2)
    assert host and pid.isdigit() and len(rnd) == 6


def test_three_replicas_share_the_work_fairly_and_each_lease_has_one_holder(
        engine: sa.Engine, clock: FixedClock) -> None:
    mono = Mono()
    ks = [keeper(engine, f"r{i}", clock, mono) for i in range(3)]
    for k in ks:
        k.want(SOURCES + BRANDS + TASKS)
    for _ in range(3):  # a few heartbeats: the first replica grabs all, then hands the excess over
        for k in ks:
            k.tick()
        clock.advance(seconds=HEARTBEAT)
        mono.t += HEARTBEAT
    held = {k.replica: k.held() for k in ks}
    flat = [n for names in held.values() for n in names]
    assert sorted(flat) == sorted(SOURCES + BRANDS + TASKS), held  # everything held, nothing twice
    assert all(sum(n.startswith("source:") for n in names) == 2 for names in held.values()), held
    assert all(sum(n.startswith("eval:") for n in names) <= 1 for names in held.values()), held
    assert owners(engine, clock) == {n: r for r, names in held.items() for n in names}
    assert {k.replicas for k in ks} == {3}


def test_a_dead_replicas_leases_are_taken_over_when_they_expire(engine: sa.Engine, clock: FixedClock) -> None:
    mono = Mono()
    acquired: list[str] = []
    a = keeper(engine, "a", clock, mono, on_acquired=acquired.append)
    b, c = keeper(engine, "b", clock, mono), keeper(engine, "c", clock, mono)
    for _ in range(3):
        for k in (a, b, c):
            k.tick()
        clock.advance(seconds=HEARTBEAT)
        mono.t += HEARTBEAT
    dead = set(c.held())
    assert dead
    acquired.clear()
    with engine.connect() as conn:
        tokens = {x.name: x.token for x in leases.all_leases(conn)}
    # c dies (no more ticks); a and b keep heartbeating until c's leases run out
    for _ in range(4):
        clock.advance(seconds=HEARTBEAT)
        mono.t += HEARTBEAT
        a.tick()
        b.tick()
    assert not c.held()  # c's own view lapsed too: a paused c would not act on them
    assert set(a.held()) | set(b.held()) == set(SOURCES + BRANDS)
    assert set(acquired) <= dead and set(acquired) | (dead & set(b.held())) == dead
    with engine.connect() as conn:
        now = {x.name: x for x in leases.all_leases(conn)}
    assert all(now[n].token == tokens[n] + 1 and now[n].holder in ("a", "b") for n in dead)
    assert {a.replicas, b.replicas} == {2}


def test_next_look_is_right_after_another_replicas_lease_expires(engine: sa.Engine, clock: FixedClock) -> None:
    mono = Mono()
    a, b = keeper(engine, "a", clock, mono), keeper(engine, "b", clock, mono)
    a.tick()  # a alone: takes everything
    clock.advance(seconds=25)
    mono.t += 25
    wait = b.tick()  # b sees a's leases expire in 5 s: it looks again then, not a heartbeat later
    assert wait == pytest.approx(5.05, abs=0.01)


def test_a_clean_stop_hands_everything_over_at_once(engine: sa.Engine, clock: FixedClock) -> None:
    mono = Mono()
    a, b = keeper(engine, "a", clock, mono), keeper(engine, "b", clock, mono)
    a.tick()
    b.tick()
    assert len(a.held()) == 8 and b.held() == []  # b joined when a had it all; no share free yet
    a.stop(release=True)
    with engine.connect() as conn:
        assert [x.name for x in leases.all_leases(conn, "replica:")] == ["replica:b"]  # a forgot itself
    b.tick()
    assert b.held() == sorted(SOURCES + BRANDS)  # no waiting for expiry


def test_a_joining_replica_gets_its_share_and_busy_work_is_not_handed_over(
        engine: sa.Engine, clock: FixedClock) -> None:
    mono = Mono()
    busy = {"source:s0", "source:s1", "source:s2", "source:s3"}
    a = keeper(engine, "a", clock, mono, can_release=lambda name: name not in busy)
    b = keeper(engine, "b", clock, mono)
    a.tick()
    b.tick()  # b announces itself
    a.tick()  # a sees two replicas: gives back what is idle above its share of 3 sources, 1 brand
    [kept] = [n for n in a.held() if n.startswith("eval:")]
    assert set(a.held()) == busy | {kept}  # s0-s3 are mid-poll: kept for now
    b.tick()
    assert set(b.held()) == {"source:s4", "source:s5"} | (set(BRANDS) - {kept})
    busy.clear()
    a.tick()  # the polls finished: one more source goes
    b.tick()
    assert len([n for n in a.held() if n.startswith("source:")]) == 3
    assert len([n for n in b.held() if n.startswith("source:")]) == 3


def test_leases_no_longer_wanted_are_given_back(engine: sa.Engine, clock: FixedClock) -> None:
    mono = Mono()
    a = keeper(engine, "a", clock, mono)
    a.tick()
    a.want(SOURCES[:2] + BRANDS)  # a reload removed four sources
    a.tick()
    assert a.held() == sorted(SOURCES[:2] + BRANDS)
    assert set(owners(engine, clock)) == set(SOURCES[:2] + BRANDS)


def test_leases_lapse_locally_when_the_database_is_unreachable(engine: sa.Engine, clock: FixedClock) -> None:
    mono = Mono()
    metrics = Metrics(CollectorRegistry())
    a = keeper(engine, "a", clock, mono, metrics=metrics)
    a.tick()
    assert metrics.registry.get_sample_value("brandpulse_leases_held", {"kind": "source"}) == 6
    assert metrics.registry.get_sample_value("brandpulse_lease_changes_total",
                                             {"kind": "source", "change": "acquired"}) == 6
    good = a.engine
    a.engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")  # nothing listens
    try:
        mono.t += HEARTBEAT
        assert a.tick() == HEARTBEAT
        assert len(a.held()) == 8  # still within the lease
        mono.t += TTL - HEARTBEAT - a.margin
        a.tick()
        assert a.held() == [] and a.lease("source:s0") is None
    finally:
        a.engine.dispose()
        a.engine = good
    assert metrics.registry.get_sample_value("brandpulse_leases_held", {"kind": "source"}) == 0
    assert metrics.registry.get_sample_value("brandpulse_lease_changes_total",
                                             {"kind": "source", "change": "lost"}) == 6
    a.tick()  # the database is back and nobody took them: held again
    assert len(a.held()) == 8


def test_a_poll_by_a_replica_that_lost_the_source_stores_nothing(
        engine: sa.Engine, clock: FixedClock, tmp_path: Path) -> None:
    """The old holder finished fetching after the new holder took over: its mentions and
    cursor roll back, the new holder's cursor stands, and the source is not marked failing."""
    export = tmp_path / "export.jsonl"
    rows = [{"id": f"m{i}", "text": f"阿克米咖啡真好喝 第{i}杯", "time": "2026-03-02T08:00:00Z"} for i in range(5)]
    export.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    source = build_source("s0", "file", {"path": str(export), "fields": {"id": "id", "text": "text", "time": "time"}},
                          base_dir=tmp_path, clock=clock)
    pipeline = Pipeline(engine, TextProcessor([Brand("acme", "阿克米咖啡")], model=SentimentModel.load()),
                        Metrics(CollectorRegistry()), clock)
    mono = Mono()
    a, b = keeper(engine, "a", clock, mono), keeper(engine, "b", clock, mono)
    a.tick()
    stale = a.lease("source:s0")
    assert stale is not None
    clock.advance(seconds=TTL)  # a stalls past its lease; b takes over and saves its cursor
    mono.t += TTL
    b.tick()
    new = b.lease("source:s0")
    assert new is not None and new.token == stale.token + 1
    with engine.begin() as conn:
        leases.fence(conn, new)
        save_cursor(conn, "s0", "file", {"by": "b"}, clock.now())

    outcome = pipeline.poll(source, fence=a.fence_for(stale))
    assert not outcome.ok and outcome.lease_lost and outcome.stored == 0
    with engine.connect() as conn:
        assert load_cursor(conn, "s0") == {"by": "b"}
        assert conn.execute(sa.select(sa.func.count()).select_from(mentions)).scalar_one() == 0
        assert all(s["consecutive_failures"] == 0 for s in source_states(conn))
    outcome = pipeline.poll(source, fence=b.fence_for(new))  # the holder's poll goes through
    assert outcome.ok and outcome.stored == 5
    source.close()


def test_a_crashed_predecessor_on_this_host_is_known_dead() -> None:
    import os
    import socket
    import subprocess
    import sys

    host = socket.gethostname().split(".")[0]
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
        dead_pid.wait(10)
        assert gone_from_this_host(f"{host}-{dead_pid.pid}-a1b2c3")
        assert not gone_from_this_host(f"{host}-{child.pid}-a1b2c3")  # still running
        assert not gone_from_this_host(f"{host}-{os.getpid()}-a1b2c3")  # this process
        assert not gone_from_this_host(f"other-host-{dead_pid.pid}-a1b2c3")  # another machine: expiry only
        assert not gone_from_this_host("replica-from-config")  # not host-pid-random: expiry only
    finally:
        child.kill()
        child.wait(10)


def test_leases_of_a_dead_holder_are_taken_at_once_not_at_expiry(engine: sa.Engine, clock: FixedClock) -> None:
    """SQLite after a crash: the restarted daemon need not wait out its predecessor's leases."""
    mono = Mono()
    old = keeper(engine, "host-111-aaaaaa", clock, mono)
    old.tick()
    assert len(old.held()) == 8
    new = keeper(engine, "host-222-bbbbbb", clock, mono, dead=lambda holder: holder == "host-111-aaaaaa")
    new.tick()  # no time has passed: the old leases are live, but their holder is gone
    assert new.held() == sorted(SOURCES + BRANDS) and new.replicas == 1
    with engine.connect() as conn:
        assert [x.name for x in leases.all_leases(conn, "replica:")] == ["replica:host-222-bbbbbb"]
        assert {x.token for x in leases.all_leases(conn, "source:")} == {2}
    # a holder that is alive is never taken from before expiry
    third = keeper(engine, "host-333-cccccc", clock, mono, dead=lambda holder: False)
    third.tick()
    assert third.held() == []
