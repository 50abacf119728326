"""Email notifier: SMTP via smtplib, one multipart (plain text + HTML) message per notification.

    notifiers:
      - id: pr-email
        kind: email
        host: smtp.example.com
        port: 587                          # default: 465 with ssl, 587 with starttls, else 25
        starttls: true                     # upgrade the connection with STARTTLS (or ssl: true for port 465)
        username: brandpulse@example.com
        password_env: BRANDPULSE_SMTP_PASSWORD
        from_address: "BrandPulse <brandpulse@example.com>"
        to: [pr-duty@example.com]          # default recipients
        recipients:                        # contact id (from the plan) -> that contact's addresses
          zhang-san: [zhang.san@example.com]

Where a message goes: the contact's own ``recipients`` entry when there is one, otherwise
``to``; a contact with neither is a permanent failure naming the contact.

Classification (RFC 5321 reply classes): 4xx replies, a dropped connection, a refused or
timed-out connection are retried; 5xx replies, refused authentication, a failed certificate
check and a server without STARTTLS are given up. When only some recipients are refused the
message counts as delivered (resending would duplicate it for the others) and a warning is
logged. Every retry carries the same Message-ID, so mail systems can drop duplicates.
"""

from __future__ import annotations

import html
import logging
import os
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, model_validator

from alerts.notify.base import (
    DEFAULT_TIMEOUT_SECONDS,
    IDEMPOTENCY_HEADER,
    EnvName,
    NotifierOptions,
    Timeout,
    env_secret,
    scrub,
)
from monitor.errors import ConfigError, NotifyError
from monitor.models import Notification

log = logging.getLogger(__name__)


def _address(value: str) -> str:
    name, addr = parseaddr(value)
    local, _, domain = addr.rpartition("@")
    if not local or "." not in domain or any(c in value for c in "\r\n") or " " in addr:
        raise ValueError(f"not an email address: {value!r}")
    return value


Address = Annotated[str, AfterValidator(_address)]  # "a@example.com" or "Name <a@example.com>"


class EmailOptions(NotifierOptions):
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    starttls: bool = False  # STARTTLS after connecting (submission, port 587)
    ssl: bool = False  # implicit TLS from the first byte (port 465)
    username: str | None = None
    password_env: EnvName | None = None  # env var holding the SMTP password
    from_address: Address
    to: list[Address] = []  # default recipients
    recipients: dict[str, list[Address]] = {}  # contact id -> addresses
    ca_file: str | None = None  # PEM file of CAs to trust instead of the system's (a private relay)
    timeout: Timeout = DEFAULT_TIMEOUT_SECONDS

    @model_validator(mode="after")
    def _consistent(self) -> EmailOptions:
        if self.starttls and self.ssl:
            raise ValueError("set starttls (port 587) or ssl (port 465), not both")
        if (self.username is None) != (self.password_env is None):
            raise ValueError("username and password_env go together (set both or neither)")
        if self.password_env and not (self.starttls or self.ssl):
            raise ValueError("password_env needs starttls or ssl: the password would cross the network in clear")
        if not self.to and not self.recipients:
            raise ValueError("set to (default recipients) and/or recipients (per contact)")
        return self


