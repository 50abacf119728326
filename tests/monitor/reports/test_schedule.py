"""The daemon sends the weekly report once per period, through a real SMTP server (aiosmtpd)
and a real webhook receiver, across a restart; and serves it at /reports/week."""

from __future__ import annotations

import email
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml
from aiosmtpd.controller import Controller
from prometheus_client import CollectorRegistry

from monitor.clock import FixedClock
from monitor.daemon import Daemon
from monitor.errors import ConfigErrors
from monitor.settings import load_config
from monitor.store import schema

from .conftest import LAST_DAY, local, mention, write

MONDAY_0905 = local(LAST_DAY + timedelta(days=1), 9, 5)  # the Monday after the week, 09:05 China time


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


class Smtp(Controller):
    """aiosmtpd on 127.0.0.1 and a free port, read back before the readiness probe."""

    def _create_server(self) -> Any:
        async def create() -> Any:
            server = await self.loop.create_server(self._factory_invoker, host=self.hostname, port=0)
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    smtp = Smtp(box, hostname="127.0.0.1")
    smtp.start()
    yield box, smtp.port
    smtp.stop()


def _config(tmp_path: Path, db_url: str, smtp_port: int, hook_url: str, **weekly: Any) -> Path:
    cfg = {
        "storage": {"url": db_url},
        "http": {"listen": "127.0.0.1:0", "base_url": "https://bp.example.com",
                 "auth": {"anonymous_role": "read"}},
        "alerts": {"evaluate_interval": "1h"},
        "brands": [{"id": "acme", "name": "阿克米咖啡"}, {"id": "beta", "name": "贝塔手机"}],
        "notifiers": [
            {"id": "mail", "kind": "email", "host": "127.0.0.1", "port": smtp_port,
             "from_address": "BrandPulse <bp@example.com>", "to": ["brand-team@example.com"],
             "recipients": {"zhang-san": ["zhang.san@example.com"]}},
            {"id": "hook", "kind": "webhook", "url": hook_url},
        ],
        "plan": {"contacts": [{"id": "zhang-san", "name": "张三", "channels": ["mail"]}],
                 "levels": [{"id": "warning", "name": "预警", "when": {"negative_spike": 3.0, "min_negative": 10},
                             "notify": ["zhang-san"], "ack_within": "30m"}]},
        "reports": {"timezone": "Asia/Shanghai", "check_interval": "0.2s",
                    "weekly": {"day": "mon", "at": "09:00", "notify": ["zhang-san", "hook"], "brands": ["acme"],
                               **weekly}},
    }
    path = tmp_path / "brandpulse.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def _wait(check: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _run(config: Path, clock: FixedClock) -> Daemon:
    daemon = Daemon(load_config(config), clock=clock, registry=CollectorRegistry())
    daemon.start()
    return daemon


