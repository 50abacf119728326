"""The sustained-shift path of spike detection: hours of moderately raised volume (issue 4).

A sharp spike is one bucket far above normal; a sustained shift is a few times normal for
hours, and no single bucket of it looks unusual enough to page. This path judges a longer
window, ``SUSTAINED_WINDOW_SECONDS`` (2 h) of complete buckets plus the bucket in progress,
against the *same window* on previous days:

- samples: the sums of that window at the same time of day on each of the previous
  ``baseline_days`` days, shifted by up to ``baseline_neighbours`` buckets either way;
- baseline: their median (never below ``BASELINE_FLOOR_PER_BUCKET`` per bucket);
- score ``z``: ``(log(observed + 1) - log(baseline + 1)) / spread``, with ``spread`` the
  robust standard deviation (1.4826 x MAD) of the samples' ``log(sum + 1)``, never below the
  Poisson ``sqrt(baseline) / (baseline + 1)``. On the log scale "three times normal" means
  the same for a brand with 50 mentions an hour and one with 5,000. Measuring the spread of
  whole-window sums (not summing per-bucket spreads) captures how much a brand's busy hours
  really wander from day to day, including the correlation between neighbouring buckets.

Calibration, per brand and unsupervised: ``z`` is compared with the brand's own
``SUSTAINED_TAIL_QUANTILE`` of the ``z`` of its complete past windows over ``2 x
baseline_days``, ending before the current window starts (so a window never calibrates
itself). The 99th percentile, not the 99.9th the sharp path uses: a shift lasts hours, so
one past incident fills many windows, and a lower quantile lets a few of them pass without
raising the bar for the next two weeks.

The baseline is protected from the incident it judges: samples come only from previous
days, and a median of ``baseline_days`` days ignores up to half of them being incidents.

Counts are the detector's ``{bucket start: {field: n}}``; all sums come from prefix sums
remembered in :class:`SustainedMemo`, so a replay computes each past window once.

    memo = SustainedMemo()
    view = SeriesView(counts, "volume", bucket=300, current=now_bucket, first=first_bucket,
                      baseline_days=7, neighbours=3, memo=SustainedMemo())
    stats = window_stats(view, 24, now.timestamp())     # 24 x 5 min = 2 h, or None
    stats.z, stats.ratio, tail_quantile(view, 24, stats.start, 14 * DAY)

A burst that the sharp path pages keeps the 2-hour window above normal for up to 2 h after it
ends, so on a ``sustained`` level such an alert stays open that much longer: still one page.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import deque
from dataclasses import dataclass, field

from alerts.baseline import DAY, MAD_TO_SD, Counts, bucket_value
from monitor import defaults


@dataclass
class _SlidingSorted:
    """Values keyed by increasing window end, kept sorted, for quantiles over a moving range."""

    lo: int  # first window end in range
    next_end: int  # first window end not added yet
    ends: deque[tuple[int, float]] = field(default_factory=deque)  # (end, value), ends increasing
    values: list[float] = field(default_factory=list)  # the same values, sorted


@dataclass
class SustainedMemo:
    """Work carried between calls over one brand's advancing history (see ``DetectMemo``)."""

    cum: dict[tuple[str, int], int] = field(default_factory=dict)  # (field, bucket) -> sum up to it
    z: dict[tuple[str, int, int], float | None] = field(default_factory=dict)  # (field, n, end) -> z
    tails: dict[tuple[str, int], _SlidingSorted] = field(default_factory=dict)


@dataclass(frozen=True)
class SustainedStats:
    observed: int  # mentions of the field in the window (bucket in progress counted so far)
    baseline: float  # median of the same window on previous days (scaled for the partial bucket)
    z: float  # robust log-scale score, see the module docstring
    start: int  # epoch seconds of the window's first bucket

    @property
    def ratio(self) -> float:
        return self.observed / self.baseline if self.baseline > 0 else float("inf")


