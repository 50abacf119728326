"""Three real daemon processes on one real PostgreSQL database (issue 6, scale-out).

Six sources (three RSS feeds on loopback, three JSONL exports) and three brands; the replicas
start one after the other, so the first takes everything and hands work over as the others
join. While mentions keep arriving, and a negative burst for one brand opens an alert and
drills for the other two queue more notifications:

- each source has one holder at a time: over a steady window exactly one replica polls it
  (per-replica ``brandpulse_polls_total``), that replica holds its lease in the table, and no
  feed is ever fetched twice at once;
- one replica is killed with SIGKILL: its sources' leases are taken over when they expire,
  within the lease time (3 s here) of the kill, measured on the database's clock, and the
  new holders poll them at once;
- in the end every published mention is stored exactly once, the burst opened exactly one
  alert, and every notification reached its receiver exactly once (counted per outbox id).
"""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest
import sqlalchemy as sa
import yaml
from prometheus_client.parser import text_string_to_metric_families

from alerts.engine import AlertEngine
from alerts.plan import load_plan
from monitor.clock import SystemClock
from monitor.store import leases, schema
from monitor.store.engine import make_engine
from monitor.store.migrate import upgrade
from tests.acceptance.harness import (
    CITIES,
    DEMANDS,
    OPENINGS,
    PROBLEMS,
    ChatReceiver,
    DaemonProcess,
    Receipts,
    outbox_rows,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LEASE = 3.0  # seconds; heartbeat a third of it
BRANDS = {"qinghe": "青禾乳业", "xinghe": "星河手机", "acme": "阿克米咖啡"}
FEEDS = ["feed-1", "feed-2", "feed-3"]
EXPORTS = {"export-qinghe": "qinghe", "export-xinghe": "xinghe", "export-acme": "acme"}
FETCH_DELAY = 0.15  # each feed answers after this long, so two fetches at once would overlap


def tail(rnd: random.Random) -> str:
    """Twelve random CJK characters: no two mentions are near-duplicates of each other."""
    return "".join(chr(0x4E00 + rnd.randrange(0x5000)) for _ in range(12))


class FeedServer:
    """Three RSS feeds on the loopback server; items are added by the test. Records the most
    fetches of one feed ever in flight at once."""

    def __init__(self, http_server: Any) -> None:
        self.items: dict[str, list[tuple[str, str]]] = {f: [] for f in FEEDS}
        self.in_flight = dict.fromkeys(FEEDS, 0)
        self.max_in_flight = dict.fromkeys(FEEDS, 0)
        self.fetches = dict.fromkeys(FEEDS, 0)
        self._lock = threading.Lock()
        for feed in FEEDS:
            http_server.route(f"/{feed}.xml", handler=self._handler(feed))
        self.url = {f: http_server.url(f"/{f}.xml") for f in FEEDS}

    def add(self, feed: str, guid: str, text: str) -> None:
        with self._lock:
            self.items[feed].append((guid, text))

    def _handler(self, feed: str) -> Any:
        def handle(_rec: Any) -> tuple[int, dict[str, str], bytes]:
            with self._lock:
                self.in_flight[feed] += 1
                self.fetches[feed] += 1
                self.max_in_flight[feed] = max(self.max_in_flight[feed], self.in_flight[feed])
                items = list(self.items[feed])[-100:]
            try:
                time.sleep(FETCH_DELAY)
                date = format_datetime(datetime.now(UTC))
                body = "".join(f"<item><guid>{g}</guid><title>{t[:20]}</title><description>{t}</description>"
                               f"<pubDate>{date}</pubDate></item>" for g, t in items)
                xml = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{feed}</title>' \
                      f"{body}</channel></rss>"
                return 200, {"Content-Type": "application/rss+xml; charset=utf-8"}, xml.encode()
            finally:
                with self._lock:
                    self.in_flight[feed] -= 1

        return handle


class Publisher:
    """Publishes mentions to every feed and export until stopped; remembers what it published."""

    def __init__(self, tmp_path: Path, feeds: FeedServer, seed: int) -> None:
        self.tmp_path, self.feeds = tmp_path, feeds
        self.rnd = random.Random(seed)
        self.published: dict[str, set[str]] = {s: set() for s in [*FEEDS, *EXPORTS]}
        self.n = 0
        self.burst = False  # complaints about qinghe on its export
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        for source in EXPORTS:
            (tmp_path / f"{source}.jsonl").touch()

    def export_line(self, source: str, text: str, at: datetime) -> None:
        self.n += 1
        ext = f"{source}-{self.n}"
        with (self.tmp_path / f"{source}.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps({"id": ext, "text": text, "user": f"u{self.n}", "time": at.isoformat()},
                               ensure_ascii=False) + "\n")
        self.published[source].add(ext)

    def praise(self, brand: str) -> str:
        return f"{BRANDS[brand]}的新品很好用，{self.rnd.choice(CITIES)}门店服务热情，推荐 {tail(self.rnd)}"

    def complaint(self) -> str:
        r = self.rnd
        return f"{r.choice(OPENINGS)}{r.choice(CITIES)}买的青禾乳业{r.choice(PROBLEMS)}，{r.choice(DEMANDS)}！{tail(r)}"

    def history(self) -> None:
        now = datetime.now(UTC)
        for minutes in range(20, 0, -2):  # a quiet past: the rolling baseline has something to go on
            for source, brand in EXPORTS.items():
                self.export_line(source, self.praise(brand), now - timedelta(minutes=minutes))

    def round(self) -> None:
        now = datetime.now(UTC)
        for i, feed in enumerate(FEEDS):
            self.n += 1
            guid = f"{feed}-{self.n}"
            self.feeds.add(feed, guid, self.praise(list(BRANDS)[i]))
            self.published[feed].add(guid)
        for source, brand in EXPORTS.items():
            if self.rnd.random() < 0.3:
                self.export_line(source, self.praise(brand), now)
        if self.burst:
            self.export_line("export-qinghe", self.complaint(), now)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.round()
            self._stop.wait(0.3)

    def start(self) -> Publisher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def write_config(tmp_path: Path, db_url: str, feeds: FeedServer, chat: ChatReceiver) -> Path:
    cfg: dict[str, Any] = {
        "storage": {"url": db_url},
        "http": {"listen": "127.0.0.1:0"},
        "cluster": {"lease": f"{LEASE}s"},
        "alerts": {"evaluate_interval": "0.5s", "dispatch_interval": "0.3s", "claim_timeout": "5s"},
        "brands": [{"id": b, "name": name} for b, name in BRANDS.items()],
        "sources": [{"id": f, "kind": "rss", "interval": "0.5s", "url": feeds.url[f], "timeout": 5} for f in FEEDS]
        + [{"id": s, "kind": "file", "interval": "0.5s", "path": f"{s}.jsonl", "format": "jsonl",
            "fields": {"id": "id", "text": "text", "author": "user", "time": "time"}} for s in EXPORTS],
        "notifiers": [
            {"id": "duty-wecom", "kind": "wecom", "key_env": "BP_TEST_WECOM_KEY", "url": chat.wecom_url, "timeout": 2},
            {"id": "pr-dingtalk", "kind": "dingtalk", "token_env": "BP_TEST_DINGTALK_TOKEN",
             "secret_env": "BP_TEST_DINGTALK_SECRET", "url": chat.dingtalk_url, "timeout": 2},
        ],
        "plan": {
            "bucket": "3s", "baseline_days": 1, "resolve_after": "10m",
            "contacts": [{"id": "li-si", "name": "李四", "channels": ["duty-wecom"]},
                         {"id": "zhang-san", "name": "张三", "channels": ["pr-dingtalk"]}],
            "levels": [{"id": "warning", "name": "预警", "when": {"negative_spike": 2.5, "min_negative": 4},
                        "notify": ["li-si", "zhang-san"], "ack_within": "1h"}],
        },
    }
    path = tmp_path / "brandpulse.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def polls(daemon: DaemonProcess) -> dict[str, float]:
    """Successful polls per source, from one replica's /metrics."""
    with urlopen(f"http://127.0.0.1:{daemon.port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "brandpulse_polls":
            for s in family.samples:
                if s.name == "brandpulse_polls_total" and s.labels["result"] == "ok":
                    out[s.labels["source"]] = s.value
    return out


def source_leases(engine: sa.Engine) -> tuple[datetime, dict[str, leases.Lease]]:
    with engine.connect() as conn:
        now = leases.database_now(conn)
        return now, {x.name.removeprefix("source:"): x for x in leases.all_leases(conn, "source:")}


def queue_drills(config: Path, engine: sa.Engine) -> int:
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    plan = load_plan(raw["plan"], notifier_ids={n["id"] for n in raw["notifiers"]}, brand_ids=set(BRANDS))
    alerts = AlertEngine(engine, plan, SystemClock())
    return sum(alerts.drill(b, "warning", by="test", note="replica drill").notifications for b in ("xinghe", "acme"))


def test_three_replicas_share_sources_and_take_over_a_killed_ones(tmp_path: Path, pg_url: str,
                                                                  http_server: Any) -> None:
    seed = random.randrange(10**6)
    receipts = Receipts()
    chat = ChatReceiver(http_server, receipts)
    feeds = FeedServer(http_server)
    config = write_config(tmp_path, pg_url, feeds, chat)
    publisher = Publisher(tmp_path, feeds, seed)
    publisher.history()
    engine = make_engine(pg_url)
    upgrade(engine)
    replicas: list[DaemonProcess] = []
    try:
        publisher.start()
        for i in range(3):
            replicas.append(DaemonProcess(config, tmp_path / f"replica-{i + 1}.log").start())
        ids = [d.wait_for_log(r"started: replica (\S+),", 10).group(1) for d in replicas]
        assert len(set(ids)) == 3

        # the work spreads out: two sources per replica, each lease live
        def spread() -> bool:
            now, rows = source_leases(engine)
            holders = [rows[s].holder for s in [*FEEDS, *EXPORTS] if s in rows and rows[s].live(now)]
            return len(holders) == 6 and sorted(holders.count(r) for r in ids) == [2, 2, 2]

        wait_until(spread, timeout=30, what="six source leases spread two per replica")

        # steady window: exactly one replica polls each source, and it is the lease holder
        before = [polls(d) for d in replicas]
        time.sleep(4)
        after = [polls(d) for d in replicas]
        _, rows = source_leases(engine)
        for source in [*FEEDS, *EXPORTS]:
            polled_by = [ids[i] for i in range(3) if after[i].get(source, 0) > before[i].get(source, 0)]
            assert polled_by == [rows[source].holder], (source, polled_by, rows[source].holder)

        # a negative burst for qinghe, and drills for the other two brands through the outbox
        publisher.burst = True
        drills = queue_drills(config, engine)
        assert drills == 4
        receipts.wait(lambda rs: len(rs) >= drills + 2, timeout=60, what="burst alert and drill notifications")

        # kill the replica holding qinghe's export: its leases move within the lease time
        _, rows = source_leases(engine)
        victim = ids.index(rows["export-qinghe"].holder)
        lost = sorted(s for s, x in rows.items() if x.holder == ids[victim])
        replicas[victim].kill9()
        with engine.connect() as conn:
            killed_at = leases.database_now(conn)
        survivors = [d for i, d in enumerate(replicas) if i != victim]

        def taken_over() -> dict[str, leases.Lease] | None:
            now, rows = source_leases(engine)
            moved = {s: rows[s] for s in lost if rows[s].holder != ids[victim] and rows[s].live(now)}
            return moved if len(moved) == len(lost) else None

        moved = wait_until(taken_over, timeout=LEASE * 4, what=f"{lost} taken over from the killed replica")
        delays = {s: (x.acquired_at - killed_at).total_seconds() for s, x in moved.items()}
        assert all(d <= LEASE + 0.5 for d in delays.values()), f"takeover took {delays}s with a {LEASE}s lease"
        # ... and the new holders poll them right away (ready_at: their first round is done)
        wait_until(lambda: all(x.ready_at is not None for s, x in source_leases(engine)[1].items() if s in lost),
                   timeout=LEASE * 3, what="the taken-over sources polled by their new holders")
        time.sleep(2)  # more mentions, polled by the survivors only
        publisher.stop()

        def everything_stored() -> bool:
            with engine.connect() as conn:
                got = conn.execute(sa.select(sa.func.count()).select_from(schema.mentions)).scalar_one()
            return got == sum(len(v) for v in publisher.published.values())

        wait_until(everything_stored, timeout=30, what="every published mention stored")
        wait_until(lambda: all(r["status"] == "done" for r in outbox_rows(pg_url).values()), timeout=30,
                   what="every notification sent")
        time.sleep(1.0)  # a duplicate would arrive within a dispatch interval or two
        assert [d.stop() for d in survivors] == [0, 0]
        texts = {d.log.name: d.text() for d in replicas}
    finally:
        publisher.stop()
        for d in replicas:
            if d.alive():
                d.proc.kill()  # type: ignore[union-attr]
                d.proc.wait(timeout=10)  # type: ignore[union-attr]

    context = f"seed={seed} killed={ids[victim]} lost={lost} takeover={delays}"
    with engine.connect() as conn:
        stored = conn.execute(sa.select(schema.mentions.c.source_id, schema.mentions.c.external_id)).all()
        alerts = conn.execute(sa.select(schema.alerts.c.brand, schema.alerts.c.drill)).all()
        states = {r.source_id: r for r in conn.execute(sa.select(schema.source_state))}
    engine.dispose()
    # every source polled; every mention stored exactly once
    assert sorted(states) == sorted([*FEEDS, *EXPORTS]) and all(s.last_success_at for s in states.values())
    by_source: dict[str, set[str]] = {}
    for source_id, external_id in stored:
        by_source.setdefault(source_id, set()).add(external_id)
    assert len(stored) == sum(len(v) for v in by_source.values())
    assert {s: len(v) for s, v in by_source.items()} == {s: len(v) for s, v in publisher.published.items()}, context
    assert {s: v for s, v in by_source.items() if s in EXPORTS} == {s: publisher.published[s] for s in EXPORTS}
    assert all(n == 1 for n in feeds.max_in_flight.values()), feeds.max_in_flight
    # the burst opened one alert (one evaluator per brand), and every notification went out once
    assert sorted(alerts) == [("acme", True), ("qinghe", False), ("xinghe", True)], context
    rows = outbox_rows(pg_url)
    assert len(rows) == drills + 2
    assert receipts.per_outbox_id() == {oid: 1 for oid in rows}, context
    # the killed replica's leases were lost by it, not released; the survivors logged taking them
    assert all("lease acquired name=source:" in t for t in texts.values())
    assert sum(f"from {ids[victim]}" in texts[d.log.name] for d in survivors) >= 1, context
