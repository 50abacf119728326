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


def _anonymous_reads(path: Path) -> Path:
    """These tests are about the endpoints, not access control (tests/monitor/test_auth.py):
    reads need no token, as http.auth.anonymous_role allows on a loopback address."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["http"]["auth"] = {"anonymous_role": "read"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def running(tmp_path: Path, sqlite_url: str, http_server):
    from datetime import UTC, datetime

    write_stream(tmp_path / "stream.jsonl", datetime.now(UTC))
    http_server.route("/hook", status=200)
    http_server.route("/feed.xml", status=503, headers={"Retry-After": "120"})  # a dead source
    path = make_config(tmp_path, sqlite_url, http_server.url("/hook"), http_server.url("/feed.xml"))
    config = load_config(_anonymous_reads(path))
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
    raised = {"brand": "acme", "level": "crisis", "drill": "false"}
    assert reg.get_sample_value("brandpulse_alerts_raised_total", raised) == 1
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


# --- acknowledging and resolving over HTTP, and the signed ack link ---------------------------

TOKEN_ENV, LINK_ENV = "BP_TEST_RESPONDER_TOKEN", "BP_TEST_LINK_SECRET"


@pytest.fixture
def secured(tmp_path: Path, sqlite_url: str, http_server, monkeypatch):
    """The daemon with a responder token and an ack-link secret, its first alert delivered."""
    from datetime import UTC, datetime

    import yaml

    write_stream(tmp_path / "stream.jsonl", datetime.now(UTC))
    http_server.route("/hook", status=200)
    http_server.route("/feed.xml", status=404)
    path = make_config(tmp_path, sqlite_url, http_server.url("/hook"), http_server.url("/feed.xml"))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["http"].update(base_url="https://bp.example.com/", responder_token_env=TOKEN_ENV, link_secret_env=LINK_ENV)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    _anonymous_reads(path)  # responder_token_env above is the old name of http.auth.responder_token_env
    monkeypatch.setenv(TOKEN_ENV, "s3cret-token")
    monkeypatch.setenv(LINK_ENV, "link-key")
    daemon = Daemon(load_config(path), registry=CollectorRegistry(), listen="127.0.0.1:0")
    daemon.run_once()
    daemon.start()
    host, port = daemon.address
    [alert] = httpx.get(f"http://{host}:{port}/api/v1/alerts").json()["alerts"]
    yield daemon, f"http://{host}:{port}", alert["id"]
    daemon.stop()


def _error(resp: httpx.Response, status: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["ok"] is False and body["status"] == status and body["error"]
    return body["error"]


def test_write_endpoints_are_forbidden_without_a_configured_token(running) -> None:
    daemon, base = running
    [alert] = httpx.get(f"{base}/api/v1/alerts").json()["alerts"]
    resp = httpx.post(f"{base}/api/v1/alerts/{alert['id']}/ack", json={"by": "张三"},
                      headers={"Authorization": "Bearer anything"})
    assert "http.auth.responder_token_env" in _error(resp, 403)
    link = httpx.get(f"{base}/ack/{alert['id']}", params={"by": "li-si", "sig": "00"})
    assert "http.link_secret_env" in _error(link, 403)
    assert httpx.get(f"{base}/api/v1/alerts/{alert['id']}").json()["alert"]["state"] == "firing"


def test_ack_and_resolve_need_the_right_bearer_token(secured) -> None:
    daemon, base, alert_id = secured
    url = f"{base}/api/v1/alerts/{alert_id}"
    missing = httpx.post(f"{url}/ack", json={"by": "张三"})
    _error(missing, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = httpx.post(f"{url}/ack", json={"by": "张三"}, headers={"Authorization": "Bearer s3cret-tokem"})
    assert "s3cret" not in _error(wrong, 401)  # no secret in error text
    auth = {"Authorization": "Bearer s3cret-token"}
    assert "by" in _error(httpx.post(f"{url}/ack", json={"note": "x"}, headers=auth), 400)
    _error(httpx.post(f"{url}/ack", content=b"{not json", headers=auth), 400)
    _error(httpx.post(f"{base}/api/v1/alerts/999999/ack", json={"by": "张三"}, headers=auth), 404)
    _error(httpx.get(f"{url}/ack"), 405)

    ok = httpx.post(f"{url}/ack", json={"by": "张三", "note": "公关部跟进"}, headers=auth)
    assert ok.status_code == 200, ok.text
    assert ok.json()["alert"]["state"] == "acknowledged" and ok.json()["alert"]["acknowledged_by"] == "张三"
    detail = httpx.get(url).json()
    assert (detail["events"][-1]["actor"], detail["events"][-1]["reason"]) == ("张三", "公关部跟进")
    assert "already acknowledged by '张三'" in _error(httpx.post(f"{url}/ack", json={"by": "李四"}, headers=auth), 409)
    assert daemon.registry.get_sample_value("brandpulse_alert_time_to_ack_seconds_count",
                                            {"level": "crisis", "drill": "false"}) == 1

    done = httpx.post(f"{url}/resolve", json={"by": "李四", "note": "声明已发布"}, headers=auth)
    assert done.status_code == 200 and done.json()["alert"]["resolved_by"] == "李四"
    from alerts import outbox

    with daemon.engine.connect() as conn:  # resolve through the engine: everyone told hears it is over
        resolved = [r.contact for r in outbox.rows_for(conn, alert_id) if r.reason.value == "resolved"]
    assert sorted(resolved) == ["li-si", "zhang-san"]


def test_signed_ack_link_shows_a_form_and_only_its_post_acknowledges(secured, http_server) -> None:
    from urllib.parse import parse_qs, urlsplit

    daemon, base, alert_id = secured
    bodies = {call.json()["contact"]: call.json()["body"] for call in http_server.requests_to("/hook")}
    line = next(ln for ln in bodies["li-si"].splitlines() if "https://bp.example.com/ack/" in ln)
    link = urlsplit(line[line.index("https://"):].strip())
    assert link.path == f"/ack/{alert_id}"
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert query["by"] == "li-si" and len(query["sig"]) == 64
    assert "https://bp.example.com/ack/" in bodies["zhang-san"]  # each contact gets their own link

    tampered = httpx.get(f"{base}/ack/{alert_id}", params={**query, "by": "zhang-san"})
    assert "not valid" in _error(tampered, 403)
    _error(httpx.get(f"{base}/ack/{alert_id}", params={"by": "li-si", "sig": "0" * 64}), 403)
    _error(httpx.post(f"{base}/ack/{alert_id}", data={"by": "li-si", "sig": "0" * 64}), 403)

    page = httpx.get(f"{base}{link.path}?{link.query}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<form method="post"' in page.text and 'value="li-si"' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert httpx.get(f"{base}/api/v1/alerts/{alert_id}").json()["alert"]["state"] == "firing"  # GET changed nothing

    done = httpx.post(f"{base}/ack/{alert_id}", data={"by": "li-si", "sig": query["sig"], "note": ""})
    assert done.status_code == 200 and "acknowledged" in done.text.lower()
    alert = httpx.get(f"{base}/api/v1/alerts/{alert_id}").json()
    assert (alert["alert"]["state"], alert["alert"]["acknowledged_by"]) == ("acknowledged", "li-si")
    assert alert["events"][-1]["reason"] == "acknowledged via ack link"
    again = httpx.get(f"{base}{link.path}?{link.query}")
    assert again.status_code == 200 and "<form" not in again.text and "acknowledged" in again.text
    _error(httpx.post(f"{base}/ack/{alert_id}", data={"by": "li-si", "sig": query["sig"]}), 409)
