"""The scheduler with leases and with sources changing under it (reload), on real feeds.

- two schedulers (two replicas) share four sources: each source is polled by one of them
  only, and when one replica dies the other takes its sources over and polls them;
- a source replaced or removed while its poll is in flight finishes that poll with the old
  source, which is closed afterwards; the next poll uses the new one.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from monitor.clock import SystemClock
from monitor.cluster import LeaseKeeper
from monitor.metrics import Metrics
from monitor.models import Brand
from monitor.pipeline import Pipeline, PollOutcome
from monitor.scheduler import Scheduler, source_lease
from monitor.store.engine import make_engine
from monitor.store.migrate import upgrade
from nlp.process import TextProcessor
from nlp.sentiment import SentimentModel
from sources import build_source
from sources.base import PollResult, Source
from tests.acceptance.harness import wait_until

pytestmark = pytest.mark.slow

FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><guid>1</guid><title>ACME</title><description>ACME coffee is great</description></item></channel></rss>"""


class Closing:
    """A real source that records when it is closed."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.closed = inner, False
        self.id, self.kind = inner.id, inner.kind

    def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        result: PollResult = self.inner.poll(cursor)
        return result

    def close(self) -> None:
        self.closed = True
        self.inner.close()


@pytest.fixture
def engine(sqlite_url: str) -> Any:
    eng = make_engine(sqlite_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def make_pipeline(engine: sa.Engine) -> Pipeline:
    return Pipeline(engine, TextProcessor([Brand("acme", "ACME")], model=SentimentModel.load()),
                    Metrics(CollectorRegistry()), SystemClock())


def rss(name: str, url: str, tmp_path: Path) -> Source:
    return build_source(name, "rss", {"url": url, "timeout": 30}, base_dir=tmp_path, clock=SystemClock())


def test_each_source_is_polled_by_its_lease_holder_only_and_taken_over_when_it_dies(
        engine: sa.Engine, tmp_path: Path, http_server: Any) -> None:
    names = [f"s{i}" for i in range(4)]
    for n in names:
        http_server.route(f"/{n}.xml", body=FEED)
    polled: dict[str, list[str]] = {"a": [], "b": []}
    replicas: dict[str, tuple[LeaseKeeper, Scheduler]] = {}
    for r in ("a", "b"):

        def on_poll(outcome: PollOutcome, r: str = r) -> None:
            polled[r].append(outcome.source_id)

        keeper = LeaseKeeper(engine, r, ttl=2.0, heartbeat=0.3, clock=SystemClock(),
                             on_acquired=lambda name, r=r: replicas[r][1].poll_now(name.partition(":")[2]),
                             can_release=lambda name, r=r: replicas[r][1].is_idle(name.partition(":")[2]))
        sched = Scheduler(make_pipeline(engine), SystemClock(), on_poll=on_poll, keeper=keeper)
        replicas[r] = (keeper, sched)
        for n in names:
            sched.add_source(rss(n, http_server.url(f"/{n}.xml"), tmp_path), interval=0.2)
        keeper.want(source_lease(n) for n in names)
    try:
        for keeper, sched in replicas.values():
            keeper.start()
            sched.start()
        wait_until(lambda: len(replicas["a"][0].held()) == 2 and len(replicas["b"][0].held()) == 2, timeout=20,
                   what="two sources per replica")
        time.sleep(0.5)  # polls of a source released while rebalancing are over by now
        polled["a"].clear()
        polled["b"].clear()
        time.sleep(1.5)
        held_a = {n.partition(":")[2] for n in replicas["a"][0].held()}
        assert set(polled["a"]) == held_a and set(polled["b"]) == set(names) - held_a, polled

        # a dies: no release, no more heartbeats; b takes its sources when their leases expire
        replicas["a"][1].stop()
        replicas["a"][0].stop(release=False)
        polled["b"].clear()
        wait_until(lambda: set(polled["b"]) == set(names), timeout=10, what="b polling a's sources too")
    finally:
        for keeper, sched in replicas.values():
            sched.stop()
            keeper.stop()


def test_a_source_replaced_or_removed_mid_poll_finishes_that_poll_then_is_closed(
        engine: sa.Engine, tmp_path: Path, http_server: Any) -> None:
    release = threading.Event()

    def hang(_req: Any) -> tuple[int, dict[str, str], bytes]:
        release.wait(20)
        return 200, {}, FEED

    http_server.route("/old.xml", handler=hang)
    http_server.route("/new.xml", body=FEED)
    outcomes: list[PollOutcome] = []
    sched = Scheduler(make_pipeline(engine), SystemClock(), on_poll=outcomes.append)
    old = Closing(rss("news", http_server.url("/old.xml"), tmp_path))
    sched.add_source(old, interval=0.2)  # type: ignore[arg-type]
    sched.start()
    try:
        wait_until(lambda: http_server.requests_to("/old.xml"), timeout=10, what="the first poll in flight")
        new = Closing(rss("news", http_server.url("/new.xml"), tmp_path))
        sched.replace_source(new, interval=0.2)  # type: ignore[arg-type]
        time.sleep(0.5)
        assert not old.closed and http_server.requests_to("/new.xml") == []  # one poll at a time
        release.set()
        wait_until(lambda: old.closed and http_server.requests_to("/new.xml"), timeout=10,
                   what="the old poll to finish and the new source to take over")
        assert outcomes[0].ok and outcomes[0].stored == 1  # the poll in flight was not dropped

        release.clear()
        http_server.route("/new.xml", handler=hang)
        n = len(http_server.requests_to("/new.xml"))
        wait_until(lambda: len(http_server.requests_to("/new.xml")) > n, timeout=10, what="a poll in flight")
        sched.remove_source("news")
        assert not new.closed and sched.source_ids() == []
        release.set()
        wait_until(lambda: new.closed, timeout=10, what="the removed source closed after its poll")
        n = len(http_server.requests_to("/new.xml"))
        time.sleep(0.6)
        assert len(http_server.requests_to("/new.xml")) == n  # no more polls
    finally:
        release.set()
        sched.stop()
