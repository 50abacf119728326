"""The real daemon (a subprocess) with a dozen broken feeds beside one healthy export.

Every feed server misbehaves in its own way (refused, unresolvable host, hung, a byte at a
time, 429/503 with Retry-After, redirect loop, 2 GB, gzip bomb, HTML, cut-off XML) and one is
healthy but mislabelled (GB18030 sent as ISO-8859-1). Meanwhile rows keep arriving in the
export. Then the servers recover. What the log and the store must show:

- each broken source logged exactly one line when it failed and one when it recovered,
  every log record one line (a timestamp starts every line);
- the export kept being ingested the whole time (the broken feeds did not hold anything up);
- after the recovery, a kill -9 and a restart, every feed item and every export row is
  stored exactly once: the sources resumed from their cursors.

Back-off is the product's (first retry after BACKOFF_BASE_SECONDS, 30 s), so the recovery
phase takes about half a minute of this suite's budget.
"""

from __future__ import annotations

import gzip
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor import defaults
from monitor.store.engine import make_engine
from tests.acceptance.harness import DaemonProcess, wait_until
from tests.faults.helpers import BRAND, external_ids, feed, jsonl, lines_matching, rows
from tests.faults.servers import Behaviour, FaultServer, drip, endless, redirect_loop, respond, stall

pytestmark = pytest.mark.slow

FEED_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
HTML = b"<!DOCTYPE html><html><body><h1>Service temporarily unavailable</h1></body></html>"

# source id -> the fault its server shows first
FAULTS: dict[str, Callable[[int], Behaviour]] = {
    "timeout": lambda base: stall(30, respond(200, feed(range(base, base + 5)), FEED_TYPE)),
    "slow-drip": lambda base: drip(feed(range(base, base + 5)), every=0.1, headers_too=True),
    "rate-limited": lambda base: respond(429, b"", {"Retry-After": "3"}),
    "unavailable": lambda base: respond(503, b"", {"Retry-After": "2"}),
    "redirect-loop": lambda base: redirect_loop(),
    "huge": lambda base: endless(),
    "gzip-bomb": lambda base: respond(200, gzip.compress(b"\0" * (64 * 2**20), 9),
                                      {"Content-Encoding": "gzip", **FEED_TYPE}),
    "html": lambda base: respond(200, HTML, {"Content-Type": "text/html"}),
    "truncated": lambda base: respond(200, feed(range(base, base + 5))[:70], FEED_TYPE),
}
BROKEN = [*FAULTS, "refused", "dns"]


class ExportWriter(threading.Thread):
    """Appends ``per_tick`` rows to the export every ``every`` seconds until stopped."""

    def __init__(self, path: Path, start: int, per_tick: int = 10, every: float = 0.3) -> None:
        super().__init__(daemon=True)
        self.path, self.next, self.per_tick, self.every = path, start, per_tick, every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            with self.path.open("a", encoding="utf-8") as f:
                f.write(jsonl(rows(range(self.next, self.next + self.per_tick))))
            self.next += self.per_tick
            self.stopped.wait(self.every)

    def stop(self) -> int:
        self.stopped.set()
        self.join(10)
        return self.next


def base_of(i: int) -> int:
    return 10_000 * (i + 1)  # each feed's texts differ from every other's (no cross-source duplicates)


