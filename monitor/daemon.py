"""The daemon: builds every part from a Config and runs them.

    daemon = Daemon(load_config("config/demo.yaml"))
    daemon.start()            # HTTP server bound (port 0 allowed: see daemon.address)
    ...
    daemon.stop()

``run_once()`` polls every source until drained, evaluates every brand, delivers due
notifications and returns: the ``--once`` mode for cron users and tests.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from alerts.dispatch import Dispatcher
from alerts.engine import AlertEngine
from alerts.mute import PlanMuter
from alerts.notify.base import Notifier
from monitor import __version__, defaults
from monitor.api import ApiServer
from monitor.api_push import attach_spools
from monitor.clock import Clock, SystemClock
from monitor.cluster import LeaseKeeper, gone_from_this_host, replica_id
from monitor.housekeeping import RetentionTask
from monitor.metrics import Metrics, StoreCollector
from monitor.parts import build_parts
from monitor.pipeline import Pipeline, PollOutcome
from monitor.reload import ReloadResult, reload_daemon
from monitor.reports.schedule import ReportSender
from monitor.scheduler import Scheduler, poll_until_drained, source_lease
from monitor.settings import Config, parse_listen
from monitor.store import leases as store_leases
from monitor.store import mentions as store_mentions
from monitor.store.engine import make_engine
from monitor.store.migrate import upgrade
from nlp.dedupe import Deduper
from nlp.keywords import CrisisTerms
from nlp.process import TextProcessor
from nlp.segment import Segmenter
from nlp.sentiment import SentimentModel

log = logging.getLogger(__name__)

SIGNAL_POLL_SECONDS = 0.2  # how often the main thread checks whether SIGINT/SIGTERM/SIGHUP arrived


def eval_lease(brand: str) -> str:
    """The lease a replica must hold to evaluate ``brand``'s alerts."""
    return f"eval:{brand}"


def task_lease(name: str) -> str:
    """The lease a replica must hold to run the cluster-wide chore ``name`` (Daemon.once_per_cluster)."""
    return f"task:{name}"


