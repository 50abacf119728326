"""The daemon's scheduled reports: each period's report goes to each target exactly once.

Every ``check_interval`` the daemon calls :meth:`ReportSender.tick`. When a schedule's time has
come (``reports.weekly``: Monday 09:00 Asia/Shanghai, say), one ``report_sends`` row per
(report, period, brand scope, channel, contact) is inserted idempotently, claimed with a lease,
sent, and marked done, in the store. So a restart, a second replica or a crash between two
targets neither repeats nor skips a delivery; the one window left is a crash after the server
accepted a message and before the row was marked done (that delivery is sent again after the
claim expires, with the same Message-ID / notification id so a receiver can drop it).
A failed delivery is retried with the outbox's back-off; a report missed while the daemon was
down is still sent up to ``reports.catch_up`` after its time, older ones are skipped and logged.

    sender = ReportSender(engine, clock, lambda: (daemon.config, daemon.parts))  # ConfigErrors: bad targets
    sender.tick()    # from Scheduler.add_task("reports", config.reports.check_interval, sender.tick)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from alerts.outbox import retry_delay
from alerts.plan import CrisisPlan
from monitor import defaults
from monitor.clock import Clock
from monitor.errors import ConfigError, ConfigErrors, NotifyError
from monitor.reports.build import Report, build_for_period
from monitor.reports.deliver import NOT_FOR_REPORTS, deliver
from monitor.reports.period import Period, due_period
from monitor.settings import Config
from monitor.store import schema
from monitor.store.engine import dialect_insert

log = logging.getLogger(__name__)

ALL = "*"  # scope of a report on all brands
PENDING, SENDING, DONE, FAILED = "pending", "sending", "done", "failed"


@dataclass(frozen=True)
class Target:
    channel: str  # notifier id
    contact: str  # plan contact id; "" when the schedule names the channel itself
    lang: str


def resolve_targets(config: Config, plan: CrisisPlan | None, notifiers: Mapping[str, Any]) -> dict[str, list[Target]]:
    """kind -> targets of each schedule's ``notify`` ids; ConfigErrors naming every bad one."""
    problems: list[ConfigError] = []
    out: dict[str, list[Target]] = {}
    contacts = {c.id: c for c in plan.contacts} if plan is not None else {}
    kinds = {n.id: n.kind for n in config.notifiers}
    brand_ids = {b.id for b in config.brands}
    default_lang = config.reports.language
    for kind, sched in config.reports.schedules():
        key = f"reports.{'weekly' if kind == 'week' else 'monthly'}"
        targets: list[Target] = []
        for i, ident in enumerate(sched.notify):
            if ident in contacts:
                c = contacts[ident]
                targets += [Target(ch, c.id, c.lang or default_lang) for ch in c.channels
                            if kinds.get(ch) not in NOT_FOR_REPORTS]
            elif ident in kinds:
                if kinds[ident] in NOT_FOR_REPORTS:
                    problems.append(ConfigError(f"notifier {ident!r} is of kind {kinds[ident]!r}, which takes alerts, "
                                                f"not reports", file=config.file, key_path=f"{key}.notify[{i}]"))
                targets.append(Target(ident, "", default_lang))
            else:
                known = ", ".join(sorted(contacts) + sorted(kinds)) or "none"
                problems.append(ConfigError(f"unknown contact or notifier {ident!r} (known: {known})",
                                            file=config.file, key_path=f"{key}.notify[{i}]"))
        for i, b in enumerate(sched.brands):
            if b not in brand_ids:
                problems.append(ConfigError(f"unknown brand {b!r} (known: {', '.join(sorted(brand_ids))})",
                                            file=config.file, key_path=f"{key}.brands[{i}]"))
        out[kind] = list(dict.fromkeys(targets))
    ConfigErrors.collect(problems)
    return out


