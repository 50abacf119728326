from __future__ import annotations

from typing import Any

import pytest

from alerts.notify import build_notifier
from alerts.notify.base import Notifier
from monitor.errors import ConfigError, NotifyError

from . import conformance

SECRET_PATH = "/services/T0SECRET/B0SECRET/XXSECRETXX"


def make(url: str, *, timeout: float = 5.0) -> Notifier:
    return build_notifier(
        "intl-slack", "slack", {"url_env": "SLACK_URL", "timeout": timeout}, environ={"SLACK_URL": url}
    )


def test_status_table(http_server: Any) -> None:
    conformance.check_status_table(make, http_server, ok_body=b"ok")


def test_every_attempt_carries_the_outbox_id(http_server: Any) -> None:
    conformance.check_carries_outbox_id(make, http_server, ok_body=b"ok")


def test_timeout_and_refused_are_retryable(http_server: Any) -> None:
    conformance.check_timeout_is_retryable(make, http_server)
    conformance.check_connection_refused_is_retryable(make)


def test_the_url_is_the_secret_and_never_shown(http_server: Any) -> None:
    conformance.check_no_secret_in_errors(make, http_server, ["T0SECRET", "B0SECRET", "XXSECRETXX"], path=SECRET_PATH)


@pytest.mark.parametrize(
    ("status", "word", "retryable"),
    [
        (400, "invalid_payload", False),
        (404, "no_service", False),
        (410, "channel_is_archived", False),
        (500, "rollup_error", True),
    ],
)
def test_slack_error_words_are_quoted(http_server: Any, status: int, word: str, retryable: bool) -> None:
    http_server.route(SECRET_PATH, status=status, body=word.encode())
    with pytest.raises(NotifyError) as info:
        make(http_server.url(SECRET_PATH)).send(conformance.sample_notification())
    assert info.value.retryable is retryable
    assert f"HTTP {status} from http://127.0.0.1:{http_server.port}/… ({word})" in str(info.value)


def test_rate_limit_is_retried_with_retry_after(http_server: Any) -> None:
    http_server.route(SECRET_PATH, status=429, headers={"Retry-After": "12"}, body=b"rate_limited")
    with pytest.raises(NotifyError) as info:
        make(http_server.url(SECRET_PATH)).send(conformance.sample_notification())
    assert info.value.retryable is True and info.value.reason == "http_429"
    assert "(Retry-After: 12) (rate_limited)" in str(info.value)


def test_message_escapes_control_sequences(http_server: Any) -> None:
    http_server.route(SECRET_PATH, body=b"ok")
    body = "Sample: <!channel> <@U024BE7LH> <https://evil.example|refund here> R&D @here\n"
    make(http_server.url(SECRET_PATH)).send(conformance.sample_notification(body=body))
    sent = http_server.requests_to(SECRET_PATH)[0].json()
    assert sent["unfurl_links"] is False and sent["unfurl_media"] is False
    text = sent["text"]
    assert text.startswith("*【预警】阿克米咖啡 负面舆情出现异常升高*\nSample: ")
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt;" in text and "&lt;https://evil.example|refund here&gt;" in text and "R&amp;D" in text


def test_url_variable_checks() -> None:
    conformance.check_missing_secret_variable(
        "slack", {"url_env": "NO_SLACK"}, "url_env", {"X": "https://hooks.slack.com/x"}
    )
    with pytest.raises(ConfigError) as info:
        build_notifier("s", "slack", {"url_env": "SLACK_URL"}, environ={"SLACK_URL": "hooks.slack.com/T0SECRET"})
    assert str(info.value) == "url_env: environment variable 'SLACK_URL' does not hold an http(s) URL"
