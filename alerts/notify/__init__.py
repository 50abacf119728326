"""Notifier kinds: the one table a new channel is added to.

    NOTIFIER_KINDS = {"console": ConsoleNotifier, "webhook": WebhookNotifier, "wecom": WecomNotifier, ...}

A kind is a class with ``kind`` (the config spelling), an ``Options`` pydantic model (its own
keys, unknown keys rejected), a constructor ``(notifier_id, options, *, environ, file,
key_path)`` and ``send(notification)``. Add a channel by writing
``alerts/notify/<kind>.py`` and one line here:

    notifier = build_notifier("ops-webhook", "webhook", {"url": "https://...", "token_env": "HOOK_TOKEN"})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alerts.notify.alertmanager import AlertmanagerNotifier
from alerts.notify.base import Notifier, validate_options
from alerts.notify.console import ConsoleNotifier
from alerts.notify.dingtalk import DingtalkNotifier
from alerts.notify.email import EmailNotifier
from alerts.notify.feishu import FeishuNotifier
from alerts.notify.slack import SlackNotifier
from alerts.notify.webhook import WebhookNotifier
from alerts.notify.wecom import WecomNotifier
from monitor.errors import ConfigError

NOTIFIER_KINDS: dict[str, Any] = {
    "console": ConsoleNotifier,
    "webhook": WebhookNotifier,
    "wecom": WecomNotifier,
    "dingtalk": DingtalkNotifier,
    "feishu": FeishuNotifier,
    "slack": SlackNotifier,
    "email": EmailNotifier,
    "alertmanager": AlertmanagerNotifier,
}

__all__ = ["NOTIFIER_KINDS", "Notifier", "build_notifier", "resolve_notifier_kind"]


def resolve_notifier_kind(kind: str, *, file: str | None = None, key_path: str | None = None) -> Any:
    """The notifier class for ``kind``; ConfigError naming the valid kinds otherwise."""
    cls = NOTIFIER_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ConfigError(
            f"unknown notifier kind {kind!r} (valid: {', '.join(sorted(NOTIFIER_KINDS))})",
            file=file,
            key_path=f"{key_path}.kind" if key_path else "kind",
        )
    return cls


def build_notifier(
    notifier_id: str,
    kind: str,
    options: Mapping[str, Any],
    *,
    file: str | None = None,
    key_path: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Notifier:
    """Validate ``options`` with the kind's own model and build the notifier.

    Args:
        notifier_id: the config's id for this channel (what contacts' ``channels`` name).
        kind: e.g. "webhook"; see NOTIFIER_KINDS.
        options: every key of the config entry except ``id`` and ``kind``.
        file, key_path: where the entry is (e.g. "config.yaml", "notifiers[1]"), for messages.
        environ: where ``token_env`` variables are read (default: os.environ).
    """
    cls = resolve_notifier_kind(kind, file=file, key_path=key_path)
    opts = validate_options(cls.Options, options, file=file, key_path=key_path)
    return cls(notifier_id, opts, environ=environ, file=file, key_path=key_path)  # type: ignore[no-any-return]
