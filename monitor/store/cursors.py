"""Source state: where each source left off (its cursor) and how its recent polls went.

The cursor is saved in the same transaction as the mentions it covers, so a crash either
keeps both or neither, and the next poll neither loses nor repeats an item:

    with engine.begin() as conn:
        insert_mentions(conn, mentions)
        save_cursor(conn, "demo-weibo", "file", {"offset": 4096}, now)
        record_success(conn, "demo-weibo", "file", now)

    with engine.begin() as conn:          # after a failed poll, in its own transaction
        failures = record_failure(conn, "demo-weibo", "file", now, "timeout after 20s")

``updated_at`` is when the cursor last changed (the "cursor age" metric reads it);
``last_success_at`` / ``last_error_at`` record poll outcomes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from monitor.store.engine import dialect_insert
from monitor.store.schema import source_state

# Longest error text kept per source; the rest of a traceback-sized message is noise.
MAX_ERROR_CHARS = 2000


def _check(source_id: str, kind: str, now: datetime) -> None:
    if not source_id or len(source_id) > 200:
        raise ValueError(f"source id {source_id[:80]!r} must be 1-200 characters")
    if not kind or len(kind) > 32:
        raise ValueError(f"source={source_id}: kind {kind!r} must be 1-32 characters")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"source={source_id}: now {now!r} is naive; give a timezone-aware datetime")


def load_cursor(conn: sa.Connection, source_id: str) -> dict[str, Any] | None:
    """The cursor last saved for ``source_id``, or None when the source never saved one."""
    row = conn.execute(sa.select(source_state.c.cursor).where(source_state.c.source_id == source_id)).first()
    if row is None or row.cursor is None:
        return None
    # A row created by record_success/record_failure before any cursor holds {}: same as none.
    return dict(row.cursor) or None


def save_cursor(
    conn: sa.Connection, source_id: str, kind: str, cursor: dict[str, Any], now: datetime
) -> None:
    """Insert or replace the cursor of ``source_id`` (must be a JSON-serialisable dict)."""
    _check(source_id, kind, now)
    if not isinstance(cursor, dict):
        raise ValueError(f"source={source_id}: cursor must be a dict, got {type(cursor).__name__}")
    try:
        # Checked here so a bad cursor fails with the source named, before any SQL runs.
        json.dumps(cursor, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"source={source_id}: cursor is not JSON-serialisable: {exc}") from None
    ins = dialect_insert(conn, source_state)
    stmt = ins.values(source_id=source_id, kind=kind, cursor=cursor, updated_at=now, consecutive_failures=0)
    stmt = stmt.on_conflict_do_update(
        index_elements=[source_state.c.source_id],
        set_={
            "kind": ins.excluded.kind,
            "cursor": ins.excluded.cursor,
            "updated_at": ins.excluded.updated_at,
        },
    )
    conn.execute(stmt)


def record_success(conn: sa.Connection, source_id: str, kind: str, now: datetime) -> None:
    """Note a successful poll: resets the consecutive failure count (last error is kept)."""
    _check(source_id, kind, now)
    ins = dialect_insert(conn, source_state)
    stmt = ins.values(
        source_id=source_id, kind=kind, cursor={}, updated_at=now, last_success_at=now, consecutive_failures=0
    ).on_conflict_do_update(
        index_elements=[source_state.c.source_id],
        set_={
            "kind": ins.excluded.kind,
            "last_success_at": ins.excluded.last_success_at,
            "consecutive_failures": 0,
        },
    )
    conn.execute(stmt)


def record_failure(conn: sa.Connection, source_id: str, kind: str, now: datetime, error: str) -> int:
    """Note a failed poll and return how many polls in a row have now failed (1 for the first)."""
    _check(source_id, kind, now)
    error = " ".join(str(error).split())[:MAX_ERROR_CHARS]
    ins = dialect_insert(conn, source_state)
    stmt = (
        ins.values(
            source_id=source_id,
            kind=kind,
            cursor={},
            updated_at=now,
            last_error_at=now,
            last_error=error,
            consecutive_failures=1,
        )
        .on_conflict_do_update(
            index_elements=[source_state.c.source_id],
            set_={
                "kind": ins.excluded.kind,
                "last_error_at": ins.excluded.last_error_at,
                "last_error": ins.excluded.last_error,
                # Incremented in SQL so two writers cannot lose a count.
                "consecutive_failures": source_state.c.consecutive_failures + 1,
            },
        )
        .returning(source_state.c.consecutive_failures)
    )
    return int(conn.execute(stmt).scalar_one())


def source_states(conn: sa.Connection) -> list[dict[str, Any]]:
    """Every source's stored state, by source id: cursor, times, last error, failure count."""
    rows = conn.execute(sa.select(source_state).order_by(source_state.c.source_id))
    return [dict(r._mapping) for r in rows]
