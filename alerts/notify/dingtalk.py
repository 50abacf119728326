"""钉钉 (DingTalk) custom robot notifier: a markdown message per notification, optionally signed.

    notifiers:
      - id: pr-dingtalk
        kind: dingtalk
        token_env: BRANDPULSE_DINGTALK_TOKEN     # the robot's access_token
        secret_env: BRANDPULSE_DINGTALK_SECRET   # optional: the "加签" secret (SEC...), signs each request
        at_mobiles: {li-si: ["13800000000"]}     # contact id -> mobiles to @
        at_all: false                            # @ everyone in the group

Signing follows DingTalk's documentation: ``timestamp`` is now in milliseconds and
``sign = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")))``, both
added to the query string; DingTalk refuses a timestamp more than an hour off.

The robot answers HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``. After the shared status
rule: errcode 0 is delivered; 130101 (sending too fast: 20 messages a minute) and -1 (system
busy) are retried; 310000 (signature, keyword or IP allow-list mismatch), 300001 (bad token)
and everything else are given up, because resending the same request cannot fix them.
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
    Mobile,
    NotifierOptions,
    Timeout,
    check_errcode,
    neutralize,
    truncate,
)
from monitor.models import Notification

DINGTALK_URL = "https://oapi.dingtalk.com/robot/send"
TEXT_LIMIT = 18_000  # bytes of markdown text; DingTalk rejects a request body over 20 000
RETRYABLE = {130101: "rate_limited", -1: "busy"}


class DingtalkOptions(NotifierOptions):
    token_env: EnvName  # env var holding the robot's access_token
    secret_env: EnvName | None = None  # env var holding the signing secret
    url: HttpUrl = DINGTALK_URL  # override for a proxy or a test server
    at_mobiles: dict[str, list[Mobile]] = {}  # contact id -> mobiles to @
    at_all: bool = False
    timeout: Timeout = DEFAULT_TIMEOUT_SECONDS


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign`` parameter before URL encoding (the HTTP client encodes it)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingtalkNotifier(HttpNotifier):
    """Posts to a DingTalk custom robot.

    notifier = build_notifier("pr-dingtalk", "dingtalk", {"token_env": "DT_TOKEN", "secret_env": "DT_SECRET"})
    notifier.send(notification)     # NotifyError(retryable=False, reason="errcode") on 310000
    """

    kind: ClassVar[str] = "dingtalk"
    Options = DingtalkOptions
    options: DingtalkOptions

    SECRETS: ClassVar[Mapping[str, str]] = {
        "token_env": "the DingTalk robot's access_token",
        "secret_env": "the DingTalk robot's secret",
    }

    def configure(self, *, file: str | None, key_path: str | None) -> None:
        self._token, self._secret = self.required_secret("token_env"), self.secret("secret_env")

    def message(self, n: Notification) -> dict[str, Any]:
        mobiles = self.options.at_mobiles.get(n.contact, [])
        # DingTalk highlights an @ only when "@<mobile>" is also in the text.
        tail = "\n\n" + " ".join(f"@{m}" for m in mobiles) if mobiles else ""
        head = f"#### {neutralize(truncate(n.subject, 200))}\n\n"
        # One paragraph per line: DingTalk's renderer drops single newlines.
        lines = [line for line in neutralize(n.body).splitlines() if line.strip()]
        body = truncate("\n\n".join(lines), TEXT_LIMIT - len((head + tail).encode()), encoding="utf-8")
        return {
            "msgtype": "markdown",
            # the title is what the chat list and the phone notification show; plain text
            "markdown": {"title": truncate(n.subject, 64), "text": head + body + tail},
            "at": {"atMobiles": mobiles, "isAtAll": self.options.at_all},
        }

    def send(self, notification: Notification) -> None:
        params = {"access_token": self._token}
        if self._secret:
            timestamp = int(time.time() * 1000)
            params.update(timestamp=str(timestamp), sign=sign(self._secret, timestamp))
        # The outbox id rides along (the robot ignores it) so a relay or test receiver can drop
        # the one duplicate a crash mid-send may cause.
        response = self.post(
            self.options.url,
            params=params,
            json=self.message(notification),
            headers={IDEMPOTENCY_HEADER: str(notification.outbox_id)},
        )
        check_errcode(self.id, response, retryable=RETRYABLE, secrets=self.secrets)
