from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from alerts import escalation, outbox
from alerts.dispatch import Dispatcher
from alerts.engine import AlertEngine
from alerts.notify import build_notifier
from alerts.notify.base import IDEMPOTENCY_HEADER
from alerts.plan import CrisisPlan
from monitor.clock import FixedClock
from monitor.metrics import Metrics
from monitor.models import Alert, Notification, NotifyReason

from .conftest import add_mentions
from .notify.conformance import closed_port_url


def _alert_with_row(store: sa.Engine, clock: FixedClock, channel: str = "hook") -> tuple[Alert, int]:
    now = clock.now()
    with store.begin() as conn:
        alert = escalation.fire(
            conn,
            brand="acme",
            level="warning",
            group_key="acme:1",
            now=now,
            ack_deadline=now + timedelta(minutes=30),
            summary="s",
            evidence={
                "negative": 30,
                "baseline": 2.0,
                "ratio": 15.0,
                "negative_share": 0.8,
                "total": 37,
                "samples": [],
            },
            reason="test",
        )
        outbox.enqueue(
            conn,
            alert,
            "zhang-san",
            channel,
            NotifyReason.FIRST,
            {
                "level": "warning",
                "level_name": "预警",
                "state": "firing",
                "evidence": alert.evidence,
                "contact_name": "张三",
                "lang": "zh",
            },
            now,
        )
        [row] = outbox.rows_for(conn, alert.id)
    return alert, row.id


def _status(store: sa.Engine, outbox_id: int) -> outbox.OutboxRow:
    with store.connect() as conn:
        return next(r for r in outbox.rows_for(conn, 1) if r.id == outbox_id)


def _hook(url: str) -> Any:
    return build_notifier("hook", "webhook", {"url": url, "timeout": 2})