def test_broken_feeds_are_logged_once_back_off_recover_and_lose_nothing(tmp_path: Path, sqlite_url: str) -> None:
    server = FaultServer().start()
    refused = FaultServer(listening=False)
    sources: list[dict[str, Any]] = [{"id": "export", "kind": "file", "interval": "0.3s", "path": "export.jsonl",
                                      "fields": {"id": "id", "text": "text", "time": "time"}}]
    urls = {sid: server.url(f"/{sid}") for sid in [*FAULTS, "mislabelled"]}
    urls |= {"refused": refused.url("/refused"), "dns": "http://feed.brandpulse.invalid/rss.xml"}
    sources += [{"id": sid, "kind": "rss", "interval": "1s", "url": url, "timeout": 0.4, "max_bytes": 2**20}
                for sid, url in urls.items()]
    cfg = {"storage": {"url": sqlite_url}, "http": {"listen": "127.0.0.1:0"},
           "alerts": {"evaluate_interval": "1s", "dispatch_interval": "1s"},
           "brands": [{"id": BRAND.id, "name": BRAND.name, "aliases": list(BRAND.aliases)}],
           "sources": sources,
           "notifiers": [{"id": "hook", "kind": "webhook", "url": server.url("/hook")}],
           "plan": {"contacts": [{"id": "duty", "name": "值班", "channels": ["hook"]}],
                    "levels": [{"id": "warning", "name": "预警", "when": {"negative_spike": 50, "min_negative": 10**6},
                                "notify": ["duty"]}]}}
    config = tmp_path / "brandpulse.yaml"
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    export = tmp_path / "export.jsonl"
    export.write_text(jsonl(rows(range(50))), encoding="utf-8")
    index = {sid: i for i, sid in enumerate(urls)}
    for sid, make in FAULTS.items():
        server.route(f"/{sid}", make(base_of(index[sid])))
    gb = feed(range(base_of(index["mislabelled"]), base_of(index["mislabelled"]) + 5), encoding="gb18030")
    server.route("/mislabelled", respond(200, gb, {"Content-Type": "text/xml; charset=iso-8859-1"}))
    engine = make_engine(sqlite_url)
    writer = ExportWriter(export, 50)
    daemons: list[DaemonProcess] = []
    try:
        first = DaemonProcess(config, tmp_path / "daemon-1.log").start()
        daemons.append(first)
        writer.start()
        for sid in BROKEN:
            first.wait_for_log(rf"source={re.escape(sid)} poll failed", timeout=20)
        grown_at_failure = len(external_ids(engine, "export"))
        fixed_at = time.monotonic()
        for sid in FAULTS:  # every server recovers (the unresolvable host cannot)
            server.route(f"/{sid}", respond(200, feed(range(base_of(index[sid]), base_of(index[sid]) + 5)),
                                            FEED_TYPE))
        refused.route("/refused", respond(200, feed(range(base_of(index["refused"]), base_of(index["refused"]) + 5)),
                                          FEED_TYPE))
        refused.listen()
        for sid in [*FAULTS, "refused"]:
            first.wait_for_log(rf"source={re.escape(sid)} recovered", timeout=defaults.BACKOFF_BASE_SECONDS + 20)
        recovered_after = time.monotonic() - fixed_at
        grown_at_recovery = len(external_ids(engine, "export"))
        assert grown_at_recovery > grown_at_failure + 50, "the export stalled while feeds were failing"
        first.kill9()

        # more of everything while the daemon is down; the restart resumes from the cursors
        written = writer.stop()
        with export.open("a", encoding="utf-8") as f:
            f.write(jsonl(rows(range(written, written + 30))))
        written += 30
        for sid in [*FAULTS, "refused", "mislabelled"]:
            b = base_of(index[sid])
            target = refused if sid == "refused" else server
            body = (feed(range(b, b + 10), encoding="gb18030") if sid == "mislabelled"
                    else feed(range(b, b + 10)))
            target.route(f"/{sid}", respond(200, body, {"Content-Type": "text/xml; charset=iso-8859-1"}
                                            if sid == "mislabelled" else FEED_TYPE))
        second = DaemonProcess(config, tmp_path / "daemon-2.log").start()
        daemons.append(second)

        def all_in() -> bool:
            return len(external_ids(engine, "export")) == written and all(
                len(external_ids(engine, sid)) == 10 for sid in [*FAULTS, "refused", "mislabelled"])

        wait_until(all_in, timeout=30, what="every row and feed item after the restart")
        assert second.stop() == 0
    finally:
        writer.stop()
        for d in daemons:
            if d.alive():
                d.kill9()
        server.stop()
        refused.stop()

    assert external_ids(engine, "export") == {f"r{i}": 1 for i in range(written)}
    for sid in [*FAULTS, "refused", "mislabelled"]:
        b = base_of(index[sid])
        assert external_ids(engine, sid) == {f"n{i}": 1 for i in range(b, b + 10)}, sid
    assert not external_ids(engine, "dns")
    engine.dispose()

    log1, log2 = daemons[0].text(), daemons[1].text()
    for sid in BROKEN:
        failed = lines_matching(log1, rf"source={re.escape(sid)} poll failed")
        assert len(failed) == 1, f"{sid}: one line when the failure starts, got {failed}"
    for sid in [*FAULTS, "refused"]:
        assert len(lines_matching(log1, rf"source={re.escape(sid)} recovered")) == 1, sid
    assert not lines_matching(log1, r"source=(export|mislabelled) poll failed")
    assert [line for line in lines_matching(log2, "poll failed") if "source=dns" not in line] == []
    for log in (log1, log2):
        strays = [line for line in log.splitlines() if line.strip() and not STAMP.match(line)]
        assert not strays, f"every log record is one line starting with its time: {strays[:3]}"
    print(f"\ndaemon faults: {len(BROKEN)} broken sources, each logged once; recovered "
          f"{recovered_after:.1f}s after the servers did (back-off {defaults.BACKOFF_BASE_SECONDS:g}s); "
          f"export grew {grown_at_failure} -> {grown_at_recovery} meanwhile; {written} rows, 0 lost, 0 doubled")
