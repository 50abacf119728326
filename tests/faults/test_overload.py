"""Overload: a source that suddenly delivers 100x its usual volume, with a crisis inside it.

The real daemon (a subprocess) tails an export that grows by USUAL rows a second; then for
FLOOD_SECONDS it grows a hundred times faster, and a tenth of the flood are complaints. The
daemon must

- stay within bounded memory: its peak resident set (VmHWM, /proc) during and after the flood
  may exceed the calm peak by at most RSS_GROWTH_BOUND_MIB. A poll takes at most
  max_items_per_poll rows (5000 by default; measured ~36 KiB of peak RSS per row in flight:
  RawItem, tokens, features, Mention), so the growth is bounded by the batch, not the flood;
  holding the whole flood at once would take about twice the bound;
- catch up: every row of the flood stored, exactly once, within CATCH_UP_BOUND seconds of the
  flood's end (the file cursor at the end of the file);
- still alert on time: the webhook gets the warning within ALERT_BOUND seconds of the flood's
  start, although the backlog is far from ingested by then.

The measured figures are printed (peak RSS before/after, alert latency, catch-up time).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.store.engine import make_engine
from tests.acceptance.harness import DaemonProcess, wait_until
from tests.faults.helpers import BRAND, complaint, external_ids, jsonl, peak_rss_kib, text

pytestmark = pytest.mark.slow

USUAL = 40  # rows a second before and after the flood
FLOOD_SECONDS = 5
CALM_SECONDS = 4
RSS_GROWTH_BOUND_MIB = 300  # one 5000-row poll measured ~180 MiB; the whole ~16k-row flood at once would be ~600
ALERT_BOUND = 30.0
CATCH_UP_BOUND = 60.0


def row(n: int, negative: bool) -> dict[str, str]:
    return {"id": f"r{n}", "text": complaint(n) if negative else text(n),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())}


class Feeder(threading.Thread):
    """Appends ``rate`` rows a second (in ten slices a second) until told otherwise."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.rate, self.negative_every, self.next = path, USUAL, 0, 0
        self.stopped = threading.Event()
        self.lock = threading.Lock()

    def set(self, rate: int, negative_every: int = 0) -> None:
        with self.lock:
            self.rate, self.negative_every = rate, negative_every

    def run(self) -> None:
        while not self.stopped.is_set():
            with self.lock:
                n, every = self.rate // 10, self.negative_every
                batch = [row(i, bool(every) and i % every == 0) for i in range(self.next, self.next + n)]
                self.next += n
            with self.path.open("a", encoding="utf-8") as f:
                f.write(jsonl(batch))
            self.stopped.wait(0.1)

    def stop(self) -> int:
        self.stopped.set()
        self.join(10)
        return self.next


def test_a_100x_flood_stays_within_memory_catches_up_and_still_alerts(
        tmp_path: Path, sqlite_url: str, http_server: Any) -> None:
    http_server.route("/hook", status=200, body=b"{}")
    cfg = {"storage": {"url": sqlite_url}, "http": {"listen": "127.0.0.1:0"},
           "alerts": {"evaluate_interval": "0.5s", "dispatch_interval": "0.5s"},
           "brands": [{"id": BRAND.id, "name": BRAND.name, "aliases": list(BRAND.aliases)}],
           "sources": [{"id": "export", "kind": "file", "interval": "0.5s", "path": "export.jsonl",
                        "fields": {"id": "id", "text": "text", "time": "time"}}],
           "notifiers": [{"id": "hook", "kind": "webhook", "url": http_server.url("/hook")}],
           "plan": {"bucket": "3s", "baseline_days": 1, "resolve_after": "1h",
                    "contacts": [{"id": "duty", "name": "值班", "channels": ["hook"]}],
                    "levels": [{"id": "warning", "name": "预警", "when": {"negative_spike": 3, "min_negative": 30},
                                "notify": ["duty"], "ack_within": "1h"}]}}
    config = tmp_path / "brandpulse.yaml"
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    export = tmp_path / "export.jsonl"
    export.touch()
    engine = make_engine(sqlite_url)
    feeder = Feeder(export)
    daemon = DaemonProcess(config, tmp_path / "daemon.log").start()
    try:
        pid = daemon.proc.pid  # type: ignore[union-attr]
        feeder.start()
        time.sleep(CALM_SECONDS)
        calm_peak = peak_rss_kib(pid)
        assert not http_server.requests_to("/hook"), "the calm stream alone must not alert"

        flood_start = time.monotonic()
        feeder.set(100 * USUAL, negative_every=10)
        time.sleep(FLOOD_SECONDS)
        feeder.set(USUAL)
        flood_end = time.monotonic()
        hook = wait_until(lambda: http_server.requests_to("/hook"), timeout=ALERT_BOUND, what="the flood's alert")
        alert_latency = time.monotonic() - flood_start
        written = feeder.stop()
        wait_until(lambda: len(external_ids(engine, "export")) >= written, timeout=CATCH_UP_BOUND,
                   what="the backlog ingested")
        caught_up = time.monotonic() - flood_end
        peak = peak_rss_kib(pid)
        assert daemon.stop() == 0
    finally:
        feeder.stop()
        if daemon.alive():
            daemon.kill9()
    stored = external_ids(engine, "export")
    engine.dispose()
    assert stored == {f"r{i}": 1 for i in range(written)}, "every row of the flood exactly once"
    assert hook[0].json()["brand"] == BRAND.id
    growth_mib = (peak - calm_peak) / 1024
    print(f"\noverload: {USUAL}/s -> {100 * USUAL}/s for {FLOOD_SECONDS}s ({written} rows); peak RSS "
          f"{calm_peak / 1024:.0f} MiB calm, {peak / 1024:.0f} MiB with the flood (+{growth_mib:.0f} MiB, bound "
          f"{RSS_GROWTH_BOUND_MIB}); alert {alert_latency:.1f}s after the flood began; caught up {caught_up:.1f}s "
          f"after it ended")
    assert growth_mib <= RSS_GROWTH_BOUND_MIB, f"peak RSS grew {growth_mib:.0f} MiB under the flood"
    assert alert_latency <= ALERT_BOUND
