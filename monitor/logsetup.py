"""Logging: one line per event, key=value context, INFO and below to stdout, warnings to stderr."""

from __future__ import annotations

import logging
import sys


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


def setup_logging(level: str = "INFO") -> None:
    fmt = OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    out = logging.StreamHandler(sys.stdout)
    out.addFilter(_MaxLevel(logging.WARNING))
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.WARNING)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in (out, err):
        h.setFormatter(fmt)
        root.addHandler(h)
    root.setLevel(level)
    # jieba prints its dictionary loading at INFO/DEBUG through its own logger
    logging.getLogger("jieba").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
