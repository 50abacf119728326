"""The generic JSON webhook notifier: one POST per notification, optionally HMAC-signed.

    notifiers:
      - id: ops-webhook
        kind: webhook
        url: "https://hooks.example.com/brandpulse"
        token_env: BRANDPULSE_WEBHOOK_TOKEN     # optional: sent as "Authorization: Bearer <value>"
        secret_env: BRANDPULSE_WEBHOOK_SECRET   # optional: sign each body with HMAC-SHA256
        headers: {X-Team: brand}                # optional extra headers
        timeout: 10                             # optional, seconds

The body is JSON: notification (outbox id), alert, brand, level, state, reason, channel,
contact, subject, body, evidence, drill, attempt. Every retry of the same notification
carries the same ``X-BrandPulse-Notification`` header, so a receiver can drop duplicates
(delivery is at least once: a crash after the POST but before recording it resends it).

With ``secret_env`` every request also carries ``X-BrandPulse-Timestamp: <unix seconds>`` and
``X-BrandPulse-Signature: sha256=<hex>``, the HMAC-SHA256 of ``<timestamp>.<raw body>`` keyed
with the secret (GitHub's and Stripe's scheme). A receiver recomputes it over the bytes it
received, compares in constant time and rejects old timestamps to stop replays:

    expected = hmac.new(secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(header, "sha256=" + expected) and abs(time.time() - int(ts)) < 300
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import field_validator

from alerts.notify.base import (
    DEFAULT_TIMEOUT_SECONDS,
    IDEMPOTENCY_HEADER,
    EnvName,
    HttpNotifier,
    HttpUrl,
    NotifierOptions,
    Timeout,
)
from monitor.models import Notification

SIGNATURE_HEADER = "X-BrandPulse-Signature"
TIMESTAMP_HEADER = "X-BrandPulse-Timestamp"


class WebhookOptions(NotifierOptions):
    url: HttpUrl
    token_env: EnvName | None = None  # env var holding a bearer token
    secret_env: EnvName | None = None  # env var holding the HMAC signing secret
    headers: dict[str, str] = {}
    timeout: Timeout = DEFAULT_TIMEOUT_SECONDS

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


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-BrandPulse-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookNotifier(HttpNotifier):
    """POSTs each notification as JSON to one URL.

    notifier = WebhookNotifier("ops", WebhookOptions(url="http://127.0.0.1:9999/hook"))
    notifier.send(notification)     # raises NotifyError(retryable=...) on failure
    """

    kind: ClassVar[str] = "webhook"
    Options = WebhookOptions
    options: WebhookOptions

    SECRETS: ClassVar[Mapping[str, str]] = {
        "token_env": "the webhook's bearer token",
        "secret_env": "the webhook's signing secret",
    }

    def configure(self, *, file: str | None, key_path: str | None) -> None:
        self._token, self._secret = self.secret("token_env"), self.secret("secret_env")

    def headers(self) -> dict[str, str]:
        headers = dict(self.options.headers)
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

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
        # Serialised here, not by httpx, so the signature covers exactly the bytes sent.
        body = json.dumps(self.payload(notification), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: str(notification.outbox_id)}
        if self._secret:
            timestamp = int(time.time())
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, body)
        self.post(self.options.url, content=body, headers=headers)
