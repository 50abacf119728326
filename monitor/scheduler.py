"""What runs when: per-source polls, alert evaluation and outbox delivery, on ``schedule``.

The ticking thread only decides; work runs on a thread pool, so one slow or hanging source
never delays the others or the alert engine. A source is never polled twice at once. After a
failure it backs off exponentially (or as the server's Retry-After says), and when a poll
reports ``more`` it is polled again right away.

With a :class:`~monitor.cluster.LeaseKeeper` (several replicas), a source is polled only while
this replica holds its lease ``source:<id>``, and the poll's store transaction is fenced with
that lease: a replica that lost the source mid-poll stores nothing. Sources can be added,
replaced and removed while running (reload): a poll in flight finishes with the source it
started with, which is closed afterwards.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import schedule
import sqlalchemy as sa

from monitor import defaults
from monitor.clock import Clock
from monitor.pipeline import Pipeline, PollOutcome
from monitor.store.leases import Lease
from sources.base import Source

if TYPE_CHECKING:
    from monitor.cluster import LeaseKeeper

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


def source_lease(source_id: str) -> str:
    """The lease a replica must hold to poll ``source_id``."""
    return f"source:{source_id}"


@dataclass
class _SourceSlot:
    source: Source
    interval: float
    busy: bool = False
    not_before: datetime | None = None  # back-off: skip polls until then
    job: schedule.Job | None = None
    successor: Source | None = None  # replaces ``source`` once the poll in flight is done (reload)
    removed: bool = False  # close ``source`` once the poll in flight is done
    again: bool = False  # poll_now() came while a poll was running: poll again once it ends


class Scheduler:
    """Runs the daemon's periodic work until ``stop()``.

        sched = Scheduler(pipeline, clock)
        sched.add_source(source, interval=60)
        sched.add_task("evaluate", 60, engine_tick)
        sched.start(); ...; sched.stop()
    """

    def __init__(self, pipeline: Pipeline, clock: Clock, *, max_workers: int = 8,
                 on_poll: Callable[[PollOutcome], None] | None = None,
                 keeper: LeaseKeeper | None = None) -> None:
        self.pipeline = pipeline
        self.clock = clock
        self.on_poll = on_poll
        self.keeper = keeper
        self._sched = schedule.Scheduler()
        # polls and periodic tasks get separate pools: hung sources cannot starve alerting
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="bp-poll")
        self._task_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bp-task")
        self._slots: dict[str, _SourceSlot] = {}
        self._tasks_busy: dict[str, bool] = {}
        # task name -> (what its last failure was, failures in a row): a task failing the same
        # way every tick (the database is down) logs its traceback once, then its recovery
        self._task_failures: dict[str, tuple[str, int]] = {}
        self._task_jobs: dict[str, schedule.Job] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- registration ---------------------------------------------------------------------

    def add_source(self, source: Source, interval: float) -> None:
        slot = _SourceSlot(source, interval)
        with self._lock:
            self._slots[source.id] = slot
        self._schedule_slot(slot)
        if self._thread is not None:  # added while running (reload): first poll right away
            self._submit_poll(slot)

    def _schedule_slot(self, slot: _SourceSlot) -> None:
        job = self._sched.every(slot.interval).seconds.do(self._submit_poll, slot)  # type: ignore[arg-type]  # floats work
        # spread sources over their interval so they do not all poll in lockstep
        if job.next_run is not None:
            job.next_run += timedelta(seconds=random.uniform(0, defaults.POLL_JITTER * slot.interval))
        slot.job = job

    def replace_source(self, source: Source, interval: float) -> None:
        """Swap the source with the same id for a new one (its settings changed). A poll in
        flight finishes with the old one, which is closed after it; the next poll uses the new."""
        with self._lock:
            slot = self._slots[source.id]
            old = None
            if slot.busy:
                if slot.successor is not None:
                    old = slot.successor  # replaced twice during one poll: that one never ran
                slot.successor = source
            else:
                old, slot.source = slot.source, source
            slot.not_before = None
            rescheduled = interval != slot.interval
            slot.interval = interval
        if rescheduled:
            if slot.job is not None:
                self._sched.cancel_job(slot.job)
            self._schedule_slot(slot)
        if old is not None:
            _close(old)

    def remove_source(self, source_id: str) -> None:
        """Stop polling ``source_id``; a poll in flight finishes, then the source is closed."""
        with self._lock:
            slot = self._slots.pop(source_id, None)
            if slot is None:
                return
            slot.removed = True
            idle = not slot.busy
        if slot.job is not None:
            self._sched.cancel_job(slot.job)
        if idle:
            _close(slot.source)
        if slot.successor is not None and idle:
            _close(slot.successor)

    def source_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._slots)

    def is_idle(self, source_id: str) -> bool:
        """Whether no poll of ``source_id`` is running (its lease may be given away)."""
        with self._lock:
            slot = self._slots.get(source_id)
            return slot is None or not slot.busy

    def poll_now(self, source_id: str) -> None:
        """Poll ``source_id`` right away (its lease was just acquired), back-off forgotten."""
        with self._lock:
            slot = self._slots.get(source_id)
            if slot is None:
                return
            slot.not_before = None
            if slot.busy:  # what it was asked for may have arrived after the running poll read
                slot.again = True
                return
        self._submit_poll(slot)

    def add_task(self, name: str, interval: float, fn: Callable[[], object]) -> None:
        self._tasks_busy[name] = False
        self._task_jobs[name] = self._sched.every(interval).seconds.do(self._submit_task, name, fn)  # type: ignore[arg-type]

    def set_task_interval(self, name: str, interval: float) -> None:
        """Run task ``name`` every ``interval`` seconds from now on (reload)."""
        job = self._task_jobs[name]
        if job.interval != interval:
            job.interval = interval  # type: ignore[assignment]  # floats work
            job.next_run = datetime.now() + timedelta(seconds=interval)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="bp-scheduler", daemon=True)
        for slot in list(self._slots.values()):  # first poll of every source right away
            self._submit_poll(slot)
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
            if slot.busy or slot.removed:
                return  # still polling: the next tick will catch up
            if slot.not_before is not None and self.clock.now() < slot.not_before:
                return
            slot.busy = True
        # Busy first, lease second: the keeper gives a lease away only after taking it out of
        # its table and then finding the slot idle, so one of the two always sees the other.
        lease = None
        if self.keeper is not None:
            lease = self.keeper.lease(source_lease(slot.source.id))
            if lease is None:  # another replica polls it (or nobody may right now)
                with self._lock:
                    slot.busy = False
                return
        try:
            self._pool.submit(self._run_poll, slot, lease)
        except RuntimeError:  # pool shut down
            slot.busy = False

    def _run_poll(self, slot: _SourceSlot, lease: Lease | None) -> None:
        outcome = None
        source = slot.source
        try:
            fence = self.keeper.fence_for(lease) if self.keeper is not None and lease is not None else None
            outcome = self.pipeline.poll(source, fence=fence)
            if self.on_poll is not None:
                self.on_poll(outcome)
        except Exception:
            log.exception("source=%s poll crashed outside the pipeline", source.id)
        finally:
            retired: list[Source] = []
            with self._lock:
                slot.busy = False
                again, slot.again = slot.again, False
                if outcome is not None and not outcome.ok and not outcome.lease_lost:
                    # 0 failures counted: the store failed, not the source; retry at the next poll
                    delay = backoff_seconds(outcome.consecutive_failures, outcome.retry_after)
                    slot.not_before = self.clock.now() + timedelta(seconds=delay)
                else:
                    slot.not_before = None
                if slot.successor is not None:
                    retired.append(slot.source)
                    slot.source, slot.successor = slot.successor, None
                if slot.removed:
                    retired.append(slot.source)
            for old in retired:
                _close(old)
        if ((outcome is not None and outcome.ok and outcome.more) or again) and not slot.removed:
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
            except Exception as exc:
                self._task_failed(name, exc)
            else:
                self._task_succeeded(name)
            finally:
                with self._lock:
                    self._tasks_busy[name] = False

        try:
            self._task_pool.submit(run)
        except RuntimeError:
            self._tasks_busy[name] = False


    def _task_failed(self, name: str, exc: Exception) -> None:
        what = f"{type(exc).__name__}: {_DIGITS.sub('#', str(exc).splitlines()[0] if str(exc) else '')}"
        with self._lock:
            last, count = self._task_failures.get(name, ("", 0))
            self._task_failures[name] = (what, count + 1)
        if what != last:
            log.exception("task=%s failed (logged once until it changes or recovers)", name)
        else:
            log.debug("task=%s failed again (%d in a row): %s", name, count + 1, what)

    def _task_succeeded(self, name: str) -> None:
        with self._lock:
            failed = self._task_failures.pop(name, None)
        if failed is not None:
            log.info("task=%s recovered after %d failures", name, failed[1])


_DIGITS = re.compile(r"\d+(?:\.\d+)?")


def _close(source: Source) -> None:
    try:
        source.close()
    except Exception:
        log.exception("source=%s close failed", source.id)


def poll_until_drained(pipeline: Pipeline, source: Source, max_rounds: int = 1000,
                       fence: Callable[[sa.Connection], None] | None = None) -> list[PollOutcome]:
    """Poll a source until it reports no more items (``run --once``); ``fence`` as in Pipeline.poll."""
    outcomes = []
    for _ in range(max_rounds):
        outcome = pipeline.poll(source, fence=fence)
        outcomes.append(outcome)
        if not (outcome.ok and outcome.more):
            break
        time.sleep(0)
    return outcomes
