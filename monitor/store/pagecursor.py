"""Opaque keyset cursors for mention pages: the sort key and id of the last row shown.

    token = encode("newest", "ts", 1772323199, 4711)
    key, row_id = decode(token, "newest", "ts")     # ValueError when it is not such a cursor

``path`` names which sort key the cursor carries: "ts" (mention_brands.published_ts, epoch
seconds), "at" (mentions.published_at, ISO 8601) or "eng" (engagement). A cursor made for
another order or path is refused rather than silently positioned somewhere else. It is not
signed: it only says where to continue, and every filter is applied again on each page.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

VERSION = 1


def encode(order: str, path: str, key: Any, row_id: int) -> str:
    raw = json.dumps([VERSION, order, path, key, row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, order: str, path: str) -> tuple[Any, int]:
    """(sort key, id) of ``cursor``; ValueError with a one-line reason when it is not valid here."""
    bad = f"cursor {cursor[:40]!r} is not valid for this query (order={order}); start again without a cursor"
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, c_order, c_path, key, row_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValueError(bad) from None
    if version != VERSION or c_order != order or c_path != path or type(row_id) is not int:
        raise ValueError(bad)
    if path == "at":
        try:
            when = datetime.fromisoformat(key) if isinstance(key, str) else None
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise ValueError(bad)
        return when, row_id
    if type(key) is not int:
        raise ValueError(bad)
    return key, row_id
