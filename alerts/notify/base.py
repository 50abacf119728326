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

Chat channels (WeCom, DingTalk, Feishu) answer HTTP 200 with an error code in the JSON body;
``check_errcode`` applies that second rule after the status rule. ``HttpNotifier`` is the
plumbing every HTTP channel shares (client, timeout, POST, both rules, secret scrubbing), and
``neutralize`` turns rendered text, which quotes mentions written by strangers, into markup
that cannot link, ping or format anything.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

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


def _http_url(value: str) -> str:
    try:
        parsed = httpx.URL(value)
    except (httpx.InvalidURL, TypeError):
        raise ValueError("url is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"url must be http:// or https:// with a host, got {redact_url(value)!r}")
    return value


# Field types the kinds' Options models share.
HttpUrl = Annotated[str, AfterValidator(_http_url)]  # http(s) URL; shown redacted in errors
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]  # names an environment variable
Timeout = Annotated[float, Field(gt=0, le=300)]  # seconds for one delivery attempt
Mobile = Annotated[str, Field(pattern=r"^\+?[0-9][0-9-]{4,19}$")]  # a phone number a chat robot can @

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


def _where(response: httpx.Response) -> str:
    try:
        return redact_url(response.request.url)
    except RuntimeError:  # a Response built without a request (tests, custom transports)
        return "the receiver"


def check_http_status(channel: str, response: httpx.Response, detail: str = "") -> None:
    """Apply the shared status rule; raise NotifyError unless the response is 2xx.

    ``detail`` (e.g. Slack's error word) is added to the message; it must hold no secret.
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    where = _where(response)
    if status == 429 or status >= 500:
        # Retry-After is quoted so an operator sees how hard the receiver is pushing back.
        after = response.headers.get("Retry-After", "")
        hint = f" (Retry-After: {after})" if re.fullmatch(r"[0-9]{1,6}", after) else ""
        raise NotifyError(
            f"HTTP {status} from {where}{hint}{detail}; will retry",
            channel=channel,
            retryable=True,
            reason="http_429" if status == 429 else "http_5xx",
        )
    raise NotifyError(
        f"HTTP {status} from {where}{detail}; the receiver rejected the request, not retrying",
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


def env_secret(
    environ: Mapping[str, str],
    variable: str,
    *,
    option: str,
    purpose: str,
    file: str | None = None,
    key_path: str | None = None,
) -> str:
    """The value of ``variable``; a ConfigError naming the variable (never a value) when unset.

    Args:
        option: the option that named the variable (e.g. "token_env"), for the key path.
        purpose: what the value is, for the message (e.g. "the webhook's bearer token").
    """
    value = environ.get(variable, "").strip()
    if not value:
        raise ConfigError(
            f"environment variable {variable!r} is not set or empty (it should hold {purpose})",
            file=file,
            key_path=f"{key_path}.{option}" if key_path else option,
        )
    return value


def secrets_from_env(
    environ: Mapping[str, str] | None,
    options: BaseModel,
    purposes: Mapping[str, str],
    *,
    file: str | None = None,
    key_path: str | None = None,
) -> dict[str, str | None]:
    """Read every ``*_env`` option named in ``purposes`` (option -> what its value is).

    An option left unset in the config gives None; a set option whose variable is missing or
    empty raises the ConfigError of :func:`env_secret`. ``environ`` None means os.environ.
    """
    env = os.environ if environ is None else environ
    found: dict[str, str | None] = {}
    for option, purpose in purposes.items():
        variable = getattr(options, option)
        found[option] = (
            env_secret(env, variable, option=option, purpose=purpose, file=file, key_path=key_path)
            if variable
            else None
        )
    return found


class HttpNotifier:
    """What the HTTP channels share: one httpx client, POST, the status rule, scrubbed errors.

    class ChatNotifier(HttpNotifier):
        kind = "chat"

        def send(self, notification):
            response = self.post(self.url, json={"text": notification.body})
            check_errcode(self.id, response, retryable={45009: "rate_limited"}, secrets=self.secrets)

    A channel declares its ``*_env`` options in ``SECRETS`` (option -> what the variable
    holds, for the error message); they are read once here, ``self.secret(option)`` returns
    them, and every one of them (tokens, keys, secret URLs) is scrubbed from every error text.
    ``configure()`` derives what the channel needs from its options and secrets, ``headers()``
    adds request headers (e.g. a bearer token).
    """

    kind: ClassVar[str]
    SECRETS: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        notifier_id: str,
        options: Any,
        *,
        environ: Mapping[str, str] | None = None,
        file: str | None = None,
        key_path: str | None = None,
    ) -> None:
        self.id = notifier_id
        self.options = options
        self._env_values = secrets_from_env(environ, options, self.SECRETS, file=file, key_path=key_path)
        self.secrets: list[str] = [s for s in self._env_values.values() if s]
        self.configure(file=file, key_path=key_path)
        self._client = httpx.Client(
            timeout=options.timeout,
            headers={"User-Agent": "BrandPulse-notifier", **self.headers()},
            follow_redirects=False,  # a redirect would resend the payload (and secrets) elsewhere
        )

    def secret(self, option: str) -> str | None:
        """The value of the variable the ``option`` (one of SECRETS) names; None when unset."""
        return self._env_values[option]

    def required_secret(self, option: str) -> str:
        """Like :meth:`secret` for an option the Options model requires."""
        value = self._env_values[option]
        if value is None:
            raise ValueError(f"{type(self).__name__}: {option} is required by its Options model")
        return value

    def configure(self, *, file: str | None, key_path: str | None) -> None:
        """Derive channel state from options and secrets; raise ConfigError for bad values."""

    def headers(self) -> dict[str, str]:
        """Headers sent with every request of this channel."""
        return {}

    def post(
        self,
        url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST and apply the status rule; transport failures become retryable NotifyErrors."""
        try:
            response = self._client.post(url, json=json, content=content, headers=headers, params=params)
        except httpx.HTTPError as exc:
            raise transport_error(self.id, exc, url, self.secrets) from None
        check_http_status(self.id, response, self.explain(response) if response.is_error else "")
        return response

    def explain(self, response: httpx.Response) -> str:
        """Extra words for a failed response's error text (override; never return secrets)."""
        return ""

    def close(self) -> None:
        self._client.close()


