"""企业微信 (WeCom) group robot notifier: one message per notification to a group chat.

    notifiers:
      - id: brand-wecom
        kind: wecom
        key_env: BRANDPULSE_WECOM_KEY     # the robot's webhook key (the `key=` of its URL)
        msgtype: markdown                 # markdown (default) or text
        mentioned_list: {zhang-san: [ZhangSan]}           # contact id -> WeCom user ids to @
        mentioned_mobile_list: {li-si: ["13800000000"]}   # contact id -> mobiles to @ (text only)

The robot answers HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; after the shared status
rule, errcode 0 is delivered, 45009 (rate limit: 20 messages a minute per robot) and -1
(system busy) are retried, anything else (93000 invalid key, 40008 bad message, ...) is given
up. A group robot needs no access token, so there is nothing to refresh.

Mentions: markdown messages @ people by user id (``<@userid>``, appended by us); only text
messages can @ by mobile number, so ``mentioned_mobile_list`` requires ``msgtype: text``.
Quoted mention texts are neutralised (see ``base.neutralize``): a post saying ``<@all>`` or
``[官方声明](https://…)`` cannot page the group or hide a link.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

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

WECOM_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
# The API's limits, in UTF-8 bytes; a longer message is rejected (errcode 40058), not cut.
MARKDOWN_LIMIT = 4096
TEXT_LIMIT = 2048
RETRYABLE = {45009: "rate_limited", -1: "busy"}

# A mobile number, or "@all" as WeCom documents for the mention lists.
WecomMobile = Annotated[str, Field(pattern=r"^(@all|\+?[0-9][0-9-]{4,19})$")]


class WecomOptions(NotifierOptions):
    key_env: EnvName  # env var holding the robot key
    url: HttpUrl = WECOM_URL  # override for a proxy or a test server
    msgtype: Literal["markdown", "text"] = "markdown"
    mentioned_list: dict[str, list[str]] = {}  # contact id -> WeCom user ids ("@all" in text messages)
    mentioned_mobile_list: dict[str, list[WecomMobile]] = {}  # contact id -> mobiles (text messages only)
    timeout: Timeout = DEFAULT_TIMEOUT_SECONDS

    @model_validator(mode="after")
    def _mentions_fit_msgtype(self) -> WecomOptions:
        if self.mentioned_mobile_list and self.msgtype != "text":
            raise ValueError(
                "mentioned_mobile_list needs msgtype: text "
                "(WeCom markdown messages can only @ by user id: use mentioned_list)"
            )
        return self


class WecomNotifier(HttpNotifier):
    """Posts to a WeCom group robot.

    notifier = build_notifier("brand-wecom", "wecom", {"key_env": "BRANDPULSE_WECOM_KEY"})
    notifier.send(notification)     # NotifyError(retryable=True, reason="rate_limited") on 45009
    """

    kind: ClassVar[str] = "wecom"
    Options = WecomOptions
    options: WecomOptions

    SECRETS: ClassVar[Mapping[str, str]] = {"key_env": "the WeCom robot's webhook key"}

    def configure(self, *, file: str | None, key_path: str | None) -> None:
        self._key = self.required_secret("key_env")

    def message(self, n: Notification) -> dict[str, Any]:
        users = self.options.mentioned_list.get(n.contact, [])
        if self.options.msgtype == "text":
            text = truncate(f"{n.subject}\n\n{neutralize(n.body, 'plain')}", TEXT_LIMIT, encoding="utf-8")
            return {
                "msgtype": "text",
                "text": {
                    "content": text,
                    "mentioned_list": users,
                    "mentioned_mobile_list": self.options.mentioned_mobile_list.get(n.contact, []),
                },
            }
        tail = "".join(f"<@{u}>" for u in users if u != "@all")
        tail = f"\n{tail}" if tail else ""
        head = f"**{neutralize(truncate(n.subject, 200))}**\n"
        budget = MARKDOWN_LIMIT - len((head + tail).encode())
        body = truncate(neutralize(n.body.rstrip("\n")), budget, encoding="utf-8")
        return {"msgtype": "markdown", "markdown": {"content": head + body + tail}}

    def send(self, notification: Notification) -> None:
        # The outbox id rides along (the robot ignores it) so a relay or test receiver can drop
        # the one duplicate a crash mid-send may cause.
        response = self.post(
            self.options.url,
            params={"key": self._key},
            json=self.message(notification),
            headers={IDEMPOTENCY_HEADER: str(notification.outbox_id)},
        )
        check_errcode(self.id, response, retryable=RETRYABLE, secrets=self.secrets)
