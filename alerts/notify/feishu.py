"""飞书 / Lark custom bot notifier: a rich-text ("post") message per notification, optionally signed.

    notifiers:
      - id: pr-feishu
        kind: feishu
        token_env: BRANDPULSE_FEISHU_TOKEN    # the last part of the bot's webhook URL (…/hook/<token>)
        secret_env: BRANDPULSE_FEISHU_SECRET  # optional: the bot's "签名校验" secret
        url: "https://open.feishu.cn/open-apis/bot/v2/hook/"   # Lark: https://open.larksuite.com/open-apis/bot/v2/hook/

Signing follows Feishu's documentation: ``timestamp`` in seconds and
``sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))``, both sent in the JSON
body; Feishu refuses a timestamp more than an hour off.

The bot answers ``{"code": 0, "msg": "success"}`` (older deployments: ``StatusCode``). After the
shared status rule: code 0 is delivered, 11232 (frequency limited) is retried, any other code
(19021 bad signature, 19024 keyword mismatch, 9499 bad payload, ...) is given up.

The message is a "post": a title and one plain ``text`` element per line, which Feishu does
not parse as markdown, so quoted mention texts cannot add links; ``<at …>`` tags in them are
neutralised all the same.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from alerts.notify.base import (
    DEFAULT_TIMEOUT_SECONDS,
    IDEMPOTENCY_HEADER,
    EnvName,
    HttpNotifier,
    HttpUrl,
    NotifierOptions,
    Timeout,
    check_errcode,
    neutralize,
    truncate,
)
from monitor.models import Notification

FEISHU_URL = "https://open.feishu.cn/open-apis/bot/v2/hook/"
BODY_LIMIT = 15_000  # bytes of message text; Feishu rejects a request body over 20 KB
RETRYABLE = {11232: "rate_limited"}


class FeishuOptions(NotifierOptions):
    token_env: EnvName  # env var holding the hook token (the URL's last part)
    secret_env: EnvName | None = None  # env var holding the signing secret
    url: HttpUrl = FEISHU_URL  # the hook URL without the token
    timeout: Timeout = DEFAULT_TIMEOUT_SECONDS


def sign(secret: str, timestamp: int) -> str:
    """Feishu's ``sign``: the key is the string to sign, the message is empty (as documented)."""
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class FeishuNotifier(HttpNotifier):
    """Posts to a Feishu (or Lark) custom bot.

    notifier = build_notifier("pr-feishu", "feishu", {"token_env": "FS_TOKEN", "secret_env": "FS_SECRET"})
    notifier.send(notification)     # NotifyError(retryable=True, reason="rate_limited") on 11232
    """

    kind: ClassVar[str] = "feishu"
    Options = FeishuOptions
    options: FeishuOptions

    SECRETS: ClassVar[Mapping[str, str]] = {
        "token_env": "the Feishu bot's hook token",
        "secret_env": "the Feishu bot's secret",
    }

    def configure(self, *, file: str | None, key_path: str | None) -> None:
        self._token, self._secret = self.required_secret("token_env"), self.secret("secret_env")
        self._url = self.options.url.rstrip("/") + "/" + self._token

    def message(self, n: Notification) -> dict[str, Any]:
        body = truncate(neutralize(n.body.rstrip("\n"), "plain"), BODY_LIMIT, encoding="utf-8")
        lines = [[{"tag": "text", "text": line}] for line in body.split("\n")]
        lang = "en_us" if n.payload.get("lang") == "en" else "zh_cn"
        title = neutralize(truncate(n.subject, 200), "plain")
        return {"msg_type": "post", "content": {"post": {lang: {"title": title, "content": lines}}}}

    def send(self, notification: Notification) -> None:
        message = self.message(notification)
        if self._secret:
            timestamp = int(time.time())
            message.update(timestamp=str(timestamp), sign=sign(self._secret, timestamp))
        response = self.post(self._url, json=message, headers={IDEMPOTENCY_HEADER: str(notification.outbox_id)})
        check_errcode(
            self.id,
            response,
            code_keys=("code", "StatusCode"),
            message_keys=("msg", "StatusMessage"),
            retryable=RETRYABLE,
            secrets=self.secrets,
        )
