"""Detectors: pure functions from bucket counts to signals ("this level's conditions hold now").

No database and no clock here: the engine reads the counts and passes ``now``, which makes
detection replayable over stored history (``alerts.backtest``) and testable with plain dicts.

Two spikes share one scoring machinery (issue 4), so improving one improves the other:

- ``negative_spike``: negative mentions against their seasonal baseline;
- ``volume_spike``: all mentions against theirs.

For either, a window is judged by its *ratio* (observed / baseline), its *surprise*
((observed - baseline) / robust spread, i.e. how many usual ups-and-downs above normal) and,
with ``tail_factor``, its surprise relative to the brand's own tail: the
``SPIKE_TAIL_QUANTILE`` of the surprises of its past windows over ``2 x baseline_days``. A brand
whose mentions jump every other day needs a bigger jump to page than a quiet one, with the
same plan for both.

A level with ``sustained`` also holds on a second path (``alerts.sustained``): the last
``SUSTAINED_WINDOW_SECONDS`` (2 h) against the same window on previous days, on a log scale,
relative to the brand's own usual top of that score. It catches hours of moderately raised
volume that no single bucket shows; the sharp path catches bursts within one bucket. The level
pages when either path has all its conditions hold; ``min_volume``/``min_negative``/
``negative_share`` and the spike ratios are then read over that path's window.

The detection window of a level is its last ``window`` worth of complete buckets *plus the
bucket in progress*, counted so far. Including the partial bucket pages within one
evaluation of a burst instead of up to a bucket later; its baseline is scaled by the elapsed
fraction of the bucket, so the ratio stays fair. Buckets starting after ``now`` are ignored
(no look-ahead, e.g. when replaying history that is already fully stored).

A level with ``crisis_keyword`` also holds, whatever its spike conditions say, when its window
(same window, bucket in progress included) has a stored mention of the brand with crisis terms
from an author with ``min_followers`` or more, or ``min_mentions`` such mentions: the level
opens when its spike conditions hold OR its crisis_keyword condition holds. The engine passes
``crisis`` (``monitor.store.mentions.crisis_counts``); without it (count-only backtests) that
path never holds. When both hold, the spike is reported (its evidence is richer).

    signals = detect("acme", counts, now, plan, crisis=crisis)
    if signals:
        signals[0].level, signals[0].ratio     # "warning", 6.5
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alerts.baseline import (
    VOLUME,
    BaselineEstimate,
    Counts,
    bucket_baseline,
    bucket_floor,
    bucket_value,
    history_start,
    tail_horizon,
)
from alerts.keywords import CrisisCounts, crisis_holds, crisis_in_window
from alerts.plan import Conditions, CrisisPlan, Level
from alerts.sustained import SeriesView, SustainedMemo, SustainedStats, tail_quantile, window_stats
from monitor import defaults

NEGATIVE_SPIKE = "negative_spike"
VOLUME_SPIKE = "volume_spike"
CRISIS_KEYWORD = "crisis_keyword"
SHARP = "sharp"  # detection paths: the level's own window ...
SUSTAINED = "sustained"  # ... or the SUSTAINED_WINDOW_SECONDS window (alerts.sustained) ...
CRISIS = "crisis"  # ... or crisis terms in the level's window (crisis_keyword)


@dataclass(frozen=True)
class Signal:
    """One detector's finding for one brand at one moment, at the most severe level that holds.

    For a negative spike ``observed``/``baseline``/``ratio`` count negative mentions; for a
    volume spike they count all mentions.
    """

    kind: str  # "negative_spike", "volume_spike" or "crisis_keyword" (then the counts are negatives)
    brand: str
    level: str  # id of the most severe plan level whose conditions hold
    observed: int  # mentions of the spiking kind in the window
    total: int  # all mentions in the window
    baseline: float  # expected mentions of the spiking kind in the window
    ratio: float  # observed / baseline
    negative_share: float  # negative mentions / total
    window_start: datetime
    window_end: datetime
    baseline_method: str  # "seasonal", "rolling" or "floor"
    surprise: float = 0.0  # (observed - baseline) / robust spread of the window
    negative: int = 0  # negative mentions in the window
    path: str = SHARP  # which path held: "sharp" (the level's window), "sustained" or "crisis"
    crisis_mentions: int = 0  # mentions with crisis terms in the window (crisis_keyword signals)
    crisis_reach: int = 0  # the largest author_followers among them

    def evidence(self) -> dict[str, Any]:
        """The numbers as JSON-ready evidence for the alert record and its notifications."""
        ev: dict[str, Any] = {"kind": self.kind, "level": self.level}
        if self.kind == VOLUME_SPIKE:
            ev["volume"] = self.observed
        ev.update(
            {
                "negative": self.negative if self.kind == VOLUME_SPIKE else self.observed,
                "total": self.total,
                "baseline": round(self.baseline, 2),
                "ratio": round(self.ratio, 2),
                "surprise": round(self.surprise, 1),
                "negative_share": round(self.negative_share, 3),
                "window_start": self.window_start.isoformat(),
                "window_end": self.window_end.isoformat(),
                "baseline_method": self.baseline_method,
            }
        )
        if self.path == SUSTAINED:
            ev["path"] = self.path  # its surprise is the sustained score (alerts.sustained)
        if self.kind == CRISIS_KEYWORD:
            ev["crisis_mentions"] = self.crisis_mentions
            ev["max_followers"] = self.crisis_reach
        return ev


@dataclass
class DetectMemo:
    """Work carried between ``detect`` calls over ONE brand's advancing history (backtests).

    Estimates and surprises of complete past buckets depend only on counts before them, so a
    replay that only ever appends buckets can compute each once. The engine passes no memo
    (its counts can still change: late mentions). With a memo, ``counts`` must hold nothing
    after the bucket in progress.

        memo = DetectMemo()
        for now in bucket_ends:
            detect("acme", counts, now, plan, memo=memo)
    """

    estimates: dict[tuple[str, int, int], BaselineEstimate] = field(default_factory=dict)
    surprises: dict[tuple[str, int, int], float | None] = field(default_factory=dict)
    first: int | None = None  # first bucket with data, once known
    sustained: SustainedMemo = field(default_factory=SustainedMemo)


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


class _Context:
    """One detect() call: the counts seen at ``now`` and the estimates made so far."""

    def __init__(
        self,
        counts: Counts,
        now: datetime,
        plan: CrisisPlan,
        memo: DetectMemo | None,
        crisis: CrisisCounts | None = None,
    ) -> None:
        self.plan, self.now_ts = plan, now.timestamp()
        self.crisis = crisis
        self.current = bucket_floor(self.now_ts, plan.bucket)
        if memo is None:
            self.seen: Counts = {b: c for b, c in counts.items() if b <= self.current}  # no look-ahead
            self.first = history_start(self.seen)
        else:
            self.seen = counts
            if memo.first is None:
                memo.first = history_start(counts)
            self.first = memo.first
        self.memo = memo or DetectMemo()
        self.stats: dict[tuple[str, int], WindowStats] = {}
        self.shifts: dict[str, SustainedStats | None] = {}

    def series(self, fld: str) -> SeriesView:
        return SeriesView(
            self.seen,
            fld,
            bucket=self.plan.bucket,
            current=self.current,
            first=self.first,
            baseline_days=self.plan.baseline_days,
            neighbours=self.plan.baseline_neighbours,
            memo=self.memo.sustained,
        )

    @property
    def sustained_buckets(self) -> int:
        return max(1, defaults.SUSTAINED_WINDOW_SECONDS // self.plan.bucket)

    def sustained(self, fld: str) -> SustainedStats | None:
        """The sustained window of ``fld`` ending at now; None without enough seasonal history."""
        if fld not in self.shifts:
            self.shifts[fld] = window_stats(self.series(fld), self.sustained_buckets, self.now_ts)
        return self.shifts[fld]

    def sustained_tail(self, fld: str, window_start: int) -> float | None:
        horizon = tail_horizon(self.plan.baseline_days)
        return tail_quantile(self.series(fld), self.sustained_buckets, window_start, horizon)

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

    def window(self, fld: str, level: Level) -> WindowStats:
        """Observed and expected mentions of ``fld`` in ``level``'s window ending at ``now``."""
        bucket = self.plan.bucket
        n_full = self.plan.window_seconds(level) // bucket
        key = (fld, n_full)
        if key in self.stats:
            return self.stats[key]
        start = self.current - n_full * bucket
        observed = total = 0
        expected = variance = 0.0
        methods = set()
        for b in range(start, self.current + bucket, bucket):
            observed += bucket_value(self.seen, b, fld)
            total += bucket_value(self.seen, b, VOLUME)
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

    def crisis_window(self, level: Level) -> tuple[int, int]:
        """(mentions with crisis terms, largest author reach) in ``level``'s window."""
        start = self.current - (self.plan.window_seconds(level) // self.plan.bucket) * self.plan.bucket
        return crisis_in_window(self.crisis, start, self.current)

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

    def usual_tail(self, fld: str, level: Level, window_start: int) -> float | None:
        """The brand's ``SPIKE_TAIL_QUANTILE`` surprise over past windows like this level's,
        ending before ``window_start`` (so the window never calibrates itself); None when
        there are fewer than ``SPIKE_TAIL_MIN_WINDOWS`` of them."""
        bucket = self.plan.bucket
        n = max(1, self.plan.window_seconds(level) // bucket)
        first_end = bucket_floor(window_start - tail_horizon(self.plan.baseline_days), bucket)
        values = [
            z for e in range(first_end, window_start, bucket) if (z := self.past_surprise(fld, n, e)) is not None
        ]
        if len(values) < defaults.SPIKE_TAIL_MIN_WINDOWS:
            return None
        # Linear-interpolated quantile from the few largest values (no full sort per call).
        pos = defaults.SPIKE_TAIL_QUANTILE * (len(values) - 1)
        lo = math.floor(pos)
        top = heapq.nlargest(len(values) - lo, values)  # descending: top[-1] is the lo-th smallest
        below, above = top[-1], top[-2] if len(top) > 1 else top[-1]
        return below + (above - below) * (pos - lo)


def _spike_holds(ctx: _Context, fld: str, level: Level, ratio: float | None) -> bool:
    cond = _when(level)
    stats = ctx.window(fld, level)
    if ratio is not None and stats.ratio < ratio:
        return False
    if cond.surprise is not None and stats.surprise < cond.surprise:
        return False
    if cond.tail_factor is not None:
        # Checked last: the only condition that reads weeks of history.
        tail = ctx.usual_tail(fld, level, stats.start)
        if tail is None or stats.surprise < cond.tail_factor * max(tail, 0.0):
            return False
    return True


def _when(level: Level) -> Conditions:
    """The level's opening conditions; escalation-only levels never reach the detectors."""
    if level.when is None:
        raise ValueError(f"level {level.id!r} has no `when:` conditions (escalation only)")
    return level.when


def _kind(cond: Conditions) -> str:
    return NEGATIVE_SPIKE if cond.negative_spike is not None or cond.negative_share is not None else VOLUME_SPIKE


def _sustained_holds(ctx: _Context, fld: str, level: Level, ratio: float | None) -> bool:
    stats = ctx.sustained(fld)
    if stats is None or (ratio is not None and stats.ratio < ratio):
        return False
    factor = _when(level).sustained
    assert factor is not None
    tail = ctx.sustained_tail(fld, stats.start)  # last: reads weeks of history
    return tail is not None and stats.z >= factor * max(tail, defaults.SUSTAINED_MIN_TAIL)


def _observed(ctx: _Context, fld: str, level: Level, path: str) -> int:
    if path == SHARP:
        return ctx.window(fld, level).observed
    stats = ctx.sustained(fld)
    return stats.observed if stats is not None else 0


def _holds_on(ctx: _Context, level: Level, path: str) -> bool:
    """Every condition of ``level`` that is set holds (they are ANDed), over ``path``'s window."""
    cond = _when(level)
    if cond.min_negative is not None and _observed(ctx, "negative", level, path) < cond.min_negative:
        return False
    if cond.min_volume is not None and _observed(ctx, VOLUME, level, path) < cond.min_volume:
        return False
    if cond.negative_share is not None and _observed(ctx, "negative", level, path) < cond.negative_share * max(
        _observed(ctx, VOLUME, level, path), 1
    ):
        return False
    spike = _spike_holds if path == SHARP else _sustained_holds
    if cond.negative_spike is not None and not spike(ctx, "negative", level, cond.negative_spike):
        return False
    return cond.volume_spike is None or spike(ctx, VOLUME, level, cond.volume_spike)


def has_spike(cond: Conditions) -> bool:
    """The conditions set a spike (relative) condition, not only crisis_keyword."""
    return cond.negative_spike is not None or cond.negative_share is not None or cond.volume_spike is not None


def _crisis_holds(ctx: _Context, level: Level) -> bool:
    rule = _when(level).crisis_keyword
    return rule is not None and crisis_holds(rule, *ctx.crisis_window(level))


def holding_path(ctx: _Context, level: Level) -> str | None:
    """The path on which ``level`` holds now: ``SHARP``, else ``SUSTAINED`` (when the level sets
    ``sustained``), else ``CRISIS`` (when it sets ``crisis_keyword``), else None."""
    cond = _when(level)
    if has_spike(cond):
        if _holds_on(ctx, level, SHARP):
            return SHARP
        if cond.sustained is not None and _holds_on(ctx, level, SUSTAINED):
            return SUSTAINED
    if _crisis_holds(ctx, level):
        return CRISIS
    return None


def holds_at(ctx: _Context, level: Level) -> bool:
    """Some path of ``level`` has all its conditions hold."""
    return holding_path(ctx, level) is not None


def detect(
    brand: str,
    counts: Counts,
    now: datetime,
    plan: CrisisPlan,
    *,
    memo: DetectMemo | None = None,
    crisis: CrisisCounts | None = None,
) -> list[Signal]:
    """Signals for ``brand`` at ``now``: at most one, at the most severe level of ``plan`` whose
    conditions hold (levels may use different windows). Its kind is ``negative_spike`` when
    that level has a negative condition, else ``volume_spike``; ``crisis_keyword`` when only the
    level's crisis_keyword condition held. ``crisis``: crisis-term mentions per bucket over
    at least the plan's largest window (see the module docstring).

    ``counts`` must cover :func:`alerts.baseline.history_needed` seconds before ``now``, and
    the bucket in progress must only count mentions published up to ``now``. ``memo``: see
    :class:`DetectMemo` (replays only).
    """
    ctx = _Context(counts, now, plan, memo, crisis)
    best: Level | None = None
    path = SHARP
    for level in plan.levels:
        if level.when is None:  # reached by escalation only
            continue
        if (held := holding_path(ctx, level)) is not None:
            best, path = level, held  # levels are ordered least -> most severe
    if best is None:
        return []
    kind = CRISIS_KEYWORD if path == CRISIS else _kind(_when(best))
    if path == SUSTAINED:
        return [_sustained_signal(ctx, brand, best, kind, now)]
    crisis_n, crisis_reach = ctx.crisis_window(best) if path == CRISIS else (0, 0)
    stats = ctx.window(VOLUME if kind == VOLUME_SPIKE else "negative", best)
    volume = ctx.window(VOLUME, best).observed
    negative = ctx.window("negative", best).observed if kind == VOLUME_SPIKE else stats.observed
    return [
        Signal(
            kind=kind,
            brand=brand,
            level=best.id,
            observed=stats.observed,
            total=volume,
            baseline=stats.baseline,
            ratio=stats.ratio,
            negative_share=negative / volume if volume else 0.0,
            window_start=datetime.fromtimestamp(stats.start, UTC),
            window_end=now,
            baseline_method=stats.method,
            surprise=stats.surprise,
            negative=negative,
            path=path,
            crisis_mentions=crisis_n,
            crisis_reach=crisis_reach,
        )
    ]


def _sustained_signal(ctx: _Context, brand: str, level: Level, kind: str, now: datetime) -> Signal:
    stats = ctx.sustained("negative" if kind == NEGATIVE_SPIKE else VOLUME)
    volume, negative = ctx.sustained(VOLUME), ctx.sustained("negative")
    assert stats is not None and volume is not None and negative is not None  # the path held
    return Signal(
        kind=kind,
        brand=brand,
        level=level.id,
        observed=stats.observed,
        total=volume.observed,
        baseline=stats.baseline,
        ratio=stats.ratio,
        negative_share=negative.observed / volume.observed if volume.observed else 0.0,
        window_start=datetime.fromtimestamp(stats.start, UTC),
        window_end=now,
        baseline_method="seasonal",
        surprise=stats.z,
        negative=negative.observed,
        path=SUSTAINED,
    )
