"""Reading one export format into rows and RawItems, with errors that name file and line.

``ExportReader`` knows the format (json, jsonl, csv), the encoding and the field map; the
FileSource decides where to start reading and keeps the cursor::

    reader = ExportReader("demo", "jsonl", mapper, encoding="utf-8")
    for rec in reader.records(stream, "weibo.jsonl", offset=0, line=1, final_tail=False):
        item = reader.item(rec, "weibo.jsonl")   # RawItem, None for a blank line, or ParseError
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, Any

from monitor.errors import ParseError
from monitor.models import RawItem
from sources.fieldmap import RowMapper
from sources.records import (
    Record,
    decode,
    iter_csv_records,
    iter_lines,
    json_records,
    parse_csv_row,
    parse_jsonl_row,
)

log = logging.getLogger(__name__)


class ExportReader:
    """Rows of one export format, mapped to RawItems."""

    def __init__(
        self,
        source_id: str,
        fmt: str,
        mapper: RowMapper,
        *,
        encoding: str = "utf-8",
        delimiter: str = ",",
        list_key: str | None = None,
    ) -> None:
        if fmt not in ("json", "jsonl", "csv"):
            raise ValueError(f"unknown export format {fmt!r}")
        self.source_id = source_id
        self.format = fmt
        self.mapper = mapper
        self.encoding = encoding
        self.delimiter = delimiter
        self.list_key = list_key
        self._header: list[str] | None = None  # of the CSV file currently being read

    def _fail(self, problem: str, name: str, line: int | None = None) -> ParseError:
        return ParseError(problem, source_id=self.source_id, url=name, line=line)

    # --- JSONL and CSV: record by record ------------------------------------------------

    def records(
        self, stream: IO[bytes], name: str, offset: int, line: int, final_tail: bool
    ) -> Iterator[Record]:
        """Records from ``offset``. The unterminated tail is included only if ``final_tail``.
        For CSV the header is read first (ParseError when it is unreadable)."""
        if self.format == "csv":
            header = self._read_header(stream, name, final_tail)
            if header is None:
                return
            self._header, header_rec = header
            if offset < header_rec.end:
                offset, line = header_rec.end, header_rec.next_line
            it = iter_csv_records(stream, offset, line, self.delimiter)
        else:
            it = iter_lines(stream, offset, line)
        for rec in it:
            if not rec.complete and not final_tail:
                return
            yield rec

    def _read_header(self, stream: IO[bytes], name: str, final_tail: bool) -> tuple[list[str], Record] | None:
        first = next(iter_csv_records(stream, 0, 1, self.delimiter), None)
        if first is None or (not first.complete and not final_tail):
            return None  # empty, or the header itself is still being written
        try:
            fields = parse_csv_row(decode(first.data, self.encoding, at_start=True), self.delimiter)
        except UnicodeDecodeError as exc:
            raise self._fail(
                f"header is not valid {self.encoding}: {exc.reason} (set the encoding option, e.g. gb18030)",
                name,
                1,
            ) from None
        except csv.Error as exc:
            raise self._fail(f"unreadable CSV header: {exc}", name, 1) from None
        if not fields or not any(f.strip() for f in fields):
            raise self._fail("the first line must be a header row naming the columns", name, 1)
        return [f.strip() for f in fields], first

    def row(self, rec: Record, name: str) -> dict[str, Any] | None:
        """The row a record holds; None for a blank line; ParseError when malformed."""
        try:
            text = decode(rec.data, self.encoding, at_start=rec.start == 0)
        except UnicodeDecodeError as exc:
            raise self._fail(
                f"not valid {self.encoding} at byte {exc.start}: {rec.data[:60]!r}", name, rec.line
            ) from None
        if self.format == "jsonl":
            try:
                value = parse_jsonl_row(text)
            except ValueError as exc:
                raise self._fail(f"invalid JSON: {exc}: {text.strip()[:80]!r}", name, rec.line) from None
            if value is not None and not isinstance(value, dict):
                raise self._fail(f"expected a JSON object, got {type(value).__name__}", name, rec.line)
            return value
        try:
            fields = parse_csv_row(text, self.delimiter)
        except csv.Error as exc:
            raise self._fail(f"malformed CSV: {exc}: {text.strip()[:80]!r}", name, rec.line) from None
        if fields is None:
            return None
        header = self._header or []
        if len(fields) != len(header):
            raise self._fail(
                f"expected {len(header)} columns, got {len(fields)}: {text.strip()[:80]!r}", name, rec.line
            )
        return dict(zip(header, fields, strict=True))

    def item(self, rec: Record, name: str, shift: float = 0.0) -> RawItem | None:
        row = self.row(rec, name)
        if row is None:
            return None
        return self.mapper.map(row, where=name, line=rec.line, shift=shift)

    # --- whole JSON documents -----------------------------------------------------------

    def json_document(self, content: bytes, name: str) -> list[Any]:
        try:
            text = decode(content, self.encoding, at_start=True)
        except UnicodeDecodeError as exc:
            raise self._fail(f"not valid {self.encoding} at byte {exc.start}", name) from None
        try:
            return json_records(text, self.list_key)
        except ValueError as exc:  # JSONDecodeError included, with its line
            line = getattr(exc, "lineno", None)
            raise self._fail(f"unreadable JSON document: {exc}", name, line) from None

    def json_item(self, record: Any, name: str, index: int, shift: float = 0.0) -> RawItem:
        return self.mapper.map(record, where=name, entry=f"[{index}]", shift=shift)

    # --- replay ---------------------------------------------------------------------------

    def all_rows(self, stream: IO[bytes], name: str) -> Iterator[Any]:
        """Every readable row of a document, skipping bad ones (for scans such as replay)."""
        if self.format == "json":
            try:
                yield from self.json_document(stream.read(), name)
            except ParseError:
                return
            return
        try:
            for rec in self.records(stream, name, 0, 1, final_tail=True):
                try:
                    row = self.row(rec, name)
                except ParseError:
                    continue
                if row is not None:
                    yield row
        except ParseError:
            return

    def newest_time(self, docs: Iterable[tuple[str, IO[bytes]]]) -> datetime | None:
        newest: datetime | None = None
        for name, stream in docs:
            for row in self.all_rows(stream, name):
                try:
                    t = self.mapper.row_time(row, where=name) if isinstance(row, dict) else None
                except ParseError:
                    continue
                if t is not None and (newest is None or t > newest):
                    newest = t
        return newest
