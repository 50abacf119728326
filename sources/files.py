"""JSON, JSONL and CSV exports, from a file, a glob of files, or a URL (kind ``file``).

Config::

    - id: demo-weibo
      kind: file
      path: demo/weibo.jsonl          # or glob: exports/*.csv, or url: https://.../export.jsonl
      format: jsonl                   # json | jsonl | csv; default from the extension
      preset: weibo                   # optional column preset (sources/fieldmap.py)
      fields: {id: mid, text: text, time: created_at, engagement: [reposts, likes]}
      timezone: Asia/Shanghai         # for times without an offset (Chinese exports use local time)

Every option is described in sources/fileoptions.py.

Cursor, per file (key: path relative to the config folder)::

    jsonl/csv: {dev, ino, head_len, head, offset, line, size, mtime_ns}
    json:      {dev, ino, size, mtime_ns, count, total, prefix}

JSONL and CSV resume at the byte offset after the last complete record. A file that shrank,
whose (device, inode) changed or whose first bytes differ was replaced and is read from the
start again (its rows keep their ids, so the store does not take them twice). The last
record of a file without a final newline is taken once the file has not changed for one
poll (the writer may still be in the middle of it before that). A whole JSON document is
re-read when it changes, skipping the records already delivered when they are unchanged.

``replay: true`` is a demo/backtest feature: the first poll shifts every timestamp so the
newest record is "now"; the shift is stored in the cursor, so it stays the same for later
polls and after a restart.
"""

from __future__ import annotations

import copy
import glob as globmod
import hashlib
import io
import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, ClassVar
from zoneinfo import ZoneInfo

from monitor.clock import Clock, SystemClock
from monitor.errors import FetchError, ParseError
from monitor.models import RawItem
from sources.base import PollResult
from sources.fieldmap import RowMapper
from sources.fileoptions import FileOptions
from sources.http import FetchResult, HttpFetcher, redact_url
from sources.readers import ExportReader

log = logging.getLogger(__name__)

HEAD_BYTES = 1024  # first bytes of a file hashed to notice it was replaced in place


