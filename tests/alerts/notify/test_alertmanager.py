from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.notify import build_notifier
from alerts.notify.base import Notifier
from monitor.errors import ConfigError, NotifyError
from monitor.models import NotifyReason

from . import conformance

API = "/api/v2/alerts"
TOKEN = "am-proxy-bearer-token"


def make(url: str, *, timeout: float = 5.0, **extra: Any) -> Notifier:
    options = {"url": url.removesuffix(API), "timeout": timeout, "token_env": "AM_TOKEN", **extra}
    return build_notifier("ops-am", "alertmanager", options, environ={"AM_TOKEN": TOKEN})


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def validate(rec: Any) -> tuple[int, dict[str, str], bytes]:
    """What Alertmanager's v2 API checks (postableAlerts): a list of alerts, each with
    labels (non-empty, valid names), string annotations, RFC 3339 times, endsAt >= startsAt."""
    try:
        alerts = rec.json()
        assert isinstance(alerts, list) and alerts
        for a in alerts:
            assert set(a) <= {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}
            assert a["labels"] and all(isinstance(v, str) and v for v in a["labels"].values())
            assert all(k.replace("_", "a").isalnum() for k in a["labels"])
            assert all(isinstance(v, str) for v in a["annotations"].values())
            assert _parse(a["endsAt"]) >= _parse(a["startsAt"])
    except (AssertionError, ValueError, KeyError) as exc:
        return 400, {"Content-Type": "application/json"}, f'{{"message": "{type(exc).__name__}"}}'.encode()
    return 200, {}, b""


def test_status_table(http_server: Any) -> None:
    conformance.check_status_table(make, http_server, path=API)


def test_timeout_and_refused_are_retryable(http_server: Any) -> None:
    conformance.check_timeout_is_retryable(make, http_server, path="/slow" + API)
    conformance.check_connection_refused_is_retryable(make)


def test_no_secret_in_errors(http_server: Any) -> None:
    conformance.check_no_secret_in_errors(make, http_server, [TOKEN], path=API)


def test_firing_then_escalated_then_resolved(http_server: Any) -> None:
    http_server.route(API, handler=validate)
    notifier = make(
        http_server.url(API),
        labels={"team": "brand-pr"},
        generator_url="https://bp.example.com/api/v1/alerts/{alert}",
        expire_after="12h",
    )
    before = datetime.now(UTC)
    notifier.send(conformance.sample_notification())
    [first] = http_server.requests[-1].json()
    assert http_server.requests[-1].headers["Authorization"] == f"Bearer {TOKEN}"
    assert first["labels"] == {
        "alertname": "BrandPulseCrisis",
        "brand": "acme",
        "level": "warning",
        "severity": "warning",
        "alert_id": "3",
        "team": "brand-pr",
    }
    assert first["annotations"] == {
        "summary": "【预警】阿克米咖啡 负面舆情出现异常升高",
        "description": "负面提及 32 条（基线约 2.7 条）\n",
    }
    assert first["generatorURL"] == "https://bp.example.com/api/v1/alerts/3"
    starts, ends = _parse(first["startsAt"]), _parse(first["endsAt"])
    assert before - timedelta(seconds=1) <= starts <= datetime.now(UTC)
    assert ends - starts == timedelta(hours=12)

    # escalation changes the level label: the warning entry is ended in the same POST
    notifier.send(conformance.sample_notification(level="crisis", reason=NotifyReason.ESCALATED))
    crisis, ended_warning = http_server.requests[-1].json()
    assert (crisis["labels"]["level"], crisis["labels"]["severity"]) == ("crisis", "critical")
    assert _parse(crisis["endsAt"]) > datetime.now(UTC) + timedelta(hours=11)
    assert ended_warning["labels"]["level"] == "warning"
    assert _parse(ended_warning["endsAt"]) <= datetime.now(UTC)

    resolved_at = "2026-03-02T10:30:00+00:00"
    notifier.send(
        conformance.sample_notification(
            level="crisis", reason=NotifyReason.RESOLVED, payload={"resolved_at": resolved_at}, drill=True
        )
    )
    [resolved] = http_server.requests[-1].json()
    assert resolved["labels"]["level"] == "crisis" and resolved["labels"]["drill"] == "true"
    assert resolved["endsAt"] == "2026-03-02T10:30:00.000Z" == resolved["startsAt"]
    assert all(r.headers.get("Content-Type") == "application/json" for r in http_server.requests_to(API))
    assert [r.method for r in http_server.requests_to(API)] == ["POST"] * 3


def test_a_failed_post_keeps_the_levels_to_end(http_server: Any) -> None:
    http_server.route(API, handler=validate)
    notifier = make(http_server.url(API))
    notifier.send(conformance.sample_notification(level="watch"))
    http_server.route(API, status=503)
    with pytest.raises(NotifyError, match="HTTP 503"):
        notifier.send(conformance.sample_notification(level="warning", reason=NotifyReason.ESCALATED))
    http_server.route(API, handler=validate)
    notifier.send(conformance.sample_notification(level="warning", reason=NotifyReason.ESCALATED, attempt=2))
    current, ended = http_server.requests[-1].json()
    assert (current["labels"]["level"], current["labels"]["severity"]) == ("warning", "warning")
    assert (ended["labels"]["level"], ended["labels"]["severity"]) == ("watch", "info")


def test_options_validation() -> None:
    with pytest.raises(ConfigError, match=r"labels: label 'brand' is set by BrandPulse"):
        make("http://127.0.0.1:9093", labels={"brand": "x"})
    with pytest.raises(ConfigError, match=r"labels: 'bad-name' is not a valid Prometheus label name"):
        make("http://127.0.0.1:9093", labels={"bad-name": "x"})
    with pytest.raises(ConfigError, match=r"expire_after: Input should be greater than or equal to 60"):
        make("http://127.0.0.1:9093", expire_after="10s")
    assert make("http://127.0.0.1:9093", expire_after="2d").options.expire_after == 172800  # type: ignore[attr-defined]
    conformance.check_missing_secret_variable(
        "alertmanager", {"url": "http://127.0.0.1:9093", "token_env": "NO_AM_TOKEN"}, "token_env", {"X": "tok-value"}
    )
