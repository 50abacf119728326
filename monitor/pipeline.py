"""One poll cycle for one source: poll -> nlp.process -> store (mentions + cursor in one
transaction) -> counters.

A SourceError is caught here and logged once when it starts or changes (and once more when
the source recovers), so a dead source neither floods the log nor stops the others.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from monitor.clock import Clock
from monitor.errors import BrandPulseError, FetchError, ParseError, SourceError
from monitor.metrics import Metrics
from monitor.store import cursors, mentions
from monitor.store.leases import LeaseLost
from nlp.process import TextProcessor
from sources.base import Source

log = logging.getLogger(__name__)

_DIGITS = re.compile(r"\d+(?:\.\d+)?")
PARSE_ERRORS_LOGGED_PER_POLL = 3  # the rest of a poll's bad rows are counted, not logged one by one


@dataclass
class PollOutcome:
    source_id: str
    ok: bool
    fetched: int = 0
    stored: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    parse_errors: int = 0
    more: bool = False
    error: BrandPulseError | None = None
    consecutive_failures: int = 0
    lease_lost: bool = False  # another replica took the source over mid-poll; nothing was stored

    @property
    def retry_after(self) -> float | None:
        return self.error.retry_after if isinstance(self.error, FetchError) else None


class Pipeline:
    """Runs poll cycles; safe to call from several threads for different sources."""

    def __init__(self, engine: sa.Engine, processor: TextProcessor, metrics: Metrics, clock: Clock) -> None:
        self.engine = engine
        self.processor = processor
        self.metrics = metrics
        self.clock = clock
        self._last_error: dict[str, str] = {}
        self._lock = threading.Lock()

    def poll(self, source: Source, fence: Callable[[sa.Connection], None] | None = None) -> PollOutcome:
        """``fence(conn)`` runs first in the transaction that stores mentions and cursor; it raises
        LeaseLost when another replica took the source over meanwhile (monitor.store.leases.fence),
        and then nothing of this poll is stored: the new holder's cursor stands."""
        sid = source.id
        started = time.perf_counter()
        try:
            with self.engine.connect() as conn:
                cursor = cursors.load_cursor(conn, sid)
            result = source.poll(cursor)
            now = self.clock.now()
            processed = self.processor.process(result.items, fetched_at=now)
            # Mentions and the cursor that covers them commit together: a crash before the
            # commit re-reads the same items (the deduper keys retries by source + external id,
            # so they are not mistaken for duplicates); a crash after it skips them.
            with self.engine.begin() as conn:
                if fence is not None:
                    fence(conn)
                stored = mentions.insert_mentions(conn, processed.mentions)
                cursors.save_cursor(conn, sid, source.kind, result.cursor, now)
                cursors.record_success(conn, sid, source.kind, now)
        except LeaseLost as exc:  # not the source's fault: no failure recorded, no back-off
            log.warning("source=%s poll discarded: %s", sid, exc)
            return PollOutcome(sid, ok=False, error=exc, lease_lost=True)
        except SourceError as exc:
            reason = "fetch" if isinstance(exc, FetchError) else "parse" if isinstance(exc, ParseError) else "source"
            return self._failed(source, exc, reason)
        except sa.exc.SQLAlchemyError as exc:
            err = BrandPulseError(f"source={sid}: store failed: {str(exc).splitlines()[0]}")
            return self._failed(source, err, "store")
        except Exception as exc:  # a bug in an adapter must not stop the daemon
            log.exception("source=%s poll crashed", sid)
            err = BrandPulseError(f"source={sid}: internal error: {type(exc).__name__}: {exc}")
            return self._failed(source, err, "internal")
        finally:
            self.metrics.poll_duration.labels(source=sid).observe(time.perf_counter() - started)

        outcome = PollOutcome(sid, ok=True, fetched=len(result.items), stored=len(stored), more=result.more,
                              parse_errors=len(result.errors))
        for _item, reason in processed.dropped:
            outcome.dropped[reason.value] += 1
        self._count(sid, stored, outcome)
        for i, perr in enumerate(result.errors):
            if i < PARSE_ERRORS_LOGGED_PER_POLL:
                log.warning("source=%s skipped a bad row: %s", sid, perr)
        if len(result.errors) > PARSE_ERRORS_LOGGED_PER_POLL:
            log.warning("source=%s skipped %d more bad rows", sid, len(result.errors) - PARSE_ERRORS_LOGGED_PER_POLL)
        with self._lock:
            previous = self._last_error.pop(sid, None)
        if previous is not None:
            log.info("source=%s recovered", sid)
        if outcome.fetched or outcome.stored:
            dropped = " ".join(f"{k}={v}" for k, v in sorted(outcome.dropped.items()))
            log.info("source=%s fetched=%d stored=%d %s", sid, outcome.fetched, outcome.stored,
                     f"dropped: {dropped}" if dropped else "dropped=0")
        return outcome

    def _count(self, sid: str, stored: list, outcome: PollOutcome) -> None:
        m = self.metrics
        m.polls.labels(source=sid, result="ok").inc()
        # one label lookup per (brand, sentiment) and per brand, not per mention: this runs on
        # every ingested batch
        ingested: Counter[tuple[str, str]] = Counter()
        scores: dict[str, list[float]] = {}
        for mention in stored:
            for brand in mention.brands:
                ingested[brand, mention.sentiment.label.value] += 1
                scores.setdefault(brand, []).append(mention.sentiment.score)
        for (brand, label), n in ingested.items():
            m.mentions_ingested.labels(brand=brand, source=sid, sentiment=label).inc(n)
        for brand, values in scores.items():
            histogram = m.sentiment_score.labels(brand=brand)
            for value in values:
                histogram.observe(value)
        for reason, n in outcome.dropped.items():
            m.items_dropped.labels(source=sid, reason=reason).inc(n)
        if outcome.parse_errors:
            m.parse_errors.labels(source=sid).inc(outcome.parse_errors)

    def _failed(self, source: Source, exc: BrandPulseError, reason: str) -> PollOutcome:
        sid = source.id
        self.metrics.polls.labels(source=sid, result="error").inc()
        self.metrics.poll_errors.labels(source=sid, reason=reason).inc()
        failures = 0  # none counted: the scheduler retries at the next scheduled poll, without back-off
        if reason != "store":  # a dropped database connection is not the source's failure
            try:
                with self.engine.begin() as conn:
                    failures = cursors.record_failure(conn, sid, source.kind, self.clock.now(), str(exc))
            except sa.exc.SQLAlchemyError:
                pass  # the store itself is down; the error below says enough
        # Numbers aside (a Retry-After date counts down, a timeout's elapsed time varies),
        # the same failure again is not news: one line when it starts or changes.
        key = f"{getattr(exc, 'status', None)} {_DIGITS.sub('#', str(exc))}"
        with self._lock:
            changed = self._last_error.get(sid) != key
            self._last_error[sid] = key
        if changed:
            log.warning("source=%s poll failed (%s): %s", sid, reason, exc)
        return PollOutcome(sid, ok=False, error=exc, consecutive_failures=failures)
