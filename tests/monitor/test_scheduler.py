"""The scheduler with real sources on loopback: a hanging source never delays the others, a
failing one backs off instead of being hammered, and periodic tasks keep running."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor import defaults
from monitor.clock import SystemClock
from monitor.metrics import Metrics
from monitor.models import Brand
from monitor.pipeline import Pipeline
from monitor.scheduler import Scheduler, backoff_seconds
from monitor.store.engine import make_engine
from monitor.store.migrate import upgrade
from nlp.process import TextProcessor
from nlp.sentiment import SentimentModel
from sources import build_source

FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><guid>1</guid><title>ACME</title><description>ACME coffee is great</description></item></channel></rss>"""


def test_backoff_grows_caps_and_honours_retry_after() -> None:
    assert backoff_seconds(0) == 0
    assert backoff_seconds(1) == defaults.BACKOFF_BASE_SECONDS
    assert backoff_seconds(2) == 2 * defaults.BACKOFF_BASE_SECONDS
    assert backoff_seconds(50) == defaults.BACKOFF_MAX_SECONDS
    assert backoff_seconds(1, retry_after=600) == 600
    assert backoff_seconds(1, retry_after=10**9) == defaults.BACKOFF_MAX_SECONDS


@pytest.mark.slow
def test_hanging_and_failing_sources_do_not_block_others(tmp_path: Path, sqlite_url: str, http_server) -> None:
    release = threading.Event()

    def hang(_req):
        release.wait(20)
        return 200, {}, FEED

    http_server.route("/slow.xml", handler=hang)
    http_server.route("/fast.xml", body=FEED)
    http_server.route("/dead.xml", status=503)
    engine = make_engine(sqlite_url)
    upgrade(engine)
    clock = SystemClock()
    pipeline = Pipeline(engine, TextProcessor([Brand("acme", "ACME")], model=SentimentModel.load()),
                        Metrics(CollectorRegistry()), clock)
    sched = Scheduler(pipeline, clock)
    for name in ("slow", "fast", "dead"):
        sched.add_source(build_source(name, "rss", {"url": http_server.url(f"/{name}.xml"), "timeout": 30},
                                      base_dir=tmp_path, clock=clock), interval=0.2)
    ticks: list[float] = []
    sched.add_task("tick", 0.2, lambda: ticks.append(time.monotonic()))
    sched.start()
    try:
        time.sleep(2.0)
        fast = len(http_server.requests_to("/fast.xml"))
        slow = len(http_server.requests_to("/slow.xml"))
        dead = len(http_server.requests_to("/dead.xml"))
    finally:
        release.set()
        sched.stop()
        engine.dispose()
    assert fast >= 5, f"the fast source was starved: {fast} polls"
    assert slow == 1, "a source must never be polled again while its previous poll is running"
    assert dead == 1, "a failing source must back off, not be re-polled every interval"
    assert len(ticks) >= 5, "periodic tasks must keep running beside the polls"


def test_a_task_failing_the_same_way_every_tick_logs_once_then_its_recovery(
        sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """The database down under the evaluate/dispatch tasks: one traceback, not one per tick."""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    clock = SystemClock()
    pipeline = Pipeline(engine, TextProcessor([Brand("acme", "ACME")], model=SentimentModel.load()),
                        Metrics(CollectorRegistry()), clock)
    sched = Scheduler(pipeline, clock)
    calls: list[float] = []
    healthy = threading.Event()

    def task() -> None:
        calls.append(time.monotonic())
        if not healthy.is_set():
            raise ConnectionError(f"connection to 127.0.0.1:5432 refused after {len(calls) * 0.1:.1f}s")
        if len(calls) > 100:
            raise ValueError("something else")

    sched.add_task("evaluate", 0.05, task)
    caplog.set_level("DEBUG", logger="monitor.scheduler")
    sched.start()
    try:
        deadline = time.monotonic() + 10
        while len(calls) < 6 and time.monotonic() < deadline:
            time.sleep(0.02)
        healthy.set()
        failed_before = len(calls)
        while len(calls) < failed_before + 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sched.stop()
        engine.dispose()
    lines = [r for r in caplog.records if r.name == "monitor.scheduler" and "task=evaluate" in r.getMessage()]
    errors = [r for r in lines if r.levelname == "ERROR"]
    assert len(calls) >= 8
    assert len(errors) == 1 and errors[0].exc_info is not None, [r.getMessage() for r in lines]
    assert sum("failed again" in r.getMessage() for r in lines) >= 4  # the repeats are still there, at DEBUG
    recovered = [r.getMessage() for r in lines if "recovered" in r.getMessage()]
    assert len(recovered) == 1 and recovered[0].startswith("task=evaluate recovered after ")