def check_errcode(
    channel: str,
    response: httpx.Response,
    *,
    code_keys: tuple[str, ...] = ("errcode",),
    message_keys: tuple[str, ...] = ("errmsg",),
    retryable: Mapping[int, str] | None = None,
    secrets: Iterable[str | None] = (),
) -> None:
    """The chat APIs' second rule, after the status rule: a JSON body whose code is 0.

    Args:
        code_keys, message_keys: where the code and its message are (first key present wins).
        retryable: code -> reason label for codes worth retrying (rate limits, "system busy");
            every other non-zero code is permanent (bad key, bad signature, bad payload).
    """
    try:
        data = response.json()
    except ValueError:
        data = None
    code = None
    if isinstance(data, dict):
        code = next((data[k] for k in code_keys if k in data), None)
    where = _where(response)
    if not isinstance(code, int) or isinstance(code, bool):
        # Not the API we think (a proxy's page, a truncated body): we cannot tell whether the
        # message went out, and losing an alert is worse than sending it twice.
        raise NotifyError(
            f"HTTP {response.status_code} from {where} without a numeric {code_keys[0]!r} in the body; will retry",
            channel=channel,
            retryable=True,
            reason="bad_response",
        )
    if code == 0:
        return
    assert isinstance(data, dict)
    text = next((str(data[k]) for k in message_keys if k in data), "")
    text = scrub(text, secrets)[:200]
    codes = retryable or {}
    if code in codes:
        raise NotifyError(
            f"{code_keys[0]} {code} ({text!r}) from {where}; will retry",
            channel=channel,
            retryable=True,
            reason=codes[code],
        )
    raise NotifyError(
        f"{code_keys[0]} {code} ({text!r}) from {where}; the receiver rejected the message, not retrying",
        channel=channel,
        retryable=False,
        reason="errcode",
    )


# --- text that quotes strangers -----------------------------------------------------------

# Look-alike full-width forms: they read the same in a Chinese message and no renderer treats
# them as syntax, whether or not it honours backslash escapes (WeCom's and DingTalk's
# markdown dialects are not documented to).
_FULLWIDTH = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］"})
_ANGLES = str.maketrans({"<": "＜", ">": "＞"})
_MENTION = re.compile(r"(?<![\w.+-])@(?=\w)")  # @all, @13800000000, @张三; not a@b.com
_MD_ESCAPE = re.compile(r"[\\`*~]|(?<!\w)_|_(?!\w)|^[ \t]*#", re.MULTILINE)  # emphasis, code, headings
ZWSP = "\u200b"  # zero-width space: splits "@all" so no channel resolves it as a mention


def neutralize(text: str, flavor: Literal["markdown", "slack", "plain"] = "markdown") -> str:
    """Plain text -> markup that shows the same words and cannot link, ping or format.

    Rendered messages quote mention texts written by anyone on the internet; a quoted
    ``[官方声明](https://evil.example)``, ``<@all>``, ``<at user_id="all">`` or ``<!channel>``
    must not become a link or page a whole group.

    - "markdown" (WeCom, DingTalk, Feishu): ``< > [ ]`` become full-width look-alikes (no
      links, images, HTML/font tags, ``<@id>``/``<at>`` mentions or quotes), emphasis, code
      and heading markers are backslash-escaped; ``_`` inside words (URLs) is left alone.
    - "slack": ``& < >`` become ``&amp; &lt; &gt;``, as Slack documents, which disarms
      ``<!channel>``, ``<@U123>`` and ``<url|text>`` links.

    - "plain" (WeCom text, Feishu rich-text lines): only ``< >`` become full-width, so no
      ``<at user_id="all">`` is ever parsed; nothing else changes (no escapes show up).

    All put a zero-width space after a leading ``@`` (``@all`` -> ``@\u200ball``).

        neutralize("[点我](https://x.example) @all")  # '［点我］(https://x.example) @\u200ball'
    """
    if flavor == "slack":
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    elif flavor == "plain":
        text = text.translate(_ANGLES)
    else:
        text = _MD_ESCAPE.sub(lambda m: m.group(0)[:-1] + "\\" + m.group(0)[-1], text)
        text = text.translate(_FULLWIDTH)
    return _MENTION.sub("@" + ZWSP, text)


def truncate(text: str, limit: int, *, encoding: str | None = None, marker: str = "…") -> str:
    """``text`` cut to ``limit`` characters (or bytes in ``encoding``), the cut marked.

    The chat APIs reject an over-long message outright (WeCom: 4096 bytes of markdown), and a
    shortened alert is better than none.
    """

    def size(s: str) -> int:
        return len(s.encode(encoding)) if encoding else len(s)

    if size(text) <= limit:
        return text
    budget = limit - size(marker)
    if encoding:
        cut = text.encode(encoding)[: max(budget, 0)].decode(encoding, errors="ignore")
    else:
        cut = text[: max(budget, 0)]
    return cut + marker
