"""Exports that are being written while they are read, and exports with a broken row.

Through the real Pipeline on a real store: every good row is stored exactly once, a broken
row is skipped, counted and logged once (with its line number), and it never takes the rows
after it down with it (a stray quote in a CSV used to swallow the rest of the file).
"""

from __future__ import annotations

import csv
import io
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sources import build_source
from tests.faults.helpers import jsonl, rows

FIELDS = {"id": "id", "text": "text", "time": "time"}


def csv_text(records: list[dict[str, str]], header: bool = True) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=["id", "text", "time"], lineterminator="\n")
    if header:
        w.writeheader()
    w.writerows(records)
    return out.getvalue()


def multiline(records: list[dict[str, str]]) -> list[dict[str, str]]:
    """Every third text spans lines and quotes someone, as real posts do."""
    for i, r in enumerate(records):
        if i % 3 == 0:
            r["text"] = r["text"].replace("，", "\n", 2) + ' 他说"再也不来了"'
    return records


class ChunkWriter(threading.Thread):
    """Appends ``data`` in random pieces (cutting lines and UTF-8 characters in half), flushed
    one by one with short pauses, like an exporter writing through a small buffer."""

    def __init__(self, path: Path, data: bytes, seed: int) -> None:
        super().__init__(daemon=True)
        self.path, self.data, self.rnd = path, data, random.Random(seed)

    def run(self) -> None:
        pos = 0
        with self.path.open("ab") as f:
            while pos < len(self.data):
                n = self.rnd.randint(1, 700)
                f.write(self.data[pos : pos + n])
                f.flush()
                pos += n
                time.sleep(self.rnd.uniform(0, 0.002))


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_appended_to_while_it_is_read_loses_and_repeats_nothing(rig: Any, tmp_path: Path, fmt: str) -> None:
    n = 1500
    records = multiline(rows(range(n))) if fmt == "csv" else rows(range(n))
    path = tmp_path / f"export.{fmt}"
    if fmt == "csv":
        path.write_text(csv_text([], header=True), encoding="utf-8")
        data = csv_text(records, header=False).encode()
    else:
        path.touch()
        data = jsonl(records).encode()
    source = build_source("export", "file", {"path": path.name, "fields": FIELDS, "max_items_per_poll": 200},
                          base_dir=tmp_path, clock=rig.clock)
    writer = ChunkWriter(path, data, seed=n)
    writer.start()
    polls = errors = 0
    while writer.is_alive():
        outcome = rig.pipeline.poll(source)
        polls += 1
        errors += outcome.parse_errors
        time.sleep(0.02)
    writer.join()
    for _ in range(20):  # drain: the tail is whole now
        outcome = rig.pipeline.poll(source)
        errors += outcome.parse_errors
        if not outcome.more and outcome.fetched == 0:
            break
    assert errors == 0, rig.log_lines("export", "bad row")
    stored = rig.ids("export")
    assert len(stored) == n and set(stored) == {f"r{i}" for i in range(n)}
    assert set(stored.values()) == {1}
    assert polls >= 5, "the writer finished before the reader got going; the test proved nothing"
    source.close()


BROKEN = {
    "jsonl-bad-json": ("jsonl", '{"id": "r10", "text": "阿克米咖啡 unterminated'),
    "jsonl-not-an-object": ("jsonl", '["r10", "阿克米咖啡"]'),
    "jsonl-bad-time": ("jsonl", '{"id": "r10", "text": "阿克米咖啡 bad time", "time": "yesterday-ish"}'),
    "csv-stray-quote": ("csv", 'r10,"阿克米咖啡 the quote is never closed,2026-03-01T00:00:00Z'),
    "csv-extra-column": ("csv", "r10,阿克米咖啡,2026-03-01T00:00:00Z,surplus"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_row_in_the_middle_is_skipped_counted_and_logged_once(rig: Any, tmp_path: Path, case: str) -> None:
    fmt, bad = BROKEN[case]
    good = rows(range(20))
    before, after = good[:10], good[11:]
    if fmt == "csv":
        body = csv_text(before) + bad + "\n" + csv_text(after, header=False)
        bad_line = 12  # header + ten rows before it
    else:
        body = jsonl([*before, bad, *after])
        bad_line = 11
    path = tmp_path / f"export.{fmt}"
    path.write_text(body, encoding="utf-8")
    source = build_source("export", "file", {"path": path.name, "fields": FIELDS}, base_dir=tmp_path,
                          clock=rig.clock)
    first = rig.pipeline.poll(source)
    second = rig.pipeline.poll(source)  # a settled file: a CSV's open quote is judged now at the latest
    assert first.parse_errors + second.parse_errors == 1
    assert first.stored + second.stored == 19
    skipped = rig.log_lines("export", "skipped a bad row")
    assert len(skipped) == 1 and f"export.{fmt}:{bad_line}" in skipped[0], skipped
    assert rig.metric("brandpulse_parse_errors_total", source="export") == 1

    with path.open("a", encoding="utf-8") as f:
        f.write(csv_text(rows(range(20, 25)), header=False) if fmt == "csv" else jsonl(rows(range(20, 25))))
    assert rig.pipeline.poll(source).stored == 5
    assert rig.pipeline.poll(source).fetched == 0
    expected = {f"r{i}" for i in range(25)} - {"r10"}
    assert rig.ids("export") == dict.fromkeys(expected, 1)
    assert len(rig.log_lines("export", "skipped a bad row")) == 1, "the bad row is reported once, not every poll"
    assert not rig.log_lines("export", "poll failed"), "a bad row is not a failed poll"
    source.close()
