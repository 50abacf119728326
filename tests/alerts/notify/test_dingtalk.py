from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts.notify import build_notifier
from alerts.notify.base import ZWSP, Notifier
from alerts.notify.dingtalk import DINGTALK_URL
from monitor.errors import NotifyError

from . import conformance

TOKEN = "b1c0ffee5a1e0dd7a11d1ce0000aaaa"
SECRET = "SECdeadbeef0123456789abcdef+/="  # '+', '/' and '=' must survive URL encoding of the sign
ENV = {"DT_TOKEN": TOKEN, "DT_SECRET": SECRET}
OK = b'{"errcode": 0, "errmsg": "ok"}'


def make(url: str, *, timeout: float = 5.0, **extra: Any) -> Notifier:
    options = {"token_env": "DT_TOKEN", "secret_env": "DT_SECRET", "url": url, "timeout": timeout, **extra}
    return build_notifier("pr-dingtalk", "dingtalk", options, environ=ENV)


def test_status_table(http_server: Any) -> None:
    conformance.check_status_table(make, http_server, ok_body=OK, skip=(204,))


def test_every_attempt_carries_the_outbox_id(http_server: Any) -> None:
    conformance.check_carries_outbox_id(make, http_server, ok_body=OK)


def test_errcode_rule(http_server: Any) -> None:
    cases = {
        0: (None, ""),
        130101: (True, "rate_limited"),  # sending too fast
        -1: (True, "busy"),
        310000: (False, "errcode"),  # signature / keyword / IP mismatch
        300001: (False, "errcode"),  # bad token
    }
    conformance.check_errcode_table(make, http_server, cases)


def test_timeout_and_refused_are_retryable(http_server: Any) -> None:
    conformance.check_timeout_is_retryable(make, http_server)
    conformance.check_connection_refused_is_retryable(make)


def test_no_secret_in_errors(http_server: Any) -> None:
    conformance.check_no_secret_in_errors(make, http_server, [TOKEN, SECRET])


def _verify(rec: Any) -> tuple[int, dict[str, str], bytes]:
    """DingTalk's server side, computed independently: 310000 unless the signature matches."""
    query = parse_qs(urlsplit(rec.path).query, keep_blank_values=True)
    ts = query["timestamp"][0]
    string_to_sign = f"{ts}\n{SECRET}".encode()
    expected = base64.b64encode(hmac.new(SECRET.encode(), string_to_sign, hashlib.sha256).digest()).decode()
    fresh = abs(time.time() * 1000 - int(ts)) < 3_600_000
    ok = query["access_token"] == [TOKEN] and query["sign"] == [expected] and fresh
    return 200, {}, OK if ok else b'{"errcode": 310000, "errmsg": "sign not match"}'


def test_signed_markdown_message_verifies_on_the_server(http_server: Any) -> None:
    http_server.route("/robot/send", handler=_verify)
    notifier = make(http_server.url("/robot/send"), at_mobiles={"zhang-san": ["13800001111"]})
    body = "样例 1：[点此领取赔偿](https://evil.example) @all\n\n# 假标题\n"
    notifier.send(conformance.sample_notification(body=body))
    [req] = http_server.requests_to("/robot/send")
    sent = req.json()
    assert sent["msgtype"] == "markdown"
    assert sent["markdown"]["title"] == "【预警】阿克米咖啡 负面舆情出现异常升高"
    text = sent["markdown"]["text"]
    assert text.startswith("#### 【预警】阿克米咖啡 负面舆情出现异常升高\n\n样例 1：")
    assert "［点此领取赔偿］(https://evil.example)" in text and f"@{ZWSP}all" in text
    assert "\n\n\\# 假标题" in text  # a heading in a quote is shown, not rendered
    assert text.endswith("\n\n@13800001111")  # DingTalk needs the @mobile in the text too
    assert sent["at"] == {"atMobiles": ["13800001111"], "isAtAll": False}


def test_wrong_secret_is_a_permanent_failure(http_server: Any) -> None:
    http_server.route("/robot/send", handler=_verify)
    other = build_notifier(
        "d",
        "dingtalk",
        {"token_env": "T", "secret_env": "S", "url": http_server.url("/robot/send")},
        environ={"T": TOKEN, "S": "SECwrong-secret"},
    )
    with pytest.raises(NotifyError) as info:
        other.send(conformance.sample_notification())
    assert info.value.retryable is False and "errcode 310000 ('sign not match')" in str(info.value)
    assert "SECwrong-secret" not in str(info.value) and TOKEN not in str(info.value)


def test_unsigned_robot_sends_only_the_token(http_server: Any) -> None:
    http_server.route("/robot/send", body=OK)
    build_notifier(
        "d", "dingtalk", {"token_env": "DT_TOKEN", "url": http_server.url("/robot/send"), "at_all": True}, environ=ENV
    ).send(conformance.sample_notification())
    [req] = http_server.requests_to("/robot/send")
    assert parse_qs(urlsplit(req.path).query) == {"access_token": [TOKEN]}
    assert req.json()["at"] == {"atMobiles": [], "isAtAll": True}


def test_defaults_and_missing_variables() -> None:
    notifier = build_notifier("d", "dingtalk", {"token_env": "DT_TOKEN"}, environ=ENV)
    assert notifier.options.url == DINGTALK_URL  # type: ignore[attr-defined]
    conformance.check_missing_secret_variable("dingtalk", {"token_env": "NO_TOKEN"}, "token_env", ENV)
    conformance.check_missing_secret_variable(
        "dingtalk", {"token_env": "DT_TOKEN", "secret_env": "NO_SECRET"}, "secret_env", ENV
    )
