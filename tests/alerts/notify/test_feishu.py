from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import pytest

from alerts.notify import build_notifier
from alerts.notify.base import ZWSP, Notifier
from alerts.notify.feishu import FEISHU_URL
from monitor.errors import NotifyError

from . import conformance

TOKEN = "2f0c8e7a-hook-token-5b1d"
SECRET = "feishu-bot-signing-secret"
ENV = {"FS_TOKEN": TOKEN, "FS_SECRET": SECRET}
OK = b'{"code": 0, "msg": "success", "data": {}}'


def make(url: str, *, timeout: float = 5.0, **extra: Any) -> Notifier:
    """``url`` is where the server listens; the notifier appends /<token> to its base."""
    base = url.removesuffix(TOKEN)
    options = {"token_env": "FS_TOKEN", "secret_env": "FS_SECRET", "url": base, "timeout": timeout, **extra}
    return build_notifier("pr-feishu", "feishu", options, environ=ENV)


HOOK = f"/open-apis/bot/v2/hook/{TOKEN}"


def test_status_table(http_server: Any) -> None:
    conformance.check_status_table(make, http_server, path=HOOK, ok_body=OK, skip=(204,))


def test_every_attempt_carries_the_outbox_id(http_server: Any) -> None:
    conformance.check_carries_outbox_id(make, http_server, path=HOOK, ok_body=OK)


def test_code_rule(http_server: Any) -> None:
    cases = {
        0: (None, ""),
        11232: (True, "rate_limited"),  # frequency limited
        19021: (False, "errcode"),  # signature mismatch
        9499: (False, "errcode"),  # bad request
    }
    conformance.check_errcode_table(make, http_server, cases, path=HOOK, code_key="code", message_key="msg")
    # older deployments answer StatusCode / StatusMessage
    http_server.route(HOOK, body=b'{"StatusCode": 0, "StatusMessage": "success"}')
    make(http_server.url(HOOK)).send(conformance.sample_notification())


def test_timeout_and_refused_are_retryable(http_server: Any) -> None:
    conformance.check_timeout_is_retryable(make, http_server, path=f"/slow/{TOKEN}")
    conformance.check_connection_refused_is_retryable(make)


def test_no_secret_in_errors(http_server: Any) -> None:
    conformance.check_no_secret_in_errors(make, http_server, [TOKEN, SECRET], path=HOOK)


def _verify(rec: Any) -> tuple[int, dict[str, str], bytes]:
    """Feishu's check, computed independently: key = "timestamp\\nsecret", empty message."""
    sent = rec.json()
    key = f"{sent['timestamp']}\n{SECRET}".encode()
    expected = base64.b64encode(hmac.new(key, digestmod=hashlib.sha256).digest()).decode()
    ok = sent["sign"] == expected and abs(time.time() - int(sent["timestamp"])) < 3600
    return 200, {}, OK if ok else b'{"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}'


def test_signed_post_message_verifies_on_the_server(http_server: Any) -> None:
    http_server.route(HOOK, handler=_verify)
    body = '第一行\n<at user_id="all">所有人</at> @all [链接](https://evil.example)\n'
    make(http_server.url(HOOK)).send(conformance.sample_notification(body=body))
    [req] = http_server.requests_to(HOOK)
    sent = req.json()
    assert sent["msg_type"] == "post"
    post = sent["content"]["post"]["zh_cn"]
    assert post["title"] == "【预警】阿克米咖啡 负面舆情出现异常升高"
    assert post["content"][0] == [{"tag": "text", "text": "第一行"}]
    line = post["content"][1][0]["text"]
    # plain text elements: no <at> tag survives, and brackets stay as typed (nothing is markdown)
    assert line == f'＜at user_id="all"＞所有人＜/at＞ @{ZWSP}all [链接](https://evil.example)'


def test_wrong_secret_is_a_permanent_failure_and_english_contacts_get_en_us(http_server: Any) -> None:
    http_server.route(HOOK, handler=_verify)
    env = {"FS_TOKEN": TOKEN, "FS_SECRET": "wrong-secret-value"}
    base = http_server.url("/open-apis/bot/v2/hook/")
    notifier = build_notifier(
        "f", "feishu", {"token_env": "FS_TOKEN", "secret_env": "FS_SECRET", "url": base}, environ=env
    )
    with pytest.raises(NotifyError) as info:
        notifier.send(conformance.sample_notification(payload={"lang": "en"}))
    assert info.value.retryable is False and "code 19021" in str(info.value)
    assert "wrong-secret-value" not in str(info.value) and TOKEN not in str(info.value)
    assert "en_us" in http_server.requests_to(HOOK)[0].json()["content"]["post"]


def test_unsigned_bot_and_defaults(http_server: Any) -> None:
    http_server.route(HOOK, body=OK)
    base = http_server.url("/open-apis/bot/v2/hook")  # with or without the trailing slash
    build_notifier("f", "feishu", {"token_env": "FS_TOKEN", "url": base}, environ=ENV).send(
        conformance.sample_notification()
    )
    sent = http_server.requests_to(HOOK)[0].json()
    assert "sign" not in sent and "timestamp" not in sent
    assert build_notifier("f", "feishu", {"token_env": "FS_TOKEN"}, environ=ENV).options.url == FEISHU_URL  # type: ignore[attr-defined]
    conformance.check_missing_secret_variable("feishu", {"token_env": "NO_TOKEN"}, "token_env", ENV)
