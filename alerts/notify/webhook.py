"""The generic JSON webhook notifier: one POST per notification.

    notifiers:
      - id: ops-webhook
        kind: webhook
        url: "https://hooks.example.com/brandpulse"
        token_env: BRANDPULSE_WEBHOOK_TOKEN     # optional: sent as "Authorization: Bearer <value>"
        headers: {X-Team: brand}                # optional extra headers
        timeout: 10                             # optional, seconds

The body is JSON: notification (outbox id), alert, brand, level, state, reason, channel,
contact, subject, body, evidence, drill, attempt. Every retry of the same notification
carries the same ``X-BrandPulse-Notification`` header, so a receiver can drop duplicates
(delivery is at least once: a crash after the POST but before recording it resends it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from pydantic import Field, field_validator

from alerts.notify.base import (
    DEFAULT_TIMEOUT_SECONDS,
    IDEMPOTENCY_HEADER,
    NotifierOptions,
    check_http_status,
    redact_url,
    transport_error,
)
from monitor.errors import ConfigError
from monitor.models import Notification


class WebhookOptions(NotifierOptions):
    url: str
    token_env: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"
    )  # env var holding a bearer token
    headers: dict[str, str] = {}
    timeout: float = Field(default=DEFAULT_TIMEOUT_SECONDS, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            parsed = httpx.URL(value)
        except (httpx.InvalidURL, TypeError):
            raise ValueError("url is not a valid URL") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"url must be http:// or https:// with a host, got {redact_url(value)!r}")
        return value

    @field_validator("headers")
    @classmethod
    def _no_auth_header(cls, value: dict[str, str]) -> dict[str, str]:
        if any(k.lower() == "authorization" for k in value):
            # A secret written into the config file: keep it in the environment instead.
            raise ValueError(
                "put the token in an environment variable and name it in token_env, "
                "not in headers.Authorization"
            )
        return value


class WebhookNotifier:
    """POSTs each notification as JSON to one URL.

    notifier = WebhookNotifier("ops", WebhookOptions(url="http://127.0.0.1:9999/hook"))
    notifier.send(notification)     # raises NotifyError(retryable=...) on failure
    """

    kind: ClassVar[str] = "webhook"
    Options = WebhookOptions

    def __init__(
        self,
        notifier_id: str,
        options: WebhookOptions,
        *,
        environ: Mapping[str, str] | None = None,
        file: str | None = None,
        key_path: str | None = None,
    ) -> None:
        self.id = notifier_id
        self.options = options
        env = os.environ if environ is None else environ
        self._token: str | None = None
        if options.token_env:
            token = env.get(options.token_env, "")
            if not token.strip():
                where = f"{key_path}.token_env" if key_path else "token_env"
                raise ConfigError(
                    f"environment variable {options.token_env!r} is not set or empty "
                    f"(it should hold the webhook's bearer token)",
                    file=file,
                    key_path=where,
                )
            self._token = token.strip()
        headers = {"User-Agent": "BrandPulse-notifier", **options.headers}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        self._client = httpx.Client(timeout=options.timeout, headers=headers, follow_redirects=False)

    def payload(self, n: Notification) -> dict[str, Any]:
        return {
            "notification": n.outbox_id,
            "alert": n.alert_id,
            "brand": n.brand,
            "level": n.level,
            "level_name": n.payload.get("level_name", n.level),
            "state": n.payload.get("state"),
            "reason": n.reason.value,
            "channel": n.channel,
            "contact": n.contact,
            "subject": n.subject,
            "body": n.body,
            "evidence": n.payload.get("evidence", {}),
            "drill": n.drill,
            "attempt": n.attempt,
        }

    def send(self, notification: Notification) -> None:
        url = self.options.url
        try:
            response = self._client.post(
                url,
                json=self.payload(notification),
                headers={IDEMPOTENCY_HEADER: str(notification.outbox_id)},
            )
        except httpx.HTTPError as exc:
            raise transport_error(self.id, exc, url, [self._token]) from None
        check_http_status(self.id, response)

    def close(self) -> None:
        self._client.close()
