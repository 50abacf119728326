"""Logging: one line per event, key=value context, INFO and below to stdout, warnings to stderr.

Three formats (``logging.format`` in the config):

- ``text`` (default): ``2026-03-02T09:00:00+0000 INFO monitor.pipeline: source=weibo fetched=3 stored=3``
- ``json``: one JSON object a line, ``{"ts", "level", "logger", "msg", ...context}``, for log
  collectors (Loki, Elasticsearch, CloudWatch); a traceback goes in ``exc`` on the same line;
- ``logfmt``: ``ts=... level=info logger=monitor.pipeline msg="..." source=weibo fetched=3``.

Context comes from the message itself, where the code already writes ``key=value`` pairs
(``source=weibo``, ``alert=12 brand=acme``), and from ``extra={...}`` fields. A context key
that would shadow one of the line's own keys (an alert's ``level=crisis``) is prefixed ``ctx_``.
Uncaught exceptions in any thread and Python warnings are logged the same way, so every line a
daemon writes follows the chosen format.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

FORMATS = ("text", "json", "logfmt")

# key=value in a message: a lower-case key at the start or after a space/bracket/comma (not a
# URL's query string), then a quoted string or a run of non-space characters.
_PAIR = re.compile(r"""(?<![^\s(\[,;])([a-z_][a-z0-9_.]*)=("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;]+)""")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d{0,17})(?:\.\d+)?")  # no leading zeros: revision "0002" stays a string
_RESERVED = frozenset({"ts", "level", "logger", "msg", "exc", "thread"})
# LogRecord's own attributes: anything else on a record came from extra={...}
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class _MaxLevel(logging.Filter):
    def __init__(self, below: int) -> None:
        super().__init__()
        self.below = below

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.below


class OneLineFormatter(logging.Formatter):
    """Keeps every record on one line, tracebacks included (folded with ' | ')."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text.replace("\r", "").replace("\n", " | ")


def _value(raw: str) -> Any:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1].replace("\\" + raw[0], raw[0])
    if _NUMBER.fullmatch(raw):
        return float(raw) if "." in raw else int(raw)
    return raw


def context(record: logging.LogRecord, message: str) -> dict[str, Any]:
    """The key=value pairs of ``message`` and the record's extra fields, keys made safe."""
    out: dict[str, Any] = {}
    for key, raw in _PAIR.findall(message):
        out[key] = _value(raw.rstrip(":") if raw[:1] not in "\"'" else raw)  # "source=x: problem"
    for key, value in vars(record).items():
        if key not in _STANDARD and not key.startswith("_"):
            out[key] = value
    return {(f"ctx_{k}" if k in _RESERVED else k): v for k, v in out.items()}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record; non-JSON values are written as their str()."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname.lower(),
                                "logger": record.name, "msg": message}
        line.update(context(record, message))
        if record.threadName and record.threadName != "MainThread":
            line["thread"] = record.threadName
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["exc"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _logfmt_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if text and not re.search(r'[\s"=\\]', text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


class LogfmtFormatter(logging.Formatter):
    """``key=value`` pairs, values quoted when they hold spaces, quotes or '='."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        pairs: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname.lower(),
                                 "logger": record.name, "msg": message}
        pairs.update(context(record, message))
        if record.exc_info:
            pairs["exc"] = self.formatException(record.exc_info)
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in pairs.items())


def make_formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    if fmt == "logfmt":
        return LogfmtFormatter()
    if fmt == "text":
        return OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    raise ValueError(f"logging format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def _log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None,
                  where: str) -> None:
    logging.getLogger("brandpulse").critical("uncaught exception thread=%s", where, exc_info=(exc_type, exc, tb))


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback, args.thread.name if args.thread else "?")


def _main_hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    _log_uncaught(exc_type, exc, tb, "MainThread")


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger for a daemon or command run (replaces earlier handlers)."""
    formatter = make_formatter(fmt)
    out = logging.StreamHandler(sys.stdout)
    out.addFilter(_MaxLevel(logging.WARNING))
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.WARNING)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in (out, err):
        h.setFormatter(formatter)
        root.addHandler(h)
    root.setLevel(level)
    # jieba logs its dictionary loading at DEBUG through a stderr handler of its own: keep its
    # warnings, in our format (through the root handlers)
    jieba = logging.getLogger("jieba")
    jieba.setLevel(logging.WARNING)
    for h in list(jieba.handlers):
        jieba.removeHandler(h)
    jieba.propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.captureWarnings(True)  # warnings.warn(...) from libraries: a log line, not raw stderr text
    threading.excepthook = _thread_hook
    sys.excepthook = _main_hook
