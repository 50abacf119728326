"""The notification outbox: notifications to send, written in the alert's own transaction.

A row goes ``pending -> sending -> done``; a failed attempt returns it to ``pending`` with a
later ``next_attempt_at`` (exponential backoff), or ends it as ``failed`` when the error is
permanent or the attempts are used up. A sender that crashes while ``sending`` leaves a claim
that expires after ``OUTBOX_CLAIM_SECONDS``; the row is then claimable again. So a crash or a
dead notifier delays a notification, but never loses it; ``dedupe_key`` means deciding twice
never enqueues it twice.

A notification that must not go out (see :mod:`alerts.mute`) is still written, with status
``muted`` and the reason in ``last_error`` (``OutboxRow.mute_reason``): suppressions are
visible, never silent. One held by a maintenance window stays ``pending`` with
``next_attempt_at`` at the window's end and ``payload["held"]`` saying why.

    with engine.begin() as conn:                     # inside the alert's transaction
        enqueue(conn, alert, "zhang-san", "ops-webhook", NotifyReason.FIRST, payload, now)
    for row in claim(engine, now, limit=50):         # in the dispatcher
        ...send...
        with engine.begin() as conn:
            complete(conn, row.id, now)  # or fail(conn, row.id, now, error, retryable, row.attempts)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from monitor import defaults
from monitor.models import Alert, NotifyReason
from monitor.store import schema
from monitor.store.engine import begin_immediate, dialect_insert

PENDING, SENDING, DONE, FAILED, MUTED = "pending", "sending", "done", "failed", "muted"
STATUSES = (PENDING, SENDING, DONE, FAILED, MUTED)
_O = schema.outbox.c


@dataclass(frozen=True)
class OutboxRow:
    id: int
    dedupe_key: str
    alert_id: int
    channel: str  # notifier id
    contact: str  # contact id
    reason: NotifyReason
    status: str
    attempts: int  # attempts started so far, including the one this claim is for
    created_at: datetime
    next_attempt_at: datetime
    payload: dict[str, Any]
    last_error: str | None = None
    delivered_at: datetime | None = None

    @property
    def mute_reason(self) -> str | None:
        """Why a muted notification was not sent (e.g. "silence: 发布会彩排 (by 张三, until ...)")."""
        return self.last_error if self.status == MUTED else None

    @classmethod
    def from_row(cls, row: Any) -> OutboxRow:
        return cls(
            id=int(row.id),
            dedupe_key=row.dedupe_key,
            alert_id=int(row.alert_id),
            channel=row.channel,
            contact=row.contact,
            reason=NotifyReason(row.reason),
            status=row.status,
            attempts=int(row.attempts),
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at,
            payload=dict(row.payload or {}),
            last_error=row.last_error,
            delivered_at=row.delivered_at,
        )


def dedupe_key(alert_id: int, contact: str, channel: str, reason: NotifyReason | str, seq: int = 0) -> str:
    """One notification per alert, contact, channel, reason and sequence number (escalation
    step or repeat number): deciding the same thing twice finds the same key."""
    return f"{alert_id}:{contact}:{channel}:{NotifyReason(reason).value}:{seq}"


def enqueue(
    conn: sa.Connection,
    alert: Alert,
    contact: str,
    channel: str,
    reason: NotifyReason | str,
    payload: dict[str, Any],
    now: datetime,
    seq: int = 0,
    *,
    muted: str | None = None,
    hold_until: datetime | None = None,
) -> bool:
    """Add a notification unless the same one is already there. Returns whether it was added.

    ``muted`` (a reason) records it as muted instead of pending; with ``hold_until`` as well it
    is held: pending, but not due before ``hold_until``.
    """
    status, due, error = PENDING, now, None
    if muted is not None and hold_until is not None:
        due = hold_until
        payload = {**payload, "held": {"until": hold_until.isoformat(), "reason": muted}}
    elif muted is not None:
        status, error = MUTED, muted[:2000]
    stmt = (
        dialect_insert(conn, schema.outbox)
        .values(
            dedupe_key=dedupe_key(alert.id, contact, channel, reason, seq),
            alert_id=alert.id,
            channel=channel,
            contact=contact,
            reason=NotifyReason(reason).value,
            status=status,
            attempts=0,
            created_at=now,
            next_attempt_at=due,
            payload=payload,
            last_error=error,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(_O.id)
    )
    # RETURNING, not rowcount: it reports exactly whether a row was new on both databases.
    return conn.execute(stmt).first() is not None


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(_O.status == PENDING, _O.next_attempt_at <= now),
        sa.and_(_O.status == SENDING, _O.claimed_until <= now),  # the sender died mid-send
    )


def claim(
    engine: sa.Engine,
    now: datetime,
    limit: int = 50,
    claim_seconds: float = defaults.OUTBOX_CLAIM_SECONDS,
    max_attempts: int = defaults.NOTIFY_MAX_ATTEMPTS,
) -> list[OutboxRow]:
    """Take up to ``limit`` due rows for sending: status sending, claimed for ``claim_seconds``,
    attempts + 1. Several dispatchers may claim concurrently; each row goes to one of them."""
    until = now + timedelta(seconds=claim_seconds)
    with begin_immediate(engine) as conn:
        # A row whose claims keep expiring (its send crashes the sender, or the sender keeps
        # being killed) must not loop forever, nor be given up: a crash delays a notification,
        # it never loses it. From ``max_attempts`` on it waits the longest retry delay, so a
        # message that kills its sender does so at most once per NOTIFY_RETRY_MAX_SECONDS.
        conn.execute(
            schema.outbox.update()
            .where(_O.status == SENDING, _O.claimed_until <= now, _O.attempts >= max_attempts)
            .values(
                status=PENDING,
                claimed_until=None,
                next_attempt_at=now + timedelta(seconds=defaults.NOTIFY_RETRY_MAX_SECONDS),
                last_error="the sender died while sending this (claim expired); retrying later",
            )
        )
        due = (
            sa.select(_O.id)
            .where(_claimable(now))
            .order_by(_O.next_attempt_at, _O.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )  # PostgreSQL; SQLite is serialised by BEGIN IMMEDIATE
        ids = list(conn.execute(due).scalars())
        if not ids:
            return []
        rows = conn.execute(
            schema.outbox.update()
            .where(_O.id.in_(ids), _claimable(now))
            .values(status=SENDING, claimed_until=until, attempts=_O.attempts + 1)
            .returning(*schema.outbox.c)
        ).all()
    return sorted((OutboxRow.from_row(r) for r in rows), key=lambda r: (r.next_attempt_at, r.id))


def complete(conn: sa.Connection, outbox_id: int, now: datetime) -> None:
    conn.execute(
        schema.outbox.update()
        .where(_O.id == outbox_id)
        .values(status=DONE, delivered_at=now, claimed_until=None, last_error=None)
    )


def mute(conn: sa.Connection, outbox_id: int, reason: str) -> None:
    """Give up a claimed row on purpose: recorded as muted with its reason, never sent."""
    conn.execute(
        schema.outbox.update()
        .where(_O.id == outbox_id)
        .values(status=MUTED, claimed_until=None, last_error=reason[:2000])
    )


def hold(
    conn: sa.Connection, outbox_id: int, until: datetime, reason: str, payload: dict[str, Any], attempts: int
) -> None:
    """Put a claimed row back until ``until`` (a maintenance window's end); the claim's attempt
    is given back, since nothing was tried."""
    conn.execute(
        schema.outbox.update()
        .where(_O.id == outbox_id)
        .values(
            status=PENDING,
            claimed_until=None,
            next_attempt_at=until,
            attempts=max(0, attempts - 1),
            payload={**payload, "held": {"until": until.isoformat(), "reason": reason}},
        )
    )


def retry_delay(
    attempts: int,
    base: float = defaults.NOTIFY_RETRY_BASE_SECONDS,
    maximum: float = defaults.NOTIFY_RETRY_MAX_SECONDS,
) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: base, 2x base, 4x base ..."""
    return float(min(maximum, base * 2 ** max(0, attempts - 1)))


def fail(
    conn: sa.Connection,
    outbox_id: int,
    now: datetime,
    error: str,
    retryable: bool,
    attempts: int,
    max_attempts: int = defaults.NOTIFY_MAX_ATTEMPTS,
) -> str:
    """Record a failed attempt. Returns the new status: pending (retry later) or failed."""
    if retryable and attempts < max_attempts:
        status, next_at = PENDING, now + timedelta(seconds=retry_delay(attempts))
    else:
        status, next_at = FAILED, now
    conn.execute(
        schema.outbox.update()
        .where(_O.id == outbox_id)
        .values(status=status, next_attempt_at=next_at, claimed_until=None, last_error=error[:2000])
    )
    return status


def backlog(conn: sa.Connection) -> dict[str, int]:
    """Rows per status, every status present (0 when none)."""
    counts: dict[str, int] = dict(
        conn.execute(sa.select(_O.status, sa.func.count()).group_by(_O.status)).all()
    )
    return {s: int(counts.get(s, 0)) for s in STATUSES}


def rows_for(conn: sa.Connection, alert_id: int) -> list[OutboxRow]:
    """Every notification of one alert, oldest first: who was (to be) told what, and how it went."""
    rows = conn.execute(sa.select(schema.outbox).where(_O.alert_id == alert_id).order_by(_O.id))
    return [OutboxRow.from_row(r) for r in rows]


def recipients(conn: sa.Connection, alert_id: int) -> list[tuple[str, str]]:
    """(contact, channel) pairs already notified (or to be) about this alert, oldest first.
    Muted notifications do not count: nobody was told, so nobody needs "resolved"."""
    seen: dict[tuple[str, str], None] = {}
    for r in rows_for(conn, alert_id):
        if r.reason is not NotifyReason.RESOLVED and r.status != MUTED:
            seen.setdefault((r.contact, r.channel), None)
    return list(seen)
