"""Mentions pushed to the daemon by platforms and listening tools (kind ``push``).

Config::

    - id: tool-push
      kind: push
      interval: 10s                   # how often the spool is handed to the pipeline
      secret_env: BP_PUSH_SECRET      # env variable holding the HMAC key shared with the sender
      window: 5m                      # accepted distance of the signed timestamp from now
      preset: weibo                   # and/or fields, exactly as for kind: file
      fields: {id: mid, text: text, time: created_at}

The sender POSTs ``/api/v1/push/{source id}`` with a JSON object, an array of objects, or JSON
lines, and two headers::

    X-BrandPulse-Timestamp: 1767225600                     (unix seconds)
    X-BrandPulse-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{raw body}")>

Receiving and polling are two halves. :meth:`PushSource.receive` (called by the HTTP wiring,
monitor/api_push.py) checks the signature in constant time, the timestamp window, and the body,
and returns the records to spool; the wiring stores them durably (with the signature, so a
replay is refused) before it answers 202. :meth:`PushSource.poll` then hands spooled records to
the normal pipeline like any other source's items: ``cursor = {"after": last spool id}``.

This package never touches the store: the daemon attaches a :class:`Spool` (``attach``) that
reads spooled rows after a cursor and deletes the ones a committed cursor already covers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from monitor import defaults
from monitor.clock import Clock, SystemClock, parse_duration
from monitor.errors import ConfigError, FetchError, ParseError, SourceError
from monitor.models import RawItem
from sources.base import PollResult, SourceOptions
from sources.fieldmap import PRESETS, FieldMap, RowMapper, apply_preset
from sources.fileoptions import check_timezone
from sources.records import json_records

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-BrandPulse-Timestamp"
SIGNATURE_HEADER = "X-BrandPulse-Signature"
_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")
_TIMESTAMP = re.compile(r"^\d{1,12}$")


class PushOptions(SourceOptions):
    secret_env: str = Field(min_length=1)  # env variable with the shared HMAC key; required
    window: float = defaults.PUSH_WINDOW_SECONDS  # seconds (or "5m"): max |now - signed timestamp|
    max_bytes: int = Field(defaults.PUSH_MAX_BYTES, gt=0)  # request body cap
    list_key: str | None = None  # an object body holding the records under this dotted key
    preset: Literal[tuple(PRESETS)] | None = None  # type: ignore[valid-type]
    fields: FieldMap
    time_format: str | None = None
    timezone: str = "Asia/Shanghai"
    platform: str | None = None
    max_items_per_poll: int = Field(defaults.PUSH_MAX_ITEMS_PER_POLL, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        return apply_preset(data)

    _window = field_validator("window", mode="before")(lambda cls, v: parse_duration(v))

    @field_validator("window")
    @classmethod
    def _window_range(cls, v: float) -> float:
        if not 1 <= v <= 86_400:
            raise ValueError("must be between 1 second and 1 day")
        return v

    _timezone = field_validator("timezone")(lambda cls, v: check_timezone(v))


class PushRefused(SourceError):
    """A request that is not authentic: bad or missing signature, timestamp outside the window,
    or a replay. ``reason`` is a short label (signature, timestamp, replay) for logs."""

    def __init__(self, problem: str, *, source_id: str, reason: str) -> None:
        self.reason = reason
        super().__init__(problem, source_id=source_id)


@dataclass(frozen=True)
class SpoolRow:
    id: int
    payload: str  # one record as JSON text
    received_at: datetime


class Spool(Protocol):
    """Where accepted records wait for the pipeline (monitor/api_push.py: the store's push_items)."""

    def read(self, source_id: str, after: int, limit: int) -> list[SpoolRow]: ...

    def consume(self, source_id: str, upto: int) -> None: ...


@dataclass(frozen=True)
class Received:
    """An authentic request's usable records (JSON text each) and the problems of the others."""

    signature: str  # hex digest, remembered to refuse a replay
    timestamp: int
    payloads: list[str]
    rejected: list[str] = field(default_factory=list)  # one line each: "record [3]: ..."


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-BrandPulse-Signature`` value a sender puts on ``body`` (senders and tests)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class PushSource:
    """Records pushed over HTTP, spooled in the store, polled like any other source.

    src = PushSource("tool", PushOptions(secret_env="BP_PUSH_SECRET", fields={"text": "text"}),
                     base_dir=Path("."), clock=SystemClock())
    received = src.receive(headers, body)        # PushRefused / ParseError, or records to spool
    src.attach(spool); src.poll(None)            # spooled records as RawItems
    """

    kind: ClassVar[str] = "push"
    options_model: ClassVar[type[PushOptions]] = PushOptions

    def __init__(
        self, source_id: str, options: PushOptions, *, base_dir: Path, clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.id = source_id
        self.options = options
        self.clock = clock or SystemClock()
        secret = (os.environ if environ is None else environ).get(options.secret_env, "")
        if not secret:  # named but missing: fail at startup, not with every request refused later
            raise ConfigError(f"environment variable {options.secret_env!r} is not set", key_path="secret_env")
        self._secret = secret.encode("utf-8")
        self.mapper = RowMapper(source_id, options.fields, tz=ZoneInfo(options.timezone),
                                time_format=options.time_format, platform=options.platform)
        self.spool: Spool | None = None

    def __repr__(self) -> str:  # never the secret
        return f"PushSource({self.id!r})"

    def attach(self, spool: Spool) -> None:
        self.spool = spool

    def close(self) -> None:
        pass

    # --- receiving ------------------------------------------------------------------------

    def verify(self, timestamp: str | None, signature: str | None, body: bytes) -> tuple[str, int]:
        """The request's digest and timestamp when it is authentic and fresh; PushRefused otherwise.
        The signature is checked first, so only a holder of the secret learns about the window."""
        if not timestamp or not _TIMESTAMP.match(timestamp.strip()):
            raise PushRefused(f"missing or malformed {TIMESTAMP_HEADER} header (unix seconds)",
                              source_id=self.id, reason="signature")
        ts = timestamp.strip()
        m = _SIGNATURE.match((signature or "").strip())
        expected = hmac.new(self._secret, f"{ts}.".encode("ascii") + body, hashlib.sha256).hexdigest()
        given = m.group(1).lower() if m else "-" * 64
        # compare_digest: the time taken does not depend on where the two differ
        if not hmac.compare_digest(expected.encode("ascii"), given.encode("ascii")) or m is None:
            what = "does not match" if m else f"is missing or not 'sha256=<64 hex digits>' ({SIGNATURE_HEADER})"
            raise PushRefused(f"signature {what}", source_id=self.id, reason="signature")
        skew = self.clock.now().timestamp() - int(ts)
        if abs(skew) > self.options.window:
            when = "old" if skew > 0 else "in the future"
            raise PushRefused(f"timestamp {ts} is {math.ceil(abs(skew))}s {when}; at most {self.options.window:.0f}s "
                              "either way is accepted (check the sender's clock)", source_id=self.id,
                              reason="timestamp")
        return expected, int(ts)

    def receive(self, timestamp: str | None, signature: str | None, body: bytes) -> Received:
        """Check an HTTP request and pick out its records. PushRefused when it is not authentic
        or not fresh (the replay check is the store's: it remembers signatures); ParseError
        when the body is unreadable or holds no usable record."""
        digest, ts = self.verify(timestamp, signature, body)
        records = self._records(body)
        payloads: list[str] = []
        rejected: list[str] = []
        for i, record in enumerate(records):
            try:
                self.mapper.map(record, where="push", entry=f"[{i}]")
            except ParseError as err:
                rejected.append(err.problem)
            else:
                payloads.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        if not payloads:
            detail = f": {rejected[0]}" if rejected else ""
            raise ParseError(f"no usable record in the body ({len(records)} records){detail}", source_id=self.id)
        return Received(digest, ts, payloads, rejected)

    def _records(self, body: bytes) -> list[Any]:
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ParseError(f"body is not UTF-8 (byte {exc.start})", source_id=self.id) from None
        if not text.strip():
            raise ParseError("empty body; send a JSON object, an array of objects or JSON lines", source_id=self.id)
        try:
            doc = json.loads(text)
        except ValueError as exc:
            lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
            if len(lines) < 2:
                raise ParseError(f"invalid JSON: {exc}", source_id=self.id) from None
            records = []
            for n, line in lines:  # JSON lines
                try:
                    records.append(json.loads(line))
                except ValueError as line_exc:
                    raise ParseError(f"invalid JSON on line {n}: {line_exc}", source_id=self.id) from None
            return records
        if isinstance(doc, dict) and self.options.list_key:
            try:
                return json_records(text, self.options.list_key)
            except ValueError as exc:
                raise ParseError(str(exc), source_id=self.id) from None
        if isinstance(doc, list):
            return doc
        if isinstance(doc, dict):
            return [doc]
        raise ParseError(f"expected a JSON object, an array of objects or JSON lines, got {type(doc).__name__}",
                         source_id=self.id)

    # --- polling --------------------------------------------------------------------------

    def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        if self.spool is None:
            raise FetchError("push source has no spool: it is polled only inside the daemon", source_id=self.id,
                             retryable=False)
        after = int((cursor or {}).get("after", 0))
        if after:
            self.spool.consume(self.id, after)  # covered by the committed cursor we were handed
        rows = self.spool.read(self.id, after, self.options.max_items_per_poll + 1)
        more = len(rows) > self.options.max_items_per_poll
        rows = rows[: self.options.max_items_per_poll]
        items: list[RawItem] = []
        errors: list[ParseError] = []
        for row in rows:
            try:
                item = self.mapper.map(json.loads(row.payload), where="push", entry=f"#{row.id}")
            except (ParseError, ValueError) as err:  # the field map changed since it was accepted
                errors.append(err if isinstance(err, ParseError) else
                              ParseError(f"spooled record is not JSON: {err}", source_id=self.id, entry=f"#{row.id}"))
                continue
            if item.published_at is None:  # no time column: the moment it reached us, not the poll's
                item = dataclasses.replace(item, published_at=row.received_at)
            items.append(item)
        new_after = rows[-1].id if rows else after
        return PollResult(items, {"after": new_after}, more, errors)
