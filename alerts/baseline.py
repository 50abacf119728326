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

The same estimate serves every spike detector: ``field="negative"`` (negative mentions, the
default) or ``field=VOLUME`` (all mentions). Besides the level it carries a robust *spread*
(1.4826 x the median absolute deviation of the samples, never below the Poisson sqrt(level)),
so a detector can ask how surprising a count is, not only how large a ratio. ``neighbours``
pools the buckets just before and after the same time of day on each previous day (with
5-minute buckets one sample per day is too noisy to judge spread; issue 4).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from monitor import defaults

DAY = 86_400
VOLUME = "volume"  # field name meaning "all mentions, whatever their sentiment"
MAD_TO_SD = 1.4826  # median absolute deviation -> standard deviation of a normal distribution
Counts = Mapping[int, Mapping[str, int]]


@dataclass(frozen=True)
class BaselineEstimate:
    value: float  # expected mentions (of the field) in one bucket (floored)
    method: str  # "seasonal", "rolling" or "floor"
    samples: int  # how many buckets the median was taken over
    spread: float = 1.0  # robust standard deviation of one bucket around ``value`` (>= sqrt(value))


def bucket_floor(ts: int | float, bucket_seconds: int) -> int:
    """Start of the bucket holding epoch second ``ts``."""
    return int(ts // bucket_seconds) * bucket_seconds


def negatives(counts: Counts, start: int) -> int:
    return int(counts.get(start, {}).get("negative", 0))


def bucket_value(counts: Counts, start: int, field: str = "negative") -> int:
    """Mentions of ``field`` in one bucket: a sentiment label, or :data:`VOLUME` for all."""
    c = counts.get(start)
    if not c:
        return 0
    return int(sum(c.values())) if field == VOLUME else int(c.get(field, 0))


def _estimate(samples: list[int], method: str, floor: float) -> BaselineEstimate:
    med = float(statistics.median(samples))
    mad = float(statistics.median(abs(x - med) for x in samples)) * MAD_TO_SD
    value = max(med, floor)
    # Counts are at least Poisson-noisy, and usually more (over-dispersed): the MAD catches the
    # extra, the sqrt floor keeps a flat history from making a spread of zero.
    return BaselineEstimate(value, method, len(samples), max(mad, value**0.5))


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
    field: str = "negative",
    neighbours: int = 0,
) -> BaselineEstimate:
    """Expected mentions of ``field`` in the bucket starting at ``start``, and their spread.

    Args:
        counts: bucket counts covering at least ``baseline_days`` before ``window_start``.
        start: the bucket to estimate.
        history_start: first bucket with data (see :func:`history_start`); None = no data.
        window_start: first bucket of the detection window. The rolling fallback only looks
            before it, so a burst never raises its own yardstick.
        field: "negative" (default) or :data:`VOLUME`.
        neighbours: also sample this many buckets either side of the same time on each
            previous day (0 = exactly the same time of day).
    """
    if history_start is None:
        return BaselineEstimate(floor, "floor", 0, floor**0.5)
    day_start = bucket_floor(start, bucket_seconds)
    days = [
        t for k in range(1, baseline_days + 1) if (t := bucket_floor(start - k * DAY, bucket_seconds)) >= history_start
    ]
    if len(days) >= defaults.BASELINE_MIN_SEASONAL_DAYS:
        seasonal = [
            bucket_value(counts, t + j * bucket_seconds, field)
            for t in days
            for j in range(-neighbours, neighbours + 1)
            # Never a sample from the bucket itself or later (neighbours of "yesterday").
            if history_start <= t + j * bucket_seconds < day_start
        ]
        return _estimate(seasonal, "seasonal", floor)
    first = max(history_start, window_start - defaults.BASELINE_ROLLING_BUCKETS * bucket_seconds)
    rolling = [
        bucket_value(counts, t, field)
        for t in range(bucket_floor(first, bucket_seconds), window_start, bucket_seconds)
    ]
    if len(rolling) >= defaults.BASELINE_MIN_ROLLING_BUCKETS:
        return _estimate(rolling, "rolling", floor)
    return BaselineEstimate(floor, "floor", len(rolling), floor**0.5)


def tail_horizon(baseline_days: int) -> int:
    """Seconds of past windows whose surprise calibrates ``tail_factor`` (see alerts.detect)."""
    return defaults.SPIKE_TAIL_BASELINES * baseline_days * DAY


def history_needed(bucket_seconds: int, baseline_days: int, window_seconds: int) -> int:
    """Seconds of bucket counts before now that detection reads.

    The window, the seasonal (or rolling) history of every bucket in it, and, for a level with
    ``tail_factor`` or ``sustained``, the past windows of :func:`tail_horizon` with *their*
    seasonal history. Neighbour pooling reaches at most ``BASELINE_MAX_NEIGHBOURS`` buckets
    further back; a ``sustained`` level reads ``SUSTAINED_WINDOW_SECONDS`` whatever its window.
    """
    rolling = defaults.BASELINE_ROLLING_BUCKETS * bucket_seconds
    reach = max(baseline_days * DAY + defaults.BASELINE_MAX_NEIGHBOURS * bucket_seconds, rolling)
    window = max(window_seconds, defaults.SUSTAINED_WINDOW_SECONDS)
    return tail_horizon(baseline_days) + reach + window + 2 * bucket_seconds
