"""Checks every HTTP notifier must pass (alertmanager's notifier test helpers, in Python).

A channel's test module calls these with a factory that builds its notifier for a URL:

    def make(url: str, *, timeout: float = 5.0) -> Notifier: ...

    def test_status_table(http_server):
        conformance.check_status_table(make, http_server)

The factory gets the loopback server's URL; nothing is mocked.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from alerts.notify import build_notifier
from alerts.notify.base import IDEMPOTENCY_HEADER, Notifier
from monitor.errors import ConfigError, NotifyError
from monitor.models import Notification, NotifyReason

Factory = Callable[..., Notifier]

# status -> None (delivered), True (retry later), False (give up)
STATUS_TABLE: dict[int, bool | None] = {
    200: None,
    201: None,
    204: None,
    400: False,
    401: False,
    403: False,
    404: False,
    429: True,
    500: True,
    502: True,
    503: True,
}


def sample_notification(outbox_id: int = 7, **kw: Any) -> Notification:
    values: dict[str, Any] = dict(
        outbox_id=outbox_id,
        alert_id=3,
        brand="acme",
        level="warning",
        reason=NotifyReason.FIRST,
        channel="test",
        contact="zhang-san",
        subject="【预警】阿克米咖啡 负面舆情出现异常升高",
        body="负面提及 32 条（基线约 2.7 条）\n",
        payload={"state": "firing", "level_name": "预警", "evidence": {"negative": 32, "baseline": 2.67}},
        attempt=1,
        drill=False,
    )
    values.update(kw)
    return Notification(**values)


def closed_port_url(path: str = "/hook") -> str:
    """A loopback URL nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def check_status_table(
    make: Factory, server: Any, path: str = "/hook", ok_body: bytes = b'{"ok": true}', skip: tuple[int, ...] = ()
) -> None:
    """The shared status rule. Chat APIs pass their success body (``{"errcode": 0}``) and skip
    204, which cannot carry the error code they need."""
    for status, retryable in STATUS_TABLE.items():
        if status in skip:
            continue
        server.route(path, status=status, body=ok_body if status < 300 else b"nope")
        notifier = make(server.url(path))
        if retryable is None:
            notifier.send(sample_notification())
            continue
        with pytest.raises(NotifyError) as info:
            notifier.send(sample_notification())
        assert info.value.retryable is retryable, f"HTTP {status}: retryable should be {retryable}"
        assert f"HTTP {status}" in str(info.value)
        assert info.value.channel == notifier.id
        assert info.value.reason == ("http_429" if status == 429 else f"http_{status // 100}xx")


def check_carries_outbox_id(make: Factory, server: Any, path: str = "/hook", ok_body: bytes = b'{"ok": true}') -> None:
    """Every attempt of one notification carries its outbox id in ``X-BrandPulse-Notification``,
    so a receiver can drop the one duplicate a sender killed mid-send may cause."""
    server.route(path, status=200, body=ok_body)
    notifier = make(server.url(path))
    for _ in range(2):  # a retry of the same notification
        notifier.send(sample_notification(outbox_id=4242))
    notifier.send(sample_notification(outbox_id=4243))
    assert [r.headers.get(IDEMPOTENCY_HEADER) for r in server.requests_to(path)] == ["4242", "4242", "4243"]


def check_timeout_is_retryable(make: Factory, server: Any, path: str = "/slow") -> None:
    def slow(_rec: Any) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.0)
        return 200, {}, b""

    server.route(path, handler=slow)
    notifier = make(server.url(path), timeout=0.2)
    started = time.monotonic()
    with pytest.raises(NotifyError) as info:
        notifier.send(sample_notification())
    assert time.monotonic() - started < 0.9, "the notifier must honour its timeout"
    assert info.value.retryable is True and info.value.reason == "timeout"


def check_connection_refused_is_retryable(make: Factory) -> None:
    with pytest.raises(NotifyError) as info:
        make(closed_port_url()).send(sample_notification())
    assert info.value.retryable is True and info.value.reason == "connect"


def check_no_secret_in_errors(make: Factory, server: Any, secrets: list[str], path: str = "/hook") -> None:
    """Failures of every kind leave ``secrets`` (tokens, secret URL parts) out of the error text."""
    errors: list[NotifyError] = []
    for status in (400, 401, 500):
        server.route(path, status=status, body=" ".join(secrets).encode())  # even if the receiver echoes them
        with pytest.raises(NotifyError) as info:
            make(server.url(path)).send(sample_notification())
        errors.append(info.value)
    with pytest.raises(NotifyError) as info:
        make(closed_port_url(path)).send(sample_notification())
    errors.append(info.value)
    for err in errors:
        for secret in secrets:
            assert secret not in str(err), f"secret leaked into {str(err)!r}"
            assert secret not in repr(err.args)


def check_errcode_table(
    make: Factory,
    server: Any,
    cases: dict[int, tuple[bool | None, str]],
    *,
    path: str = "/hook",
    code_key: str = "errcode",
    message_key: str = "errmsg",
) -> None:
    """A chat API's second rule: HTTP 200 with ``{code_key: code}``; each case maps a code to
    (None = delivered | retryable, reason). Also: a 200 without a code is retried."""
    for code, (retryable, reason) in cases.items():
        body = json.dumps({code_key: code, message_key: "ok" if code == 0 else f"error {code}"}).encode()
        server.route(path, status=200, body=body, headers={"Content-Type": "application/json"})
        notifier = make(server.url(path))
        if retryable is None:
            notifier.send(sample_notification())
            continue
        with pytest.raises(NotifyError) as info:
            notifier.send(sample_notification())
        assert (info.value.retryable, info.value.reason) == (retryable, reason), f"code {code}: {info.value}"
        assert f"{code_key} {code}" in str(info.value) and f"error {code}" in str(info.value)
    server.route(path, status=200, body=b"<html>proxy login</html>")
    with pytest.raises(NotifyError) as info:
        make(server.url(path)).send(sample_notification())
    assert info.value.retryable is True and info.value.reason == "bad_response"


def check_missing_secret_variable(kind: str, options: dict[str, Any], option: str, environ: dict[str, str]) -> None:
    """An unset ``*_env`` variable is a ConfigError naming the variable and the key, no value."""
    with pytest.raises(ConfigError) as info:
        build_notifier("n", kind, options, file="brandpulse.yaml", key_path="notifiers[4]", environ=environ)
    text = str(info.value)
    assert text.startswith(f"brandpulse.yaml: notifiers[4].{option}: environment variable {options[option]!r} ")
    assert "is not set or empty" in text
    for value in environ.values():
        assert value not in text
