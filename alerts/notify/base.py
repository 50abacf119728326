"""What every notifier shares: the Notifier protocol, options validation and the HTTP rules.

A notifier is one configured channel (``id`` from the config, ``kind`` such as "webhook").
``send(notification)`` returns when the message was accepted, or raises NotifyError with
``retryable`` saying whether the same message may succeed later (alertmanager's Retrier):

    2xx                 delivered
    429, 5xx            retry later (the receiver is overloaded or down)
    other 3xx/4xx       give up (the request itself is wrong: bad URL, token, payload)
    timeout, refused    retry later

Error texts never contain secrets: URLs are shown as scheme://host:port only (paths and
query strings of webhook URLs are often the secret), and token values are scrubbed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from monitor.errors import ConfigError, ConfigErrors, NotifyError
from monitor.models import Notification

# Mirrors monitor.defaults.NOTIFY_TIMEOUT_SECONDS (notifiers may not import monitor.defaults;
# tests/alerts/notify/test_webhook.py checks the two agree).
DEFAULT_TIMEOUT_SECONDS = 10.0
IDEMPOTENCY_HEADER = "X-BrandPulse-Notification"  # the outbox id: the same for every retry


@runtime_checkable
class Notifier(Protocol):
    """One configured channel. ``send`` raises NotifyError on failure, never anything else
    on purpose (the dispatcher treats other exceptions as retryable bugs)."""

    kind: ClassVar[str]
    id: str

    def send(self, notification: Notification) -> None: ...


class NotifierOptions(BaseModel):
    """Base for each kind's own options model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=NotifierOptions)


def _loc(prefix: str | None, loc: Iterable[int | str]) -> str:
    out = prefix or ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate_options(
    model: type[M], options: Mapping[str, Any], *, file: str | None = None, key_path: str | None = None
) -> M:
    """Validate a kind's options; ConfigError(s) name each bad key under ``key_path``."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = [p for p in err["loc"] if isinstance(p, int) or "[" not in str(p)]
            if err["type"] == "missing":
                msg = "required key missing"
            elif err["type"] == "extra_forbidden":
                valid = ", ".join(sorted(model.model_fields)) or "none"
                msg = f"unknown key {loc[-1]!r} (valid: {valid})"
            elif err["type"] == "value_error":
                msg = str(err.get("ctx", {}).get("error", err["msg"]))
            else:
                msg = (
                    err["msg"]
                    if isinstance(err["input"], dict | list)
                    else f"{err['msg']} (got {err['input']!r})"
                )
            problems.append(ConfigError(msg, file=file, key_path=_loc(key_path, loc) or None))
        ConfigErrors.collect(problems)
        raise AssertionError("unreachable") from exc


def redact_url(url: str | httpx.URL) -> str:
    """``https://hooks.example.com/T0/B1/secret?key=x`` -> ``https://hooks.example.com/…``."""
    parts = urlsplit(str(url))
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    tail = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{tail}"


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret value in ``text`` with ***."""
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def check_http_status(channel: str, response: httpx.Response) -> None:
    """Apply the shared status rule; raise NotifyError unless the response is 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    try:
        where = redact_url(response.request.url)
    except RuntimeError:  # a Response built without a request (tests, custom transports)
        where = "the receiver"
    if status == 429 or status >= 500:
        raise NotifyError(
            f"HTTP {status} from {where}; will retry",
            channel=channel,
            retryable=True,
            reason="http_429" if status == 429 else "http_5xx",
        )
    raise NotifyError(
        f"HTTP {status} from {where}; the receiver rejected the request, not retrying",
        channel=channel,
        retryable=False,
        reason=f"http_{status // 100}xx",
    )


def transport_error(
    channel: str, exc: httpx.HTTPError, url: str, secrets: Iterable[str | None] = ()
) -> NotifyError:
    """A network failure as a retryable NotifyError, without URL paths or secrets in its text."""
    if isinstance(exc, httpx.TimeoutException):
        reason = "timeout"
    elif isinstance(exc, httpx.ConnectError):
        reason = "connect"
    else:
        reason = "network"
    detail = scrub(str(exc) or type(exc).__name__, [url, urlsplit(url).path, urlsplit(url).query, *secrets])
    return NotifyError(
        f"{type(exc).__name__} posting to {redact_url(url)}: {detail}",
        channel=channel,
        retryable=True,
        reason=reason,
    )
