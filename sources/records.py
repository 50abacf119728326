"""Splitting export bytes into records with exact byte offsets, for incremental reading.

JSONL and CSV are read from a saved byte offset, one complete record at a time, so a poll
resumes exactly after the last record it delivered. A record is complete when it ends with
a newline (for CSV: a newline outside a quoted field, so multi-line fields stay whole);
the tail of a file that is still being written is reported with ``complete=False``.

Offsets are counted on the raw bytes, before decoding, which works for every
ASCII-compatible encoding (UTF-8, GB18030, GBK, Latin-1): in those ``\\n`` and ``"`` never
occur inside a multi-byte character. UTF-16/32 are refused by the options model.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

# Long posts in one CSV cell exceed the csv module's 128 KiB default; the limit is global,
# so only ever raise it.
csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))


@dataclass(frozen=True)
class Record:
    data: bytes
    start: int  # byte offset of the record's first byte
    end: int  # byte offset just after it (where the next poll resumes)
    line: int  # 1-based line number of its first line
    next_line: int  # line number of the record after it
    complete: bool  # ended with a newline (the tail of a growing file may not)


def iter_lines(stream: IO[bytes], offset: int, line: int) -> Iterator[Record]:
    """JSONL records from ``offset``: one per line."""
    stream.seek(offset)
    while True:
        raw = stream.readline()
        if not raw:
            return
        end = offset + len(raw)
        yield Record(raw, offset, end, line, line + 1, raw.endswith(b"\n"))
        offset, line = end, line + 1


def _quote_state(raw: bytes, in_quotes: bool, delimiter: int) -> bool:
    """Whether a CSV line ends inside a quoted field, following the csv module's rules: a
    quote opens a quoted field only at the start of a field; ``""`` inside is a literal."""
    if b'"' not in raw:
        return in_quotes
    at_field_start = not in_quotes
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if in_quotes:
            if c == 0x22:
                if i + 1 < n and raw[i + 1] == 0x22:
                    i += 1
                else:
                    in_quotes = False
        elif c == 0x22 and at_field_start:
            in_quotes = True
        at_field_start = c == delimiter or c == 0x0A or c == 0x0D
        i += 1
    return in_quotes


def iter_csv_records(stream: IO[bytes], offset: int, line: int, delimiter: str = ",") -> Iterator[Record]:
    """CSV records from ``offset``; a quoted field may span lines."""
    stream.seek(offset)
    delim = ord(delimiter)
    parts: list[bytes] = []
    start, first_line, pos, in_quotes = offset, line, offset, False
    while True:
        raw = stream.readline()
        if not raw:
            if parts:
                yield Record(b"".join(parts), start, pos, first_line, line, False)
            return
        parts.append(raw)
        pos += len(raw)
        line += 1
        in_quotes = _quote_state(raw, in_quotes, delim)
        if raw.endswith(b"\n") and not in_quotes:
            yield Record(b"".join(parts), start, pos, first_line, line, True)
            parts, start, first_line = [], pos, line


def decode(data: bytes, encoding: str, *, at_start: bool) -> str:
    """Decode a record; a byte-order mark at the very start of the file is dropped."""
    text = data.decode(encoding)
    if at_start and text.startswith("\ufeff"):
        text = text[1:]
    return text


def parse_csv_row(text: str, delimiter: str = ",") -> list[str] | None:
    """The fields of one CSV record; None for a blank line. csv.Error when malformed."""
    if not text.strip("\r\n"):
        return None
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    if len(rows) != 1:
        raise csv.Error(f"expected one record, found {len(rows)}")
    return rows[0]


def parse_jsonl_row(text: str) -> Any | None:
    """The value on one JSONL line; None for a blank line. ValueError when malformed."""
    if not text.strip():
        return None
    return json.loads(text)


def json_records(text: str, list_key: str | None) -> list[Any]:
    """The records of a whole JSON document: a top-level array, or the array under
    ``list_key`` (a dotted path such as ``data.list``) of an object. Without ``list_key`` an
    object must hold exactly one array. ValueError when there is none."""
    doc = json.loads(text)
    if isinstance(doc, list):
        return doc
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON array or object, got {type(doc).__name__}")
    if list_key:
        node: Any = doc
        for part in list_key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ValueError(f"no key {list_key!r} in the JSON object (keys: {sorted(doc)[:10]})")
            node = node[part]
        if not isinstance(node, list):
            raise ValueError(f"{list_key!r} is a {type(node).__name__}, not an array")
        return node
    arrays = [k for k, v in doc.items() if isinstance(v, list)]
    if len(arrays) != 1:
        raise ValueError(f"the JSON object has {len(arrays)} arrays ({arrays[:10]}); set list_key")
    return doc[arrays[0]]