def test_engine_to_receiver_delivered_once(
    store: sa.Engine,
    clock: FixedClock,
    plan: CrisisPlan,
    http_server: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    http_server.route("/hook", status=200)
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    add_mentions(store, "acme", clock.now() - timedelta(minutes=4), negative=30, spread=timedelta(minutes=3))
    [opened] = AlertEngine(store, plan, clock, metrics).evaluate("acme")
    notifiers = {"hook": _hook(http_server.url("/hook")), "console": build_notifier("console", "console", {})}
    dispatcher = Dispatcher(
        store, notifiers, clock, metrics, language="zh", base_url="https://bp.example.com"
    )
    assert dispatcher.drain() == 2
    assert dispatcher.drain() == 0
    [req] = http_server.requests_to("/hook")
    body = req.json()
    assert body["alert"] == opened.alert.id and body["reason"] == "first" and body["contact"] == "zhang-san"
    assert "预警" in body["subject"] and f"brandpulse alerts ack {opened.alert.id}" in body["body"]
    assert f"https://bp.example.com/api/v1/alerts/{opened.alert.id}" in body["body"]
    assert req.headers[IDEMPOTENCY_HEADER] == str(body["notification"])
    assert "预警" in capsys.readouterr().out  # the console channel printed it
    with store.connect() as conn:
        assert outbox.backlog(conn) == {"pending": 0, "sending": 0, "done": 2, "failed": 0, "muted": 0}
    for channel in ("hook", "console"):
        assert (
            registry.get_sample_value(
                "brandpulse_notifications_total", {"channel": channel, "reason": "first", "result": "sent"}
            )
            == 1
        )
        assert (
            registry.get_sample_value("brandpulse_notification_duration_seconds_count", {"channel": channel})
            == 1
        )


def test_503_then_200_is_delivered_once_after_a_retry(
    store: sa.Engine, clock: FixedClock, http_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    answers = iter([503, 503, 503, 200])
    http_server.route("/hook", handler=lambda rec: (next(answers), {}, b""))
    registry = CollectorRegistry()
    _, oid = _alert_with_row(store, clock)
    dispatcher = Dispatcher(store, {"hook": _hook(http_server.url("/hook"))}, clock, Metrics(registry))
    with caplog.at_level(logging.INFO, logger="alerts.dispatch"):
        for attempt, wait in ((1, 5), (2, 10), (3, 20)):
            assert dispatcher.drain() == 1
            row = _status(store, oid)
            assert (row.status, row.attempts) == ("pending", attempt) and "HTTP 503" in (row.last_error or "")
            assert dispatcher.drain() == 0  # not due yet
            clock.advance(seconds=wait)
        assert dispatcher.drain() == 1
    assert _status(store, oid).status == "done"
    requests = http_server.requests_to("/hook")
    assert len(requests) == 4 and {r.headers[IDEMPOTENCY_HEADER] for r in requests} == {str(oid)}
    assert [r.json()["attempt"] for r in requests] == [1, 2, 3, 4]
    assert (
        registry.get_sample_value(
            "brandpulse_notifications_total", {"channel": "hook", "reason": "first", "result": "retry"}
        )
        == 3
    )
    assert (
        registry.get_sample_value(
            "brandpulse_notifications_total", {"channel": "hook", "reason": "first", "result": "sent"}
        )
        == 1
    )
    messages = [r.getMessage() for r in caplog.records]
    assert sum("channel failing" in m for m in messages) == 1  # logged when it started, not per retry
    assert sum("channel recovered" in m for m in messages) == 1


def test_400_fails_permanently(
    store: sa.Engine, clock: FixedClock, http_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    http_server.route("/hook", status=400)
    registry = CollectorRegistry()
    _, oid = _alert_with_row(store, clock)
    dispatcher = Dispatcher(store, {"hook": _hook(http_server.url("/hook"))}, clock, Metrics(registry))
    with caplog.at_level(logging.ERROR, logger="alerts.dispatch"):
        assert dispatcher.drain() == 1
    row = _status(store, oid)
    assert row.status == "failed" and "HTTP 400" in (row.last_error or "")
    assert any("notification given up" in r.getMessage() for r in caplog.records)
    clock.advance(hours=2)
    assert dispatcher.drain() == 0 and len(http_server.requests_to("/hook")) == 1
    assert (
        registry.get_sample_value(
            "brandpulse_notifications_total", {"channel": "hook", "reason": "first", "result": "failed"}
        )
        == 1
    )


def test_receiver_down_is_retried_later_and_nothing_is_lost(
    store: sa.Engine, clock: FixedClock, http_server: Any
) -> None:
    _, oid = _alert_with_row(store, clock)
    down = Dispatcher(store, {"hook": _hook(closed_port_url())}, clock)
    assert down.drain() == 1
    row = _status(store, oid)
    assert row.status == "pending" and "reason=connect" in (row.last_error or "")
    assert row.next_attempt_at == clock.now() + timedelta(seconds=5)
    # The receiver comes back (here: at the loopback server) — the row is still there and goes out.
    http_server.route("/hook", status=200)
    up = Dispatcher(store, {"hook": _hook(http_server.url("/hook"))}, clock)
    clock.advance(seconds=5)
    assert up.drain() == 1
    assert _status(store, oid).status == "done"
    assert len(http_server.requests_to("/hook")) == 1


def test_a_crashed_sender_s_claim_expires_and_the_row_goes_out(
    store: sa.Engine, clock: FixedClock, http_server: Any
) -> None:
    http_server.route("/hook", status=200)
    _, oid = _alert_with_row(store, clock)
    [claimed] = outbox.claim(store, clock.now(), limit=10)  # a dispatcher that then dies
    dispatcher = Dispatcher(store, {"hook": _hook(http_server.url("/hook"))}, clock)
    assert dispatcher.drain() == 0
    clock.advance(minutes=2)
    assert dispatcher.drain() == 1
    row = _status(store, oid)
    assert row.status == "done" and row.attempts == 2 and claimed.id == oid


class Exploding:
    kind = "exploding"

    def __init__(self) -> None:
        self.id = "hook"
        self.calls = 0

    def send(self, notification: Notification) -> None:
        self.calls += 1
        raise RuntimeError("bug in a notifier")


def test_unexpected_notifier_exception_is_retryable_and_logged_once(
    store: sa.Engine, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    _, oid = _alert_with_row(store, clock)
    notifier = Exploding()
    dispatcher = Dispatcher(store, {"hook": notifier}, clock)
    with caplog.at_level(logging.WARNING, logger="alerts.dispatch"):
        for _ in range(3):
            assert dispatcher.drain() == 1
            clock.advance(minutes=5)
    assert notifier.calls == 3
    row = _status(store, oid)
    assert row.status == "pending" and "unexpected RuntimeError: bug in a notifier" in (row.last_error or "")
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1


def test_row_for_an_unconfigured_channel_fails_with_a_clear_reason(
    store: sa.Engine, clock: FixedClock
) -> None:
    _, oid = _alert_with_row(store, clock, channel="old-channel")
    assert Dispatcher(store, {}, clock).drain() == 1
    row = _status(store, oid)
    assert row.status == "failed" and "no notifier 'old-channel' is configured" in (row.last_error or "")
