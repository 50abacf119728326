"""The whole daemon on real parts: files and a feed on loopback in, SQLite/PostgreSQL in the
middle, a webhook receiver on loopback out.

A quiet week of mentions for two brands, then a negative burst for one of them: exactly one
alert for that brand, one webhook call per contact and channel, and a restart that neither
repeats mentions nor notifications.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
import yaml
from prometheus_client import CollectorRegistry

from monitor.daemon import Daemon
from monitor.settings import load_config
from monitor.store import schema

PRAISE = ["{b}的新品真好喝，包装也很用心，推荐给朋友了 第{n}次回购",
          "今天在{c}门店买了{b}，服务态度很好，店员很热情 #{n}",
          "{b}的会员活动很划算，性价比高，满意 {n}",
          "用了{n}天{b}，质量不错，物流也快，好评"]
COMPLAINT = ["{b}太差了！在{c}买的东西是坏的，客服也不理人，差评 投诉第{n}次",
             "再也不买{b}了，喝完肚子疼，质量有问题，要求退款 编号{n}",
             "{b}欺骗消费者，{c}门店拒绝退货，太恶心了，维权到底 #{n}",
             "垃圾{b}，变质了还在卖，{c}的朋友也中招了，坚决抵制 {n}"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安", "南京", "重庆"]


def write_stream(path: Path, now: datetime, *, seed: int = 7) -> int:
    """Six quiet days for acme and beta (mostly praise), then a 45-minute negative burst for acme."""
    rnd = random.Random(seed)
    rows = []
    start = now - timedelta(days=6)
    t = start
    n = 0
    while t < now - timedelta(minutes=50):
        for brand in ("阿克米咖啡", "贝塔手机"):
            if rnd.random() < 0.5:
                n += 1
                tpl = rnd.choice(COMPLAINT if rnd.random() < 0.15 else PRAISE)
                rows.append({"id": f"m{n}", "text": tpl.format(b=brand, c=rnd.choice(CITIES), n=n),
                             "user": f"user{rnd.randint(1, 5000)}", "time": t.isoformat()})
        t += timedelta(minutes=30)
    t = now - timedelta(minutes=45)
    while t < now - timedelta(seconds=30):
        n += 1
        rows.append({"id": f"m{n}", "text": rnd.choice(COMPLAINT).format(b="阿克米咖啡", c=rnd.choice(CITIES), n=n)
                     + f" 第{rnd.randint(1, 10**6)}位受害者", "user": f"angry{n}", "time": t.isoformat()})
        t += timedelta(seconds=20)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return len(rows)


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>news</title>
<item><guid>news-1</guid><title>贝塔手机发布新款</title><link>http://example.com/1</link>
<description>贝塔手机今天发布了新款手机，外观很漂亮，大家都很喜欢</description>
<pubDate>{date}</pubDate></item>
</channel></rss>"""


