"""Reloading a running daemon (a real process): SIGHUP and ``POST /api/v1/admin/reload``.

1. While a feed fetch and a notification are in flight (both receivers are slow), the config
   changes: a brand gets a new alias, a source is added, the feed's interval and the
   notifier's timeout change. SIGHUP: the new source is polled, the new alias matches, and
   the fetch and the delivery in flight complete (the delivery exactly once).
2. A broken config (three problems) is rejected: each problem is logged on its own line, the
   old config keeps working, and the API answers 400 with the same problems.
3. Fixed again, the API reloads it (admin token only): 200 with what changed.
"""

from __future__ import annotations

import json
import re
import signal
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
import sqlalchemy as sa
import yaml

from alerts.engine import AlertEngine
from alerts.plan import load_plan
from monitor.clock import SystemClock
from monitor.store import schema
from monitor.store.engine import make_engine
from monitor.store.migrate import upgrade
from tests.acceptance.harness import ChatReceiver, DaemonProcess, Receipts, outbox_rows, wait_until

pytestmark = pytest.mark.slow

ADMIN_TOKEN = "admin-token-for-the-reload-test-3f9c"
FIELDS = {"id": "id", "text": "text", "author": "user", "time": "time"}
FEED_DELAY = 1.5  # the news feed answers this slowly: a fetch is in flight most of the time


def append(path: Path, ext_id: str, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"id": ext_id, "text": text, "user": "u", "time": datetime.now(UTC).isoformat()},
                           ensure_ascii=False) + "\n")


def base_config(db_url: str, chat: ChatReceiver, feed_url: str) -> dict[str, Any]:
    return {
        "storage": {"url": db_url},
        "http": {"listen": "127.0.0.1:0", "auth": {"admin_token_env": "BP_TEST_ADMIN_TOKEN"}},
        "alerts": {"evaluate_interval": "0.5s", "dispatch_interval": "0.3s", "claim_timeout": "20s"},
        "brands": [{"id": "acme", "name": "阿克米咖啡", "aliases": ["阿克米"]}],
        "sources": [
            {"id": "export-1", "kind": "file", "interval": "0.5s", "path": "export-1.jsonl", "format": "jsonl",
             "fields": FIELDS},
            {"id": "news", "kind": "rss", "interval": "1s", "url": feed_url, "timeout": 10},
        ],
        "notifiers": [{"id": "duty-wecom", "kind": "wecom", "key_env": "BP_TEST_WECOM_KEY", "url": chat.wecom_url,
                       "timeout": 5}],
        "plan": {
            "contacts": [{"id": "li-si", "name": "李四", "channels": ["duty-wecom"]}],
            "levels": [{"id": "warning", "name": "预警", "when": {"negative_spike": 1000, "min_negative": 100000},
                        "notify": ["li-si"], "ack_within": "1h"}],
        },
    }


