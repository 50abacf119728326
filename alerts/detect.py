"""Detectors: pure functions from bucket counts to signals ("this level's conditions hold now").

No database and no clock here: the engine reads the counts and passes ``now``, which makes
detection replayable over stored history (``alerts.backtest``) and testable with plain dicts.

Two spikes share one scoring machinery (issue 4), so improving one improves the other:

- ``negative_spike``: negative mentions against their seasonal baseline;
- ``volume_spike``: all mentions against theirs.

A level holds on one of three paths, tried in this order:

- *sharp* (:mod:`alerts.sharp`): the level's own ``window`` of complete buckets plus the
  bucket in progress, judged by ratio, surprise and ``tail_factor`` against per-bucket
  seasonal baselines. Catches bursts within one bucket, within one evaluation.
- *sustained* (:mod:`alerts.sustained`), for a level with ``sustained``: the last
  ``SUSTAINED_WINDOW_SECONDS`` (2 h) against the same window on previous days, on a log
  scale, relative to the brand's own usual top of that score. Catches hours of moderately
  raised volume that no single bucket shows.
- *crisis*, for a level with ``crisis_keyword``: its window has a stored mention of the brand
  with crisis terms from an author with ``min_followers`` or more, or ``min_mentions`` such
  mentions. The engine passes ``crisis`` (``monitor.store.mentions.crisis_counts``); without
  it (count-only backtests) that path never holds. When a spike path also holds, the spike is
  reported (its evidence is richer).

On the spike paths every condition the level sets is ANDed; ``min_volume``/``min_negative``/
``negative_share`` and the spike ratios are read over that path's window. Buckets starting
after ``now`` are ignored (no look-ahead, e.g. when replaying history that is already stored).

    signals = detect("acme", counts, now, plan, crisis=crisis)
    if signals:
        signals[0].level, signals[0].ratio     # "warning", 6.5
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from alerts.baseline import VOLUME, Counts, bucket_floor, history_start, tail_horizon
from alerts.keywords import CrisisCounts, crisis_holds, crisis_in_window
from alerts.plan import Conditions, CrisisPlan, Level
from alerts.sharp import SharpMemo, SharpView, WindowStats
from alerts.signal import CRISIS, CRISIS_KEYWORD, NEGATIVE_SPIKE, SHARP, SUSTAINED, VOLUME_SPIKE, Signal
from alerts.sustained import SeriesView, SustainedMemo, SustainedStats, tail_quantile, window_stats
from monitor import defaults

__all__ = [
    "CRISIS",
    "CRISIS_KEYWORD",
    "NEGATIVE_SPIKE",
    "SHARP",
    "SUSTAINED",
    "VOLUME_SPIKE",
    "CrisisCounts",
    "DetectMemo",
    "Signal",
    "WindowStats",
    "detect",
    "has_spike",
    "holding_path",
]


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

    sharp: SharpMemo = field(default_factory=SharpMemo)
    first: int | None = None  # first bucket with data, once known
    sustained: SustainedMemo = field(default_factory=SustainedMemo)


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
        self.sharp = SharpView(
            self.seen, plan, current=self.current, now_ts=self.now_ts, first=self.first, memo=self.memo.sharp
        )
        self.shifts: dict[str, SustainedStats | None] = {}

    def n_full(self, level: Level) -> int:
        """Complete buckets in ``level``'s window (the bucket in progress comes on top)."""
        return self.plan.window_seconds(level) // self.plan.bucket

    def window(self, fld: str, level: Level) -> WindowStats:
        return self.sharp.window(fld, self.n_full(level))

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

    def crisis_window(self, level: Level) -> tuple[int, int]:
        """(mentions with crisis terms, largest author reach) in ``level``'s window."""
        start = self.current - self.n_full(level) * self.plan.bucket
        return crisis_in_window(self.crisis, start, self.current)


def _when(level: Level) -> Conditions:
    """The level's opening conditions; escalation-only levels never reach the detectors."""
    if level.when is None:
        raise ValueError(f"level {level.id!r} has no `when:` conditions (escalation only)")
    return level.when


def _kind(cond: Conditions) -> str:
    return NEGATIVE_SPIKE if cond.negative_spike is not None or cond.negative_share is not None else VOLUME_SPIKE


def _sharp_holds(ctx: _Context, fld: str, level: Level, ratio: float | None) -> bool:
    cond = _when(level)
    return ctx.sharp.spike_holds(fld, ctx.n_full(level), ratio, cond.surprise, cond.tail_factor)


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
    spike = _sharp_holds if path == SHARP else _sustained_holds
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