class EmailNotifier:
    """Sends each notification as an email.

    notifier = build_notifier("pr-email", "email", {"host": "127.0.0.1", "port": 2525,
                              "from_address": "bp@example.com", "to": ["duty@example.com"]})
    notifier.send(notification)     # NotifyError(retryable=True, reason="smtp_4xx") on 451
    """

    kind: ClassVar[str] = "email"
    Options = EmailOptions

    def __init__(
        self,
        notifier_id: str,
        options: EmailOptions,
        *,
        environ: Mapping[str, str] | None = None,
        file: str | None = None,
        key_path: str | None = None,
    ) -> None:
        self.id = notifier_id
        self.options = options
        env = os.environ if environ is None else environ
        self._password = (
            env_secret(
                env,
                options.password_env,
                option="password_env",
                purpose="the SMTP password",
                file=file,
                key_path=key_path,
            )
            if options.password_env
            else None
        )
        self.port = options.port or (465 if options.ssl else 587 if options.starttls else 25)
        self._tls: ssl.SSLContext | None = None
        if options.ssl or options.starttls:
            try:
                self._tls = ssl.create_default_context(cafile=options.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"cannot read CA file {options.ca_file!r}: {exc.strerror or exc}",
                    file=file,
                    key_path=f"{key_path}.ca_file" if key_path else "ca_file",
                ) from None

    def message(self, n: Notification, to: list[str]) -> EmailMessage:
        msg = EmailMessage()  # the default policy encodes a Chinese subject as RFC 2047 UTF-8
        msg["Subject"] = n.subject
        msg["From"] = self.options.from_address
        msg["To"] = ", ".join(to)
        msg["Date"] = formatdate(usegmt=True)
        domain = parseaddr(self.options.from_address)[1].rpartition("@")[2]
        msg["Message-ID"] = f"<brandpulse.{n.outbox_id}.{n.alert_id}@{domain}>"  # the same on every retry
        msg[IDEMPOTENCY_HEADER] = str(n.outbox_id)
        msg.set_content(n.body)
        # Everything is escaped: the body quotes mention texts that may contain markup.
        subject, body = html.escape(n.subject), html.escape(n.body)
        msg.add_alternative(
            f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{subject}</title></head>\n'
            f'<body><h2 style="font-size:16px">{subject}</h2>\n'
            f'<pre style="white-space:pre-wrap;font-family:inherit">{body}</pre></body></html>\n',
            subtype="html",
        )
        return msg

    def send(self, notification: Notification) -> None:
        n = notification
        to = self.options.recipients.get(n.contact) or self.options.to
        if not to:
            raise NotifyError(
                f"no email address for contact {n.contact!r}: add it under recipients or set to",
                channel=self.id,
                retryable=False,
                reason="no_recipient",
            )
        msg = self.message(n, to)
        try:
            refused = self._deliver(msg, [parseaddr(a)[1] for a in to])
        except (smtplib.SMTPException, OSError) as exc:
            raise self._error(exc) from None
        if refused:
            codes = ",".join(sorted({str(code) for code, _ in refused.values()}))
            log.warning(
                "email partly refused channel=%s outbox=%s alert=%s refused=%s of=%s codes=%s",
                self.id,
                n.outbox_id,
                n.alert_id,
                len(refused),
                len(to),
                codes,
            )

    def _deliver(self, msg: EmailMessage, to: list[str]) -> dict[str, tuple[int, bytes]]:
        o = self.options
        smtp: smtplib.SMTP
        if o.ssl:
            smtp = smtplib.SMTP_SSL(o.host, self.port, timeout=o.timeout, context=self._tls)
        else:
            smtp = smtplib.SMTP(o.host, self.port, timeout=o.timeout)
        try:
            if o.starttls:
                smtp.starttls(context=self._tls)
            if o.username and self._password:
                smtp.login(o.username, self._password)
            return smtp.send_message(msg, from_addr=parseaddr(o.from_address)[1], to_addrs=to)
        finally:
            # Not `with smtp:` - its QUIT raises on an odd reply after the message was accepted.
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _error(self, exc: BaseException) -> NotifyError:
        where = f"{self.options.host}:{self.port}"
        retryable, reason = _classify(exc)
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, smtplib.SMTPResponseException):
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            detail = f"{exc.smtp_code} {text}"
        elif isinstance(exc, smtplib.SMTPRecipientsRefused):
            detail = "all recipients refused: " + ", ".join(
                sorted({f"{code} {msg.decode(errors='replace')}" for code, msg in exc.recipients.values()})
            )
        detail = scrub(detail, [self._password])[:300]
        verdict = "will retry" if retryable else "not retrying"
        return NotifyError(
            f"{type(exc).__name__} from SMTP {where}: {detail}; {verdict}",
            channel=self.id,
            retryable=retryable,
            reason=reason,
        )

    def close(self) -> None:
        pass


def _reply_class(code: int) -> tuple[bool, str]:
    if 400 <= code < 500:
        return True, "smtp_4xx"
    if 500 <= code < 600:
        return False, "smtp_5xx"
    return True, "smtp"  # -1: smtplib's "no reply", e.g. a greeting that never came


def _classify(exc: BaseException) -> tuple[bool, str]:
    """(retryable, reason label) for an smtplib or socket failure; order matters (subclasses)."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False, "auth"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return (True, "smtp_4xx") if codes and all(400 <= c < 500 for c in codes) else (False, "smtp_5xx")
    if isinstance(exc, smtplib.SMTPResponseException):  # sender/data refused, bad greeting or HELO
        return _reply_class(exc.smtp_code)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib reports a reply that never came as a disconnect; say it was a timeout
        return True, "timeout" if isinstance(exc.__context__, TimeoutError) else "disconnected"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return False, "unsupported"  # no STARTTLS or no AUTH offered: a configuration problem
    if isinstance(exc, smtplib.SMTPException):
        return False, "smtp"  # e.g. "No suitable authentication method found"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return False, "tls"
    if isinstance(exc, TimeoutError):
        return True, "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return True, "connect"
    return True, "network"
