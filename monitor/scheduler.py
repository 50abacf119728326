"""What runs when: per-source polls, alert evaluation and outbox delivery, on ``schedule``.

The ticking thread only decides; work runs on a thread pool, so one slow or hanging source
never delays the others or the alert engine. A source is never polled twice at once. After a
failure it backs off exponentially (or as the server's Retry-After says), and when a poll
reports ``more`` it is polled again right away.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import schedule

from monitor import defaults
from monitor.clock import Clock
from monitor.pipeline import Pipeline, PollOutcome
from sources.base import Source

log = logging.getLogger(__name__)

TICK_SECONDS = 0.2  # how often the scheduler thread looks for due jobs


def backoff_seconds(failures: int, retry_after: float | None = None) -> float:
    """Delay before the next poll after ``failures`` failures in a row."""
    if failures <= 0:
        return 0.0
    delay = min(defaults.BACKOFF_MAX_SECONDS, defaults.BACKOFF_BASE_SECONDS * 2 ** (failures - 1))
    if retry_after is not None:
        delay = max(delay, min(retry_after, defaults.BACKOFF_MAX_SECONDS))
    return delay


@dataclass
class _SourceSlot:
    source: Source
    interval: float
    busy: bool = False
    not_before: datetime | None = None  # back-off: skip polls until then


class Scheduler:
    """Runs the daemon's periodic work until ``stop()``.

        sched = Scheduler(pipeline, clock)
        sched.add_source(source, interval=60)
        sched.add_task("evaluate", 60, engine_tick)
        sched.start(); ...; sched.stop()
    """

    def __init__(self, pipeline: Pipeline, clock: Clock, *, max_workers: int = 8,
                 on_poll: Callable[[PollOutcome], None] | None = None) -> None:
        self.pipeline = pipeline
        self.clock = clock
        self.on_poll = on_poll
        self._sched = schedule.Scheduler()
        # polls and periodic tasks get separate pools: hung sources cannot starve alerting
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="bp-poll")
        self._task_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bp-task")
        self._slots: dict[str, _SourceSlot] = {}
        self._tasks_busy: dict[str, bool] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- registration ---------------------------------------------------------------------

    def add_source(self, source: Source, interval: float) -> None:
        slot = _SourceSlot(source, interval)
        self._slots[source.id] = slot
        job = self._sched.every(interval).seconds.do(self._submit_poll, slot)  # type: ignore[arg-type]  # floats work
        # spread sources over their interval so they do not all poll in lockstep
        if job.next_run is not None:
            job.next_run += timedelta(seconds=random.uniform(0, defaults.POLL_JITTER * interval))

    def add_task(self, name: str, interval: float, fn: Callable[[], object]) -> None:
        self._tasks_busy[name] = False
        self._sched.every(interval).seconds.do(self._submit_task, name, fn)  # type: ignore[arg-type]

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        for slot in self._slots.values():  # first poll of every source right away
            self._submit_poll(slot)
        self._thread = threading.Thread(target=self._loop, name="bp-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._task_pool.shutdown(wait=True, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._sched.run_pending()
            except Exception:  # never let the ticking thread die
                log.exception("scheduler tick failed")
            self._stop.wait(TICK_SECONDS)

    # --- sources --------------------------------------------------------------------------

    def _submit_poll(self, slot: _SourceSlot) -> None:
        if self._stop.is_set():
            return
        with self._lock:
            if slot.busy:
                return  # still polling: the next tick will catch up
            if slot.not_before is not None and self.clock.now() < slot.not_before:
                return
            slot.busy = True
        try:
            self._pool.submit(self._run_poll, slot)
        except RuntimeError:  # pool shut down
            slot.busy = False

    def _run_poll(self, slot: _SourceSlot) -> None:
        outcome = None
        try:
            outcome = self.pipeline.poll(slot.source)
            if self.on_poll is not None:
                self.on_poll(outcome)
        except Exception:
            log.exception("source=%s poll crashed outside the pipeline", slot.source.id)
        finally:
            with self._lock:
                slot.busy = False
                if outcome is not None and not outcome.ok:
                    delay = backoff_seconds(outcome.consecutive_failures or 1, outcome.retry_after)
                    slot.not_before = self.clock.now() + timedelta(seconds=delay)
                else:
                    slot.not_before = None
        if outcome is not None and outcome.ok and outcome.more:
            self._submit_poll(slot)

    # --- periodic tasks -------------------------------------------------------------------

    def _submit_task(self, name: str, fn: Callable[[], object]) -> None:
        if self._stop.is_set():
            return
        with self._lock:
            if self._tasks_busy[name]:
                return
            self._tasks_busy[name] = True

        def run() -> None:
            try:
                fn()
            except Exception:
                log.exception("task=%s failed", name)
            finally:
                with self._lock:
                    self._tasks_busy[name] = False

        try:
            self._task_pool.submit(run)
        except RuntimeError:
            self._tasks_busy[name] = False


def poll_until_drained(pipeline: Pipeline, source: Source, max_rounds: int = 1000) -> list[PollOutcome]:
    """Poll a source until it reports no more items (``run --once``)."""
    outcomes = []
    for _ in range(max_rounds):
        outcome = pipeline.poll(source)
        outcomes.append(outcome)
        if not (outcome.ok and outcome.more):
            break
        time.sleep(0)
    return outcomes
