from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from monitor import defaults
from monitor.errors import StoreError
from monitor.store.engine import begin_immediate, check, make_engine
from monitor.store.schema import mention_brands, source_state


def _closed_port() -> int:
    # Bind to port 0, read the port, close it: nothing listens there afterwards.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == defaults.SQLITE_BUSY_TIMEOUT_MS
    finally:
        engine.dispose()


def test_sqlite_parent_folder_is_created(tmp_path) -> None:
    db = tmp_path / "a" / "b" / "brandpulse.db"
    engine = make_engine(f"sqlite:///{db}")
    try:
        check(engine)
        assert db.parent.is_dir()
        assert db.exists()
    finally:
        engine.dispose()


def test_check_passes_on_both_databases(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        check(engine)
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        with engine.begin() as conn:
            conn.execute(
                mention_brands.insert(),
                {"mention_id": 424242, "brand": "acme", "published_ts": 0, "sentiment_label": "neutral"},
            )


def test_savepoint_rolls_back_only_its_part(engine: sa.Engine) -> None:
    # The SQLite listener issues BEGIN itself (instead of the sqlite3 module's lazy BEGIN),
    # which is what makes SAVEPOINTs behave on SQLite as they do on PostgreSQL.
    row = {"kind": "rss", "cursor": {}, "updated_at": datetime(2026, 1, 1, tzinfo=UTC)}
    with engine.begin() as conn:
        conn.execute(source_state.insert(), {"source_id": "a", **row})
        with pytest.raises(sa.exc.IntegrityError):
            with conn.begin_nested():
                conn.execute(source_state.insert(), {"source_id": "b", **row})
                conn.execute(source_state.insert(), {"source_id": "a", **row})  # duplicate key
    with engine.connect() as conn:
        assert conn.execute(sa.select(source_state.c.source_id)).scalars().all() == ["a"]


@pytest.mark.parametrize(
    "url, expected",
    [
        ("mysql://u@127.0.0.1/db", "'mysql://u@127.0.0.1/db' is not supported"),
        ("sqlite+aiosqlite:///x.db", "is not supported"),
        ("sqlite://", "in-memory SQLite"),
        ("sqlite:///:memory:", "in-memory SQLite"),
        ("no database here", "'no database here' is not a database URL"),
        ("postgresql+psycopg2://bp:hunter2@db/bp", "psycopg2 driver"),
    ],
)
def test_unsupported_urls_are_rejected_in_one_line(url: str, expected: str) -> None:
    with pytest.raises(StoreError) as info:
        make_engine(url)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert "hunter2" not in message
    assert "postgresql+psycopg://" in message or "sqlite:///" in message  # says what is accepted


def test_bare_postgresql_url_uses_psycopg() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:5432/test")
    try:
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


def test_check_unreachable_postgres_raises_one_line_store_error() -> None:
    port = _closed_port()
    engine = make_engine(f"postgresql+psycopg://bp:hunter2@127.0.0.1:{port}/brandpulse")
    try:
        started = time.monotonic()
        with pytest.raises(StoreError) as info:
            check(engine)
        assert time.monotonic() - started < 5
    finally:
        engine.dispose()
    message = str(info.value)
    assert "\n" not in message
    assert "unreachable" in message
    assert f"127.0.0.1:{port}" in message
    assert "hunter2" not in message
    assert "sqlalche.me" not in message


def test_check_unopenable_sqlite_raises_store_error(tmp_path) -> None:
    (tmp_path / "db-is-a-folder").mkdir()
    engine = make_engine(f"sqlite:///{tmp_path / 'db-is-a-folder'}")
    try:
        with pytest.raises(StoreError, match="unreachable: unable to open database file"):
            check(engine)
    finally:
        engine.dispose()


def test_begin_immediate_serialises_read_then_write_on_sqlite(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (n INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (0)")
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(5):
                with begin_immediate(engine) as conn:
                    n = conn.exec_driver_sql("SELECT n FROM counter").scalar_one()
                    time.sleep(0.002)  # widen the window a lost update would need
                    conn.exec_driver_sql("UPDATE counter SET n = ?", (n + 1,))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT n FROM counter").scalar_one() == 20
    finally:
        engine.dispose()
