"""Spike detection quality on real mention volume: NAB realTweets, scored like a brand manager feels it.

Runs the backtest (alerts.backtest: the engine's own detector, one bucket at a time, no
look-ahead) over every ../shared/data/nab/realTweets/Twitter_volume_*.csv into a temp folder,
scores it with ../shared/tools/spike_score.py, and does the same in the same run for the
in-run baseline the data's README describes: a seasonal EWMA + Poisson-tail detector with
per-series tail calibration (:func:`ewma_poisson`). Prints per-series and overall event F1,
TP/FN/FP, false pages per 30 days and median lag for both, and their ratio.

    python bench/spike.py                  # needs numpy + pandas (pip install -e '.[bench]')
    python bench/spike.py --loo            # + leave-one-series-out over a small grid (~2 min)
    python bench/spike.py --data DIR       # another NAB-shaped folder (windows.json, realTweets/)

Our parameters (alerts.backtest.BACKTEST_PLAN), one set for all series, no labels read:
volume_spike 2.0 and min_volume 10 (a spike at least doubles the usual and is not a handful),
surprise 15 (robust z against a 7-day same-time-of-day median/MAD pooled over +-15 min),
tail_factor 3 (3x the brand's own 99.9th-percentile surprise of the last 14 days, trusted
after a day of them: brands that spike often must spike harder); and sustained 2
(alerts.sustained: the last 2 hours against the same 2 hours on the previous 7 days on a log
scale, paging at 2x the brand's own 99th-percentile 2-hour score of the last 14 days, still
>= 2x and >= 10 mentions): hours of moderately raised volume that no single bucket shows.

``--loo`` guards against tuning to these five: for each series it picks, from a 3 x 3 grid
of (tail_factor, sustained), the pair with the best pooled F1 on the OTHER four, scores the
held-out series with it, and pools the five held-out results.
"""

from __future__ import annotations

import argparse
import copy
import csv
import itertools
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.backtest import BACKTEST_PLAN, backtest_counts_file, read_counts, series_name  # noqa: E402

SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "nab"
SCORER = SHARED / "tools" / "spike_score.py"

# The in-run baseline: seasonal EWMA + Poisson tail, calibrated per series on its own past.
# Settings picked from a small grid (window 1 or 3 buckets, factor 2 or 3, alpha 0.1 or 0.25)
# on these same five series, one set for all: the baseline gets the same tuning as we did.
EWMA_ALPHA = 0.25  # weight of today's count in each time-of-day slot's EWMA (~4-day memory)
EWMA_CLIP = 3.0  # a count enters the EWMA capped at level + 3 sqrt(level): a spike does not drag it up
EWMA_WINDOW = 3  # buckets summed per decision (15 min at 5-minute buckets), like our level window
EWMA_QUANTILE = 0.999  # per-series calibration: the 99.9th percentile of the series' own past scores ...
EWMA_FACTOR = 2.0  # ... times this is the alert threshold
EWMA_HORIZON_DAYS = 14  # past scores that calibrate (last 14 days; at least one day needed)
EWMA_MIN_COUNT = 10  # and at least this many mentions in the window
WARMUP_DAYS = 3  # days of EWMA before any decision

LOO_GRID = {"tail_factor": (2.5, 3.0, 3.5), "sustained": (1.5, 2.0, 2.5)}


def poisson_tail(x: float, lam: float) -> float:
    """-log P(X >= x) for X ~ Poisson(lam), by its Chernoff exponent x log(x/lam) - (x - lam):
    finite for any count (the exact tail underflows on a 100x spike), 0 at or below lam."""
    return x * math.log(x / lam) - (x - lam) if x > lam else 0.0


def _quantile(values: list[float], q: float, need: int) -> float:
    """Linear-interpolated quantile (numpy's default); inf with fewer than ``need`` values."""
    if len(values) < need:
        return math.inf
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def ewma_poisson(values: list[int], per_day: int) -> list[bool]:
    """The in-run baseline, causal: decide bucket i from buckets up to i only."""
    lam: list[float | None] = [None] * per_day
    scores: list[float] = []  # past scores, in order (for the per-series quantile)
    out: list[bool] = []
    threshold = math.inf
    for i, v in enumerate(values):
        slot = i % per_day
        levels = [lam[(slot - k) % per_day] for k in range(EWMA_WINDOW)]
        alert = False
        if i >= WARMUP_DAYS * per_day and all(x is not None for x in levels):
            observed = sum(values[max(0, i - EWMA_WINDOW + 1) : i + 1])
            score = poisson_tail(observed, max(sum(x for x in levels if x is not None), 1.0))
            if i % 12 == 0:  # recalibrate every 12 buckets (an hour at 5 minutes): cheap enough
                threshold = _quantile(scores[-EWMA_HORIZON_DAYS * per_day :], EWMA_QUANTILE, per_day)
            alert = observed >= EWMA_MIN_COUNT and score > EWMA_FACTOR * threshold
            scores.append(score)
        out.append(alert)
        cur = lam[slot]
        lam[slot] = float(v) if cur is None else (1 - EWMA_ALPHA) * cur + EWMA_ALPHA * min(
            v, cur + EWMA_CLIP * math.sqrt(max(cur, 1.0))
        )
    return out


