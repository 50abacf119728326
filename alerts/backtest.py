"""Backtest: replay a mention-count series through the engine's own detector, bucket by bucket.

The detector is :func:`alerts.detect.detect`, exactly what the engine runs every minute. The
replay feeds it one bucket at a time and decides each bucket at its end, from the counts up
to that bucket only (no look-ahead): the decision for a row never depends on a later row.

Input is one series per CSV, ``timestamp,value`` (bucket start, mentions in the bucket), such
as the NAB ``Twitter_volume_<SERIES>.csv`` files; the bucket width is inferred from the
timestamps. Output is ``alerts_<SERIES>.csv`` with ``timestamp,is_alert,level`` per input row,
the format ``../shared/tools/spike_score.py`` scores.

    rows = read_counts("Twitter_volume_AAPL.csv")
    decisions = backtest_series(rows)            # [(timestamp, is_alert, level), ...]
    backtest_counts_file("Twitter_volume_AAPL.csv", "out/")   # -> out/alerts_AAPL.csv

Counts carry no sentiment, so the default plan (:data:`BACKTEST_PLAN`) pages on volume
spikes; pass your own plan (or plan mapping) to replay it instead. Replaying a brand's stored
history with escalations (``backtest --brand``) is :mod:`alerts.replay`.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerts.baseline import VOLUME
from alerts.detect import DetectMemo, detect
from alerts.plan import CrisisPlan, load_plan
from alerts.replay import TimelineEvent, format_timeline, replay_history
from monitor.errors import ParseError

log = logging.getLogger(__name__)

# The volume-spike plan the NAB benchmark runs (bench/spike.py): one set for every series.
# Why these values: see the docstring of bench/spike.py and issue 4.
BACKTEST_PLAN: dict[str, Any] = {
    "bucket": "5m",  # replaced by the width inferred from the series
    "baseline_days": 7,  # a week of same-time-of-day history
    "baseline_neighbours": 3,  # +-15 min around the same time on each day: 49 samples
    "levels": [
        {
            "id": "spike",
            "name": "volume spike",
            "when": {
                "volume_spike": 2.0,  # at least double the usual volume ...
                "min_volume": 10,  # ... and at least 10 mentions: no paging on 0 -> 3
                "surprise": 15.0,  # far outside the usual ups and downs for this time of day
                "tail_factor": 3.0,  # and 3x this brand's own 99.9th-percentile surprise (after a day of them)
                # ... or the last 2 h sit 2x above this brand's own 99th-percentile 2-hour score
                # (alerts.sustained): hours of moderately raised volume, still >= 2x and >= 10
                "sustained": 2.0,
            },
        }
    ],
}

_SERIES = re.compile(r"^(?:Twitter_volume_)?(.+?)$")

Row = tuple[datetime, int]
Decision = tuple[datetime, bool, str | None]


def _plan(plan_or_params: CrisisPlan | Mapping[str, Any] | None) -> CrisisPlan:
    if plan_or_params is None:
        plan_or_params = BACKTEST_PLAN
    if isinstance(plan_or_params, CrisisPlan):
        return plan_or_params
    return load_plan(plan_or_params, file="backtest plan", notifier_ids=())


def infer_bucket(timestamps: Sequence[datetime], *, where: str | None = None) -> int:
    """Bucket width in seconds: the greatest common divisor of the gaps between rows.

    Raises ParseError when rows are not strictly increasing or the width is under a second.
    """
    width = 0
    for i in range(1, len(timestamps)):
        gap = (timestamps[i] - timestamps[i - 1]).total_seconds()
        if gap <= 0:
            raise ParseError(
                f"timestamps must be strictly increasing: {timestamps[i].isoformat()!r} follows "
                f"{timestamps[i - 1].isoformat()!r}",
                url=where,
                line=i + 2 if where else None,
            )
        if gap != int(gap):
            raise ParseError(f"gap of {gap!r} s is not whole seconds", url=where, line=i + 2 if where else None)
        width = math.gcd(width, int(gap))
    if width == 0:
        raise ParseError("need at least two rows to infer the bucket width", url=where)
    return width


def backtest_series(
    rows: Sequence[Row],
    plan_or_params: CrisisPlan | Mapping[str, Any] | None = None,
    *,
    brand: str = "series",
    bucket_seconds: int | None = None,
    where: str | None = None,
) -> list[Decision]:
    """Replay ``rows`` through the detector; one decision per row, in order.

    Args:
        rows: ``(bucket start, mentions)``, strictly increasing; naive datetimes are UTC.
            Missing buckets between rows count as zero mentions.
        plan_or_params: a CrisisPlan, a plan mapping (as in the plan YAML, notify lists
            empty), or None for :data:`BACKTEST_PLAN`. Its ``bucket`` is replaced by the width
            of the series.
        brand: the name signals carry (logging only).
        bucket_seconds: the bucket width; inferred from the timestamps when None.
        where: the file name for error messages.

    Returns:
        ``(timestamp, is_alert, level id or None)`` per row: whether some level's conditions
        held when the bucket starting at ``timestamp`` had just ended.
    """
    if not rows:
        return []
    stamps = [t if t.tzinfo else t.replace(tzinfo=UTC) for t, _ in rows]
    width = bucket_seconds or infer_bucket(stamps, where=where)
    plan = _plan(plan_or_params)
    if plan.bucket != width:
        plan = plan.model_copy(update={"bucket": width})
    # Keys are bucket starts on the detector's grid; the series' own grid may be offset
    # (NAB buckets start at :53 seconds), so shift by the offset and shift back on output.
    offset = int(stamps[0].timestamp()) % width
    counts: dict[int, dict[str, int]] = {}
    memo = DetectMemo()
    out: list[Decision] = []
    alerts = 0
    for (given, value), stamp in zip(rows, stamps, strict=True):
        if value < 0:
            raise ParseError(f"negative count {value!r} at {stamp.isoformat()!r}", url=where)
        key = int(stamp.timestamp()) - offset
        if value:
            counts[key] = {VOLUME: int(value)}
        # Decide at the bucket's end: it is complete, nothing later exists yet.
        now = datetime.fromtimestamp(key + width, UTC)
        signals = detect(brand, counts, now, plan, memo=memo)
        level = signals[0].level if signals else None
        alerts += level is not None
        out.append((given, level is not None, level))  # the caller's timestamp, as given
    log.info("backtest done brand=%s rows=%s bucket=%s alerts=%s", brand, len(out), width, alerts)
    return out


def read_counts(path: str | Path) -> list[Row]:
    """``timestamp,value`` rows of a CSV (extra columns ignored). Bad rows raise ParseError
    naming the file and line."""
    path = Path(path)
    try:
        fh = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise ParseError(f"cannot read counts file: {exc.strerror or exc}", url=str(path)) from None
    rows: list[Row] = []
    with fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"timestamp", "value"} <= set(reader.fieldnames):
            raise ParseError(f"need columns timestamp,value (have {reader.fieldnames!r})", url=str(path), line=1)
        for line, rec in enumerate(reader, start=2):
            raw_t, raw_v = rec["timestamp"], rec["value"]
            try:
                stamp = datetime.fromisoformat((raw_t or "").strip())
            except ValueError:
                raise ParseError(f"bad timestamp {raw_t!r}", url=str(path), line=line) from None
            try:
                value = float(raw_v)
            except (TypeError, ValueError):
                raise ParseError(f"bad count {raw_v!r}", url=str(path), line=line) from None
            if value < 0 or value != int(value):
                raise ParseError(f"bad count {raw_v!r} (a whole number >= 0)", url=str(path), line=line)
            rows.append((stamp, int(value)))
    return rows


def series_name(path: str | Path) -> str:
    """``Twitter_volume_AAPL.csv`` -> ``AAPL``; any other file -> its name without ``.csv``."""
    m = _SERIES.match(Path(path).stem)
    return m.group(1) if m else Path(path).stem


def backtest_counts_file(
    path: str | Path,
    out_dir: str | Path,
    plan_or_params: CrisisPlan | Mapping[str, Any] | None = None,
) -> Path:
    """Backtest one counts CSV and write its alerts; what ``brandpulse backtest`` runs.

    Args:
        path: ``timestamp,value`` CSV, one row per bucket (e.g. ``Twitter_volume_AAPL.csv``).
        out_dir: folder for the output (created if missing).
        plan_or_params: as in :func:`backtest_series` (None = :data:`BACKTEST_PLAN`).

    Returns:
        The written file, ``out_dir/alerts_<SERIES>.csv`` (SERIES from :func:`series_name`),
        with columns ``timestamp,is_alert,level``: the input's timestamps verbatim, 1/0, and
        the level id (empty when no alert).

    Raises:
        ParseError for an unreadable file or a bad row (with its line); ConfigError for a
        bad plan.
    """
    path, out_dir = Path(path), Path(out_dir)
    rows = read_counts(path)
    with path.open(encoding="utf-8", newline="") as fh:
        raw_stamps = [rec["timestamp"] for rec in csv.DictReader(fh)]
    decisions = backtest_series(rows, plan_or_params, brand=series_name(path), where=str(path))
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"alerts_{series_name(path)}.csv"
    tmp = out.with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", "is_alert", "level"])
        for raw, (_, is_alert, level) in zip(raw_stamps, decisions, strict=True):
            writer.writerow([raw, 1 if is_alert else 0, level or ""])
    tmp.replace(out)  # a crash never leaves half a file where the scorer would read it
    return out


# --- stored history: alerts.replay (re-exported for callers of this module) ----------------

__all__ = ["BACKTEST_PLAN", "TimelineEvent", "backtest_counts_file", "backtest_series", "format_timeline",
           "infer_bucket", "read_counts", "replay_history", "series_name"]