class SeriesView:
    """One brand's counts of one field as seen at one moment: bucket grid, history start, sums.

    ``current`` is the bucket in progress; buckets after it are never read (no look-ahead).
    Sums of complete buckets (before ``current``) are remembered in ``memo``.
    """

    def __init__(
        self,
        counts: Counts,
        fld: str,
        *,
        bucket: int,
        current: int,
        first: int | None,
        baseline_days: int,
        neighbours: int,
        memo: SustainedMemo,
    ) -> None:
        self.counts, self.fld, self.bucket, self.current = counts, fld, bucket, current
        self.first, self.days, self.neighbours, self.memo = first, baseline_days, neighbours, memo

    def cum(self, b: int) -> int:
        """Mentions in buckets from the first with data up to and including ``b``."""
        if self.first is None or b < self.first:
            return 0
        if b >= self.current:  # the bucket in progress may still grow: never remembered
            return self.cum(self.current - self.bucket) + sum(
                bucket_value(self.counts, t, self.fld) for t in range(self.current, b + 1, self.bucket)
            )
        cache = self.memo.cum
        key = (self.fld, b)
        if key in cache:
            return cache[key]
        # Walk back to the last remembered bucket, then fill forward (no deep recursion).
        t = b
        while t >= self.first and (self.fld, t) not in cache:
            t -= self.bucket
        total = cache.get((self.fld, t), 0) if t >= self.first else 0
        for u in range(max(t + self.bucket, self.first), b + 1, self.bucket):
            total += bucket_value(self.counts, u, self.fld)
            cache[(self.fld, u)] = total
        return total

    def span(self, lo: int, hi: int) -> int:
        """Mentions in buckets ``lo``..``hi`` inclusive."""
        return self.cum(hi) - self.cum(lo - self.bucket)

    def score(self, observed: float, last: int, n: int, frac: float) -> tuple[float, float] | None:
        """(baseline, z) of ``observed`` for the window of ``n`` complete buckets ending with
        bucket ``last`` plus ``frac`` of the next one; None without enough seasonal history."""
        assert self.first is not None
        b = self.bucket
        samples: list[float] = []
        days = 0
        for k in range(1, self.days + 1):
            day_last = last - k * DAY
            got = False
            for j in range(-self.neighbours, self.neighbours + 1):
                end = day_last + j * b
                if end - (n - 1) * b < self.first:
                    continue  # that window starts before the data does: no sample
                value = float(self.span(end - (n - 1) * b, end))
                if frac:
                    value += frac * bucket_value(self.counts, end + b, self.fld)
                samples.append(value)
                got = True
            days += got
        if days < defaults.BASELINE_MIN_SEASONAL_DAYS:
            return None
        base = max(float(statistics.median(samples)), defaults.BASELINE_FLOOR_PER_BUCKET * (n + frac))
        logs = [math.log1p(s) for s in samples]
        mid = statistics.median(logs)
        spread = max(statistics.median(abs(v - mid) for v in logs) * MAD_TO_SD, math.sqrt(base) / (base + 1))
        return base, (math.log1p(observed) - math.log1p(base)) / spread

    def past_z(self, n: int, end: int) -> float | None:
        """z of the complete window of ``n`` buckets ending with bucket ``end``."""
        key = (self.fld, n, end)
        if key in self.memo.z:
            return self.memo.z[key]
        z: float | None = None
        if self.first is not None and end - (n - 1) * self.bucket >= self.first:
            got = self.score(self.span(end - (n - 1) * self.bucket, end), end, n, 0.0)
            z = got[1] if got else None
        self.memo.z[key] = z
        return z


def window_stats(series: SeriesView, n: int, now_ts: float) -> SustainedStats | None:
    """The sustained window ending at ``now``: ``n`` complete buckets plus the one in progress."""
    if series.first is None:
        return None
    b, current = series.bucket, series.current
    frac = (now_ts - current) / b
    last = current - b
    observed = series.span(current - n * b, last) + bucket_value(series.counts, current, series.fld)
    got = series.score(observed, last, n, frac)
    if got is None:
        return None
    return SustainedStats(observed, got[0], got[1], current - n * b)


def tail_quantile(series: SeriesView, n: int, window_start: int, horizon: int) -> float | None:
    """The brand's ``SUSTAINED_TAIL_QUANTILE`` of past window z ending in
    ``[window_start - horizon, window_start)``; None with fewer than ``SUSTAINED_TAIL_MIN_DAYS``
    of them.

    Replays ask for an advancing range, which a sorted sliding list answers without a sort
    per call; any other order rebuilds it.
    """
    b = series.bucket
    lo = (window_start - horizon) // b * b
    key = (series.fld, n)
    tail = series.memo.tails.get(key)
    # Reusable when the remembered range [tail.lo, tail.next_end) can be moved forward to this one.
    if tail is None or tail.lo > lo or tail.next_end > window_start or tail.next_end < lo:
        tail = series.memo.tails[key] = _SlidingSorted(lo=lo, next_end=lo)
    for end in range(tail.next_end, window_start, b):
        z = series.past_z(n, end)
        if z is not None:
            tail.ends.append((end, z))
            bisect.insort(tail.values, z)
    tail.next_end = max(tail.next_end, window_start)
    tail.lo = lo
    while tail.ends and tail.ends[0][0] < lo:
        _, old = tail.ends.popleft()
        del tail.values[bisect.bisect_left(tail.values, old)]
    values = tail.values
    if len(values) < defaults.SUSTAINED_TAIL_MIN_DAYS * DAY // b:
        return None
    pos = defaults.SUSTAINED_TAIL_QUANTILE * (len(values) - 1)
    i = math.floor(pos)
    upper = values[min(i + 1, len(values) - 1)]
    return values[i] + (upper - values[i]) * (pos - i)