def baseline_file(path: Path, out_dir: Path) -> Path:
    rows = read_counts(path)
    stamps = [t.timestamp() for t, _ in rows]
    width = min(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    # Fill gaps with zeros so slot i % per_day is the time of day.
    first = stamps[0]
    dense = [0] * (int((stamps[-1] - first) // width) + 1)
    index = [int((s - first) // width) for s in stamps]
    for i, (_, v) in zip(index, rows, strict=True):
        dense[i] = v
    flags = ewma_poisson(dense, round(86_400 / width))
    with path.open(encoding="utf-8", newline="") as fh:
        raw = [rec["timestamp"] for rec in csv.DictReader(fh)]
    out = out_dir / f"alerts_{series_name(path)}.csv"
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "is_alert", "level"])
        for stamp, i in zip(raw, index, strict=True):
            w.writerow([stamp, int(flags[i]), "ewma" if flags[i] else ""])
    return out


def score(folder: Path, data: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(SCORER), str(folder), "--data", str(data), "--json"],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        sys.exit(f"scorer failed: {done.stderr.strip() or done.stdout.strip()}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def show(name: str, result: dict[str, Any]) -> None:
    print(f"\n{name}")
    print(f"  {'series':8s} {'F1':>6s} {'TP':>3s} {'FN':>3s} {'FP':>3s} {'false/30d':>9s} {'lag min':>8s}")
    for tk, r in list(result["series"].items()) + [("overall", result["total"])]:
        lag = "-" if r["median_lag_min"] is None else f"{r['median_lag_min']:.1f}"
        fp30 = r["false_pages_per_30d"]
        print(f"  {tk:8s} {r['f1']:6.3f} {r['tp']:3d} {r['fn']:3d} {r['fp']:3d} {fp30:9.2f} {lag:>8s}")


def plan_with(tail_factor: float, sustained: float) -> dict[str, Any]:
    plan = copy.deepcopy(BACKTEST_PLAN)
    plan["levels"][0]["when"].update(tail_factor=tail_factor, sustained=sustained)
    return plan


def _f1(rows: list[dict[str, Any]]) -> float:
    tp, fn, fp = (sum(r[k] for r in rows) for k in ("tp", "fn", "fp"))
    return 2 * tp / (2 * tp + fn + fp) if tp else 0.0


def leave_one_out(files: list[Path], data: Path, tmp: Path) -> None:
    """Pick (tail_factor, sustained) on four series, score the fifth; pool the five."""
    results: dict[tuple[float, float], dict[str, Any]] = {}
    for tf, su in itertools.product(LOO_GRID["tail_factor"], LOO_GRID["sustained"]):
        folder = tmp / f"grid_{tf}_{su}"
        for f in files:
            backtest_counts_file(f, folder, plan_with(tf, su))
        results[(tf, su)] = score(folder, data)["series"]
        print(f"  grid tail_factor={tf:g} sustained={su:g}: pooled F1 {_f1(list(results[(tf, su)].values())):.3f}")
    held: list[dict[str, Any]] = []
    for tk in results[next(iter(results))]:
        best = max(results, key=lambda k: (_f1([r for s, r in results[k].items() if s != tk]), k == (3.0, 2.0)))
        row = results[best][tk]
        held.append(row)
        print(f"  held out {tk:5s}: chose tail_factor={best[0]:g} sustained={best[1]:g} -> TP {row['tp']} "
              f"FN {row['fn']} FP {row['fp']}, {row['false_pages_per_30d']:.2f} false pages/30d")
    print(f"leave-one-series-out event F1 {_f1(held):.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA, help="NAB-shaped folder (windows.json, realTweets/)")
    ap.add_argument("--loo", action="store_true", help="also run the leave-one-series-out check (~2 min)")
    a = ap.parse_args(argv)
    files = sorted((a.data / "realTweets").glob("Twitter_volume_*.csv"))
    if not files:
        sys.exit(f"no Twitter_volume_*.csv under {a.data / 'realTweets'}")
    with tempfile.TemporaryDirectory() as tmp:
        ours, base_dir = Path(tmp, "ours"), Path(tmp, "ewma")
        base_dir.mkdir()
        t0 = time.perf_counter()
        for f in files:
            backtest_counts_file(f, ours)
        took = time.perf_counter() - t0
        for f in files:
            baseline_file(f, base_dir)
        mine, base = score(ours, a.data), score(base_dir, a.data)
        rows = sum(len(read_counts(f)) for f in files)
        show("BrandPulse volume_spike detector (alerts.backtest.BACKTEST_PLAN)", mine)
        show(f"in-run baseline: seasonal EWMA (alpha {EWMA_ALPHA:g}) + Poisson tail over {EWMA_WINDOW} buckets, "
             f"alert at {EWMA_FACTOR:g}x the series' own {EWMA_QUANTILE:g} quantile", base)
        t, b = mine["total"], base["total"]
        worst = max(r["false_pages_per_30d"] for r in mine["series"].values())
        ratio = t["f1"] / b["f1"] if b["f1"] else math.inf
        print(f"\nevent F1 {t['f1']:.3f} vs baseline {b['f1']:.3f} ({ratio:.2f}x); false pages/30d "
              f"{t['false_pages_per_30d']:.2f} vs {b['false_pages_per_30d']:.2f} (worst series {worst:.2f}); "
              f"median lag {t['median_lag_min']} vs {b['median_lag_min']} min")
        print(f"backtest: {rows} buckets in {took:.1f} s ({rows / took:,.0f} buckets/s)")
        if a.loo:
            print("\nleave-one-series-out")
            leave_one_out(files, a.data, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
