"""POST /api/v1/push/{source_id} on a real daemon (port 0, SQLite and PostgreSQL): accepted
records are scored like any mention; forged, stale, future, replayed, oversize and malformed
requests are refused with one log line and no secret; a kill -9 right after the 202 loses nothing."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import yaml
from openapi_spec_validator import validate
from prometheus_client import CollectorRegistry

from monitor.daemon import Daemon
from monitor.settings import load_config
from monitor.store import schema
from sources.push import sign
from tests.acceptance.harness import DaemonProcess, wait_until

SECRET = "push-secret-for-tests-7d41a0"
ENV_NAME = "BP_TEST_PUSH_SECRET"


def write_config(tmp_path: Path, db_url: str, **push) -> Path:
    cfg = {
        "storage": {"url": db_url},
        "http": {"listen": "127.0.0.1:0"},
        "brands": [{"id": "acme", "name": "阿克米咖啡", "aliases": ["阿克米"]}],
        "sources": [{"id": "tool", "kind": "push", "interval": "1h", "secret_env": ENV_NAME,
                     "fields": {"id": "id", "text": "text", "author": "user", "time": "time"}, **push}],
        "notifiers": [{"id": "console", "kind": "console"}],
        "plan": {"contacts": [{"id": "li-si", "name": "李四", "channels": ["console"]}],
                 "levels": [{"id": "crisis", "name": "危机", "when": {"negative_spike": 6, "min_negative": 50},
                             "notify": ["li-si"]}]},
    }
    path = tmp_path / "brandpulse.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def post(base: str, body: bytes, *, ts: int | None = None, secret: str = SECRET, source: str = "tool",
         signature: str | None = None) -> httpx.Response:
    ts = int(time.time()) if ts is None else ts
    headers = {"X-BrandPulse-Timestamp": str(ts), "Content-Type": "application/json",
               "X-BrandPulse-Signature": signature if signature is not None else sign(secret, ts, body)}
    return httpx.post(f"{base}/api/v1/push/{source}", content=body, headers=headers, timeout=30)


def records(n: int, start: int = 0) -> bytes:
    now = datetime.now(UTC)
    # words unique to each record, so the near-duplicate detector keeps every one
    rows = [{"id": f"p{i}", "text": "阿克米咖啡 " + " ".join(secrets.token_hex(4) for _ in range(12)),
             "user": f"u{i}", "time": (now - timedelta(seconds=i)).isoformat()} for i in range(start, start + n)]
    return json.dumps(rows, ensure_ascii=False).encode()


def count(engine: sa.Engine, table: sa.Table, **where: str) -> int:
    q = sa.select(sa.func.count()).select_from(table)
    for k, v in where.items():
        q = q.where(table.c[k] == v)
    with engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


@pytest.fixture
def running(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ENV_NAME, SECRET)
    config = load_config(write_config(tmp_path, db_url, max_bytes=4096))
    daemon = Daemon(config, registry=CollectorRegistry(), listen="127.0.0.1:0")
    daemon.start()
    host, port = daemon.address
    yield daemon, f"http://{host}:{port}", config
    daemon.stop()


def test_a_signed_push_is_stored_and_scored_like_any_mention(running) -> None:
    daemon, base, _ = running
    body = json.dumps([
        {"id": "n1", "text": "阿克米咖啡太难喝了，服务差，喝完肚子疼，再也不买了", "user": "a",
         "time": datetime.now(UTC).isoformat()},
        {"id": "p1", "text": "阿克米的新品真好喝，包装也很用心，推荐给朋友了", "user": "b"},
        {"id": "x1", "text": "今天天气不错，和品牌无关", "user": "c"},
        {"id": "bad", "user": "no text"},
    ], ensure_ascii=False).encode()
    resp = post(base, body)
    assert resp.status_code == 202, resp.text
    got = resp.json()
    assert got["ok"] is True and got["accepted"] == 3
    assert len(got["rejected"]) == 1 and "text column 'text'" in got["rejected"][0]
    engine = daemon.engine
    wait_until(lambda: count(engine, schema.mentions, source_id="tool") == 2, 30, "two acme mentions stored")
    with engine.connect() as conn:
        rows = {r.external_id: r for r in conn.execute(sa.select(schema.mentions)).all()}
    assert rows["n1"].sentiment_label == "negative" and rows["n1"].brands == "acme"
    assert rows["p1"].sentiment_label == "positive" and rows["p1"].author == "b"
    reg = daemon.registry
    ingested = lambda label: reg.get_sample_value(  # noqa: E731
        "brandpulse_mentions_ingested_total", {"brand": "acme", "source": "tool", "sentiment": label})
    assert ingested("negative") == 1 and ingested("positive") == 1
    assert reg.get_sample_value("brandpulse_items_dropped_total", {"source": "tool", "reason": "no_brand"}) == 1
    assert reg.get_sample_value("brandpulse_polls_total", {"source": "tool", "result": "ok"}) >= 2
    # the next push's poll deletes the rows the first poll's committed cursor covers
    assert post(base, records(1)).status_code == 202
    wait_until(lambda: count(engine, schema.mentions, source_id="tool") == 3, 30, "the second push stored")
    wait_until(lambda: count(engine, schema.push_items) <= 1, 30, "consumed spool rows deleted")


def _refusals(base: str) -> list[tuple[str, httpx.Response, int]]:
    now = int(time.time())
    body = records(1)
    replayed = post(base, body, ts=now)
    assert replayed.status_code == 202
    return [
        ("bad signature", post(base, body, secret="not-the-secret"), 401),
        ("no signature", post(base, body, signature=""), 401),
        ("stale", post(base, body, ts=now - 400), 401),
        ("future", post(base, body, ts=now + 400), 401),
        ("replay", post(base, body, ts=now), 401),
        ("oversize", post(base, records(40)), 413),
        ("malformed", post(base, b'[{"id": "1", "text": "x"'), 400),
        ("unknown source", post(base, body, source="nope"), 404),
    ]


def test_refusals_have_the_right_status_and_one_log_line_without_the_secret(
        running, caplog: pytest.LogCaptureFixture) -> None:
    daemon, base, _ = running
    caplog.set_level(logging.INFO, logger="monitor.api_push")
    results = _refusals(base)
    for what, resp, status in results:
        assert resp.status_code == status, (what, resp.text)
        err = resp.json()
        assert err["ok"] is False and err["status"] == status and SECRET not in resp.text, what
    refused = [r for r in caplog.records if r.name == "monitor.api_push" and "push refused" in r.getMessage()]
    assert len(refused) == len(results)
    for record in refused:
        line = record.getMessage()
        assert "\n" not in line and SECRET not in line and not re.search(r"[0-9a-fA-F]{64}", line)
    reasons = [r.getMessage().split("reason=")[1].split()[0] for r in refused]
    assert reasons == ["signature", "signature", "timestamp", "timestamp", "replay", "size", "body", "unknown"]
    assert SECRET not in caplog.text
    assert count(daemon.engine, schema.push_signatures) == 1  # only the one accepted request


def test_a_replay_is_refused_after_a_restart(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_NAME, SECRET)
    config = load_config(write_config(tmp_path, db_url))
    body, ts = records(2), int(time.time())
    for attempt, expected in ((1, 202), (2, 401)):
        daemon = Daemon(config, registry=CollectorRegistry(), listen="127.0.0.1:0")
        daemon.start()
        try:
            host, port = daemon.address
            resp = post(f"http://{host}:{port}", body, ts=ts)
            assert resp.status_code == expected, (attempt, resp.text)
            wait_until(lambda: count(daemon.engine, schema.mentions) == 2, 30, "the first push stored")  # noqa: B023
        finally:
            daemon.stop()
    assert "replay" in resp.json()["error"]


def test_openapi_describes_the_push_endpoint(running) -> None:
    _, base, _ = running
    spec = httpx.get(f"{base}/api/v1/openapi.json").json()
    validate(spec)
    op = spec["paths"]["/api/v1/push/{source_id}"]["post"]
    assert op["x-brandpulse-role"] == "public" and op["security"] == []
    assert {p["name"] for p in op["parameters"]} >= {"source_id", "X-BrandPulse-Timestamp", "X-BrandPulse-Signature"}
    assert {"202", "400", "401", "404", "413"} <= set(op["responses"])


def test_nothing_accepted_is_lost_across_kill_9_right_after_the_202(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_NAME, SECRET)  # the daemon process inherits it
    config = write_config(tmp_path, db_url)
    engine = sa.create_engine(load_config(config).storage_url)
    accepted = 0
    try:
        for round_ in range(3):
            daemon = DaemonProcess(config, tmp_path / f"daemon-{round_}.log").start()
            base = f"http://127.0.0.1:{daemon.port}"
            for batch in range(4):
                resp = post(base, records(25, start=round_ * 1000 + batch * 25))
                assert resp.status_code == 202, resp.text
                accepted += resp.json()["accepted"]
            daemon.kill9()  # no clean stop: the spool and the pipeline are wherever they were
        daemon = DaemonProcess(config, tmp_path / "daemon-last.log").start()
        try:
            wait_until(lambda: count(engine, schema.mentions, source_id="tool") == accepted, 60,
                       f"all {accepted} accepted records stored")
            time.sleep(1)  # and no more than that
            assert count(engine, schema.mentions, source_id="tool") == accepted == 300
        finally:
            daemon.stop()
        assert "push accepted" in (tmp_path / "daemon-0.log").read_text(encoding="utf-8")
        assert SECRET not in "".join(p.read_text(encoding="utf-8") for p in tmp_path.glob("daemon-*.log"))
    finally:
        engine.dispose()


def test_concurrent_pushes_all_arrive(running) -> None:
    """Requests committed out of id order must not be skipped by a poll that already read past
    them (PostgreSQL: the per-source lock in monitor/store/push.py)."""
    from concurrent.futures import ThreadPoolExecutor

    daemon, base, _ = running
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda i: post(base, records(3, start=i * 3)).status_code, range(40)))
    assert statuses == [202] * 40
    wait_until(lambda: count(daemon.engine, schema.mentions, source_id="tool") == 120, 60, "all 120 records stored")
