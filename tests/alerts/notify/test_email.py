"""The email notifier against a real SMTP server (aiosmtpd on 127.0.0.1, a free port).

STARTTLS, implicit TLS and AUTH use a throwaway self-signed certificate made with the
``openssl`` command line tool (the `cryptography` package is not a dependency); where that
tool is missing those tests are skipped and plain SMTP is still tested.
"""

from __future__ import annotations

import email
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alerts.notify import build_notifier
from alerts.notify.base import Notifier
from monitor.errors import ConfigError, NotifyError

from . import conformance

PASSWORD = "smtp-p4ss-w0rd"
ENV = {"SMTP_PASSWORD": PASSWORD}


class Recorder:
    """aiosmtpd handler: records accepted messages; replies can be set per test."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.rcpt_reply: dict[str, str] = {}  # address -> reply
        self.data_reply = "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        reply = self.rcpt_reply.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply.startswith("250"):
            self.messages.append(envelope)
        return self.data_reply

    def parsed(self, i: int = -1) -> email.message.EmailMessage:
        return email.message_from_bytes(self.messages[i].original_content, policy=policy.default)  # type: ignore[return-value]


class LoopbackSMTP(Controller):
    """aiosmtpd's Controller on port 0: the bound port is read back before the readiness probe."""

    def _create_server(self) -> Any:
        async def create() -> Any:
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=0, ssl=self.ssl_context
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"bp" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def smtp() -> Iterator[tuple[LoopbackSMTP, Recorder]]:
    handler = Recorder()
    controller = LoopbackSMTP(handler, hostname="127.0.0.1")
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not found: TLS tests need a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    crt, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return crt, key


def make(port: int, **extra: Any) -> Notifier:
    options = {
        "host": "127.0.0.1",
        "port": port,
        "from_address": "BrandPulse 舆情 <brandpulse@acme.example>",
        "to": ["pr-duty@acme.example"],
        "recipients": {"zhang-san": ["zhang.san@acme.example", "张三 <zs@acme.example>"]},
        "timeout": 5,
        **extra,
    }
    return build_notifier("pr-email", "email", options, environ=ENV)


def test_delivers_multipart_utf8_with_escaped_html(smtp: Any) -> None:
    controller, handler = smtp
    body = "负面提及 32 条\n样例：<script>alert(1)</script> & <a href='https://evil.example'>退款</a>\n"
    make(controller.port).send(conformance.sample_notification(outbox_id=77, body=body))
    [envelope] = handler.messages
    assert envelope.mail_from == "brandpulse@acme.example"
    assert envelope.rcpt_tos == ["zhang.san@acme.example", "zs@acme.example"]  # the contact's own addresses
    raw = envelope.original_content
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0].lower()  # the header is RFC 2047-encoded, not raw UTF-8
    msg = handler.parsed()
    assert msg["Subject"] == "【预警】阿克米咖啡 负面舆情出现异常升高"
    assert msg["X-BrandPulse-Notification"] == "77"
    assert msg["Message-ID"] == "<brandpulse.77.3@acme.example>"
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert plain.replace("\r\n", "\n") == body
    assert "<script>" not in html and "<a href" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;a href=&#x27;https://evil.example&#x27;&gt;" in html
    assert "<title>【预警】阿克米咖啡 负面舆情出现异常升高</title>" in html


def test_default_recipients_and_contacts_without_any(smtp: Any) -> None:
    controller, handler = smtp
    make(controller.port).send(conformance.sample_notification(contact="li-si"))
    assert handler.messages[-1].rcpt_tos == ["pr-duty@acme.example"]
    notifier = make(controller.port, to=[], recipients={"zhang-san": ["z@acme.example"]})
    with pytest.raises(NotifyError) as info:
        notifier.send(conformance.sample_notification(contact="li-si"))
    assert (info.value.retryable, info.value.reason) == (False, "no_recipient")
    assert "contact 'li-si'" in str(info.value)


@pytest.mark.parametrize(
    ("reply", "retryable", "reason"),
    [("451 4.3.0 Try again later", True, "smtp_4xx"), ("550 5.7.1 Message rejected", False, "smtp_5xx")],
)
def test_data_replies_are_classified(smtp: Any, reply: str, retryable: bool, reason: str) -> None:
    controller, handler = smtp
    handler.data_reply = reply
    with pytest.raises(NotifyError) as info:
        make(controller.port).send(conformance.sample_notification())
    assert (info.value.retryable, info.value.reason) == (retryable, reason)
    assert reply in str(info.value) and f"SMTP 127.0.0.1:{controller.port}" in str(info.value)


