from __future__ import annotations

import copy
from datetime import UTC, datetime

from alerts.baseline import DAY
from alerts.detect import NEGATIVE_SPIKE, detect
from alerts.plan import CrisisPlan, load_plan

from .conftest import NOTIFIERS, PLAN

B = 900
T0 = 1_772_409_600  # 2026-03-02 00:00 UTC


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def history(days: int = 7, negative: int = 2, neutral: int = 8, until: int = T0) -> dict[int, dict[str, int]]:
    return {t: {"negative": negative, "neutral": neutral} for t in range(until - days * DAY, until, B)}


def test_flat_rhythm_gives_no_signal(plan: CrisisPlan) -> None:
    counts = history(days=8, until=T0 + DAY)
    for minute in range(0, 24 * 60, 37):
        assert detect("acme", counts, at(T0 + minute * 60), plan) == []


def test_burst_gives_a_warning_signal_with_its_numbers(plan: CrisisPlan) -> None:
    counts = history()
    counts[T0] = {"negative": 30, "neutral": 10}  # 15x the baseline of 2, but under crisis's 40
    now = at(T0 + 10 * 60)  # 10 minutes into the burst bucket
    [sig] = detect("acme", counts, now, plan)
    assert sig.kind == NEGATIVE_SPIKE and sig.brand == "acme" and sig.level == "warning"
    assert sig.observed == 32 and sig.total == 50  # previous full bucket (2+8) + the partial one
    assert sig.baseline == 2 + 2 * (10 / 15)  # a full bucket plus 10/15 of the one in progress
    assert sig.ratio == sig.observed / sig.baseline
    assert sig.negative_share == 32 / 50
    assert sig.window_start == at(T0 - B) and sig.window_end == now
    assert sig.baseline_method == "seasonal"
    ev = sig.evidence()
    assert ev["negative"] == 32 and ev["baseline"] == round(sig.baseline, 2)


def test_bigger_burst_reaches_the_highest_level_whose_conditions_hold(plan: CrisisPlan) -> None:
    counts = history()
    counts[T0] = {"negative": 90, "neutral": 20}
    [sig] = detect("acme", counts, at(T0 + 14 * 60), plan)
    assert sig.level == "crisis"  # exec needs 500 negatives
    # Same volume but mostly neutral chatter: crisis's negative_share 0.5 fails -> warning.
    counts[T0] = {"negative": 90, "neutral": 200}
    [sig] = detect("acme", counts, at(T0 + 14 * 60), plan)
    assert sig.level == "warning"


def test_min_negative_guards_a_quiet_brand(plan: CrisisPlan) -> None:
    counts = history(negative=0, neutral=1)
    counts[T0] = {"negative": 6}  # 6x the floor, but below warning's min_negative of 10
    assert detect("acme", counts, at(T0 + 5 * 60), plan) == []


def test_past_spike_does_not_hide_todays(plan: CrisisPlan) -> None:
    counts = history()
    for day in (1, 3):  # crises at this time of day, 1 and 3 days ago
        counts[T0 - day * DAY] = {"negative": 200}
    counts[T0] = {"negative": 25}
    [sig] = detect("acme", counts, at(T0 + 12 * 60), plan)
    assert sig.level == "warning" and sig.baseline < 4


def test_daily_rhythm_an_evening_peak_is_not_a_spike(plan: CrisisPlan) -> None:
    evening = 21 * 3600
    counts = history(days=8, negative=1, neutral=3, until=T0 + DAY)
    for day in range(0, 8):  # every evening 40 negatives at 21:00, also today
        counts[T0 - day * DAY + evening] = {"negative": 40, "neutral": 10}
    assert detect("acme", counts, at(T0 + evening + 14 * 60), plan) == []
    # The same 40 at 04:00, when 1 is normal, is a crisis.
    counts[T0 + 4 * 3600] = {"negative": 40, "neutral": 10}
    [sig] = detect("acme", counts, at(T0 + 4 * 3600 + 14 * 60), plan)
    assert sig.level == "crisis" and sig.baseline < 2


def test_no_look_ahead(plan: CrisisPlan) -> None:
    counts = history()
    counts[T0 + B] = {"negative": 300}  # the next bucket: in the future at `now`
    assert detect("acme", counts, at(T0 + 14 * 60), plan) == []
    [sig] = detect("acme", counts, at(T0 + B + 60), plan)
    assert sig.level == "crisis"


def test_partial_bucket_pages_immediately_and_burst_stays_visible_for_the_window(plan: CrisisPlan) -> None:
    counts = history()
    counts[T0] = {"negative": 20}
    assert detect("acme", counts, at(T0 + 60), plan)[0].level == "warning"  # one minute in
    assert detect("acme", counts, at(T0 + B + 14 * 60), plan)  # still in the window (previous full bucket)
    assert detect("acme", counts, at(T0 + 2 * B + 60), plan) == []  # gone


