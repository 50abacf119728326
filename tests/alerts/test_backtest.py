from __future__ import annotations

import copy
import csv
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.backtest import BACKTEST_PLAN, backtest_counts_file, backtest_series, infer_bucket, series_name
from alerts.detect import VOLUME_SPIKE, detect
from alerts.plan import load_plan
from monitor.errors import ConfigErrors, ParseError

T0 = datetime(2015, 3, 1, 0, 2, 53)  # off the 5-minute grid on purpose, like NAB
STEP = timedelta(minutes=5)
DAYS = 12
SPIKES = {DAYS * 288 - 700: 3, DAYS * 288 - 200: 2}  # row index -> buckets it lasts


def rhythm(days: int = DAYS, seed: int = 7) -> list[tuple[datetime, int]]:
    """Mentions with a daily rhythm (quiet nights, busy evenings) and Poisson-ish noise."""
    rnd = random.Random(seed)
    rows = []
    for i in range(days * 288):
        hour = (i % 288) / 12
        mean = 40 + 30 * math.sin((hour - 9) / 24 * 2 * math.pi)  # 10 at 03:00, 70 at 15:00
        rows.append((T0 + i * STEP, max(0, round(rnd.gauss(mean, math.sqrt(mean) * 1.3)))))
    return rows


def with_spikes(rows: list[tuple[datetime, int]]) -> list[tuple[datetime, int]]:
    rows = list(rows)
    for start, length in SPIKES.items():
        for i in range(start, start + length):
            rows[i] = (rows[i][0], rows[i][1] + 600)
    return rows


def test_daily_rhythm_is_quiet_and_both_spikes_page_at_once() -> None:
    rows = with_spikes(rhythm())
    out = backtest_series(rows)
    assert [t for t, _, _ in out] == [t for t, _ in rows]
    alerts = [i for i, (_, is_alert, _) in enumerate(out) if is_alert]
    assert alerts, "no alert at all"
    for start in SPIKES:
        assert out[start][1] and out[start][2] == "spike"  # decided at the end of the first spike bucket
    # Every page starts in a spike. The plan's `sustained` path judges the last 2 hours, so a
    # burst's page may go on until the burst has left that window (still one page), never longer.
    starts = [i for i in alerts if not any(i - k in alerts for k in range(1, 13))]  # gaps <= 1 h: one page
    assert set(starts) <= set(SPIKES), f"pages starting outside the spikes: {sorted(set(starts) - set(SPIKES))}"
    reach = {i for s, n in SPIKES.items() for i in range(s, s + n + 24)}  # 24 x 5 min = 2 h
    assert set(alerts) <= reach, f"alerts long after the spikes: {sorted(set(alerts) - reach)}"
    # The rhythm alone (busy afternoons every day) never pages.
    assert not any(a for _, a, _ in backtest_series(rhythm()))


def test_no_look_ahead_later_rows_never_change_earlier_decisions() -> None:
    rows = with_spikes(rhythm())
    cut = min(SPIKES) + 1  # decisions up to and including the first spike's first bucket
    base = backtest_series(rows[:cut])
    assert base[-1][1]  # the spike is already caught with only its first bucket known
    altered = list(rows)
    for i in range(cut, len(rows)):  # a later future: floods, silence, anything
        altered[i] = (rows[i][0], 0 if i % 2 else 5000)
    for variant in (rows, altered):
        assert backtest_series(variant)[:cut] == base


def test_bucket_width_is_inferred_and_gaps_count_as_zero() -> None:
    rows = rhythm(days=9)
    assert infer_bucket([t for t, _ in rows]) == 300
    gappy = rows[:1000] + rows[1003:]  # three buckets missing: still 5-minute buckets
    assert infer_bucket([t for t, _ in gappy]) == 300
    out = backtest_series(gappy)
    assert len(out) == len(gappy) and [t for t, _, _ in out] == [t for t, _ in gappy]
    with pytest.raises(ParseError, match="strictly increasing"):
        infer_bucket([rows[1][0], rows[0][0]])


