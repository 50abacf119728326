from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from monitor.store.cursors import (
    load_cursor,
    record_failure,
    record_success,
    save_cursor,
    source_states,
)
from monitor.store.mentions import insert_mentions, query_mentions
from monitor.store.schema import mention_brands, mentions

from .conftest import T0, MentionFactory


def test_no_cursor_for_a_new_source(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert load_cursor(conn, "demo-weibo") is None
        assert source_states(conn) == []


def test_save_cursor_upserts(engine: sa.Engine) -> None:
    first = {"etag": '"v1"', "seen": ["a", "b"]}
    second = {"file": {"inode": 42, "size": 2**40}, "offset": 4096, "note": "阿克米😀"}
    with engine.begin() as conn:
        save_cursor(conn, "demo-weibo", "rss", first, T0)
    with engine.begin() as conn:
        assert load_cursor(conn, "demo-weibo") == first
        save_cursor(conn, "demo-weibo", "file", second, T0 + timedelta(minutes=5))
    with engine.connect() as conn:
        assert load_cursor(conn, "demo-weibo") == second
        [state] = source_states(conn)
    assert state["kind"] == "file"
    assert state["updated_at"] == T0 + timedelta(minutes=5)
    assert state["updated_at"].tzinfo is UTC


def test_failures_count_up_and_success_resets(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        save_cursor(conn, "feed", "rss", {"etag": "x"}, T0)
    counts = []
    for i in range(3):
        with engine.begin() as conn:
            counts.append(
                record_failure(conn, "feed", "rss", T0 + timedelta(minutes=i), f"timeout #{i}\nafter 20s")
            )
    assert counts == [1, 2, 3]
    with engine.connect() as conn:
        [state] = source_states(conn)
    assert state["consecutive_failures"] == 3
    assert state["last_error"] == "timeout #2 after 20s"  # kept on one line
    assert state["last_error_at"] == T0 + timedelta(minutes=2)
    assert state["last_success_at"] is None
    assert state["updated_at"] == T0  # failures do not age or touch the cursor
    with engine.begin() as conn:
        record_success(conn, "feed", "rss", T0 + timedelta(minutes=10))
        assert load_cursor(conn, "feed") == {"etag": "x"}
    with engine.begin() as conn:
        assert record_failure(conn, "feed", "rss", T0 + timedelta(minutes=11), "HTTP 503") == 1
    with engine.connect() as conn:
        [state] = source_states(conn)
    assert state["last_success_at"] == T0 + timedelta(minutes=10)
    assert state["last_error"] == "HTTP 503"


def test_outcomes_before_any_cursor(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        assert record_failure(conn, "b-feed", "json_api", T0, "refused") == 1
        record_success(conn, "a-feed", "rss", T0)
    with engine.connect() as conn:
        assert load_cursor(conn, "a-feed") is None
        assert load_cursor(conn, "b-feed") is None
        states = source_states(conn)
    assert [(s["source_id"], s["kind"], s["consecutive_failures"]) for s in states] == [
        ("a-feed", "rss", 0),
        ("b-feed", "json_api", 1),
    ]


def test_bad_cursor_and_naive_time_are_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(ValueError, match="source=feed: cursor is not JSON-serialisable"):
            save_cursor(conn, "feed", "rss", {"at": datetime(2026, 1, 1, tzinfo=UTC)}, T0)
        with pytest.raises(ValueError, match="source=feed: cursor must be a dict, got list"):
            save_cursor(conn, "feed", "rss", ["a"], T0)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="is naive"):
            record_success(conn, "feed", "rss", datetime(2026, 1, 1))
    with engine.connect() as conn:
        assert source_states(conn) == []


def _poll_commit(engine: sa.Engine, batch: list, cursor: dict, now: datetime, crash: bool) -> None:
    """What the pipeline does after a poll: mentions, cursor and outcome in ONE transaction."""
    with engine.begin() as conn:
        insert_mentions(conn, batch)
        save_cursor(conn, "demo-weibo", "file", cursor, now)
        record_success(conn, "demo-weibo", "file", now)
        if crash:
            raise RuntimeError("crash after writing, before commit")


def test_rolled_back_poll_stores_neither_mentions_nor_cursor(
    engine: sa.Engine, make_mention: MentionFactory
) -> None:
    first = [make_mention("1"), make_mention("2")]
    _poll_commit(engine, first, {"offset": 100}, T0, crash=False)

    second = [make_mention("3"), make_mention("4", brands=("acme", "beta"))]
    later = T0 + timedelta(minutes=5)
    with pytest.raises(RuntimeError, match="crash"):
        _poll_commit(engine, second, {"offset": 200}, later, crash=True)

    with engine.connect() as conn:
        assert [r["external_id"] for r in query_mentions(conn)] == ["2", "1"]
        assert conn.execute(sa.select(sa.func.count()).select_from(mention_brands)).scalar_one() == 2
        assert load_cursor(conn, "demo-weibo") == {"offset": 100}  # the old cursor: re-poll from 100
        [state] = source_states(conn)
        assert state["last_success_at"] == T0

    # The re-poll after the crash delivers the same items again: all stored, none lost or doubled.
    _poll_commit(engine, second, {"offset": 200}, later, crash=False)
    with engine.connect() as conn:
        ids = conn.execute(sa.select(mentions.c.external_id).order_by(mentions.c.external_id)).scalars().all()
        assert ids == ["1", "2", "3", "4"]
        assert load_cursor(conn, "demo-weibo") == {"offset": 200}
