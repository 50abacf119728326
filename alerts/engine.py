"""The alert engine: from stored bucket counts to alerts and notifications, per the plan.

One ``evaluate(brand)`` call, run every ``EVALUATE_INTERVAL_SECONDS`` by the scheduler:

1. reads the brand's bucket counts (baseline history + detection window) from the store;
2. runs the detectors (:mod:`alerts.detect`);
3. opens an alert for a new incident, raises its level on a worse signal, or notes that the
   incident goes on; resolves it after ``resolve_after`` without signals;
4. escalates an alert nobody acknowledged by its deadline to the next level, and at the top
   level reminds its contacts every ``repeat_every``;
5. reminds the level's contacts every ``repeat_every`` after an acknowledgement while the
   incident's signals still fire (acknowledged is not over).

Everything one call decides (alert row, event rows, outbox rows) is written in ONE
transaction, so a crash leaves either all of it or none. There is one open alert per brand
and incident (``group_key = brand:opened_at``): a continuing burst updates it, never opens a
second one. Deciding twice enqueues nothing twice (outbox dedupe keys).

    engine = AlertEngine(db, plan, SystemClock(), metrics)
    for change in engine.evaluate("acme"):
        print(change.action, change.alert.id, change.alert.level)

Every notification passes the plan's muters (:mod:`alerts.mute`) as it is enqueued: a muted one
is still written (status ``muted``, with the reason), a held one waits for its window's end.

Drills (``engine.drill("acme", "crisis")``) are alerts with ``drill=True``: they go through the
same levels, contacts, channels and escalation, are never muted, never block or join a real
incident (one open *real* alert per brand), and are left out of the crisis KPIs. Nobody's
signals end a drill: it is resolved by hand, or by the engine ``resolve_after`` after it was
acknowledged; unacknowledged, it escalates and reminds like a real incident.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from alerts import escalation, outbox
from alerts.baseline import bucket_floor, history_needed
from alerts.detect import CrisisCounts, Signal, detect
from alerts.evidence import evidence as build_evidence
from alerts.evidence import summary
from alerts.mute import Muter, PlanMuter, Target, open_levels
from alerts.plan import CrisisPlan, Level, format_duration
from alerts.records import get_alert, list_alerts, open_alert
from monitor import defaults
from monitor.clock import Clock
from monitor.errors import AlertStateError
from monitor.models import Alert, AlertState, NotifyReason
from monitor.store import mentions as store_mentions
from monitor.store.engine import begin_immediate

if TYPE_CHECKING:
    from monitor.metrics import Metrics

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class AlertChange:
    """What one evaluate() did to one alert."""

    action: str  # opened, raised, escalated, repeated, resolved
    alert: Alert  # the alert after the change
    reason: str
    notifications: int  # outbox rows added


def repeat_slot(acknowledged_at: datetime, now: datetime, every: int) -> int | None:
    """Start (epoch seconds) of the repeat slot ``now`` falls in, counting ``every`` seconds from
    the acknowledgement; None before the first one (the acknowledgement itself is not repeated)."""
    k = int((now - acknowledged_at).total_seconds() // every)
    return int((acknowledged_at + timedelta(seconds=k * every)).timestamp()) if k >= 1 else None


class AlertEngine:
    """Evaluates brands against a crisis plan. Safe to call repeatedly at the same time.

    Args:
        engine: the store.
        plan: the validated crisis plan.
        clock: where "now" comes from (a FixedClock in tests).
        metrics: optional Metrics; alerts_raised, alert_transitions, the time-to-ack/resolve
            histograms and notifications_suppressed are counted.
        brand_names: brand id -> display name, for messages.
        muter: decides which notifications are muted or held; default: the plan's
            silences, inhibition and maintenance windows (:class:`alerts.mute.PlanMuter`).
        top_terms: how many top keywords of the window's negative mentions (and crisis terms)
            the evidence lists.
    """

    def __init__(
        self,
        engine: sa.Engine,
        plan: CrisisPlan,
        clock: Clock,
        metrics: Metrics | None = None,
        *,
        brand_names: Mapping[str, str] | None = None,
        sample_limit: int = defaults.ALERT_SAMPLE_MENTIONS,
        muter: Muter | None = None,
        top_terms: int = defaults.ALERT_TOP_TERMS,
    ) -> None:
        self.top_terms = top_terms
        self.engine = engine
        self.plan = plan
        self.clock = clock
        self.metrics = metrics
        self.brand_names = dict(brand_names or {})
        self.sample_limit = sample_limit
        self.muter: Muter = muter if muter is not None else PlanMuter(plan)
        # Only plans with a crisis_keyword condition pay for the crisis-term query.
        self._uses_crisis = any(lvl.when is not None and lvl.when.crisis_keyword is not None for lvl in plan.levels)

    # --- the tick ---------------------------------------------------------------------------

    def evaluate(self, brand: str) -> list[AlertChange]:
        """Detect, then open / raise / keep / resolve / escalate the brand's alert."""
        now = self.clock.now()
        with begin_immediate(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                # Two replicas evaluating one brand at once would both see "no open alert";
                # the brand lease normally prevents that, this makes it impossible.
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                    {"key": f"brandpulse.alerts:{brand}"},
                )
            changes = self._evaluate_real(conn, brand, now)
            changes.extend(self._evaluate_drills(conn, brand, now))
        return changes

    def _evaluate_real(self, conn: sa.Connection, brand: str, now: datetime) -> list[AlertChange]:
        signals = detect(
            brand, self._counts(conn, brand, now), now, self.plan, crisis=self._crisis_counts(conn, brand, now)
        )
        signal = signals[0] if signals else None
        current = open_alert(conn, brand)
        if current is None:
            return [self._open(conn, brand, signal, now)] if signal else []
        changes: list[AlertChange] = []
        if signal is not None:
            if self.plan.level_index(signal.level) > self.plan.level_index(current.level):
                changes.append(self._raise(conn, current, signal, now))
            escalation.record_signal(conn, current, now)
            current = get_alert(conn, current.id)
        elif current.last_signal_at is None or now - current.last_signal_at >= self._resolve_after:
            quiet = format_duration(self.plan.resolve_after)
            changes.append(
                self._resolve(conn, current, escalation.ENGINE, now, f"no signal for {quiet}: back to baseline")
            )
            return changes
        changes.extend(self._check_deadline(conn, current, now))
        if signal is not None:
            changes.extend(self._repeat_while_firing(conn, current, now))
        return changes

    def _evaluate_drills(self, conn: sa.Connection, brand: str, now: datetime) -> list[AlertChange]:
        """Open drills escalate and remind like real alerts; acknowledged ones end after resolve_after."""
        changes: list[AlertChange] = []
        for drill in list_alerts(conn, brand=brand, open_only=True, drill=True):
            acked = drill.acknowledged_at
            if drill.state is AlertState.ACKNOWLEDGED and acked and now - acked >= self._resolve_after:
                quiet = format_duration(self.plan.resolve_after)
                changes.append(
                    self._resolve(conn, drill, escalation.ENGINE, now, f"drill over: acknowledged {quiet} ago")
                )
            else:
                changes.extend(self._check_deadline(conn, drill, now))
        return changes

    def evaluate_all(self, brands: list[str]) -> list[AlertChange]:
        """evaluate() each brand; one brand's failure is logged and does not stop the others."""
        changes: list[AlertChange] = []
        for brand in brands:
            try:
                changes.extend(self.evaluate(brand))
            except Exception:
                log.exception("alert evaluation failed brand=%s", brand)
        return changes

    # --- actions people take (API, CLI) -------------------------------------------------------

    def drill(self, brand: str, level_id: str, by: str = "drill", note: str = "") -> AlertChange:
        """Open a drill alert at ``level_id`` and notify that level's contacts on their real
        channels, tagged as a drill. It never touches real alerts or real statistics."""
        try:
            level = self.plan.level(level_id)
        except KeyError:
            known = ", ".join(lvl.id for lvl in self.plan.levels)
            raise AlertStateError(f"cannot start a drill: unknown level {level_id!r} (known: {known})") from None
        now = self.clock.now()
        reason = f"drill started by {by}" + (f": {note}" if note else "")
        with begin_immediate(self.engine) as conn:
            alert = escalation.fire(
                conn,
                brand=brand,
                level=level.id,
                group_key=f"drill:{brand}:{int(now.timestamp())}",
                now=now,
                ack_deadline=now + timedelta(seconds=level.ack_within),
                summary=f"{brand}: DRILL, simulated {level.id} incident" + (f" ({note})" if note else ""),
                evidence={"kind": "drill", "level": level.id, "note": note, "started_by": by},
                reason=reason,
                drill=True,
                by=by,
                metrics=self.metrics,
            )
            sent = self._notify(conn, alert, level, NotifyReason.FIRST, now)
        return AlertChange("opened", alert, reason, sent)

    def acknowledge(self, alert_id: int, by: str, note: str = "") -> Alert:
        with begin_immediate(self.engine) as conn:
            return escalation.acknowledge(conn, alert_id, by, self.clock.now(), note, metrics=self.metrics)

    def resolve(self, alert_id: int, by: str, reason: str = "") -> Alert:
        """Resolve by hand; everyone told about the alert is told it is over."""
        with begin_immediate(self.engine) as conn:
            alert = get_alert(conn, alert_id)
            return self._resolve(conn, alert, by, self.clock.now(), reason or f"resolved by {by}").alert

    # --- internals ----------------------------------------------------------------------------

    @property
    def _resolve_after(self) -> timedelta:
        return timedelta(seconds=self.plan.resolve_after)

    def _counts(self, conn: sa.Connection, brand: str, now: datetime) -> dict[int, dict[str, int]]:
        window = max(self.plan.window_seconds(lvl) for lvl in self.plan.levels)
        need = history_needed(self.plan.bucket, self.plan.baseline_days, window)
        since_ts = bucket_floor(now.timestamp() - need, self.plan.bucket)
        since = datetime.fromtimestamp(since_ts, now.tzinfo)
        # until=now: the bucket in progress holds only what was published so far (no look-ahead).
        return store_mentions.bucket_counts(conn, brand, since, now, self.plan.bucket)

    def _crisis_counts(self, conn: sa.Connection, brand: str, now: datetime) -> CrisisCounts | None:
        if not self._uses_crisis:
            return None
        window = max(self.plan.window_seconds(lvl) for lvl in self.plan.levels)
        since_ts = bucket_floor(now.timestamp(), self.plan.bucket) - window
        since = datetime.fromtimestamp(since_ts, now.tzinfo)
        return store_mentions.crisis_counts(conn, brand, since, now, self.plan.bucket)

    def _evidence(self, conn: sa.Connection, signal: Signal) -> dict[str, Any]:
        return build_evidence(conn, signal, sample_limit=self.sample_limit, top_terms=self.top_terms)

    @staticmethod
    def _summary(signal: Signal) -> str:
        return summary(signal)

    def _open(self, conn: sa.Connection, brand: str, signal: Signal, now: datetime) -> AlertChange:
        level = self.plan.level(signal.level)
        reason = f"{signal.kind}: {self._summary(signal)}"
        alert = escalation.fire(
            conn,
            brand=brand,
            level=level.id,
            group_key=f"{brand}:{int(now.timestamp())}",
            now=now,
            ack_deadline=now + timedelta(seconds=level.ack_within),
            summary=self._summary(signal),
            evidence=self._evidence(conn, signal),
            reason=reason,
            metrics=self.metrics,
        )
        sent = self._notify(conn, alert, level, NotifyReason.FIRST, now)
        return AlertChange("opened", alert, reason, sent)

    def _raise(self, conn: sa.Connection, alert: Alert, signal: Signal, now: datetime) -> AlertChange:
        level = self.plan.level(signal.level)
        reason = f"worse signal at level {level.id!r}: {self._summary(signal)}"
        updated = escalation.escalate(
            conn,
            alert.id,
            to_level=level.id,
            now=now,
            ack_deadline=now + timedelta(seconds=level.ack_within),
            reason=reason,
            evidence=self._evidence(conn, signal),
            summary=self._summary(signal),
            metrics=self.metrics,
        )
        sent = self._notify(
            conn, updated, level, NotifyReason.ESCALATED, now, seq=self.plan.level_index(level.id)
        )
        return AlertChange("raised", updated, reason, sent)

    def _check_deadline(self, conn: sa.Connection, alert: Alert, now: datetime) -> list[AlertChange]:
        """Escalate, or remind at the top level, an alert nobody acknowledged in time."""
        if alert.state not in (AlertState.FIRING, AlertState.ESCALATED) or alert.ack_deadline is None:
            return []
        if now < alert.ack_deadline:
            return []
        if self.plan.level_index(alert.level) < 0:
            log.warning(
                "alert level no longer in the plan; not escalating alert=%s brand=%s level=%s",
                alert.id,
                alert.brand,
                alert.level,
            )
            return []
        current = self.plan.level(alert.level)
        nxt = self.plan.next_level(alert.level)
        if nxt is not None:
            reason = (
                f"not acknowledged within {format_duration(current.ack_within)} "
                f"(deadline {alert.ack_deadline.isoformat()})"
            )
            updated = escalation.escalate(
                conn,
                alert.id,
                to_level=nxt.id,
                now=now,
                ack_deadline=now + timedelta(seconds=nxt.ack_within),
                reason=reason,
                metrics=self.metrics,
            )
            sent = self._notify(
                conn, updated, nxt, NotifyReason.ESCALATED, now, seq=self.plan.level_index(nxt.id)
            )
            return [AlertChange("escalated", updated, reason, sent)]
        # Top level: nobody left to escalate to. Remind at the deadline, then every repeat_every;
        # the repeat number is in the dedupe key, so each reminder is enqueued once.
        seq = int((now - alert.ack_deadline).total_seconds() // self.plan.repeat_every)
        sent = self._notify(conn, alert, current, NotifyReason.REPEAT, now, seq=seq)
        if not sent:
            return []
        reason = f"still not acknowledged at the top level (reminder {seq + 1})"
        log.info("alert reminder alert=%s brand=%s level=%s seq=%s", alert.id, alert.brand, alert.level, seq)
        return [AlertChange("repeated", alert, reason, sent)]

    def _repeat_while_firing(self, conn: sa.Connection, alert: Alert, now: datetime) -> list[AlertChange]:
        """Someone owns the incident, but its signals still fire: remind the level's contacts
        every ``repeat_every`` after the acknowledgement, once per repeat slot (the slot's start
        is the outbox sequence number, so deciding twice enqueues nothing twice, and it never
        meets the small reminder numbers of an unacknowledged top level)."""
        if alert.state is not AlertState.ACKNOWLEDGED or alert.acknowledged_at is None:
            return []
        slot = repeat_slot(alert.acknowledged_at, now, self.plan.repeat_every)
        if slot is None or self.plan.level_index(alert.level) < 0:
            return []
        sent = self._notify(conn, alert, self.plan.level(alert.level), NotifyReason.REPEAT, now, seq=slot)
        if not sent:
            return []
        since = format_duration(int((now - alert.acknowledged_at).total_seconds()))
        reason = f"acknowledged by {alert.acknowledged_by} {since} ago, signals still firing"
        log.info("alert repeat alert=%s brand=%s level=%s slot=%s", alert.id, alert.brand, alert.level, slot)
        return [AlertChange("repeated", alert, reason, sent)]

    def _resolve(self, conn: sa.Connection, alert: Alert, by: str, now: datetime, reason: str) -> AlertChange:
        updated = escalation.resolve(conn, alert.id, by, now, reason, metrics=self.metrics)
        level = self.plan.level(updated.level) if self.plan.level_index(updated.level) >= 0 else None
        sent = 0
        levels = open_levels(conn, updated.brand)
        for contact_id, channel in outbox.recipients(conn, alert.id):
            payload = self._payload(updated, level, contact_id, resolved=True)
            sent += self._enqueue(conn, updated, contact_id, channel, NotifyReason.RESOLVED, payload, now, 0, levels)
        return AlertChange("resolved", updated, reason, sent)

    def _payload(
        self, alert: Alert, level: Level | None, contact_id: str, *, resolved: bool = False
    ) -> dict[str, Any]:
        """What the message is about, frozen at the moment it was decided (see alerts.render)."""
        try:
            contact = self.plan.contact(contact_id)
            name, lang = contact.name, contact.lang
        except KeyError:  # removed from the plan since it was notified
            name, lang = contact_id, None
        payload: dict[str, Any] = {
            "brand": alert.brand,
            "brand_name": self.brand_names.get(alert.brand, alert.brand),
            "level": alert.level,
            "level_name": level.name if level else alert.level,
            "state": alert.state.value,
            "evidence": alert.evidence,
            "contact": contact_id,
            "contact_name": name,
            "lang": lang,
            "drill": alert.drill,
        }
        if resolved:
            payload["resolved_at"] = alert.resolved_at.isoformat() if alert.resolved_at else None
            payload["resolved_by"] = alert.resolved_by
        return payload

    def _notify(
        self,
        conn: sa.Connection,
        alert: Alert,
        level: Level,
        reason: NotifyReason,
        now: datetime,
        seq: int = 0,
    ) -> int:
        """Enqueue one notification per contact x channel of ``level``; returns rows added
        (muted and held ones included: they are recorded, see alerts.mute)."""
        added = 0
        levels = open_levels(conn, alert.brand)
        for contact_id in level.notify:
            contact = self.plan.contact(contact_id)
            for channel in contact.channels:
                payload = self._payload(alert, level, contact_id)
                added += self._enqueue(conn, alert, contact_id, channel, reason, payload, now, seq, levels)
        return added

    def _enqueue(
        self,
        conn: sa.Connection,
        alert: Alert,
        contact_id: str,
        channel: str,
        reason: NotifyReason,
        payload: dict[str, Any],
        now: datetime,
        seq: int,
        levels: frozenset[str],
    ) -> bool:
        """One notification, through the muters first (drills are never muted)."""
        mute = None
        if not alert.drill:
            target = Target(contact_id, channel, str(payload.get("level") or alert.level), reason, levels)
            mute = self.muter.mutes(alert, target, now)
        added = outbox.enqueue(
            conn,
            alert,
            contact_id,
            channel,
            reason,
            payload,
            now,
            seq=seq,
            muted=str(mute) if mute else None,
            hold_until=mute.hold_until if mute else None,
        )
        if added and mute is not None:
            if self.metrics is not None:
                self.metrics.notifications_suppressed.labels(channel=channel, reason=mute.kind).inc()
            log.info(
                "notification %s alert=%s brand=%s contact=%s channel=%s reason=%s why=%s",
                "held" if mute.hold_until else "muted",
                alert.id,
                alert.brand,
                contact_id,
                channel,
                reason.value,
                mute,
            )
        return added
