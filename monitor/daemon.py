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
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from alerts.dispatch import Dispatcher
from alerts.engine import AlertEngine
from alerts.mute import PlanMuter
from alerts.notify import build_notifier
from alerts.notify.base import Notifier
from alerts.plan import CrisisPlan, load_plan
from monitor import __version__, defaults
from monitor.api import ApiServer
from monitor.clock import Clock, SystemClock
from monitor.errors import ConfigError, ConfigErrors
from monitor.metrics import Metrics, StoreCollector
from monitor.pipeline import Pipeline, PollOutcome
from monitor.scheduler import Scheduler, poll_until_drained
from monitor.settings import Config, parse_listen
from monitor.store import mentions as store_mentions
from monitor.store.engine import make_engine
from monitor.store.migrate import upgrade
from nlp.dedupe import Deduper
from nlp.keywords import CrisisTerms
from nlp.process import TextProcessor
from nlp.segment import Segmenter
from nlp.sentiment import SentimentModel
from sources import build_source
from sources.base import Source

log = logging.getLogger(__name__)

SIGNAL_POLL_SECONDS = 0.2  # how often the main thread checks whether SIGINT/SIGTERM arrived


@dataclass
class Parts:
    """What a config builds without touching the network or the store."""

    sources: list[tuple[Source, float]] = field(default_factory=list)  # (source, interval seconds)
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    plan: CrisisPlan | None = None
    responder_token: str | None = None  # bearer token for the ack/resolve API (http.responder_token_env)
    link_secret: str | None = None  # key signing ack links (http.link_secret_env)


def build_parts(config: Config, clock: Clock) -> Parts:
    """Build sources, notifiers and the plan, collecting every problem into one ConfigErrors."""
    parts = Parts()
    problems: list[ConfigError] = []

    def prefixed(exc: ConfigError, prefix: str) -> list[ConfigError]:
        errs = exc.errors if isinstance(exc, ConfigErrors) else [exc]
        return [ConfigError(e.problem, file=e.file or config.file,
                            key_path=f"{prefix}.{e.key_path}" if e.key_path else prefix) for e in errs]

    for i, s in enumerate(config.sources):
        if not s.enabled:
            continue
        try:
            source = build_source(s.id, s.kind, s.options, base_dir=config.base_dir, clock=clock)
        except ConfigError as exc:
            problems += prefixed(exc, f"sources[{i}]")
        else:
            parts.sources.append((source, s.interval))
    for i, n in enumerate(config.notifiers):
        try:
            parts.notifiers[n.id] = build_notifier(n.id, n.kind, n.options)
        except ConfigError as exc:
            problems += prefixed(exc, f"notifiers[{i}]")
    if config.plan is None:
        problems.append(ConfigError("no crisis plan: set `plan:` to a plan file or an inline plan",
                                    file=config.file, key_path="plan"))
    else:
        try:
            parts.plan = load_plan(config.plan, file=config.plan_file, notifier_ids=set(parts.notifiers)
                                   | {n.id for n in config.notifiers}, brand_ids={b.id for b in config.brands})
        except ConfigError as exc:
            problems += exc.errors if isinstance(exc, ConfigErrors) else [exc]
    for key in ("responder_token_env", "link_secret_env"):
        name = getattr(config.http, key)
        if name is None:
            continue
        value = os.environ.get(name, "")
        if not value:  # named but missing: fail at startup, not with a puzzling 403 later
            problems.append(ConfigError(f"environment variable {name!r} is not set", file=config.file,
                                        key_path=f"http.{key}"))
        setattr(parts, key.removesuffix("_env"), value or None)
    if problems:
        for source, _ in parts.sources:
            source.close()
    ConfigErrors.collect(problems)
    return parts


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
        self.registry.register(StoreCollector(self.engine, [s.id for s, _ in self.parts.sources]))
        self.scheduler: Scheduler | None = None
        self.api: ApiServer | None = None
        self._stopped = threading.Event()
        # After a (re)start the first evaluation waits until every source has finished its
        # first poll round (or failed it): judging a brand on a half-ingested backlog would
        # resolve an ongoing incident and page everyone again when it re-opens.
        self._caught_up: set[str] = set()
        self._catch_up_deadline = 0.0
        self._waiting_logged = False

    # --- the work -------------------------------------------------------------------------

    def evaluate_alerts(self) -> None:
        self.alert_engine.evaluate_all([b.id for b in self.config.brands])

    def _on_poll(self, outcome: PollOutcome) -> None:
        if not outcome.more:  # drained, or failed: either way its first round is over
            self._caught_up.add(outcome.source_id)

    def _evaluate_tick(self) -> None:
        pending = {s.id for s, _ in self.parts.sources} - self._caught_up
        if pending and time.monotonic() < self._catch_up_deadline:
            if not self._waiting_logged:
                log.info("alerts wait for sources to catch up: %s", ",".join(sorted(pending)))
                self._waiting_logged = True
            return
        self.evaluate_alerts()

    def deliver(self) -> int:
        delivered = 0
        while True:
            n = self.dispatcher.drain()
            delivered += n
            if n == 0:
                return delivered

    def run_once(self) -> dict[str, Any]:
        """Poll everything until drained, evaluate, deliver; for cron and tests."""
        stored = failed = 0
        for source, _ in self.parts.sources:
            for outcome in poll_until_drained(self.pipeline, source):
                stored += outcome.stored
                failed += 0 if outcome.ok else 1
        self.evaluate_alerts()
        delivered = self.deliver()
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
        self.scheduler = Scheduler(self.pipeline, self.clock, on_poll=self._on_poll)
        self._catch_up_deadline = time.monotonic() + defaults.CATCH_UP_MAX_SECONDS
        for source, interval in self.parts.sources:
            self.scheduler.add_source(source, interval)
        self.scheduler.add_task("evaluate", self.config.alerts.evaluate_interval, self._evaluate_tick)
        self.scheduler.add_task("dispatch", self.config.alerts.dispatch_interval, self.dispatcher.drain)
        self.scheduler.start()
        h, p = self.address
        log.info("brandpulse %s started: %d sources, %d brands, model %s, http://%s:%d/metrics",
                 __version__, len(self.parts.sources), len(self.config.brands), self.model.version, h, p)

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.api is not None:
            self.api.stop()
        for source, _ in self.parts.sources:
            try:
                source.close()
            except Exception:
                log.exception("source=%s close failed", source.id)
        self.engine.dispose()
        log.info("brandpulse stopped")

    def run_forever(self) -> None:
        """Start, then block until SIGINT or SIGTERM; stop cleanly."""
        # The handler only records the signal: it runs on the main thread between bytecodes, so
        # taking any lock there (logging, Event.set) can deadlock against the code it interrupted.
        received: list[int] = []

        def on_signal(signum: int, frame: object) -> None:
            received.append(signum)

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not received:
                time.sleep(SIGNAL_POLL_SECONDS)
            log.info("received %s, stopping", signal.Signals(received[0]).name)
        finally:
            self.stop()
            for s, h in previous.items():
                signal.signal(s, h)
