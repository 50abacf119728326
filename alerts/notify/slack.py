"""Slack incoming-webhook notifier: one message per notification to the webhook's channel.

    notifiers:
      - id: intl-slack
        kind: slack
        url_env: BRANDPULSE_SLACK_WEBHOOK_URL   # https://hooks.slack.com/services/T…/B…/… (the URL is the secret)

Slack answers ``200 ok``. Failures carry an error word in the body, quoted in our error text:
429 (rate limited, with Retry-After) and 5xx are retried; ``400 invalid_payload``,
``403 action_prohibited``, ``404 no_service`` / ``channel_not_found``, ``410 channel_is_archived``
and other 4xx are given up.

The text is Slack mrkdwn with ``& < >`` escaped as Slack documents, so a quoted mention text
cannot ping (``<!channel>``, ``<@U123>``) or hide a link (``<https://…|官方声明>``); link
previews are off so a quoted URL is not unfurled into the channel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from alerts.notify.base import (
    DEFAULT_TIMEOUT_SECONDS,
    IDEMPOTENCY_HEADER,
    EnvName,
    HttpNotifier,
    NotifierOptions,
    Timeout,
    neutralize,
    truncate,
)
from monitor.errors import ConfigError
from monitor.models import Notification

TEXT_LIMIT = 39_000  # characters; Slack truncates a message's text beyond 40 000


class SlackOptions(NotifierOptions):
    url_env: EnvName  # env var holding the incoming-webhook URL
    timeout: Timeout = DEFAULT_TIMEOUT_SECONDS


class SlackNotifier(HttpNotifier):
    """Posts to a Slack incoming webhook.

    notifier = build_notifier("intl-slack", "slack", {"url_env": "BRANDPULSE_SLACK_WEBHOOK_URL"})
    notifier.send(notification)     # NotifyError(retryable=False) on "404 no_service"
    """

    kind: ClassVar[str] = "slack"
    Options = SlackOptions
    options: SlackOptions

    SECRETS: ClassVar[Mapping[str, str]] = {"url_env": "the Slack incoming-webhook URL"}

    def configure(self, *, file: str | None, key_path: str | None) -> None:
        self._url = self.required_secret("url_env")
        try:
            url = httpx.URL(self._url)
            valid = url.scheme in ("http", "https") and bool(url.host)
        except httpx.InvalidURL:
            valid = False
        if not valid:  # say what is wrong, never what the variable holds
            raise ConfigError(
                f"environment variable {self.options.url_env!r} does not hold an http(s) URL",
                file=file,
                key_path=f"{key_path}.url_env" if key_path else "url_env",
            )

    def message(self, n: Notification) -> dict[str, Any]:
        text = f"*{neutralize(n.subject, 'slack')}*\n{neutralize(n.body.rstrip(), 'slack')}"
        return {"text": truncate(text, TEXT_LIMIT), "unfurl_links": False, "unfurl_media": False}

    def explain(self, response: httpx.Response) -> str:
        word = response.text.strip()[:64]
        # Slack's errors are single words such as no_service; anything else is not quoted.
        return f" ({word})" if re.fullmatch(r"[a-z_]+", word) else ""

    def send(self, notification: Notification) -> None:
        self.post(self._url, json=self.message(notification), headers={IDEMPOTENCY_HEADER: str(notification.outbox_id)})
