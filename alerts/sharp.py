"""The sharp path of spike detection: a level's own window against per-bucket seasonal baselines.

A window is the level's last ``window`` worth of complete buckets *plus the bucket in
progress*, counted so far (its baseline scaled by the elapsed fraction of the bucket, so the
ratio stays fair). It is judged by its *ratio* (observed / baseline), its *surprise*
((observed - baseline) / robust spread: how many usual ups-and-downs above normal) and, with
``tail_factor``, its surprise relative to the brand's own tail: the ``SPIKE_TAIL_QUANTILE``
of the surprises of its past windows over ``2 x baseline_days``. A brand whose mentions jump
every other day needs a bigger jump to page than a quiet one, with the same plan for both.

Split from :mod:`alerts.detect`, which composes this path with the sustained one
(:mod:`alerts.sustained`) and crisis keywords.

    view = SharpView(counts, plan, current=bucket_start, now_ts=now.timestamp(), first=first,
                     memo=SharpMemo())
    stats = view.window("volume", 3)          # 3 complete buckets + the one in progress
    stats.ratio, stats.surprise, view.usual_tail("volume", 3, stats.start)
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

from alerts.baseline import DAY, BaselineEstimate, Counts, bucket_baseline, bucket_floor, bucket_value, tail_horizon
from alerts.plan import CrisisPlan
from monitor import defaults


@dataclass
class SharpMemo:
    """Estimates and surprises of complete past buckets, kept across calls of one replay
    (they depend only on counts before them; see ``alerts.detect.DetectMemo``)."""

    estimates: dict[tuple[str, int, int], BaselineEstimate] = field(default_factory=dict)
    surprises: dict[tuple[str, int, int], float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class WindowStats:
    observed: int
    total: int
    baseline: float
    method: str
    start: int  # epoch seconds of the window's first bucket
    spread: float = 1.0  # robust standard deviation of the window's count around ``baseline``

    @property
    def ratio(self) -> float:
        return self.observed / self.baseline if self.baseline > 0 else float("inf")

    @property
    def share(self) -> float:
        return self.observed / self.total if self.total else 0.0

    @property
    def surprise(self) -> float:
        return (self.observed - self.baseline) / self.spread if self.spread > 0 else float("inf")


class SharpView:
    """One brand's counts as seen at one moment, for windows ending at ``now``.

    ``current`` is the bucket in progress; ``seen`` holds nothing after it (no look-ahead).
    """

    def __init__(
        self, seen: Counts, plan: CrisisPlan, *, current: int, now_ts: float, first: int | None, memo: SharpMemo
    ) -> None:
        self.seen, self.plan, self.current, self.now_ts = seen, plan, current, now_ts
        self.first, self.memo = first, memo
        self.stats: dict[tuple[str, int], WindowStats] = {}

    def estimate(self, fld: str, b: int, window_start: int) -> BaselineEstimate:
        key = (fld, b, window_start)
        est = self.memo.estimates.get(key)
        if est is None:
            est = bucket_baseline(
                self.seen,
                b,
                bucket_seconds=self.plan.bucket,
                baseline_days=self.plan.baseline_days,
                history_start=self.first,
                window_start=window_start,
                field=fld,
                neighbours=self.plan.baseline_neighbours,
            )
            if b < self.current:  # the bucket in progress may still grow: never remember it
                self.memo.estimates[key] = est
        return est

    def window(self, fld: str, n_full: int) -> WindowStats:
        """Observed and expected mentions of ``fld`` in ``n_full`` complete buckets plus the one
        in progress, ending at ``now``."""
        key = (fld, n_full)
        if key in self.stats:
            return self.stats[key]
        bucket = self.plan.bucket
        start = self.current - n_full * bucket
        observed = total = 0
        expected = variance = 0.0
        methods = set()
        for b in range(start, self.current + bucket, bucket):
            observed += bucket_value(self.seen, b, fld)
            total += bucket_value(self.seen, b, "volume")
            est = self.estimate(fld, b, start)
            methods.add(est.method)
            # The bucket in progress is expected to hold only the part of a bucket elapsed so far.
            frac = ((self.now_ts - self.current) / bucket) if b == self.current else 1.0
            expected += est.value * frac
            variance += est.spread**2 * frac
        method = next(m for m in ("seasonal", "rolling", "floor") if m in methods)
        stats = WindowStats(observed, total, expected, method, start, math.sqrt(variance))
        self.stats[key] = stats
        return stats

    def past_surprise(self, fld: str, n: int, end: int) -> float | None:
        """Surprise of the complete window of ``n`` buckets ending with bucket ``end``."""
        key = (fld, n, end)
        if key in self.memo.surprises:
            return self.memo.surprises[key]
        bucket = self.plan.bucket
        start = end - (n - 1) * bucket
        z: float | None = None
        if self.first is not None and start >= self.first:  # before the first data: no window
            observed, expected, variance = 0, 0.0, 0.0
            for b in range(start, end + bucket, bucket):
                est = self.estimate(fld, b, start)
                if est.method != "seasonal":
                    # Like for like: a window judged against a rolling or floor guess (the
                    # first days of a brand) has no trustworthy spread, so it does not calibrate.
                    self.memo.surprises[key] = None
                    return None
                observed += bucket_value(self.seen, b, fld)
                expected += est.value
                variance += est.spread**2
            z = (observed - expected) / math.sqrt(variance) if variance > 0 else 0.0
        self.memo.surprises[key] = z
        return z

    def usual_tail(self, fld: str, n: int, window_start: int) -> float | None:
        """The brand's ``SPIKE_TAIL_QUANTILE`` surprise over past windows of ``n`` buckets
        ending before ``window_start`` (so the window never calibrates itself); None when
        they cover less than ``SPIKE_TAIL_MIN_DAYS`` (every time of day seen once: a tail
        estimated from one quiet night would make the next busy morning page)."""
        bucket = self.plan.bucket
        n = max(1, n)
        first_end = bucket_floor(window_start - tail_horizon(self.plan.baseline_days), bucket)
        values = [
            z for e in range(first_end, window_start, bucket) if (z := self.past_surprise(fld, n, e)) is not None
        ]
        if len(values) < defaults.SPIKE_TAIL_MIN_DAYS * DAY // bucket:
            return None
        # Linear-interpolated quantile from the few largest values (no full sort per call).
        pos = defaults.SPIKE_TAIL_QUANTILE * (len(values) - 1)
        lo = math.floor(pos)
        top = heapq.nlargest(len(values) - lo, values)  # descending: top[-1] is the lo-th smallest
        below, above = top[-1], top[-2] if len(top) > 1 else top[-1]
        return below + (above - below) * (pos - lo)

    def spike_holds(
        self, fld: str, n_full: int, ratio: float | None, surprise: float | None, tail_factor: float | None
    ) -> bool:
        """The window's ratio, surprise and surprise relative to the brand's tail all reach
        the level's bars (those it sets)."""
        stats = self.window(fld, n_full)
        if ratio is not None and stats.ratio < ratio:
            return False
        if surprise is not None and stats.surprise < surprise:
            return False
        if tail_factor is not None:
            # Checked last: the only condition that reads weeks of history.
            tail = self.usual_tail(fld, n_full, stats.start)
            if tail is None or stats.surprise < tail_factor * max(tail, 0.0):
                return False
        return True
