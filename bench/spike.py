"""Spike detection quality on real mention volume: NAB realTweets, scored like a brand manager feels it.

Runs the backtest (alerts.backtest: the engine's own detector, one bucket at a time, no
look-ahead) over every ../shared/data/nab/realTweets/Twitter_volume_*.csv into a temp folder,
scores it with ../shared/tools/spike_score.py, and does the same in the same run for the
in-run baseline: a plain seasonal detector (same 5-minute slot, median of the previous 7 days,
alert at >= 4x that median and >= 10 mentions). Prints per-series and overall event F1, false
pages per 30 days and median lag for both.

    python bench/spike.py                  # needs numpy + pandas (for the scorer)
    python bench/spike.py --data DIR       # another NAB-shaped folder (windows.json, realTweets/)

Our parameters (alerts.backtest.BACKTEST_PLAN), one set for all series, no labels read:
volume_spike 2.0 and min_volume 10 (a spike at least doubles the usual and is not a handful),
surprise 15 (robust z against a 7-day same-time-of-day median/MAD pooled over +-15 min),
tail_factor 3 (3x the brand's own 99.9th-percentile surprise of the last 14 days: brands
that spike often must spike harder); and sustained 2 (alerts.sustained: the last 2 hours
against the same 2 hours on the previous 7 days on a log scale, paging at 2x the brand's own
99th-percentile 2-hour score of the last 14 days, still >= 2x and >= 10 mentions): hours of
moderately raised volume that no single bucket shows. See issue 4 for the
leave-one-series-out check.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.backtest import backtest_counts_file, read_counts, series_name  # noqa: E402

SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "nab"
SCORER = SHARED / "tools" / "spike_score.py"
PLAIN_FACTOR = 4.0  # the in-run baseline alerts at >= this x the same-slot median ...
PLAIN_MIN = 10  # ... and at least this many mentions
PLAIN_DAYS = 7


def plain_seasonal(path: Path, out_dir: Path) -> Path:
    """The in-run baseline: same time slot on the previous PLAIN_DAYS days, median x factor."""
    rows = read_counts(path)
    stamps = [t.timestamp() for t, _ in rows]
    width = min(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    per_day = round(86_400 / width)
    values = [v for _, v in rows]
    out = out_dir / f"alerts_{series_name(path)}.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        raw = [rec["timestamp"] for rec in csv.DictReader(fh)]
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "is_alert", "level"])
        for i, v in enumerate(values):
            past = [values[i - k * per_day] for k in range(1, PLAIN_DAYS + 1) if i - k * per_day >= 0]
            alert = len(past) >= 3 and v >= PLAIN_MIN and v >= PLAIN_FACTOR * max(statistics.median(past), 1.0)
            w.writerow([raw[i], int(alert), "plain" if alert else ""])
    return out


def score(folder: Path, data: Path) -> dict:
    done = subprocess.run(
        [sys.executable, str(SCORER), str(folder), "--data", str(data), "--json"],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        sys.exit(f"scorer failed: {done.stderr.strip() or done.stdout.strip()}")
    return json.loads(done.stdout)


def show(name: str, result: dict) -> None:
    print(f"\n{name}")
    print(f"  {'series':8s} {'F1':>6s} {'TP':>3s} {'FN':>3s} {'FP':>3s} {'false/30d':>9s} {'lag min':>8s}")
    for tk, r in list(result["series"].items()) + [("overall", result["total"])]:
        lag = "-" if r["median_lag_min"] is None else f"{r['median_lag_min']:.1f}"
        fp30 = r["false_pages_per_30d"]
        print(f"  {tk:8s} {r['f1']:6.3f} {r['tp']:3d} {r['fn']:3d} {r['fp']:3d} {fp30:9.2f} {lag:>8s}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA, help="NAB-shaped folder (windows.json, realTweets/)")
    a = ap.parse_args(argv)
    files = sorted((a.data / "realTweets").glob("Twitter_volume_*.csv"))
    if not files:
        sys.exit(f"no Twitter_volume_*.csv under {a.data / 'realTweets'}")
    with tempfile.TemporaryDirectory() as tmp:
        ours, plain = Path(tmp, "ours"), Path(tmp, "plain")
        plain.mkdir()
        t0 = time.perf_counter()
        for f in files:
            backtest_counts_file(f, ours)
        took = time.perf_counter() - t0
        for f in files:
            plain_seasonal(f, plain)
        mine, base = score(ours, a.data), score(plain, a.data)
    rows = sum(len(read_counts(f)) for f in files)
    show("BrandPulse volume_spike detector (alerts.backtest.BACKTEST_PLAN)", mine)
    show(f"in-run baseline: same-slot median of {PLAIN_DAYS} days x {PLAIN_FACTOR:g}, >= {PLAIN_MIN} mentions", base)
    t, b = mine["total"], base["total"]
    print(f"\nevent F1 {t['f1']:.3f} vs baseline {b['f1']:.3f}; false pages/30d {t['false_pages_per_30d']:.2f} vs "
          f"{b['false_pages_per_30d']:.2f}; median lag {t['median_lag_min']} vs {b['median_lag_min']} min")
    print(f"backtest: {rows} buckets in {took:.1f} s ({rows / took:,.0f} buckets/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
