from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import pytest

from alerts.notify import NOTIFIER_KINDS, build_notifier, resolve_notifier_kind
from alerts.notify.base import DEFAULT_TIMEOUT_SECONDS, IDEMPOTENCY_HEADER, Notifier, redact_url
from alerts.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookNotifier
from monitor import defaults
from monitor.errors import ConfigError, ConfigErrors, NotifyError

from . import conformance

TOKEN = "s3cr3t-t0ken-value"
SECRET = "whsec-signing-secret-42"
ENV = {"HOOK_TOKEN": TOKEN, "HOOK_SECRET": SECRET}


def make(url: str, *, timeout: float = 5.0, **extra: Any) -> Notifier:
    return build_notifier(
        "ops-webhook",
        "webhook",
        {"url": url, "token_env": "HOOK_TOKEN", "timeout": timeout, **extra},
        environ=ENV,
    )


def test_status_table(http_server: Any) -> None:
    conformance.check_status_table(make, http_server)


def test_timeout_is_retryable(http_server: Any) -> None:
    conformance.check_timeout_is_retryable(make, http_server)


def test_connection_refused_is_retryable() -> None:
    conformance.check_connection_refused_is_retryable(make)


def test_no_secret_in_errors(http_server: Any) -> None:
    def make_secret_url(url: str, *, timeout: float = 5.0) -> Notifier:
        return make(url + "/T0SECRETPATH?key=QUERYSECRET", timeout=timeout)

    http_server.route("/hook/T0SECRETPATH", status=500)
    conformance.check_no_secret_in_errors(
        make_secret_url, http_server, [TOKEN, "T0SECRETPATH", "QUERYSECRET"], path="/hook/T0SECRETPATH"
    )


def test_posts_json_with_bearer_token_headers_and_idempotency_key(http_server: Any) -> None:
    http_server.route("/hook", status=204)
    notifier = make(http_server.url("/hook"), headers={"X-Team": "brand"})
    assert (
        isinstance(notifier, WebhookNotifier) and notifier.kind == "webhook" and notifier.id == "ops-webhook"
    )
    notifier.send(conformance.sample_notification(outbox_id=41, drill=True, attempt=2))
    [req] = http_server.requests_to("/hook")
    assert req.method == "POST"
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    assert req.headers["X-Team"] == "brand"
    assert req.headers[IDEMPOTENCY_HEADER] == "41"
    assert req.headers["Content-Type"] == "application/json"
    body = req.json()
    assert body == {
        "notification": 41,
        "alert": 3,
        "brand": "acme",
        "level": "warning",
        "level_name": "预警",
        "state": "firing",
        "reason": "first",
        "channel": "test",
        "contact": "zhang-san",
        "subject": "【预警】阿克米咖啡 负面舆情出现异常升高",
        "body": "负面提及 32 条（基线约 2.7 条）\n",
        "evidence": {"negative": 32, "baseline": 2.67},
        "drill": True,
        "attempt": 2,
    }
    notifier.close()  # type: ignore[attr-defined]


def test_no_token_env_sends_no_authorization(http_server: Any) -> None:
    http_server.route("/hook", status=200)
    build_notifier("h", "webhook", {"url": http_server.url("/hook")}).send(conformance.sample_notification())
    assert "Authorization" not in http_server.requests_to("/hook")[0].headers


def test_missing_token_variable_names_it_never_its_value() -> None:
    with pytest.raises(ConfigError) as info:
        build_notifier(
            "ops-webhook",
            "webhook",
            {"url": "https://hooks.example.com/x", "token_env": "NOPE_TOKEN"},
            file="brandpulse.yaml",
            key_path="notifiers[1]",
            environ=ENV,
        )
    assert str(info.value) == (
        "brandpulse.yaml: notifiers[1].token_env: environment variable 'NOPE_TOKEN' is not "
        "set or empty (it should hold the webhook's bearer token)"
    )


def test_options_are_validated_strictly_with_key_paths() -> None:
    with pytest.raises(ConfigErrors) as info:
        build_notifier(
            "w",
            "webhook",
            {"url": "ftp://example.com/x", "tiemout": 3, "headers": {"Authorization": "x"}},
            file="c.yaml",
            key_path="notifiers[2]",
        )
    lines = info.value.lines()
    assert (
        "c.yaml: notifiers[2].url: url must be http:// or https:// with a host, got 'ftp://example.com/…'"
        in lines
    )
    assert any(
        line.startswith(
            "c.yaml: notifiers[2].tiemout: unknown key 'tiemout' (valid: headers, secret_env, timeout, token_env, url)"
        )
        for line in lines
    )
    assert any(
        line.startswith("c.yaml: notifiers[2].headers: put the token in an environment variable")
        for line in lines
    )
    with pytest.raises(ConfigError, match=r"^c.yaml: notifiers\[0\].url: required key missing$"):
        build_notifier("w", "webhook", {}, file="c.yaml", key_path="notifiers[0]")