def test_recipient_refusals(smtp: Any) -> None:
    controller, handler = smtp
    handler.rcpt_reply = {"pr-duty@acme.example": "550 5.1.1 No such user"}
    with pytest.raises(NotifyError) as info:
        make(controller.port).send(conformance.sample_notification(contact="li-si"))
    assert (info.value.retryable, info.value.reason) == (False, "smtp_5xx")
    handler.rcpt_reply = {"pr-duty@acme.example": "452 4.2.2 Mailbox full"}
    with pytest.raises(NotifyError) as info:
        make(controller.port).send(conformance.sample_notification(contact="li-si"))
    assert (info.value.retryable, info.value.reason) == (True, "smtp_4xx")
    # one of two refused: delivered to the other, not resent (that would duplicate it)
    handler.rcpt_reply = {"zs@acme.example": "550 5.1.1 No such user"}
    make(controller.port).send(conformance.sample_notification())
    assert handler.messages[-1].rcpt_tos == ["zhang.san@acme.example"]


def _serve_once(behaviour: str) -> tuple[int, threading.Thread]:
    """A socket that accepts and then says nothing ("silent") or hangs up ("close")."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        conn, _ = listener.accept()
        if behaviour == "close":
            conn.close()
        else:
            conn.recv(1)  # until the client gives up
            conn.close()
        listener.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def test_network_failures_are_retryable() -> None:
    port, _ = _serve_once("silent")
    with pytest.raises(NotifyError) as info:
        make(port, timeout=0.3).send(conformance.sample_notification())
    assert (info.value.retryable, info.value.reason) == (True, "timeout")
    port, _ = _serve_once("close")
    with pytest.raises(NotifyError) as info:
        make(port).send(conformance.sample_notification())
    assert (info.value.retryable, info.value.reason) == (True, "disconnected")
    refused = int(conformance.closed_port_url().split(":")[2].split("/")[0])
    with pytest.raises(NotifyError) as info:
        make(refused).send(conformance.sample_notification())
    assert (info.value.retryable, info.value.reason) == (True, "connect")


def _tls_controller(handler: Recorder, cert: tuple[Path, Path], *, implicit: bool) -> LoopbackSMTP:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    if implicit:
        return LoopbackSMTP(handler, hostname="127.0.0.1", ssl_context=context)
    return LoopbackSMTP(
        handler,
        hostname="127.0.0.1",
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
    )


def test_starttls_with_login(cert: tuple[Path, Path]) -> None:
    handler = Recorder()
    controller = _tls_controller(handler, cert, implicit=False)
    controller.start()
    try:
        tls = {"starttls": True, "ca_file": str(cert[0]), "username": "bp", "password_env": "SMTP_PASSWORD"}
        make(controller.port, **tls).send(conformance.sample_notification())
        assert handler.parsed()["Subject"] == "【预警】阿克米咖啡 负面舆情出现异常升高"
        # a wrong password: permanent, and the password never shows
        wrong = build_notifier(
            "pr-email",
            "email",
            {"host": "127.0.0.1", "port": controller.port, "from_address": "bp@acme.example", "to": ["a@acme.example"],
             **tls},
            environ={"SMTP_PASSWORD": "wrong-p4ss"},
        )  # fmt: skip
        with pytest.raises(NotifyError) as info:
            wrong.send(conformance.sample_notification())
        assert (info.value.retryable, info.value.reason) == (False, "auth")
        assert "wrong-p4ss" not in str(info.value) and PASSWORD not in str(info.value)
        # the system CAs do not trust our certificate: a permanent TLS failure
        untrusted = make(controller.port, starttls=True, username="bp", password_env="SMTP_PASSWORD")
        with pytest.raises(NotifyError) as info:
            untrusted.send(conformance.sample_notification())
        assert (info.value.retryable, info.value.reason) == (False, "tls")
        # without STARTTLS the server refuses the mail (530 before MAIL): permanent
        with pytest.raises(NotifyError) as info:
            make(controller.port).send(conformance.sample_notification())
        assert info.value.retryable is False and info.value.reason == "smtp_5xx"
    finally:
        controller.stop()


def test_implicit_tls(cert: tuple[Path, Path]) -> None:
    handler = Recorder()
    controller = _tls_controller(handler, cert, implicit=True)
    controller.start()
    try:
        make(controller.port, ssl=True, ca_file=str(cert[0])).send(conformance.sample_notification())
        assert len(handler.messages) == 1
    finally:
        controller.stop()


def test_options_validation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="set starttls .port 587. or ssl .port 465., not both"):
        make(25, starttls=True, ssl=True)
    with pytest.raises(ConfigError, match="password_env needs starttls or ssl"):
        make(25, username="bp", password_env="SMTP_PASSWORD")
    with pytest.raises(ConfigError, match="username and password_env go together"):
        make(25, username="bp")
    with pytest.raises(ConfigError, match=r"to\[0\]: not an email address: 'nobody'"):
        make(25, to=["nobody"])
    with pytest.raises(ConfigError, match=r"ca_file: cannot read CA file"):
        make(25, starttls=True, ca_file=str(tmp_path / "missing.pem"))
    conformance.check_missing_secret_variable(
        "email",
        {"host": "h", "from_address": "a@b.example", "to": ["c@d.example"], "ssl": True, "username": "u",
         "password_env": "NO_PASSWORD"},
        "password_env",
        ENV,
    )  # fmt: skip
    assert make(None, ssl=True).port == 465 and make(None, starttls=True).port == 587 and make(None).port == 25  # type: ignore[attr-defined]
