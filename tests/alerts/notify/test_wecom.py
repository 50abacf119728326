from __future__ import annotations

from typing import Any

import pytest

from alerts.notify import build_notifier
from alerts.notify.base import ZWSP, Notifier
from alerts.notify.wecom import MARKDOWN_LIMIT, WECOM_URL, WecomNotifier
from monitor.errors import ConfigError, NotifyError

from . import conformance

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
ENV = {"WECOM_KEY": KEY}
OK = b'{"errcode": 0, "errmsg": "ok"}'


def make(url: str, *, timeout: float = 5.0, **extra: Any) -> Notifier:
    return build_notifier(
        "brand-wecom", "wecom", {"key_env": "WECOM_KEY", "url": url, "timeout": timeout, **extra}, environ=ENV
    )


def test_status_table(http_server: Any) -> None:
    conformance.check_status_table(make, http_server, ok_body=OK, skip=(204,))


def test_every_attempt_carries_the_outbox_id(http_server: Any) -> None:
    conformance.check_carries_outbox_id(make, http_server, ok_body=OK)


def test_errcode_rule(http_server: Any) -> None:
    cases = {
        0: (None, ""),
        45009: (True, "rate_limited"),
        -1: (True, "busy"),
        93000: (False, "errcode"),  # invalid webhook key
        40008: (False, "errcode"),  # invalid message type
    }
    conformance.check_errcode_table(make, http_server, cases)


def test_timeout_and_refused_are_retryable(http_server: Any) -> None:
    conformance.check_timeout_is_retryable(make, http_server)
    conformance.check_connection_refused_is_retryable(make)


def test_key_never_in_errors(http_server: Any) -> None:
    conformance.check_no_secret_in_errors(make, http_server, [KEY])
    # nor when the API echoes it in errmsg
    http_server.route("/hook", body=f'{{"errcode": 93000, "errmsg": "invalid webhook url {KEY}"}}'.encode())
    with pytest.raises(NotifyError) as info:
        make(http_server.url("/hook")).send(conformance.sample_notification())
    assert KEY not in str(info.value) and "invalid webhook url ***" in str(info.value)


def test_markdown_message_with_key_in_query_and_neutralised_mentions(http_server: Any) -> None:
    http_server.route("/cgi-bin/webhook/send", body=OK)
    notifier = make(http_server.url("/cgi-bin/webhook/send"), mentioned_list={"zhang-san": ["ZhangSan"]})
    assert isinstance(notifier, WecomNotifier) and notifier.options.url != WECOM_URL
    body = "样例：[官方回应](https://evil.example) <@all> @all **速转**\n"
    notifier.send(conformance.sample_notification(body=body))
    [req] = http_server.requests_to("/cgi-bin/webhook/send")
    assert req.path.endswith(f"?key={KEY}")
    sent = req.json()
    assert sent["msgtype"] == "markdown"
    content = sent["markdown"]["content"]
    assert content.startswith("**【预警】阿克米咖啡 负面舆情出现异常升高**\n样例：")
    assert "［官方回应］(https://evil.example)" in content and "](" not in content
    assert "<@all>" not in content and f"@{ZWSP}all" in content and r"\*\*速转\*\*" in content
    assert content.endswith("\n<@ZhangSan>")  # our own mention, added after neutralising


def test_long_markdown_is_cut_to_the_api_limit(http_server: Any) -> None:
    http_server.route("/hook", body=OK)
    make(http_server.url("/hook")).send(conformance.sample_notification(body="负面" * 5000))
    content = http_server.requests_to("/hook")[0].json()["markdown"]["content"]
    assert len(content.encode()) <= MARKDOWN_LIMIT and content.endswith("…")


def test_text_message_mentions_by_mobile(http_server: Any) -> None:
    http_server.route("/hook", body=OK)
    notifier = make(
        http_server.url("/hook"),
        msgtype="text",
        mentioned_list={"zhang-san": ["@all"]},
        mentioned_mobile_list={"zhang-san": ["13800001111"], "li-si": ["13900002222"]},
    )
    notifier.send(conformance.sample_notification(body='<at user_id="all">x</at>\n'))
    sent = http_server.requests_to("/hook")[0].json()
    assert sent["msgtype"] == "text"
    assert sent["text"]["mentioned_list"] == ["@all"]
    assert sent["text"]["mentioned_mobile_list"] == ["13800001111"]
    assert sent["text"]["content"].startswith("【预警】阿克米咖啡 负面舆情出现异常升高\n\n＜at")


def test_options_validation() -> None:
    with pytest.raises(ConfigError, match=r"mentioned_mobile_list needs msgtype: text"):
        make("https://qyapi.example/x", mentioned_mobile_list={"a": ["13800001111"]})
    with pytest.raises(ConfigError, match=r"mentioned_mobile_list\.a\[0\]: String should match pattern"):
        make("https://qyapi.example/x", msgtype="text", mentioned_mobile_list={"a": ["call me"]})
    assert build_notifier("w", "wecom", {"key_env": "WECOM_KEY"}, environ=ENV).options.url == WECOM_URL  # type: ignore[attr-defined]
    conformance.check_missing_secret_variable("wecom", {"key_env": "NO_SUCH_KEY"}, "key_env", ENV)
