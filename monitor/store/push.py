"""The push spool: records accepted by ``POST /api/v1/push/{source_id}`` wait here for the poll.

    accept(conn, "tool", signature, expires_at, ['{"text": "..."}'], now)  # Replay if seen before
    rows = read_after(conn, "tool", after=0, limit=100)                          # oldest first
    consume(conn, "tool", upto=rows[-1].id)                                      # after the cursor committed

Accepting takes a per-source lock on PostgreSQL for the rest of the transaction, so a source's
spool ids become visible in id order: a poll that read up to id N can never later meet a
smaller id committed by a slower request (a sequence hands ids out before commit). SQLite
writers are serialised anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from monitor.errors import StoreError
from monitor.store.schema import push_items, push_signatures


class Replay(StoreError):
    """The signature was already accepted for this source within its window."""


def _lock_key(source_id: str) -> int:
    digest = hashlib.sha256(f"push:{source_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def accept(conn: sa.Connection, source_id: str, signature: str, expires_at: datetime,
           payloads: Sequence[str], now: datetime) -> int:
    """Spool ``payloads`` and remember ``signature`` until ``expires_at``, in the caller's
    transaction (``engine.begin_immediate`` on SQLite, so the write lock is held from the
    start). Raises Replay when the signature is remembered already; the caller's transaction
    then rolls back and nothing is stored."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(source_id))))
    conn.execute(sa.delete(push_signatures).where(push_signatures.c.source_id == source_id,
                                                  push_signatures.c.expires_at < now))
    seen = conn.execute(sa.select(push_signatures.c.expires_at).where(
        push_signatures.c.source_id == source_id, push_signatures.c.signature == signature)).first()
    if seen is not None:
        raise Replay(f"source={source_id}: this request was accepted before (replayed signature)")
    try:  # the primary key settles any race the lock does not cover
        conn.execute(sa.insert(push_signatures).values(source_id=source_id, signature=signature,
                                                       expires_at=expires_at))
    except sa.exc.IntegrityError:
        raise Replay(f"source={source_id}: this request was accepted before (replayed signature)") from None
    conn.execute(sa.insert(push_items), [{"source_id": source_id, "payload": p, "received_at": now}
                                         for p in payloads])
    return len(payloads)


def read_after(conn: sa.Connection, source_id: str, after: int, limit: int) -> list[sa.Row[tuple[int, str, datetime]]]:
    """Up to ``limit`` spooled rows of ``source_id`` with id > ``after``, oldest first."""
    return list(conn.execute(
        sa.select(push_items.c.id, push_items.c.payload, push_items.c.received_at)
        .where(push_items.c.source_id == source_id, push_items.c.id > after)
        .order_by(push_items.c.id).limit(limit)))


def consume(conn: sa.Connection, source_id: str, upto: int) -> int:
    """Delete the rows of ``source_id`` up to id ``upto`` (a committed cursor covers them)."""
    return conn.execute(sa.delete(push_items).where(push_items.c.source_id == source_id,
                                                    push_items.c.id <= upto)).rowcount


def pending(conn: sa.Connection, source_id: str) -> int:
    """Rows still spooled for ``source_id`` (delivered or not: consumption follows the cursor)."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(push_items)
                            .where(push_items.c.source_id == source_id)).scalar_one())
