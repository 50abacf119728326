"""The daemon's HTTP server on a real socket: /metrics through promtool, health, the alert API."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from monitor.daemon import Daemon
from monitor.settings import load_config
from tests.acceptance.test_daemon import make_config, write_stream


@pytest.fixture
def running(tmp_path: Path, sqlite_url: str, http_server):
    from datetime import UTC, datetime

    write_stream(tmp_path / "stream.jsonl", datetime.now(UTC))
    http_server.route("/hook", status=200)
    http_server.route("/feed.xml", status=503, headers={"Retry-After": "120"})  # a dead source
    config = load_config(make_config(tmp_path, sqlite_url, http_server.url("/hook"), http_server.url("/feed.xml")))
    registry = CollectorRegistry()
    daemon = Daemon(config, registry=registry, listen="127.0.0.1:0")
    daemon.run_once()
    daemon.start()
    host, port = daemon.address
    yield daemon, f"http://{host}:{port}"
    daemon.stop()


def test_metrics_pass_promtool(running, tmp_path: Path) -> None:
    daemon, base = running
    resp = httpx.get(f"{base}/metrics", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    for name in ("brandpulse_mentions_ingested_total", "brandpulse_sentiment_score_bucket",
                 "brandpulse_poll_duration_seconds_bucket", "brandpulse_poll_errors_total",
                 "brandpulse_source_last_success_timestamp_seconds", "brandpulse_alerts_raised_total",
                 "brandpulse_build_info", "brandpulse_model_info", "brandpulse_alerts_open",
                 "brandpulse_outbox_notifications"):
        assert name in text, name
    reg = daemon.registry
    assert reg.get_sample_value("brandpulse_alerts_raised_total", {"brand": "acme", "level": "crisis"}) == 1
    assert reg.get_sample_value("brandpulse_poll_errors_total", {"source": "news", "reason": "fetch"}) >= 1
    negatives = reg.get_sample_value("brandpulse_mentions_ingested_total",
                                     {"brand": "acme", "source": "export", "sentiment": "negative"})
    assert negatives and negatives >= 40
    assert reg.get_sample_value("brandpulse_alerts_open", {"brand": "acme", "level": "crisis", "state": "firing"}) == 1

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: `make test` installs Debian's prometheus package")
    out = subprocess.run([promtool, "check", "metrics"], input=resp.content, capture_output=True, timeout=30)
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()


def test_health_ready_and_alert_api(running) -> None:
    daemon, base = running
    assert httpx.get(f"{base}/healthz").json() == {"ok": True}
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 200 and ready.json()["ok"] is True
    alerts = httpx.get(f"{base}/api/v1/alerts").json()["alerts"]
    assert [(a["brand"], a["state"]) for a in alerts] == [("acme", "firing")]
    detail = httpx.get(f"{base}/api/v1/alerts/{alerts[0]['id']}").json()
    assert detail["alert"]["evidence"]
    assert detail["events"][0]["to_state"] == "firing"


def test_api_errors_have_one_shape(running) -> None:
    _, base = running
    for path, status in (("/nope", 404), ("/api/v1/alerts/999999", 404), ("/api/v1/alerts?limit=x", 400)):
        resp = httpx.get(base + path)
        assert resp.status_code == status
        body = resp.json()
        assert body["ok"] is False and body["status"] == status and body["error"]
    resp = httpx.post(f"{base}/metrics")
    assert resp.status_code == 405
