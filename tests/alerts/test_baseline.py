from __future__ import annotations

from alerts.baseline import DAY, bucket_baseline, bucket_floor, history_needed, history_start
from monitor import defaults

B = 900  # 15-minute buckets
T0 = 1_772_409_600  # 2026-03-02 00:00 UTC, a bucket boundary


def steady(days: int, negative: int, *, until: int = T0) -> dict[int, dict[str, int]]:
    start = until - days * DAY
    return {t: {"negative": negative, "neutral": 5} for t in range(start, until, B)}


def est(counts: dict[int, dict[str, int]], start: int, window_start: int | None = None):  # type: ignore[no-untyped-def]
    return bucket_baseline(
        counts,
        start,
        bucket_seconds=B,
        baseline_days=7,
        history_start=history_start(counts),
        window_start=start if window_start is None else window_start,
    )


def test_bucket_floor() -> None:
    assert bucket_floor(T0 + 899, B) == T0 and bucket_floor(T0 + 900, B) == T0 + 900


def test_steady_history_gives_its_level_seasonally() -> None:
    e = est(steady(7, 4), T0 + 10 * 3600)
    assert (e.value, e.method, e.samples) == (4.0, "seasonal", 7)


def test_past_spike_does_not_inflate_the_baseline() -> None:
    counts = steady(7, 3)
    target = T0 + 21 * 3600
    counts[target - 2 * DAY] = {"negative": 400}  # a crisis two days ago at the same time
    counts[target - 5 * DAY] = {"negative": 150}  # and another one
    e = est(counts, target)
    assert e.value == 3.0 and e.method == "seasonal"


def test_daily_rhythm_is_respected() -> None:
    # Busy evenings (20 negatives per bucket at 21:00), quiet nights (1 at 04:00).
    counts: dict[int, dict[str, int]] = {}
    for day in range(1, 8):
        counts[T0 - day * DAY + 21 * 3600] = {"negative": 20}
        counts[T0 - day * DAY + 4 * 3600] = {"negative": 1, "neutral": 3}
    assert est(counts, T0 + 21 * 3600).value == 20.0
    assert est(counts, T0 + 4 * 3600).value == defaults.BASELINE_FLOOR_PER_BUCKET  # 1, floored at 1
    assert est(counts, T0 + 12 * 3600).value == defaults.BASELINE_FLOOR_PER_BUCKET  # zero at noon -> floor


def test_floor_keeps_a_zero_baseline_from_making_every_blip_a_spike() -> None:
    counts = {t: {"neutral": 3} for t in range(T0 - 7 * DAY, T0, B)}  # never any negative
    e = est(counts, T0)
    assert e.value == defaults.BASELINE_FLOOR_PER_BUCKET and e.method == "seasonal"


def test_short_history_falls_back_to_rolling_median_before_the_window() -> None:
    counts = steady(1, 6, until=T0)  # one day only: not enough same-time samples
    counts[T0] = {"negative": 300}  # the burst itself, inside the window
    e = est(counts, T0 + B, window_start=T0)
    assert e.method == "rolling"
    assert e.value == 6.0  # the burst bucket is excluded from its own yardstick
    assert e.samples == defaults.BASELINE_ROLLING_BUCKETS


def test_no_history_is_only_the_floor() -> None:
    counts = {T0: {"negative": 50}}  # a brand just added: its first mentions are the burst
    e = est(counts, T0, window_start=T0)
    assert (e.value, e.method) == (defaults.BASELINE_FLOOR_PER_BUCKET, "floor")
    assert est({}, T0).method == "floor"


def test_history_needed_covers_baseline_and_window() -> None:
    assert history_needed(B, 7, 1800) >= 7 * DAY + 1800
