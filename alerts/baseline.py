"""How many negative mentions a brand normally gets in a bucket: the yardstick for spikes.

Pure functions over bucket counts (``{bucket start epoch seconds: {"negative": n, ...}}``, as
``monitor.store.mentions.bucket_counts`` returns them); no database here.

The estimate is *seasonal* and *robust*:

- seasonal: the same time of day on each of the previous ``baseline_days`` days, because
  mentions follow a daily rhythm (quiet at 04:00, busy at 21:00);
- robust: the median of those samples, not the mean, so last Tuesday's crisis does not raise
  this Tuesday's yardstick;
- with fewer than ``BASELINE_MIN_SEASONAL_DAYS`` days of history (a brand just added) it falls
  back to the median of the recent buckets before the detection window; with almost no
  history at all it is only the floor;
- never below ``BASELINE_FLOOR_PER_BUCKET``, so a baseline of zero does not make every blip
  an infinite spike (``min_negative`` in the plan is the other guard).

    est = bucket_baseline(counts, start, bucket_seconds=900, baseline_days=7,
                          history_start=min(counts), window_start=start)
    est.value, est.method        # 2.0, "seasonal"
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from monitor import defaults

DAY = 86_400
Counts = Mapping[int, Mapping[str, int]]


@dataclass(frozen=True)
class BaselineEstimate:
    value: float  # expected negative mentions in one bucket (floored)
    method: str  # "seasonal", "rolling" or "floor"
    samples: int  # how many buckets the median was taken over


def bucket_floor(ts: int | float, bucket_seconds: int) -> int:
    """Start of the bucket holding epoch second ``ts``."""
    return int(ts // bucket_seconds) * bucket_seconds


def negatives(counts: Counts, start: int) -> int:
    return int(counts.get(start, {}).get("negative", 0))


def history_start(counts: Counts) -> int | None:
    """The first bucket with any mention: earlier buckets are "no data", not "zero mentions"."""
    return min((b for b, c in counts.items() if any(c.values())), default=None)


def bucket_baseline(
    counts: Counts,
    start: int,
    *,
    bucket_seconds: int,
    baseline_days: int,
    history_start: int | None,
    window_start: int,
    floor: float = defaults.BASELINE_FLOOR_PER_BUCKET,
) -> BaselineEstimate:
    """Expected negatives in the bucket starting at ``start``.

    Args:
        counts: bucket counts covering at least ``baseline_days`` before ``window_start``.
        start: the bucket to estimate.
        history_start: first bucket with data (see :func:`history_start`); None = no data.
        window_start: first bucket of the detection window. The rolling fallback only looks
            before it, so a burst never raises its own yardstick.
    """
    if history_start is None:
        return BaselineEstimate(floor, "floor", 0)
    seasonal = [
        negatives(counts, t)
        for k in range(1, baseline_days + 1)
        if (t := bucket_floor(start - k * DAY, bucket_seconds)) >= history_start
    ]
    if len(seasonal) >= defaults.BASELINE_MIN_SEASONAL_DAYS:
        return BaselineEstimate(max(float(statistics.median(seasonal)), floor), "seasonal", len(seasonal))
    first = max(history_start, window_start - defaults.BASELINE_ROLLING_BUCKETS * bucket_seconds)
    rolling = [
        negatives(counts, t) for t in range(bucket_floor(first, bucket_seconds), window_start, bucket_seconds)
    ]
    if len(rolling) >= defaults.BASELINE_MIN_ROLLING_BUCKETS:
        return BaselineEstimate(max(float(statistics.median(rolling)), floor), "rolling", len(rolling))
    return BaselineEstimate(floor, "floor", len(rolling))


def history_needed(bucket_seconds: int, baseline_days: int, window_seconds: int) -> int:
    """Seconds of bucket counts before now that detection reads (seasonal + rolling + window)."""
    rolling = defaults.BASELINE_ROLLING_BUCKETS * bucket_seconds
    return max(baseline_days * DAY, rolling) + window_seconds + 2 * bucket_seconds