class ReportSender:
    """Sends the scheduled reports of whatever config the daemon runs now (a reload included)."""

    def __init__(self, engine: sa.Engine, clock: Clock, current: Callable[[], tuple[Config, Any]]) -> None:
        """``current()`` returns the daemon's (config, parts); parts has ``plan`` and ``notifiers``."""
        self.engine, self.clock, self._current = engine, clock, current
        self._skipped: set[tuple[str, date]] = set()
        self._seen: Config | None = None
        self._reconfigure(strict=True)

    def _reconfigure(self, *, strict: bool) -> None:
        config, parts = self._current()
        if config is self._seen:
            return
        try:
            targets = resolve_targets(config, parts.plan, parts.notifiers)
        except ConfigError as exc:
            if strict:
                raise
            log.error("reports: keeping the previous schedule, the reloaded one is invalid: %s", exc)
            self._seen = config
            return
        self.config, self.plan, self.notifiers, self.targets = config, parts.plan, parts.notifiers, targets
        self.tz = ZoneInfo(config.reports.timezone)
        self._seen = config

    # --- the periodic task ------------------------------------------------------------------

    def tick(self) -> int:
        """Queue what is due, send what is claimable; returns deliveries completed."""
        self._reconfigure(strict=False)
        if not self.config.reports.schedules():
            return 0
        now = self.clock.now()
        for kind, sched in self.config.reports.schedules():
            due_at, period = due_period(kind, sched, now, self.tz)
            if (now - due_at).total_seconds() > self.config.reports.catch_up:
                if (kind, period.last_day) not in self._skipped:
                    self._skipped.add((kind, period.last_day))
                    log.info("report=%s period=%s skipped: due %s, more than catch_up ago", kind, period.label,
                             due_at.isoformat())
                continue
            self._enqueue(kind, period.last_day, sched.brands or [ALL], now)
        return self._send_due(now)

    def _enqueue(self, kind: str, last_day: date, scopes: list[str], now: datetime) -> None:
        t = schema.report_sends
        rows = [{"kind": kind, "period_end": last_day, "scope": scope, "channel": target.channel,
                 "contact": target.contact, "status": PENDING, "attempts": 0, "created_at": now,
                 "next_attempt_at": now} for scope in scopes for target in self.targets.get(kind, [])]
        if not rows:
            return
        with self.engine.begin() as conn:
            stmt = dialect_insert(conn, t).on_conflict_do_nothing(
                index_elements=["kind", "period_end", "scope", "channel", "contact"])
            conn.execute(stmt, rows)

    def _claim(self, now: datetime) -> list[Any]:
        t = schema.report_sends.c
        due = sa.or_(sa.and_(t.status == PENDING, t.next_attempt_at <= now),
                     sa.and_(t.status == SENDING, t.claimed_until < now))
        with self.engine.connect() as conn:
            candidates = list(conn.execute(sa.select(schema.report_sends).where(due).order_by(t.id).limit(100)))
        claimed = []
        until = now + timedelta(seconds=defaults.REPORT_SEND_CLAIM_SECONDS)
        for row in candidates:
            with self.engine.begin() as conn:  # one row at a time: another replica may take the next
                res = conn.execute(sa.update(schema.report_sends).where(t.id == row.id, due).values(
                    status=SENDING, claimed_until=until, attempts=t.attempts + 1))
            if res.rowcount == 1:
                claimed.append(row)
        return claimed

    def _send_due(self, now: datetime) -> int:
        claimed = self._claim(now)
        built: dict[tuple[str, date, str, str], Report | Exception] = {}
        done = 0
        for row in claimed:
            attempts = int(row.attempts) + 1
            target = next((x for x in self.targets.get(row.kind, [])
                           if x.channel == row.channel and x.contact == row.contact), None)
            notifier = self.notifiers.get(row.channel)
            if target is None or notifier is None:
                self._finish(row.id, now, FAILED, "no longer configured as a target of this report")
                continue
            key = (row.kind, row.period_end, row.scope, target.lang)
            if key not in built:
                built[key] = self._build(row.kind, row.period_end, row.scope, target.lang, now)
            report = built[key]
            if isinstance(report, Exception):
                self._failed(row, now, f"building the report failed: {report}", True, attempts)
                continue
            try:
                deliver(notifier, report, contact=row.contact, send_id=int(row.id),
                        base_url=self.config.http.base_url)
            except NotifyError as exc:
                self._failed(row, now, str(exc), exc.retryable, attempts)
            except Exception as exc:  # a notifier bug: retry later like the dispatcher does
                log.exception("report=%s channel=%s delivery crashed", row.kind, row.channel)
                self._failed(row, now, f"{type(exc).__name__}: {exc}", True, attempts)
            else:
                self._finish(row.id, self.clock.now(), DONE, None)
                done += 1
                log.info("report sent report=%s period_end=%s scope=%s channel=%s contact=%s", row.kind,
                         row.period_end, row.scope, row.channel, row.contact or "-")
        return done

    def _build(self, kind: str, last_day: date, scope: str, lang: str, now: datetime) -> Report | Exception:
        period = Period.week(last_day, self.tz) if kind == "week" else Period.month(last_day, self.tz)
        try:
            return build_for_period(self.engine, period, brand=None if scope == ALL else scope,
                                    brands=[(b.id, b.name) for b in self.config.brands], plan=self.plan, now=now,
                                    lang=lang)
        except Exception as exc:  # logged once per tick and build; the rows retry with back-off
            log.exception("report=%s period_end=%s scope=%s could not be built", kind, last_day, scope)
            return exc

    def _failed(self, row: Any, now: datetime, error: str, retryable: bool, attempts: int) -> None:
        if retryable and attempts < defaults.NOTIFY_MAX_ATTEMPTS:
            next_at = now + timedelta(seconds=retry_delay(attempts))
            self._finish(row.id, now, PENDING, error, next_at)
            log.warning("report=%s channel=%s attempt=%s failed, retry at %s: %s", row.kind, row.channel, attempts,
                        next_at.isoformat(), error)
        else:
            self._finish(row.id, now, FAILED, error)
            log.error("report=%s channel=%s given up after %s attempts: %s", row.kind, row.channel, attempts, error)

    def _finish(self, send_id: int, now: datetime, status: str, error: str | None,
                next_at: datetime | None = None) -> None:
        values: dict[str, Any] = {"status": status, "claimed_until": None, "last_error": error}
        if status == DONE:
            values["delivered_at"] = now
        if next_at is not None:
            values["next_attempt_at"] = next_at
        with self.engine.begin() as conn:
            conn.execute(sa.update(schema.report_sends).where(schema.report_sends.c.id == send_id).values(**values))