def make_config(tmp_path: Path, db_url: str, hook_url: str, feed_url: str) -> Path:
    cfg = {
        "storage": {"url": db_url},
        "http": {"listen": "127.0.0.1:0"},
        "brands": [{"id": "acme", "name": "阿克米咖啡", "aliases": ["阿克米"]},
                   {"id": "beta", "name": "贝塔手机", "aliases": ["贝塔"]}],
        "sources": [
            {"id": "export", "kind": "file", "interval": "1m", "path": "stream.jsonl",
             "fields": {"id": "id", "text": "text", "author": "user", "time": "time"}},
            {"id": "news", "kind": "rss", "interval": "5m", "url": feed_url},
        ],
        "notifiers": [{"id": "hook", "kind": "webhook", "url": hook_url}],
        "plan": {
            "contacts": [{"id": "li-si", "name": "李四", "department": "品牌管理部", "role": "舆情值班",
                          "channels": ["hook"]},
                         {"id": "zhang-san", "name": "张三", "department": "品牌管理部", "role": "危机公关负责人",
                          "channels": ["hook"]}],
            "levels": [
                {"id": "warning", "name": "预警", "when": {"negative_spike": 3, "min_negative": 8},
                 "notify": ["li-si"], "ack_within": "30m"},
                {"id": "crisis", "name": "危机", "when": {"negative_spike": 6, "min_negative": 20},
                 "notify": ["li-si", "zhang-san"], "ack_within": "15m"},
            ],
        },
    }
    path = tmp_path / "brandpulse.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def test_burst_raises_one_alert_and_restart_repeats_nothing(tmp_path: Path, db_url: str, http_server) -> None:
    now = datetime.now(UTC)
    total = write_stream(tmp_path / "stream.jsonl", now)
    http_server.route("/hook", status=200, body=b'{"ok": true}')
    http_server.route("/feed.xml", body=RSS.format(date=now.strftime("%a, %d %b %Y %H:%M:%S +0000")).encode(),
                      headers={"Content-Type": "application/rss+xml"})
    config = load_config(make_config(tmp_path, db_url, http_server.url("/hook"), http_server.url("/feed.xml")))

    daemon = Daemon(config, registry=CollectorRegistry())
    try:
        summary = daemon.run_once()
    finally:
        daemon.stop()
    assert summary["failed_polls"] == 0
    assert summary["stored"] > total * 0.9  # a few near-duplicate complaints may be dropped, never most

    engine = sa.create_engine(config.storage_url)
    with engine.connect() as conn:
        alerts = conn.execute(sa.select(schema.alerts)).mappings().all()
        stored = conn.execute(sa.select(sa.func.count()).select_from(schema.mentions)).scalar_one()
    assert [(a["brand"], a["state"]) for a in alerts] == [("acme", "firing")]
    assert alerts[0]["level"] == "crisis"
    calls = http_server.requests_to("/hook")
    assert sorted(c.json()["contact"] for c in calls) == ["li-si", "zhang-san"]
    assert all(c.json()["brand"] == "acme" for c in calls)

    # restart on the same store: nothing new to ingest, nothing new to send
    daemon = Daemon(config, registry=CollectorRegistry())
    try:
        again = daemon.run_once()
    finally:
        daemon.stop()
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.mentions)).scalar_one() == stored
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.alerts)).scalar_one() == 1
    assert again["stored"] == 0
    assert len(http_server.requests_to("/hook")) == 2
    engine.dispose()


def test_alerts_wait_until_every_source_caught_up_after_start(tmp_path: Path, sqlite_url: str, http_server) -> None:
    """A slow source still fetching its backlog holds the first evaluation back (bounded by
    CATCH_UP_MAX_SECONDS), so a restart never judges a brand on half its data."""
    import threading
    import time

    now = datetime.now(UTC)
    write_stream(tmp_path / "stream.jsonl", now)
    release = threading.Event()

    def slow_feed(_req):
        release.wait(30)
        return 200, {"Content-Type": "application/rss+xml"}, RSS.format(
            date=now.strftime("%a, %d %b %Y %H:%M:%S +0000")).encode()

    http_server.route("/hook", status=200)
    http_server.route("/feed.xml", handler=slow_feed)
    path = make_config(tmp_path, sqlite_url, http_server.url("/hook"), http_server.url("/feed.xml"))
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["alerts"] = {"evaluate_interval": "200ms", "dispatch_interval": "200ms"}
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    config = load_config(path)
    daemon = Daemon(config, registry=CollectorRegistry(), listen="127.0.0.1:0")
    engine = sa.create_engine(config.storage_url)

    def alerts() -> int:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(schema.alerts)).scalar_one()

    def mentions() -> int:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(schema.mentions)).scalar_one()

    daemon.start()
    try:
        deadline = time.monotonic() + 30
        while mentions() < 300 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # several evaluation ticks with the burst stored
        assert alerts() == 0, "evaluated before the feed's first poll finished"
        release.set()
        deadline = time.monotonic() + 30
        while alerts() == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert alerts() == 1
    finally:
        release.set()
        daemon.stop()
        engine.dispose()