def test_longer_window_sums_buckets(plan: CrisisPlan) -> None:
    data = copy.deepcopy(PLAN)
    data["levels"][0]["when"]["window"] = "1h"
    plan1h = load_plan(data, notifier_ids=NOTIFIERS)
    counts = history(negative=1)
    for i in range(4):  # 4 buckets of 4 each: 15-30 minutes never reach 10, the hour does
        counts[T0 - i * B] = {"negative": 4}
    assert detect("acme", counts, at(T0 + 60), plan) == []
    [sig] = detect("acme", counts, at(T0 + 60), plan1h)
    assert sig.observed == 17 and sig.window_start == at(T0 - 4 * B)


def test_brand_just_added_uses_the_floor(plan: CrisisPlan) -> None:
    [sig] = detect("newbrand", {T0: {"negative": 45, "neutral": 5}}, at(T0 + 14 * 60), plan)
    assert sig.baseline_method == "floor" and sig.level == "crisis"


def test_sustained_negative_shift_pages_on_the_two_hour_window() -> None:
    """Two hours at 2.5x the usual negatives: every 15-minute bucket stays under min_negative,
    the 2-hour window does not, and the level's `sustained` path holds."""
    data = copy.deepcopy(PLAN)
    data["levels"] = [
        {"id": "warning", "name": "预警", "when": {"negative_spike": 2.0, "min_negative": 10, "sustained": 2.0}}
    ]
    plan = load_plan(data, notifier_ids=NOTIFIERS)
    counts = history(days=16)  # 2 negatives + 8 neutral per bucket, also at this time every day
    now = at(T0 + 5 * 60)  # 5 minutes into the bucket starting at T0
    assert detect("acme", counts, now, plan) == []
    for i in range(1, 9):  # the 8 buckets (2 h) before T0: 5 negatives each
        counts[T0 - i * B] = {"negative": 5, "neutral": 8}
    counts[T0] = {"negative": 2}
    [sig] = detect("acme", counts, now, plan)
    assert sig.kind == NEGATIVE_SPIKE and sig.level == "warning" and sig.path == "sustained"
    assert sig.observed == 8 * 5 + 2 and sig.window_start == at(T0 - 8 * B)
    assert sig.baseline == 2 * (8 + 5 / 15)  # 2 per bucket; the bucket in progress counted by its elapsed third
    assert sig.ratio > 2.0 and sig.negative == sig.observed and sig.total == 8 * 13 + 2
    assert sig.evidence()["path"] == "sustained"
    # Without `sustained` the level only has its own 15-minute window: 5 (+2) never reach 10.
    data["levels"][0]["when"].pop("sustained")
    assert detect("acme", counts, now, load_plan(data, notifier_ids=NOTIFIERS)) == []


# --- crisis_keyword: crisis terms from a high-reach author, or in several mentions ------------

from alerts.detect import CRISIS_KEYWORD  # noqa: E402


def crisis_plan() -> CrisisPlan:
    raw = copy.deepcopy(PLAN)
    raw["levels"][1]["when"]["crisis_keyword"] = {"min_followers": 100_000, "min_mentions": 5}
    return load_plan(raw, notifier_ids=NOTIFIERS)


def test_crisis_term_from_a_high_reach_author_opens_the_level_without_a_spike() -> None:
    plan, counts, now = crisis_plan(), history(), at(T0 + 5 * 60)
    counts[T0] = {"negative": 1, "neutral": 2}  # no spike at all
    assert detect("acme", counts, now, plan, crisis={T0: (1, 99_999)}) == []  # reach just short
    [sig] = detect("acme", counts, now, plan, crisis={T0: (1, 250_000)})
    assert sig.kind == CRISIS_KEYWORD and sig.level == "crisis" and sig.path == "crisis"
    assert (sig.crisis_mentions, sig.crisis_reach) == (1, 250_000)
    assert sig.observed == sig.negative == 3  # negatives in the window: previous bucket 2 + 1
    ev = sig.evidence()
    assert ev["kind"] == CRISIS_KEYWORD and ev["crisis_mentions"] == 1 and ev["max_followers"] == 250_000


def test_several_crisis_mentions_open_the_level_counted_over_the_window() -> None:
    plan, counts, now = crisis_plan(), history(), at(T0 + 5 * 60)
    assert detect("acme", counts, now, plan, crisis={T0 - B: (2, 10), T0: (2, 50)}) == []  # 4 < 5
    [sig] = detect("acme", counts, now, plan, crisis={T0 - B: (3, 10), T0: (2, 50)})
    assert sig.kind == CRISIS_KEYWORD and sig.crisis_mentions == 5 and sig.crisis_reach == 50
    # Outside the window (older than one bucket before the one in progress) or after now: ignored.
    assert detect("acme", counts, now, plan, crisis={T0 - 2 * B: (9, 10**6), T0 + B: (9, 10**6)}) == []


def test_a_spike_wins_over_crisis_terms_and_plans_without_the_condition_ignore_them(plan: CrisisPlan) -> None:
    counts = history()
    counts[T0] = {"negative": 60, "neutral": 5}
    now = at(T0 + 10 * 60)
    [sig] = detect("acme", counts, now, crisis_plan(), crisis={T0: (1, 10**6)})
    assert sig.kind == NEGATIVE_SPIKE and sig.level == "crisis"
    quiet = history()
    assert detect("acme", quiet, now, plan, crisis={T0: (50, 10**7)}) == []  # no crisis_keyword in plan