class _Batch:
    """Items and errors of one poll, with the per-poll budget (bad rows count too, so a
    file of garbage cannot make one poll unbounded)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: list[RawItem] = []
        self.errors: list[ParseError] = []
        self.more = False

    def full(self) -> bool:
        return len(self.items) + len(self.errors) >= self.limit


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


class FileSource:
    """Exports on disk or behind a URL.

    src = FileSource("demo", FileOptions(path="demo/weibo.jsonl", fields={"text": "text"}),
                     base_dir=Path("config"), clock=SystemClock())
    r = src.poll(None); r2 = src.poll(r.cursor)   # r2 holds only rows appended since
    """

    kind: ClassVar[str] = "file"
    options_model: ClassVar[type[FileOptions]] = FileOptions

    def __init__(
        self, source_id: str, options: FileOptions, *, base_dir: Path, clock: Clock | None = None
    ) -> None:
        self.id = source_id
        self.options = options
        self.base_dir = Path(base_dir)
        self.clock = clock or SystemClock()
        self.format = options.resolved_format()
        mapper = RowMapper(
            source_id,
            options.fields,
            tz=ZoneInfo(options.timezone),
            time_format=options.time_format,
            platform=options.platform,
        )
        self.reader = ExportReader(
            source_id,
            self.format,
            mapper,
            encoding=options.encoding,
            delimiter=options.delimiter,
            list_key=options.list_key,
        )
        self._fetcher = (
            HttpFetcher(options.timeout, options.max_bytes, clock=self.clock) if options.url else None
        )

    def close(self) -> None:
        if self._fetcher is not None:
            self._fetcher.close()

    # --- poll ---------------------------------------------------------------------------

    def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        cur: dict[str, Any] = copy.deepcopy(cursor) if cursor else {}
        batch = _Batch(self.options.max_items_per_poll)
        if self._fetcher is not None:
            state = cur.get("url") or {}
            res = self._fetcher.fetch(
                self.options.url or "",
                etag=state.get("etag"),
                last_modified=state.get("last_modified"),
                source_id=self.id,
            )
            content = res.content
            shift = self._shift(
                cur, lambda: [] if content is None else [(self._url_name, io.BytesIO(content))]
            )
            cur["url"] = self._poll_url(res, state, batch, shift)
        else:
            paths = self._list_paths()
            shift = self._shift(cur, lambda: self._open_all(paths))
            cur["files"] = self._poll_files(paths, cur.get("files") or {}, batch, shift)
        log.debug(
            "file source polled source=%s items=%s errors=%s more=%s",
            self.id,
            len(batch.items),
            len(batch.errors),
            batch.more,
        )
        return PollResult(batch.items, cur, batch.more, batch.errors)

    @property
    def _url_name(self) -> str:
        return redact_url(self.options.url or "")

    def _shift(self, cur: dict[str, Any], docs: Any) -> float:
        """Replay: seconds added to every timestamp, computed once and kept in the cursor."""
        if not self.options.replay:
            return 0.0
        if "replay_shift" in cur:
            return float(cur["replay_shift"])
        newest = self.reader.newest_time(docs())
        if newest is None:
            return 0.0  # nothing (with a time) yet: decide on a later poll
        cur["replay_shift"] = (self.clock.now() - newest).total_seconds()
        log.info("replay shift fixed source=%s seconds=%.0f", self.id, cur["replay_shift"])
        return float(cur["replay_shift"])

    # --- files --------------------------------------------------------------------------

    def _name(self, path: Path) -> str:
        try:
            return path.relative_to(self.base_dir).as_posix()
        except ValueError:
            return str(path)

    def _list_paths(self) -> list[tuple[str, Path]]:
        if self.options.path:
            path = self.base_dir / self.options.path
            if not path.is_file():
                what = "is not a file" if path.exists() else "file not found"
                raise FetchError(f"{what}: {str(path)!r}", source_id=self.id, retryable=True)
            return [(self._name(path), path)]
        pattern = str(self.base_dir / (self.options.glob or ""))
        root = Path(pattern)
        while any(ch in root.name for ch in "*?[") or root.name == "**":
            root = root.parent
        if not root.is_dir() and not root.is_file():
            raise FetchError(
                f"directory not found: {str(root)!r} (glob {self.options.glob!r})",
                source_id=self.id,
                retryable=True,
            )
        found = sorted(p for p in globmod.glob(pattern, recursive=True) if os.path.isfile(p))
        return [(self._name(Path(p)), Path(p)) for p in found]

    def _open_all(self, paths: list[tuple[str, Path]]) -> Iterator[tuple[str, IO[bytes]]]:
        for name, path in paths:
            try:
                with open(path, "rb") as f:
                    yield name, f
            except FileNotFoundError:
                continue

    def _poll_files(
        self, paths: list[tuple[str, Path]], states: dict[str, Any], batch: _Batch, shift: float
    ) -> dict[str, Any]:
        # A rotated file shows up under a new name with its old (device, inode).
        by_inode = {(s.get("dev"), s.get("ino")): s for s in states.values() if isinstance(s, dict)}
        new_states: dict[str, Any] = {}
        for name, path in paths:
            state = states.get(name)
            if batch.full():
                if state is not None:
                    new_states[name] = state
                if self._may_have_more(path, state):
                    batch.more = True
                continue
            try:
                with open(path, "rb") as f:
                    st = os.fstat(f.fileno())
                    ident = {
                        "dev": st.st_dev,
                        "ino": st.st_ino,
                        "size": st.st_size,
                        "mtime_ns": st.st_mtime_ns,
                    }
                    if state and state.get("broken") and all(state.get(k) == v for k, v in ident.items()):
                        new_states[name] = state  # reported already; wait until it changes
                        continue
                    if self.format == "json":
                        new_states[name] = self._poll_json_file(f, name, ident, state, batch, shift)
                    else:
                        new_states[name] = self._poll_stream_file(
                            f, name, ident, state, by_inode, batch, shift
                        )
            except FileNotFoundError:
                if self.options.path:
                    raise FetchError(
                        f"file not found: {str(path)!r}", source_id=self.id, retryable=True
                    ) from None
            except ParseError as err:
                if self.options.path:
                    raise
                batch.errors.append(err)  # one unreadable file must not block the others
                new_states[name] = {**ident, "broken": True}
        return new_states

    def _may_have_more(self, path: Path, state: dict[str, Any] | None) -> bool:
        if state is None:
            return True
        try:
            st = path.stat()
        except OSError:
            return False
        return (
            st.st_size != state.get("size")
            or st.st_mtime_ns != state.get("mtime_ns")
            or state.get("offset", st.st_size) < st.st_size
            or state.get("count", 0) < state.get("total", 0)
        )

    def _poll_stream_file(
        self,
        f: IO[bytes],
        name: str,
        ident: dict[str, int],
        state: dict[str, Any] | None,
        by_inode: dict[Any, dict[str, Any]],
        batch: _Batch,
        shift: float,
    ) -> dict[str, Any]:
        key = (ident["dev"], ident["ino"])
        if state is None or (state.get("dev"), state.get("ino")) != key:
            state = by_inode.get(key, state)  # renamed here; the head check below confirms it
        offset, line, stable = 0, 1, False
        if state is not None and not state.get("broken"):
            same = (state.get("dev"), state.get("ino")) == (ident["dev"], ident["ino"]) and ident[
                "size"
            ] >= int(state.get("offset", 0))
            if same:
                f.seek(0)
                same = _sha1(f.read(int(state.get("head_len", 0)))) == state.get("head")
            if same:
                offset, line = int(state.get("offset", 0)), int(state.get("line", 1))
                stable = state.get("size") == ident["size"] and state.get("mtime_ns") == ident["mtime_ns"]
            else:
                log.info(
                    "file replaced or truncated, reading it from the start source=%s path=%s", self.id, name
                )
        offset, line = self._read_records(f, name, offset, line, stable, batch, shift)
        head_len = min(HEAD_BYTES, offset)
        f.seek(0)
        return {
            **ident,
            "offset": offset,
            "line": line,
            "head_len": head_len,
            "head": _sha1(f.read(head_len)),
        }

    def _read_records(
        self,
        stream: IO[bytes],
        name: str,
        offset: int,
        line: int,
        final_tail: bool,
        batch: _Batch,
        shift: float,
    ) -> tuple[int, int]:
        """Deliver records from ``offset`` into ``batch``; returns where the next poll resumes.
        ``final_tail``: a last record without a newline is complete (the file is settled)."""
        restart = True
        while restart:
            restart = False
            for rec in self.reader.records(stream, name, offset, line, final_tail):
                if batch.full():
                    batch.more = True
                    break
                row: dict[str, Any] | None = None
                try:
                    row = self.reader.row(rec, name)
                    item = None if row is None else self.reader.mapper.map(
                        row, where=name, line=rec.line, shift=shift
                    )
                except ParseError as err:
                    first_line_end = rec.data.find(b"\n") + 1
                    if row is None and self.format == "csv" and 0 < first_line_end < len(rec.data):
                        # A stray quote opened a field that swallowed the rows after it: only
                        # its own line is bad; the next line is read as a record again.
                        bad = rec.data[:first_line_end].decode(self.options.encoding, "replace").strip()
                        batch.errors.append(ParseError(
                            f"malformed CSV row, a quote is never closed: {bad[:80]!r}",
                            source_id=self.id, url=name, line=rec.line))
                        offset, line, restart = rec.start + first_line_end, rec.line + 1, True
                        break
                    batch.errors.append(err)
                else:
                    if item is not None:
                        batch.items.append(item)
                offset, line = rec.end, rec.next_line
        return offset, line

    def _poll_json_file(
        self,
        f: IO[bytes],
        name: str,
        ident: dict[str, int],
        state: dict[str, Any] | None,
        batch: _Batch,
        shift: float,
    ) -> dict[str, Any]:
        unchanged = state is not None and all(state.get(k) == v for k, v in ident.items())
        if (
            unchanged
            and state
            and not state.get("pending")
            and state.get("count", 0) >= state.get("total", 0)
        ):
            return state
        if ident["size"] > self.options.max_bytes:
            raise ParseError(
                f"JSON file larger than max_bytes={self.options.max_bytes}; use JSONL for large exports",
                source_id=self.id,
                url=name,
            )
        try:
            return {**ident, **self._deliver_json(f.read(), name, state, batch, shift)}
        except ParseError:
            if unchanged:
                raise
            # Changed since the last poll: the exporter may still be writing it. Look again
            # next poll and report it only if it is still unreadable then.
            return {
                **ident,
                "pending": True,
                "count": (state or {}).get("count", 0),
                "prefix": (state or {}).get("prefix"),
            }

    def _deliver_json(
        self, content: bytes, name: str, state: dict[str, Any] | None, batch: _Batch, shift: float
    ) -> dict[str, Any]:
        records = self.reader.json_document(content, name)
        count = int((state or {}).get("count", 0))
        # Skip what was delivered only when those records are still the file's first ones:
        # an export regenerated newest-first is delivered again in full (ids dedupe).
        if count > len(records) or _json_hash(records[:count]) != (state or {}).get("prefix"):
            count = 0
        while count < len(records):
            if batch.full():
                batch.more = True
                break
            try:
                item = self.reader.json_item(records[count], name, count, shift)
            except ParseError as err:
                batch.errors.append(err)
            else:
                batch.items.append(item)
            count += 1
        return {"count": count, "total": len(records), "prefix": _json_hash(records[:count])}

    # --- url ----------------------------------------------------------------------------

    def _poll_url(
        self, res: FetchResult, state: dict[str, Any], batch: _Batch, shift: float
    ) -> dict[str, Any]:
        if res.content is None:
            return state
        content, name = res.content, self._url_name
        if self.format == "json":
            new = self._deliver_json(content, name, state, batch, shift)
        else:
            offset, line = int(state.get("offset", 0)), int(state.get("line", 1))
            if offset > len(content) or _sha1(content[:offset]) != state.get("head"):
                offset, line = 0, 1  # the export was regenerated, not appended to
            # A complete HTTP body is settled: its last record counts even without a newline.
            offset, line = self._read_records(io.BytesIO(content), name, offset, line, True, batch, shift)
            new = {"offset": offset, "line": line, "head": _sha1(content[:offset])}
        # Validators are kept only when everything was delivered; otherwise the next poll
        # must get the body again (a 304 would leave the rest unread).
        new["etag"] = None if batch.more else res.etag
        new["last_modified"] = None if batch.more else res.last_modified
        return new


def _json_hash(records: Iterable[Any]) -> str:
    return _sha1(json.dumps(list(records), sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