def test_kind_table() -> None:
    kinds = {"console", "webhook", "wecom", "dingtalk", "feishu", "slack", "email", "alertmanager"}
    assert set(NOTIFIER_KINDS) == kinds
    for kind, cls in NOTIFIER_KINDS.items():
        assert cls.kind == kind and resolve_notifier_kind(kind) is cls
        assert cls.Options.model_config.get("extra") == "forbid", kind
    assert resolve_notifier_kind("webhook") is WebhookNotifier
    with pytest.raises(
        ConfigError,
        match=r"^c.yaml: notifiers\[3\].kind: unknown notifier kind 'wechat' "
        r"\(valid: alertmanager, console, dingtalk, email, feishu, slack, webhook, wecom\)$",
    ):
        build_notifier("x", "wechat", {}, file="c.yaml", key_path="notifiers[3]")


def test_default_timeout_mirrors_the_defaults_table() -> None:
    assert DEFAULT_TIMEOUT_SECONDS == defaults.NOTIFY_TIMEOUT_SECONDS
    notifier = build_notifier("w", "webhook", {"url": "http://127.0.0.1:1/x"})
    assert notifier.options.timeout == defaults.NOTIFY_TIMEOUT_SECONDS  # type: ignore[attr-defined]


def test_redact_url() -> None:
    assert (
        redact_url("https://user:pw@hooks.example.com:8443/T0/B1/XYZ?key=abc")
        == "https://hooks.example.com:8443/…"
    )
    assert redact_url("http://127.0.0.1:9999") == "http://127.0.0.1:9999"


def test_signed_body_verifies_on_the_receiving_side(http_server: Any) -> None:
    def verify(rec: Any) -> tuple[int, dict[str, str], bytes]:
        # What a receiver does, written independently of alerts.notify.webhook.sign.
        ts = rec.headers[TIMESTAMP_HEADER]
        expected = hmac.new(SECRET.encode(), ts.encode() + b"." + rec.body, hashlib.sha256).hexdigest()
        good = hmac.compare_digest(rec.headers[SIGNATURE_HEADER], "sha256=" + expected)
        fresh = abs(time.time() - int(ts)) < 300
        return (204 if good and fresh else 401), {}, b""

    http_server.route("/hook", handler=verify)
    notifier = make(http_server.url("/hook"), secret_env="HOOK_SECRET")
    notifier.send(conformance.sample_notification(outbox_id=5))
    [req] = http_server.requests_to("/hook")
    assert req.json()["subject"] == "【预警】阿克米咖啡 负面舆情出现异常升高"  # UTF-8, not \\u escapes
    assert "【预警】".encode() in req.body
    assert SECRET not in str(req.headers)

    # A receiver with a different secret rejects it: permanent, and our secret stays out of the text.
    other = build_notifier(
        "w", "webhook", {"url": http_server.url("/hook"), "secret_env": "S"}, environ={"S": "not-the-secret"}
    )
    with pytest.raises(NotifyError) as info:
        other.send(conformance.sample_notification())
    assert info.value.retryable is False and "HTTP 401" in str(info.value)
    assert "not-the-secret" not in str(info.value)


def test_unsigned_requests_carry_no_signature_headers(http_server: Any) -> None:
    http_server.route("/hook", status=200)
    make(http_server.url("/hook")).send(conformance.sample_notification())
    [req] = http_server.requests_to("/hook")
    assert SIGNATURE_HEADER not in req.headers and TIMESTAMP_HEADER not in req.headers


def test_missing_secret_variable_names_it() -> None:
    conformance.check_missing_secret_variable(
        "webhook", {"url": "https://hooks.example.com/x", "secret_env": "NOPE_SECRET"}, "secret_env", ENV
    )


def test_retry_after_is_quoted_on_429(http_server: Any) -> None:
    http_server.route("/hook", status=429, headers={"Retry-After": "30"})
    with pytest.raises(NotifyError, match=r"HTTP 429 from http://127.0.0.1:\d+/… \(Retry-After: 30\); will retry"):
        make(http_server.url("/hook")).send(conformance.sample_notification())