class Daemon:
    def __init__(self, config: Config, *, clock: Clock | None = None,
                 registry: CollectorRegistry | None = None, listen: str | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = Metrics(self.registry)
        self.listen = listen or config.http.listen
        self.parts = build_parts(config, self.clock)
        self.engine: sa.Engine = make_engine(config.storage_url)
        upgrade(self.engine)
        attach_spools(self.parts.sources, self.engine)  # push sources read their spool in the store
        self.model = SentimentModel.load(config.resolve(config.nlp.model) if config.nlp.model else None,
                                         neutral_band=config.nlp.neutral_band)
        self.metrics.set_model(self.model.version)
        segmenter = Segmenter(user_dicts=[config.resolve(d) for d in config.nlp.user_dict])
        deduper = Deduper(window_hours=config.nlp.dedupe_window / 3600.0,
                          max_distance=defaults.DEDUPE_MAX_DISTANCE, min_chars=defaults.DEDUPE_MIN_CHARS)
        with self.engine.connect() as conn:  # warm the duplicate detector after a restart
            deduper.seed(store_mentions.recent_fingerprints(
                conn, self.clock.now() - timedelta(seconds=config.nlp.dedupe_window)))
        crisis_terms = (CrisisTerms.load(config.resolve(config.nlp.crisis_keywords))
                        if config.nlp.crisis_keywords else None)
        self.processor = TextProcessor(config.brands, model=self.model, segmenter=segmenter, deduper=deduper,
                                       crisis_terms=crisis_terms)
        self.pipeline = Pipeline(self.engine, self.processor, self.metrics, self.clock)
        assert self.parts.plan is not None
        self.alert_engine = AlertEngine(self.engine, self.parts.plan, self.clock, metrics=self.metrics,
                                        brand_names={b.id: b.name for b in config.brands})
        self.dispatcher = Dispatcher(self.engine, self.parts.notifiers, self.clock, metrics=self.metrics,
                                     language=config.alerts.language, base_url=config.http.base_url,
                                     link_secret=self.parts.link_secret, muter=PlanMuter(self.parts.plan),
                                     claim_seconds=config.alerts.claim_timeout)
        # scheduled weekly/monthly reports (reports: in the config); bad notify ids fail the start
        self.reports = ReportSender(self.engine, self.clock, lambda: (self.config, self.parts))
        self.store_collector = StoreCollector(self.engine, [s.id for s, _ in self.parts.sources])
        self.registry.register(self.store_collector)
        # Replicas share sources and brands through leases (monitor.cluster). Lease times come
        # from PostgreSQL's clock (replica hosts may disagree by seconds; the database is one
        # clock for all); SQLite serves one machine, so the daemon's own clock does, and a
        # daemon restarted after a crash takes its dead predecessor's leases at once.
        self.replica = config.cluster.replica_id or replica_id()
        self.metrics.replica_info.labels(replica=self.replica).set(1)
        sqlite = self.engine.dialect.name == "sqlite"
        self.keeper = LeaseKeeper(
            self.engine, self.replica, ttl=config.cluster.lease, heartbeat=config.cluster.heartbeat_seconds,
            clock=self.clock if sqlite else None, metrics=self.metrics, on_acquired=self._on_lease_acquired,
            can_release=self._can_release, dead=gone_from_this_host if sqlite else None)
        self.scheduler: Scheduler | None = None
        self.api: ApiServer | None = None
        self._stopped = threading.Event()
        self._retired: list[Notifier] = []  # replaced by a reload; closed after the delivery round in flight
        self._cluster_tasks: set[str] = set()  # chores one replica runs for all (once_per_cluster)
        # After a (re)start the first evaluation waits until every source has finished its
        # first poll round (or failed it), on whichever replica polls it: judging a brand on a
        # half-ingested backlog would resolve an ongoing incident and page everyone again when it
        # re-opens. The holder of each source's lease records it there (ready_at).
        self._caught_up = False
        self._catch_up_deadline = 0.0
        self._waiting_logged = False

    # --- the work -------------------------------------------------------------------------

    def wanted_leases(self) -> set[str]:
        """Every lease some replica must hold: one per enabled source and one per brand."""
        return ({source_lease(s.id) for s, _ in self.parts.sources}
                | {eval_lease(b.id) for b in self.config.brands}
                | {task_lease(name) for name in self._cluster_tasks})

    def once_per_cluster(self, name: str, fn: Callable[[], object]) -> Callable[[], object]:
        """``fn`` wrapped to run only on the one replica holding lease ``task:<name>``: for
        chores that must not run on every replica at once (the retention prune)."""
        self._cluster_tasks.add(name)
        self.keeper.want(self.wanted_leases())

        def run() -> object:
            return fn() if self.keeper.holds(task_lease(name)) else None

        return run

    def evaluate_alerts(self) -> None:
        """Evaluate the brands whose lease this replica holds (all of them when it runs alone)."""
        brands = [b.id for b in self.config.brands if self.keeper.holds(eval_lease(b.id))]
        if brands:
            self.alert_engine.evaluate_all(brands)

    def _on_poll(self, outcome: PollOutcome) -> None:
        if not outcome.more and not outcome.lease_lost:  # drained, or failed: its first round is over
            self.keeper.mark_ready(source_lease(outcome.source_id))

    def _on_lease_acquired(self, name: str) -> None:
        kind, _, key = name.partition(":")
        if kind == "source" and self.scheduler is not None:
            self.scheduler.poll_now(key)  # taken over: poll at once, do not wait for the interval

    def _can_release(self, name: str) -> bool:
        kind, _, key = name.partition(":")
        return kind != "source" or self.scheduler is None or self.scheduler.is_idle(key)

    def _evaluate_tick(self) -> None:
        if not self._sources_caught_up():
            return
        self.evaluate_alerts()

    def _sources_caught_up(self) -> bool:
        if self._caught_up:
            return True
        if time.monotonic() >= self._catch_up_deadline:
            self._caught_up = True
            return True
        with self.engine.connect() as conn:
            now = self.keeper.now(conn)
            rows = {x.name: x for x in store_leases.all_leases(conn, "source:")}
        pending = sorted(s.id for s, _ in self.parts.sources
                         if (r := rows.get(source_lease(s.id))) is None or not r.live(now) or r.ready_at is None)
        if pending:
            if not self._waiting_logged:
                log.info("alerts wait for sources to catch up: %s", ",".join(pending))
                self._waiting_logged = True
            return False
        self._caught_up = True
        return True

    def _dispatch_tick(self) -> None:
        self.dispatcher.drain()
        self._close_retired()

    def retire_notifier(self, notifier: Notifier) -> None:
        """Close ``notifier`` once the delivery round that may be using it is over (reload)."""
        self._retired.append(notifier)
        if self.scheduler is None:
            self._close_retired()

    def _close_retired(self) -> None:
        while self._retired:
            notifier = self._retired.pop()
            close = getattr(notifier, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    log.exception("notifier close failed")

    def reload(self, path: str | None = None) -> ReloadResult:
        """Re-read the config file and the plan; swap them in, or keep the running ones and log why."""
        return reload_daemon(self, path)

    def deliver(self) -> int:
        delivered = 0
        while True:
            n = self.dispatcher.drain()
            delivered += n
            if n == 0:
                return delivered

    def run_once(self) -> dict[str, Any]:
        """Poll everything until drained, evaluate, deliver; for cron and tests.

        Sources and brands whose lease a running replica holds are left to it."""
        stored = failed = 0
        alone = not self.keeper.running  # not inside a started daemon: take every lease free
        if alone:
            self.keeper.balance = False
            self.keeper.want(self.wanted_leases())
            self.keeper.start()
        try:
            for source, _ in self.parts.sources:
                lease = self.keeper.lease(source_lease(source.id))
                if lease is None:
                    log.info("source=%s skipped: another replica holds its lease", source.id)
                    continue
                for outcome in poll_until_drained(self.pipeline, source, fence=self.keeper.fence_for(lease)):
                    stored += outcome.stored
                    failed += 0 if outcome.ok else 1
            self.evaluate_alerts()
            delivered = self.deliver()
            self.reports.tick()  # a cron-driven `run --once` sends a report that is due, once
        finally:
            if alone:
                self.keeper.stop()
                self.keeper.balance = True
        return {"stored": stored, "failed_polls": failed, "notifications": delivered}

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        if self.api is None:
            raise RuntimeError("daemon not started")
        return self.api.address

    def ready(self) -> tuple[bool, str]:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("select 1"))
        except sa.exc.SQLAlchemyError as exc:
            return False, f"store unreachable: {str(exc).splitlines()[0]}"
        if self.scheduler is None:
            return False, "scheduler not started"
        return True, f"{len(self.parts.sources)} sources, model {self.model.version}"

    def start(self) -> None:
        host, port = parse_listen(self.listen)
        self.api = ApiServer(self, host, port)
        self.api.start()
        self.scheduler = Scheduler(self.pipeline, self.clock, on_poll=self._on_poll, keeper=self.keeper)
        self.keeper.want(self.wanted_leases())
        self.keeper.start()  # the first claims, before the first polls look for them
        self._catch_up_deadline = time.monotonic() + defaults.CATCH_UP_MAX_SECONDS
        for source, interval in self.parts.sources:
            self.scheduler.add_source(source, interval)
            self.metrics.source_interval.labels(source=source.id).set(interval)
        self.scheduler.add_task("evaluate", self.config.alerts.evaluate_interval, self._evaluate_tick)
        self.scheduler.add_task("dispatch", self.config.alerts.dispatch_interval, self._dispatch_tick)
        self.scheduler.add_task("reports", self.config.reports.check_interval, self.reports.tick)
        if self.config.retention.raw_days is not None:
            self.scheduler.add_task("retention", self.config.retention.prune_interval, self.once_per_cluster(
                "retention", RetentionTask(self.engine, self.config.retention, self.clock,
                                           stopping=self._stopped.is_set)))
        self.scheduler.start()
        h, p = self.address
        log.info("brandpulse %s started: replica %s, %d sources, %d brands, model %s, http://%s:%d/metrics",
                 __version__, self.replica, len(self.parts.sources), len(self.config.brands), self.model.version,
                 h, p)

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.scheduler is not None:
            self.scheduler.stop()
            self.keeper.stop()  # after the last poll: hand every lease over at once
        if self.api is not None:
            self.api.stop()
        self._close_retired()
        for source, _ in self.parts.sources:
            try:
                source.close()
            except Exception:
                log.exception("source=%s close failed", source.id)
        self.engine.dispose()
        log.info("brandpulse stopped")

    def run_forever(self) -> None:
        """Start, then block until SIGINT or SIGTERM; stop cleanly. SIGHUP reloads the config."""
        # The handler only records the signal: it runs on the main thread between bytecodes, so
        # taking any lock there (logging, Event.set) can deadlock against the code it interrupted.
        received: list[int] = []

        def on_signal(signum: int, frame: object) -> None:
            received.append(signum)

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            self.start()
            while True:
                while not received:
                    time.sleep(SIGNAL_POLL_SECONDS)
                signum = received.pop(0)
                if signum != signal.SIGHUP:
                    break
                log.info("received SIGHUP, reloading %s", self.config.file)
                self.reload()
            log.info("received %s, stopping", signal.Signals(signum).name)
        finally:
            self.stop()
            for s, h in previous.items():
                signal.signal(s, h)
