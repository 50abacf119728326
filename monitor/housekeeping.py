"""Housekeeping the daemon runs on its scheduler: the retention prune (storage.retention).

    check_retention(config, plan)                    # at start: a ConfigError if raw_days is too short
    task = RetentionTask(engine, config.retention, clock, stopping=stopped.is_set)
    scheduler.add_task("retention", config.retention.prune_interval, task)

Detection reads raw mentions (per-brand buckets) far back: the window, each bucket's seasonal
history and the past windows that calibrate ``tail_factor``/``sustained``, about three times the
plan's ``baseline_days``. Pruning inside that horizon would silently change who gets paged, so a
``raw_days`` shorter than it is refused with the number of days the plan needs.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import sqlalchemy as sa

from alerts.baseline import history_needed
from alerts.plan import CrisisPlan
from monitor.clock import Clock
from monitor.errors import ConfigError
from monitor.settings import Config, RetentionSettings
from monitor.store import retention

log = logging.getLogger(__name__)


def days_detection_reads(plan: CrisisPlan) -> int:
    """Whole days of raw mentions before now that the plan's detectors read (rounded up, +1 for
    the day in progress, since the prune keeps whole UTC days)."""
    window = max(plan.window_seconds(level) for level in plan.levels)
    return math.ceil(history_needed(plan.bucket, plan.baseline_days, window) / retention.DAY) + 1


def check_retention(config: Config, plan: CrisisPlan | None) -> None:
    """Raise ConfigError when ``storage.retention.raw_days`` would prune what detection reads."""
    raw_days = config.retention.raw_days
    if raw_days is None or plan is None:
        return
    need = days_detection_reads(plan)
    if raw_days < need:
        raise ConfigError(
            f"{raw_days} days is shorter than the {need} days of raw mentions the crisis plan's detectors read "
            f"(baseline_days {plan.baseline_days}); set raw_days to at least {need}",
            file=config.file, key_path="storage.retention.raw_days")


class RetentionTask:
    """One scheduler tick of the retention prune: logs one line when it did something."""

    def __init__(self, engine: sa.Engine, settings: RetentionSettings, clock: Clock, *,
                 stopping: Callable[[], bool] | None = None) -> None:
        if settings.raw_days is None:
            raise ValueError("retention is off (storage.retention.raw_days is not set)")
        self.engine, self.settings, self.clock, self.stopping = engine, settings, clock, stopping

    def __call__(self) -> retention.PruneResult:
        assert self.settings.raw_days is not None
        started = time.monotonic()
        result = retention.prune(self.engine, self.clock.now(), raw_days=self.settings.raw_days,
                                 aggregates_days=self.settings.aggregates_days, should_stop=self.stopping)
        if result.mentions or result.aggregate_rows or not result.complete:
            log.info("retention pruned mentions=%d batches=%d aggregates_deleted=%d cutoff=%s complete=%s "
                     "seconds=%.1f", result.mentions, result.batches, result.aggregate_rows,
                     result.raw_cutoff.date().isoformat(), str(result.complete).lower(), time.monotonic() - started)
        return result