def test_weekly_report_is_sent_once_per_period_across_a_restart(
        store: sa.Engine, db_url: str, tmp_path: Path, http_server: Any, mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    http_server.route("/hook", status=200, body=b"ok")
    d = LAST_DAY - timedelta(days=6)
    write(store, [mention("acme", local(d + timedelta(days=i % 7), 10), ("negative", "positive")[i % 3 == 0],
                          text=f"<script>x</script> 第{i}条", keywords=("变质",)) for i in range(30)])
    config = _config(tmp_path, db_url, port, http_server.url("/hook"))
    clock = FixedClock(MONDAY_0905)

    daemon = _run(config, clock)
    try:
        _wait(lambda: len(box.messages) == 1 and len(http_server.requests_to("/hook")) == 1, "email and webhook")
        time.sleep(1.0)  # five more ticks: nothing new
    finally:
        daemon.stop()
    assert len(box.messages) == 1 and len(http_server.requests_to("/hook")) == 1

    msg = box.messages[0]
    assert msg["To"] == "zhang.san@example.com"
    assert msg["Subject"] == "【BrandPulse】品牌舆情周报 · 阿克米咖啡 · 2026-11-16 – 2026-11-22"
    plain = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "https://bp.example.com/reports/week?brand=acme&end=2026-11-22&lang=zh" in plain
    assert "30 条提及" in plain
    page = msg.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    cids = [p["Content-ID"] for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(cids) == 4 and all(f'src="cid:{c.strip("<>")}"' in page for c in cids)
    assert "<script>x" not in page and "&lt;script&gt;x" in page
    attached = [p for p in msg.iter_attachments() if p.get_filename() == "brandpulse-acme-week-2026-11-22.html"]
    assert len(attached) == 1 and attached[0].get_content().count("data:image/png;base64,") == 4

    hook = http_server.requests_to("/hook")[0]
    body = hook.json()
    assert int(hook.headers["X-BrandPulse-Notification"]) < 0 and body["state"] == "report"
    assert "https://bp.example.com/reports/week?brand=acme&end=2026-11-22&lang=zh" in body["body"]

    # a restart in the same period sends nothing again
    daemon = _run(config, clock)
    try:
        time.sleep(1.5)
        assert len(box.messages) == 1 and len(http_server.requests_to("/hook")) == 1
        # a week later: the next period, once each
        clock.advance(days=7)
        _wait(lambda: len(box.messages) == 2 and len(http_server.requests_to("/hook")) == 2, "next week's sends")
        time.sleep(1.0)
        assert len(box.messages) == 2
        assert box.messages[1]["Subject"].endswith("2026-11-23 – 2026-11-29")
        # the page the link points at
        host, p = daemon.address
        r = httpx.get(f"http://{host}:{p}/reports/week", params={"brand": "acme", "end": "2026-11-22"}, timeout=60)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "品牌舆情周报 · 阿克米咖啡 · 2026-11-16 – 2026-11-22" in r.text and "&lt;script&gt;x" in r.text
        assert '<link rel="stylesheet" href="/reports/report.css">' in r.text
        css = httpx.get(f"http://{host}:{p}/reports/report.css", timeout=10)
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert httpx.get(f"http://{host}:{p}/reports/week?brand=nope", timeout=10).status_code == 404
        assert httpx.get(f"http://{host}:{p}/reports/month?end=soon", timeout=10).status_code == 400
    finally:
        daemon.stop()
    with store.connect() as conn:
        rows = conn.execute(sa.select(schema.report_sends).order_by(schema.report_sends.c.id)).all()
    assert [(r.period_end.isoformat(), r.channel, r.contact, r.status, r.attempts) for r in rows] == [
        ("2026-11-22", "mail", "zhang-san", "done", 1), ("2026-11-22", "hook", "", "done", 1),
        ("2026-11-29", "mail", "zhang-san", "done", 1), ("2026-11-29", "hook", "", "done", 1)]


def test_a_failed_delivery_is_retried_and_a_stale_period_is_skipped(
        store: sa.Engine, db_url: str, tmp_path: Path, http_server: Any, mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    answers = iter([503, 200])
    http_server.route("/hook", handler=lambda rec: (next(answers, 200), {}, b""))
    config = _config(tmp_path, db_url, port, http_server.url("/hook"))
    clock = FixedClock(MONDAY_0905 + timedelta(days=3))  # Thursday: more than catch_up (2 days) after Monday
    daemon = _run(config, clock)
    try:
        time.sleep(1.0)
        assert box.messages == [] and http_server.requests_to("/hook") == []
        clock.advance(days=4)  # the next Monday, 09:05
        _wait(lambda: len(http_server.requests_to("/hook")) == 1 and len(box.messages) == 1, "first attempts")
        clock.advance(seconds=10)  # past the first retry delay (5 s)
        _wait(lambda: len(http_server.requests_to("/hook")) == 2, "the retry")
        time.sleep(0.6)
    finally:
        daemon.stop()
    assert len(http_server.requests_to("/hook")) == 2 and len(box.messages) == 1
    with store.connect() as conn:
        rows = conn.execute(sa.select(schema.report_sends.c.channel, schema.report_sends.c.status,
                                      schema.report_sends.c.attempts)).all()
    assert sorted(map(tuple, rows)) == [("hook", "done", 2), ("mail", "done", 1)]


def test_unknown_targets_stop_the_start(store: sa.Engine, db_url: str, tmp_path: Path, http_server: Any) -> None:
    config = _config(tmp_path, db_url, 2525, http_server.url("/hook"), notify=["zhang-san", "nobody"],
                     brands=["acme", "zzz"])
    with pytest.raises(ConfigErrors) as err:
        Daemon(load_config(config), clock=FixedClock(MONDAY_0905), registry=CollectorRegistry())
    lines = err.value.lines()
    assert any("reports.weekly.notify[1]: unknown contact or notifier 'nobody' (known: zhang-san, hook, mail)"
               in line for line in lines), lines
    assert any("reports.weekly.brands[1]: unknown brand 'zzz'" in line for line in lines), lines
    assert json.dumps(lines)  # every problem at once, one line each
