"""The mention history API on the real daemon over a real socket: search, pages, corrections,
series and the OpenAPI description (validated with openapi-spec-validator)."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from openapi_spec_validator import validate
from prometheus_client import CollectorRegistry

from monitor.daemon import Daemon
from monitor.models import Mention, Sentiment, SentimentLabel
from monitor.openapi import path_template
from monitor.settings import load_config
from monitor.store.mentions import insert_mentions
from monitor.store.query import MentionFilter, count_mentions
from tests.acceptance.test_daemon import make_config, write_stream

READ_ENV, RESPOND_ENV = "BP_TEST_HISTORY_READ", "BP_TEST_HISTORY_RESPOND"
READ = {"Authorization": "Bearer analyst-token-0123456789"}
RESPOND = {"Authorization": "Bearer responder-token-0123456789"}
HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>阿克米咖啡'


def _mention(ext: str, text: str, now: datetime, label: str, **kw) -> Mention:
    return Mention(source_id="export", external_id=ext, text=text, brands=("acme",),
                   sentiment=Sentiment(SentimentLabel(label), 0.2, "test-1"), published_at=now - timedelta(hours=1),
                   fetched_at=now, content_hash=hashlib.sha1(text.encode()).hexdigest(), simhash=7, **kw)


@pytest.fixture
def api(tmp_path: Path, sqlite_url: str, http_server, monkeypatch):
    """The daemon after ingesting a week of mentions, with read and respond tokens configured."""
    now = datetime.now(UTC)
    write_stream(tmp_path / "stream.jsonl", now)
    http_server.route("/hook", status=200)
    http_server.route("/feed.xml", status=404)
    path = make_config(tmp_path, sqlite_url, http_server.url("/hook"), http_server.url("/feed.xml"))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["http"]["auth"] = {"analyst_token_env": READ_ENV, "responder_token_env": RESPOND_ENV}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv(READ_ENV, READ["Authorization"].split()[1])
    monkeypatch.setenv(RESPOND_ENV, RESPOND["Authorization"].split()[1])
    daemon = Daemon(load_config(path), registry=CollectorRegistry(), listen="127.0.0.1:0")
    daemon.run_once()
    with daemon.engine.begin() as conn:
        insert_mentions(conn, [
            _mention("trad-1", "阿克米咖啡乳業召回，消費者投訴", now, "negative", author="台北小林"),
            _mention("xss-1", HOSTILE, now, "negative", author="<b>x</b>", title="=cmd|' /C calc'!A0"),
        ])
    daemon.start()
    host, port = daemon.address
    with httpx.Client(base_url=f"http://{host}:{port}", headers=READ, timeout=20) as client:
        yield daemon, client
    daemon.stop()


def error(resp: httpx.Response, status: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["ok"] is False and body["status"] == status and body["error"] and "\n" not in body["error"]
    return str(body["error"])


def test_search_pages_through_the_whole_selection(api) -> None:
    daemon, client = api
    params = {"brand": "acme", "sentiment": "negative", "since": "7d", "limit": "7"}
    seen, cursor = [], None
    while True:
        resp = client.get("/api/v1/mentions", params={**params, **({"cursor": cursor} if cursor else {})})
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json")
        body = resp.json()
        seen += body["mentions"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    expected = count_mentions(daemon.engine, MentionFilter(brands=("acme",), sentiments=("negative",),
                                                           since=datetime.now(UTC) - timedelta(days=7)))
    assert expected > 40 and len(seen) == expected == len({m["id"] for m in seen})
    assert all(m["sentiment_label"] == "negative" and "acme" in m["brands"] for m in seen)
    stamps = [(m["published_at"], m["id"]) for m in seen]
    assert stamps == sorted(stamps, reverse=True)
    both = client.get("/api/v1/mentions", params=[("brand", "beta"), ("brand", "acme"), ("limit", "1000")]).json()
    assert len(both["mentions"]) > len(client.get("/api/v1/mentions", params={"brand": "beta"}).json()["mentions"])


def test_traditional_query_and_hostile_text_come_back_as_json_data(api) -> None:
    _, client = api
    found = client.get("/api/v1/mentions", params={"q": "乳业 消费者"}).json()["mentions"]
    assert [m["external_id"] for m in found] == ["trad-1"]  # 乳業 / 消費者 in the text
    [xss] = client.get("/api/v1/mentions", params={"q": "<script>"}).json()["mentions"]
    assert xss["text"] == HOSTILE and xss["author"] == "<b>x</b>" and xss["title"].startswith("=cmd")
    detail = client.get(f"/api/v1/mentions/{xss['id']}")
    assert detail.headers["content-type"].startswith("application/json")
    assert detail.json()["mention"]["text"] == HOSTILE and detail.json()["corrections"] == []
    assert client.get("/api/v1/mentions", params={"q": "%"}).json()["mentions"] == []  # no wildcard


def test_bad_requests_get_the_one_error_shape(api) -> None:
    _, client = api
    assert "cursor" in error(client.get("/api/v1/mentions", params={"cursor": "bogus"}), 400)
    assert "'brnad'" in error(client.get("/api/v1/mentions", params={"brnad": "acme"}), 400)
    assert "limit" in error(client.get("/api/v1/mentions", params={"limit": "0"}), 400)
    assert "limit" in error(client.get("/api/v1/mentions", params={"limit": "ten"}), 400)
    assert "'angry'" in error(client.get("/api/v1/mentions", params={"sentiment": "angry"}), 400)
    assert "since" in error(client.get("/api/v1/mentions", params={"since": "last week"}), 400)
    assert "order" in error(client.get("/api/v1/mentions", params={"order": "random"}), 400)
    assert "include_irrelevant" in error(client.get("/api/v1/mentions", params={"include_irrelevant": "maybe"}), 400)
    assert "no such mention" in error(client.get("/api/v1/mentions/999999"), 404)
    error(client.get("/api/v1/mentions", headers={"Authorization": "Bearer wrong-token-0123456789"}), 401)


def test_corrections_need_the_respond_role_and_show_everywhere(api) -> None:
    daemon, client = api
    [m] = client.get("/api/v1/mentions", params={"q": "乳業"}).json()["mentions"]
    url = f"/api/v1/mentions/{m['id']}/corrections"
    error(client.post(url, json={"kind": "sentiment", "sentiment": "positive", "by": "王五"}), 403)  # read token
    error(client.post(url, json={"kind": "sentiment"}, headers={"Authorization": ""}), 401)
    ok = client.post(url, json={"kind": "sentiment", "sentiment": "positive", "by": "王五", "note": "反讽"},
                     headers=RESPOND)
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["correction"]["kind"] == "sentiment" and body["correction"]["by"] == "王五"
    assert (body["mention"]["sentiment_label"], body["mention"]["model_label"]) == ("positive", "negative")
    marked = client.post(url, json={"kind": "irrelevant", "brand": "acme", "by": "赵六"}, headers=RESPOND)
    assert marked.status_code == 200 and marked.json()["mention"]["brands"] == []
    assert "already marked" in error(client.post(url, json={"kind": "irrelevant", "brand": "acme", "by": "赵六"},
                                                 headers=RESPOND), 409)
    hidden = client.get("/api/v1/mentions", params={"q": "乳業", "include_irrelevant": "true"}).json()["mentions"]
    assert [(x["irrelevant_brands"], x["corrected_by"]) for x in hidden] == [(["acme"], "赵六")]
    assert client.get("/api/v1/mentions", params={"q": "乳業"}).json()["mentions"] == []
    restored = client.post(url, json={"kind": "restore", "brand": "acme", "by": "王五"}, headers=RESPOND)
    assert restored.json()["mention"]["brands"] == ["acme"]
    detail = client.get(f"/api/v1/mentions/{m['id']}").json()
    assert [(c["kind"], c["by"]) for c in detail["corrections"]] == [("sentiment", "王五"), ("irrelevant", "赵六"),
                                                                      ("restore", "王五")]
    for bad, status, needle in (({"kind": "delete", "by": "x"}, 400, "kind"),
                                ({"kind": "sentiment", "sentiment": "angry", "by": "x"}, 400, "'angry'"),
                                ({"kind": "irrelevant", "by": "x"}, 400, "brand"),
                                ({"kind": "irrelevant", "brand": "gamma", "by": "x"}, 400, "'gamma'"),
                                ({"kind": "sentiment", "sentiment": "neutral"}, 400, "by"),
                                ({"kind": "sentiment", "sentiment": "neutral", "by": "x", "extra": 1}, 400, "'extra'")):
        assert needle in error(client.post(url, json=bad, headers=RESPOND), status)
    error(client.post(url, content=b"{not json", headers=RESPOND), 400)
    error(client.post("/api/v1/mentions/999999/corrections", json={"kind": "sentiment", "sentiment": "neutral",
                                                                   "by": "x"}, headers=RESPOND), 404)


def test_series_is_zero_filled_and_honours_corrections(api) -> None:
    daemon, client = api
    resp = client.get("/api/v1/brands/acme/series", params={"since": "2d", "bucket": "1h"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["bucket_seconds"] == 3600 and len(body["points"]) in (48, 49)
    starts = [datetime.fromisoformat(p["start"]) for p in body["points"]]
    assert all(b - a == timedelta(hours=1) for a, b in zip(starts, starts[1:], strict=False))
    total = sum(p["total"] for p in body["points"])
    # the series counts whole seconds: [since floored, until rounded up)
    since = datetime.fromtimestamp(math.floor(datetime.fromisoformat(body["since"]).timestamp()), UTC)
    until = datetime.fromtimestamp(math.ceil(datetime.fromisoformat(body["until"]).timestamp()), UTC)
    assert total == count_mentions(daemon.engine, MentionFilter(brands=("acme",), since=since, until=until))
    neg = sum(p["negative"] for p in body["points"])
    [m] = client.get("/api/v1/mentions", params={"q": "乳業"}).json()["mentions"]
    client.post(f"/api/v1/mentions/{m['id']}/corrections", json={"kind": "irrelevant", "brand": "acme", "by": "x"},
                headers=RESPOND).raise_for_status()
    after = client.get("/api/v1/brands/acme/series", params={"since": body["since"], "until": body["until"],
                                                            "bucket": "1h"}).json()
    assert sum(p["negative"] for p in after["points"]) == neg - 1
    assert "not configured" in error(client.get("/api/v1/brands/gamma/series"), 404)
    assert "bucket" in error(client.get("/api/v1/brands/acme/series", params={"bucket": "0m"}), 400)
    assert "too long" in error(client.get("/api/v1/brands/acme/series", params={"since": "365d", "bucket": "1m"}),
                               400)


def test_openapi_describes_every_api_route_and_is_valid(api) -> None:
    daemon, client = api
    resp = httpx.get(f"{client.base_url}/api/v1/openapi.json")  # public: no token
    assert resp.status_code == 200
    spec = resp.json()
    validate(spec)  # raises on an invalid OpenAPI 3.1 document
    assert spec["openapi"].startswith("3.1")
    app = daemon.api.httpd.get_app()
    api_routes = [r for r in app.routes if r.pattern.pattern.startswith("^/api/v1")]
    assert len(api_routes) >= 9
    for route in api_routes:
        path, _ = path_template(route.pattern.pattern)
        ops = [o[route.method.lower()] for p, o in spec["paths"].items()
               if _same_shape(p, path) and route.method.lower() in o]
        assert len(ops) == 1, (route.method, path)
        assert ops[0]["x-brandpulse-role"] == route.role and ops[0]["summary"]
    search = spec["paths"]["/api/v1/mentions"]["get"]
    assert {p["name"] for p in search["parameters"]} >= {"brand", "sentiment", "since", "q", "cursor", "limit"}
    assert spec["paths"]["/api/v1/mentions/{mention_id}/corrections"]["post"]["security"]
    assert spec["paths"]["/api/v1/alerts/{alert_id}/{action}"]["post"]["parameters"][1]["schema"]["enum"] == [
        "ack", "resolve"]
    assert spec["paths"]["/api/v1/openapi.json"]["get"]["security"] == []


def _same_shape(template: str, path: str) -> bool:
    split = lambda s: ["{}" if seg.startswith("{") else seg for seg in s.split("/")]  # noqa: E731
    return split(template) == split(path)


def test_path_template_names_groups() -> None:
    assert path_template(r"^/api/v1/alerts/(\d+)/(ack|resolve)$", ["alert_id", "action"]) == (
        "/api/v1/alerts/{alert_id}/{action}",
        [{"name": "alert_id", "in": "path", "required": True, "schema": {"type": "integer"}},
         {"name": "action", "in": "path", "required": True, "schema": {"type": "string", "enum": ["ack", "resolve"]}}])
    assert path_template(r"^/api/v1/brands/([^/]+)/series$")[0] == "/api/v1/brands/{p1}/series"
    assert path_template(r"^/api/v1/openapi\.json$") == ("/api/v1/openapi.json", [])
