"""The sharp path (alerts.sharp): a level's window against per-bucket seasonal baselines."""

from __future__ import annotations

from alerts.baseline import DAY, VOLUME
from alerts.plan import load_plan
from alerts.sharp import SharpMemo, SharpView
from monitor import defaults

B = 300  # 5-minute buckets, like the NAB series: a day is 288 windows, not 96
T0 = 1_425_168_000  # 2015-03-01 00:00 UTC

PLAN = {"bucket": "5m", "baseline_days": 7, "baseline_neighbours": 3,
        "levels": [{"id": "spike", "name": "spike", "when": {"volume_spike": 2.0, "min_volume": 10,
                                                              "tail_factor": 3.0}}]}


def counts(until: int) -> dict[int, dict[str, int]]:
    """A steady, slightly noisy 20 mentions per bucket from T0 up to ``until``."""
    return {t: {VOLUME: 20 + (t // B * 7) % 11 - 5} for t in range(T0, until, B)}


def view(until: int) -> SharpView:
    plan = load_plan(PLAN, notifier_ids=())
    return SharpView(counts(until), plan, current=until, now_ts=until, first=T0, memo=SharpMemo())


def test_the_tail_is_trusted_only_after_a_day_of_seasonal_windows() -> None:
    """Seasonal estimates start after BASELINE_MIN_SEASONAL_DAYS; the brand's tail then needs
    SPIKE_TAIL_MIN_DAYS of windows: half a day (144 windows of 5 minutes, more than the old
    96-window rule) judged from one quiet night would make the next busy morning page."""
    seasonal_from = T0 + defaults.BASELINE_MIN_SEASONAL_DAYS * DAY
    half = seasonal_from + DAY // 2
    assert view(half).usual_tail(VOLUME, 3, half) is None
    assert defaults.SPIKE_TAIL_MIN_DAYS == 1
    later = seasonal_from + DAY + 3600
    tail = view(later).usual_tail(VOLUME, 3, later)
    assert tail is not None and 0 < tail < 5  # a steady series: its usual top surprise is small


def test_window_ratio_and_surprise_and_the_tail_bar() -> None:
    now = T0 + 5 * DAY
    v = view(now)
    data = v.seen
    assert isinstance(data, dict)
    for b in range(now - 3 * B, now, B):  # a burst in the last 15 minutes: 3 buckets of 120
        data[b] = {VOLUME: 120}
    stats = v.window(VOLUME, 3)
    assert stats.observed == 360 and stats.start == now - 3 * B and stats.method == "seasonal"
    assert 5 < stats.ratio < 7 and stats.surprise > 15
    assert v.spike_holds(VOLUME, 3, ratio=2.0, surprise=15.0, tail_factor=3.0)
    assert not v.spike_holds(VOLUME, 3, ratio=7.0, surprise=None, tail_factor=None)  # ratio bar
