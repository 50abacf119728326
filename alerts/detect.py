"""Detectors: pure functions from bucket counts to signals ("this level's conditions hold now").

No database and no clock here: the engine reads the counts and passes ``now``, which makes
detection replayable over stored history (backtesting a plan) and testable with plain dicts.

The detection window of a level is its last ``window`` worth of complete buckets *plus the
bucket in progress*, counted so far. Including the partial bucket pages within one
evaluation of a burst instead of up to a bucket later; its baseline is scaled by the elapsed
fraction of the bucket, so the ratio stays fair. Buckets starting after ``now`` are ignored
(no look-ahead, e.g. when replaying history that is already fully stored).

    signals = detect("acme", counts, now, plan)
    if signals:
        signals[0].level, signals[0].ratio     # "warning", 6.5
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerts.baseline import Counts, bucket_baseline, bucket_floor, history_start
from alerts.plan import CrisisPlan, Level

NEGATIVE_SPIKE = "negative_spike"


@dataclass(frozen=True)
class Signal:
    """One detector's finding for one brand at one moment, at the most severe level that holds."""

    kind: str  # "negative_spike"
    brand: str
    level: str  # id of the most severe plan level whose conditions hold
    observed: int  # negative mentions in the window
    total: int  # all mentions in the window
    baseline: float  # expected negative mentions in the window
    ratio: float  # observed / baseline
    negative_share: float  # observed / total
    window_start: datetime
    window_end: datetime
    baseline_method: str  # "seasonal", "rolling" or "floor"

    def evidence(self) -> dict[str, Any]:
        """The numbers as JSON-ready evidence for the alert record and its notifications."""
        return {
            "kind": self.kind,
            "level": self.level,
            "negative": self.observed,
            "total": self.total,
            "baseline": round(self.baseline, 2),
            "ratio": round(self.ratio, 2),
            "negative_share": round(self.negative_share, 3),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "baseline_method": self.baseline_method,
        }


@dataclass(frozen=True)
class WindowStats:
    observed: int
    total: int
    baseline: float
    method: str
    start: int  # epoch seconds of the window's first bucket

    @property
    def ratio(self) -> float:
        return self.observed / self.baseline if self.baseline > 0 else float("inf")

    @property
    def share(self) -> float:
        return self.observed / self.total if self.total else 0.0


def window_stats(counts: Counts, now: datetime, plan: CrisisPlan, level: Level) -> WindowStats:
    """Observed and expected negatives in ``level``'s window ending at ``now``."""
    bucket = plan.bucket
    now_ts = now.timestamp()
    current = bucket_floor(now_ts, bucket)
    n_full = plan.window_seconds(level) // bucket
    start = current - n_full * bucket
    seen = {b: c for b, c in counts.items() if b <= current}  # no look-ahead
    first = history_start(seen)
    observed = total = 0
    expected = 0.0
    methods = set()
    for b in range(start, current + bucket, bucket):
        c = seen.get(b, {})
        observed += int(c.get("negative", 0))
        total += sum(int(v) for v in c.values())
        est = bucket_baseline(
            seen,
            b,
            bucket_seconds=bucket,
            baseline_days=plan.baseline_days,
            history_start=first,
            window_start=start,
        )
        methods.add(est.method)
        # The bucket in progress is expected to hold only the part of a bucket elapsed so far.
        expected += est.value * (((now_ts - current) / bucket) if b == current else 1.0)
    method = next(m for m in ("seasonal", "rolling", "floor") if m in methods)
    return WindowStats(observed, total, expected, method, start)


def holds(stats: WindowStats, level: Level) -> bool:
    cond = level.when
    if stats.observed < cond.min_negative:
        return False
    if cond.negative_spike is not None and stats.ratio < cond.negative_spike:
        return False
    return cond.negative_share is None or stats.share >= cond.negative_share


def detect(brand: str, counts: Counts, now: datetime, plan: CrisisPlan) -> list[Signal]:
    """Signals for ``brand`` at ``now``: at most one negative-spike signal, at the most severe
    level of ``plan`` whose conditions hold (levels may use different windows).

    ``counts`` must cover :func:`alerts.baseline.history_needed` seconds before ``now``, and
    the bucket in progress must only count mentions published up to ``now``.
    """
    best: tuple[Level, WindowStats] | None = None
    for level in plan.levels:
        stats = window_stats(counts, now, plan, level)
        if holds(stats, level):
            best = (level, stats)  # levels are ordered least -> most severe
    if best is None:
        return []
    level, stats = best
    return [
        Signal(
            kind=NEGATIVE_SPIKE,
            brand=brand,
            level=level.id,
            observed=stats.observed,
            total=stats.total,
            baseline=stats.baseline,
            ratio=stats.ratio,
            negative_share=stats.share,
            window_start=datetime.fromtimestamp(stats.start, UTC),
            window_end=now,
            baseline_method=stats.method,
        )
    ]
