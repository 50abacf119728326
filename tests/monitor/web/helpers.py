"""A real daemon serving the pages on 127.0.0.1 and a free port, with hostile data in its store.

``Site.start(tmp_path, db_url, monkeypatch)`` writes a config with a token per role, seeds
mentions through the store's real insert path (monitor.store.mentions.insert_mentions) and one
alert through the alert state machine (alerts.escalation.fire), then starts the daemon. The
brand's display name, mention texts, titles, authors, platforms, the alert's summary, reason and
evidence all carry markup that must render as text.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml
from prometheus_client import CollectorRegistry

from alerts import escalation
from monitor.daemon import Daemon
from monitor.models import Mention, Sentiment, SentimentLabel
from monitor.settings import load_config
from monitor.store.mentions import insert_mentions

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HOSTILE = (SCRIPT, IMG)
TOKENS = {"read": "analyst-token-7f3a9c2e51", "respond": "responder-token-b81d44e0c9",
          "admin": "admin-token-0e6f2a7d19"}
TOKEN_ENV = {"read": "BP_TEST_ANALYST_TOKEN", "respond": "BP_TEST_RESPONDER_TOKEN", "admin": "BP_TEST_ADMIN_TOKEN"}
BRAND_NAME = f"阿克米咖啡{SCRIPT}"
OTHER_NAME = f"贝塔{IMG}"
BROWSER = {"Accept": "text/html,application/xhtml+xml"}

_ids = itertools.count(1)


def mention(brand: str, at: datetime, label: str, text: str, **kw: Any) -> Mention:
    n = next(_ids)
    return Mention(source_id=kw.pop("source_id", "export"), external_id=f"w{n}", text=text, brands=(brand,),
                   sentiment=Sentiment(SentimentLabel(label), 0.1 if label == "negative" else 0.8, "test-1"),
                   published_at=at, fetched_at=at, content_hash=f"{n:040d}", simhash=n,
                   url=kw.pop("url", f"https://weibo.example/{n}"), author=kw.pop("author", f"user{n}"), **kw)


def config(tmp_path: Path, db_url: str, auth: dict[str, Any] | None = None) -> Path:
    cfg = {
        "storage": {"url": db_url},
        "http": {"listen": "127.0.0.1:0",
                 "auth": auth if auth is not None else {f"{k}_token_env": v for k, v in
                                                        (("analyst", TOKEN_ENV["read"]),
                                                         ("responder", TOKEN_ENV["respond"]),
                                                         ("admin", TOKEN_ENV["admin"]))}},
        "alerts": {"evaluate_interval": "1d", "dispatch_interval": "1d"},  # the pages are under test, not the engine
        "brands": [{"id": "acme", "name": BRAND_NAME, "aliases": ["阿克米"]},
                   {"id": "beta", "name": OTHER_NAME, "aliases": ["贝塔"]}],
        "notifiers": [{"id": "console", "kind": "console"}],
        "plan": {"contacts": [{"id": "li-si", "name": "李四", "channels": ["console"]}],
                 "levels": [{"id": "crisis", "name": "危机", "when": {"negative_spike": 6, "min_negative": 20},
                             "notify": ["li-si"], "ack_within": "15m"}]},
    }
    path = tmp_path / "brandpulse.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def seed(engine: sa.Engine, now: datetime) -> int:
    """A week of mentions for acme and beta (some hostile) and one firing alert; returns its id."""
    batch = []
    for day in range(7):
        for hour in (1, 9, 15, 21):
            at = now - timedelta(days=day, hours=hour)
            batch.append(mention("acme", at, "positive", f"阿克米咖啡真好喝 第{day}-{hour}天"))
            batch.append(mention("acme", at + timedelta(minutes=5), "neutral", f"今天去了阿克米 {day}-{hour}"))
            batch.append(mention("beta", at, "positive", f"贝塔手机不错 {day}-{hour}"))
    hostile = [
        mention("acme", now - timedelta(minutes=30), "negative", f"阿克米咖啡太差了{SCRIPT}要求退款",
                author=f"黑粉{IMG}", title=f"标题{SCRIPT}", platform=f"weibo{IMG}", url="javascript:alert(1)",
                engagement=900, author_followers=120000),
        mention("acme", now - timedelta(minutes=20), "negative", f"阿克米变质 {IMG} 起诉", author=f"维权{SCRIPT}",
                engagement=500),
        mention("acme", now - timedelta(minutes=10), "positive", "阿克米咖啡的新品很好喝，推荐", author="fan-1"),
        mention("beta", now - timedelta(minutes=15), "neutral", f"贝塔手机发布会{SCRIPT}", author="news"),
    ]
    with engine.begin() as conn:
        insert_mentions(conn, batch + hostile)
        alert = escalation.fire(
            conn, brand="acme", level="crisis", group_key=f"acme:{int(now.timestamp())}",
            now=now - timedelta(minutes=5),
            ack_deadline=now + timedelta(minutes=10), summary=f"acme: 40 negative mentions {SCRIPT} vs baseline 2.0",
            evidence={"kind": "negative_spike", "level": "crisis", "negative": 40, "total": 45, "baseline": 2.0,
                      "ratio": 20.0, "negative_share": 0.889, "note": IMG,
                      "window_start": (now - timedelta(minutes=45)).isoformat(), "window_end": now.isoformat(),
                      "top_terms": [{"term": f"退款{SCRIPT}", "mentions": 12}, {"term": "变质", "mentions": 9}],
                      "crisis_terms": [{"term": f"起诉{IMG}", "mentions": 3}],
                      "samples": [{"url": "javascript:alert(1)", "author": f"黑粉{IMG}", "platform": "weibo",
                                   "text": f"阿克米咖啡太差了{SCRIPT}要求退款", "published_at": now.isoformat(),
                                   "engagement": 900},
                                  {"url": "https://weibo.example/42", "author": "维权者", "platform": "weibo",
                                   "text": "阿克米变质 起诉", "published_at": now.isoformat(), "engagement": 500}]},
            reason=f"negative_spike: {SCRIPT}")
    return alert.id


@dataclass
class Site:
    daemon: Daemon
    base: str
    alert_id: int
    config_path: Path
    clients: list[httpx.Client] = field(default_factory=list)

    @classmethod
    def start(cls, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch,
              auth: dict[str, Any] | None = None) -> Site:
        for role, name in TOKEN_ENV.items():
            monkeypatch.setenv(name, TOKENS[role])
        path = config(tmp_path, db_url, auth)
        daemon = Daemon(load_config(path), registry=CollectorRegistry(), listen="127.0.0.1:0")
        alert_id = seed(daemon.engine, daemon.clock.now())
        daemon.start()
        host, port = daemon.address
        return cls(daemon, f"http://{host}:{port}", alert_id, path)

    def client(self, role: str | None = None, **kw: Any) -> httpx.Client:
        headers = dict(BROWSER)
        if role is not None:
            headers["Authorization"] = f"Bearer {TOKENS[role]}"
        c = httpx.Client(base_url=self.base, headers=headers, timeout=15, **kw)
        self.clients.append(c)
        return c

    def login(self, role: str, name: str = "王五") -> tuple[httpx.Client, str]:
        """A browser-like client logged in with ``role``'s token; returns it and its CSRF token."""
        c = self.client()
        page = c.get("/login")
        assert page.status_code == 200, page.text
        resp = c.post("/login", data={"csrf": csrf_of(page.text), "token": TOKENS[role], "name": name, "next": "/"})
        assert resp.status_code == 303, resp.text
        home = c.get("/")
        assert home.status_code == 200, home.text
        return c, csrf_of(home.text)

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        self.daemon.stop()


def csrf_of(page: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m, "no CSRF field on the page"
    return m.group(1)


@pytest.fixture
def site(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    s = Site.start(tmp_path, db_url, monkeypatch)
    yield s
    s.stop()


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser's parser would see them."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_inert(page: str) -> Elements:
    """No script element, no event-handler attribute, no image, no javascript: link: the hostile
    strings in the data arrived as text (and are visible as text)."""
    found = Elements(page)
    for tag, attrs in found.tags:
        assert tag not in ("script", "iframe", "object", "embed"), f"<{tag}> element on the page: {attrs}"
        if tag == "img":  # only images the server drew itself (the reports' charts)
            assert (attrs.get("src") or "").startswith("data:image/png;base64,"), f"<img> on the page: {attrs}"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"<{tag} {name}=...> event handler on the page"
            if name in ("href", "src", "action", "formaction"):
                assert not (value or "").strip().lower().startswith("javascript:"), f"<{tag} {name}={value!r}>"
    for raw in HOSTILE:
        assert raw not in page, f"{raw!r} reached the page unescaped"
    return found
