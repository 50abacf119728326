"""Back-off under the real Scheduler: failing sources wait (as long as a Retry-After asks, at
least), healthy ones keep their pace, and a source that comes back resumes.

The scheduler's threads tick in real time (interval 0.1 s) while its back-off reads the
injected FixedClock, so the test moves time forward by minutes without waiting for it and
counts the requests each loopback server really received.
"""

from __future__ import annotations

import time
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from monitor import defaults
from monitor.scheduler import Scheduler
from sources import build_source
from tests.faults.helpers import feed
from tests.faults.servers import FaultServer, respond

FEED_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
INTERVAL = 0.1


def settle(seconds: float = 0.6) -> None:
    time.sleep(seconds)  # several scheduler ticks: any poll that is due has happened


def test_failing_sources_back_off_honouring_retry_after_while_healthy_ones_keep_polling(
        rig: Any, fault_server: FaultServer, tmp_path: Path) -> None:
    clock = rig.clock
    refused = FaultServer(listening=False)
    fault_server.route("/ok", respond(200, feed(range(3)), FEED_TYPE))
    fault_server.route("/429", respond(429, b"", {"Retry-After": "120"}))
    later = format_datetime(clock.now() + timedelta(seconds=600), usegmt=True)
    fault_server.route("/503", respond(503, b"", {"Retry-After": later}))
    urls = {"ok": fault_server.url("/ok"), "limited": fault_server.url("/429"),
            "busy": fault_server.url("/503"), "refused": refused.url("/feed")}
    sched = Scheduler(rig.pipeline, clock)
    for sid, url in urls.items():
        sched.add_source(build_source(sid, "rss", {"url": url, "timeout": 1}, base_dir=tmp_path, clock=clock),
                         interval=INTERVAL)

    def hits() -> dict[str, int]:
        with fault_server.lock:
            return {"ok": fault_server.hits["/ok"], "limited": fault_server.hits["/429"],
                    "busy": fault_server.hits["/503"]}

    base = defaults.BACKOFF_BASE_SECONDS
    sched.start()
    try:
        settle()
        first = hits()
        assert first["ok"] >= 3, "the healthy source keeps its pace beside three failing ones"
        assert first["limited"] == 1 and first["busy"] == 1, "a failing source is not re-polled every interval"
        assert len(rig.log_lines("refused", "poll failed")) == 1

        clock.advance(seconds=base + 1)  # past the first back-off: only the source without Retry-After retries
        settle()
        assert (hits()["limited"], hits()["busy"]) == (1, 1), "Retry-After (120 s, and a date 10 min out) honoured"
        assert len(rig.log_lines("refused", "poll failed")) == 1  # retried, failed again, not logged again
        refused.route("/feed", respond(200, feed(range(100, 104)), FEED_TYPE))
        refused.listen()
        clock.advance(seconds=2 * base + 1)  # past the second (doubled) back-off
        settle()
        assert rig.ids("refused") == {f"n{i}": 1 for i in range(100, 104)}
        assert len(rig.log_lines("refused", "recovered")) == 1

        clock.advance(seconds=121 - (3 * base + 2))  # 121 s after the first 429
        settle()
        assert hits()["limited"] == 2 and hits()["busy"] == 1
        clock.advance(seconds=600)
        settle()
        assert hits()["busy"] == 2
    finally:
        sched.stop()
        refused.stop()
    assert rig.ids("ok") == {f"n{i}": 1 for i in range(3)}
    for sid in ("limited", "busy"):
        assert len(rig.log_lines(sid, "poll failed")) == 1, rig.log_lines(sid, "poll failed")