def write(path: Path, cfg: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def stored(engine: sa.Engine) -> dict[str, str]:
    """external id -> source id of every stored mention."""
    with engine.connect() as conn:
        return {r.external_id: r.source_id for r in conn.execute(
            sa.select(schema.mentions.c.external_id, schema.mentions.c.source_id))}


def post_reload(port: int, token: str | None) -> tuple[int, dict[str, Any]]:
    req = Request(f"http://127.0.0.1:{port}/api/v1/admin/reload", data=b"", method="POST",
                  headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_sighup_and_api_reload_swap_config_keep_work_in_flight_and_reject_a_broken_one(
        tmp_path: Path, sqlite_url: str, http_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BP_TEST_ADMIN_TOKEN", ADMIN_TOKEN)
    receipts = Receipts()
    chat = ChatReceiver(http_server, receipts, delay=1.5)
    fetches: list[tuple[float, float]] = []  # (start, end) of each news fetch answered

    def news(_rec: Any) -> tuple[int, dict[str, str], bytes]:
        started = time.monotonic()
        time.sleep(FEED_DELAY)
        fetches.append((started, time.monotonic()))
        item = (f"<item><guid>news-1</guid><title>阿克米咖啡新店</title><description>阿克米咖啡在上海开了新店"
                f"</description><pubDate>{format_datetime(datetime.now(UTC))}</pubDate></item>")
        body = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>{item}</channel></rss>'
        return 200, {"Content-Type": "application/rss+xml; charset=utf-8"}, body.encode()

    http_server.route("/news.xml", handler=news)
    config = tmp_path / "brandpulse.yaml"
    cfg = base_config(sqlite_url, chat, http_server.url("/news.xml"))
    write(config, cfg)
    export1, export2, export3 = (tmp_path / f"export-{i}.jsonl" for i in (1, 2, 3))
    append(export1, "a-1", "阿克米咖啡的拿铁很好喝，推荐")
    append(export1, "a-2", "ACME豆的新口味不错")  # not a known alias yet: dropped
    append(export2, "b-1", "ACME豆的包装很精致")
    append(export3, "c-1", "阿克米的会员活动很划算")
    engine = make_engine(sqlite_url)
    upgrade(engine)
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    try:
        daemon.start()
        wait_until(lambda: set(stored(engine)) >= {"a-1", "news-1"}, timeout=30, what="the first mentions")
        assert "a-2" not in stored(engine)

        # --- 1. SIGHUP while a delivery and a fetch are in flight
        plan = load_plan(cfg["plan"], notifier_ids={"duty-wecom"}, brand_ids={"acme"})
        assert AlertEngine(engine, plan, SystemClock()).drill("acme", "warning", by="test").notifications == 1
        receipts.wait(lambda rs: len(rs) == 1, timeout=30, what="the drill notification to arrive")
        cfg["brands"][0]["aliases"].append("ACME豆")
        cfg["sources"].append({"id": "export-2", "kind": "file", "interval": "0.5s", "path": "export-2.jsonl",
                               "format": "jsonl", "fields": FIELDS})
        cfg["sources"][1]["interval"] = "2s"
        cfg["notifiers"][0]["timeout"] = 6
        write(config, cfg)
        in_flight_news = len(fetches)
        daemon.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
        line = daemon.wait_for_log(r"config reloaded from \S+: (.*)", 20).group(1)
        assert set(line.split("; ")) == {"source changed: news", "source added: export-2",
                                         "notifier changed: duty-wecom", "brand changed: acme"}, line
        append(export1, "a-3", "ACME豆的新品发布会很精彩")
        wait_until(lambda: set(stored(engine)) >= {"b-1", "a-3"}, timeout=30,
                   what="the new source polled and the new alias matched")
        wait_until(lambda: all(r["status"] == "done" for r in outbox_rows(sqlite_url).values()), timeout=30,
                   what="the delivery in flight to complete")
        [row] = outbox_rows(sqlite_url).values()
        assert row["attempts"] == 1 and receipts.per_outbox_id() == {row["id"]: 1}
        wait_until(lambda: len(fetches) > in_flight_news + 1, timeout=30, what="news polled after the reload")
        assert "poll failed" not in daemon.text() and "Traceback" not in daemon.text()

        # --- 2. a broken config: rejected, every problem on its own line, the old one keeps running
        broken = yaml.safe_load(yaml.safe_dump(cfg))
        broken["brands"][0]["id"] = "ACME!"
        broken["sources"][2]["interval"] = "-5s"
        broken["alerts"]["evaluate_every"] = "1m"
        write(config, broken)
        daemon.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
        daemon.wait_for_log(r"config reload rejected, the running configuration stays: 3 problems", 20)
        problems = re.findall(r"ERROR monitor\.reload: config reload: (.*)", daemon.text())
        assert len(problems) == 3, problems
        assert any("brands[0].id" in p and "'ACME!'" in p for p in problems), problems
        assert any("sources[2].interval" in p for p in problems), problems
        assert any("alerts.evaluate_every" in p and "unknown key" in p for p in problems), problems
        append(export2, "b-2", "ACME豆的外卖很快")  # the old config still polls and matches
        wait_until(lambda: "b-2" in stored(engine), timeout=30, what="the running config to keep working")
        assert daemon.alive()

        # --- 3. the same through the API: admin only, 400 with the problems, then 200 once fixed
        assert post_reload(daemon.port, None)[0] == 401  # type: ignore[arg-type]
        status, body = post_reload(daemon.port, ADMIN_TOKEN)  # type: ignore[arg-type]
        assert status == 400 and body["ok"] is False and len(body["problems"]) == 3, body
        cfg["sources"].append({"id": "export-3", "kind": "file", "interval": "0.5s", "path": "export-3.jsonl",
                               "format": "jsonl", "fields": FIELDS})
        write(config, cfg)
        status, body = post_reload(daemon.port, ADMIN_TOKEN)  # type: ignore[arg-type]
        assert (status, body["changes"], body["restart_needed"]) == (200, ["source added: export-3"], []), body
        wait_until(lambda: "c-1" in stored(engine), timeout=30, what="the source the API reload added")
        assert daemon.stop() == 0
        assert stored(engine)["b-1"] == "export-2"
    finally:
        if daemon.alive():
            daemon.proc.kill()  # type: ignore[union-attr]
            daemon.proc.wait(timeout=10)  # type: ignore[union-attr]
        engine.dispose()
    assert "Traceback" not in daemon.text()