def test_counts_file_writes_what_the_scorer_reads(tmp_path: Path) -> None:
    src = tmp_path / "Twitter_volume_ACME.csv"
    rows = with_spikes(rhythm())
    with src.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value"])
        w.writerows((t.strftime("%Y-%m-%d %H:%M:%S"), v) for t, v in rows)
    out = backtest_counts_file(src, tmp_path / "out")
    assert out == tmp_path / "out" / "alerts_ACME.csv" and series_name(src) == "ACME"
    with out.open(newline="") as fh:
        got = list(csv.DictReader(fh))
    assert list(got[0]) == ["timestamp", "is_alert", "level"] and len(got) == len(rows)
    assert got[5]["timestamp"] == rows[5][0].strftime("%Y-%m-%d %H:%M:%S")  # verbatim
    first = min(SPIKES)
    assert (got[first]["is_alert"], got[first]["level"]) == ("1", "spike")
    assert {r["is_alert"] for r in got} == {"0", "1"} and not list(tmp_path.glob("out/*.tmp"))


def test_bad_counts_file_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "Twitter_volume_BAD.csv"
    bad.write_text("timestamp,value\n2015-03-01 00:00:00,3\n2015-03-01 00:05:00,lots\n")
    with pytest.raises(ParseError, match=r"Twitter_volume_BAD.csv:3: bad count 'lots'"):
        backtest_counts_file(bad, tmp_path)
    cols = tmp_path / "c.csv"
    cols.write_text("time,count\n")
    with pytest.raises(ParseError, match=r"need columns timestamp,value"):
        backtest_counts_file(cols, tmp_path)
    assert not list(tmp_path.glob("alerts_*"))


def test_volume_level_in_the_engine_detector_and_plan_validation() -> None:
    plan = load_plan(BACKTEST_PLAN, notifier_ids=())
    assert plan.levels[0].when.volume_spike == 2.0 and plan.levels[0].when.min_negative is None
    b, t0 = 300, 1_425_168_000
    counts = {t: {"neutral": 20, "negative": 2} for t in range(t0 - 16 * 86_400, t0, b)}
    simple = copy.deepcopy(BACKTEST_PLAN)
    simple["levels"][0]["when"] = {"volume_spike": 3.0, "min_volume": 30}
    plan = load_plan(simple, notifier_ids=()).model_copy(update={"bucket": b})
    assert detect("acme", counts, datetime.fromtimestamp(t0, UTC), plan) == []
    counts[t0] = {"neutral": 90, "negative": 10}
    [sig] = detect("acme", counts, datetime.fromtimestamp(t0 + b, UTC), plan)
    assert sig.kind == VOLUME_SPIKE and sig.observed == 100 and sig.negative == 10 and sig.ratio == 100 / 22
    assert sig.evidence()["volume"] == 100 and sig.surprise > 10
    bad = copy.deepcopy(BACKTEST_PLAN)
    bad["levels"][0]["when"] = {"negative_spike": 3.0}  # no floor
    bad["levels"].append({"id": "x", "name": "x", "when": {"min_volume": 5}})
    with pytest.raises(ConfigErrors) as info:
        load_plan(bad, file="p.yaml", notifier_ids=())
    assert info.value.lines() == [
        "p.yaml: levels[0].when: min_negative is required with negative_spike or negative_share (a floor keeps a "
        "quiet brand's blips from paging)",
        "p.yaml: levels[1].when: set volume_spike, negative_spike and/or negative_share (an absolute floor alone "
        "would page on any busy day)",
    ]


def test_sustained_moderate_elevation_pages_and_plain_rhythm_does_not() -> None:
    """3 hours at 2.5x normal: no single bucket is a spike, the 2-hour window is."""
    start, length = DAYS * 288 - 400, 36  # 36 x 5 min = 3 h, mid-afternoon
    rows = list(rhythm())
    for i in range(start, start + length):
        rows[i] = (rows[i][0], round(rows[i][1] * 2.5))
    out = backtest_series(rows)
    alerts = [i for i, (_, is_alert, _) in enumerate(out) if is_alert]
    assert alerts, "the 3-hour elevation was not paged"
    first = alerts[0]
    # Paged while it goes on, once the 2-hour window holds >= 2x normal: within 90 minutes.
    assert start <= first <= start + 18 and out[first][2] == "spike"
    assert all(start <= i < start + length + 24 for i in alerts)  # one page, ending with the shift
    # The sharp path alone (no `sustained`) misses it: that is what the second path is for.
    sharp_only = copy.deepcopy(BACKTEST_PLAN)
    del sharp_only["levels"][0]["when"]["sustained"]
    assert not any(a for _, a, _ in backtest_series(rows, sharp_only))
    # A noisier rhythm (another seed, other busy hours) with no elevation never pages.
    assert not any(a for _, a, _ in backtest_series(rhythm(seed=11)))
