"""Database engines: SQLite (the embedded default) or PostgreSQL (several replicas).

    engine = make_engine("sqlite:///data/brandpulse.db")     # WAL, foreign keys, busy timeout
    migrate.upgrade(engine)                                   # schema comes from migrations only
    with engine.begin() as conn:                              # one transaction, SQLAlchemy 2 style
        insert_mentions(conn, batch)
        save_cursor(conn, source.id, source.kind, new_cursor, now)
    check(engine)                                             # /readyz: raises StoreError if down

Only these two backends are supported; anything else is rejected with a one-line StoreError
that names what is accepted.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, make_url

from monitor import defaults
from monitor.errors import StoreError

log = logging.getLogger(__name__)

SUPPORTED = "sqlite:///path/to/file.db or postgresql+psycopg://user@host:port/dbname"

# Set on a connection by begin_immediate(); read by the SQLite "begin" listener.
_IMMEDIATE_OPTION = "brandpulse_sqlite_immediate"


def _safe(url: URL) -> str:
    """The URL as it may appear in logs and errors: never with its password."""
    return url.render_as_string(hide_password=True)


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError, TypeError):
        # The raw text may hold a password, so it is only quoted when it has no '@'.
        shown = repr(url) if "@" not in str(url) else "(hidden: contains credentials)"
        raise StoreError(f"storage url {shown} is not a database URL; expected {SUPPORTED}") from None
    # Split drivername by hand: URL.get_driver_name() would answer the dialect's default
    # driver (psycopg2 for a bare postgresql://), hiding whether the user asked for one.
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg", "psycopg2"):
        if driver == "psycopg2":
            raise StoreError(
                f"storage url {_safe(parsed)!r} asks for the psycopg2 driver, which BrandPulse does not "
                f"ship; use postgresql+psycopg://"
            )
        # Bare postgresql:// (and Heroku-style postgres://) would pick psycopg2: use psycopg 3.
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        if parsed.database in (None, "", ":memory:") or (parsed.database or "").startswith("file::memory:"):
            raise StoreError(
                f"storage url {_safe(parsed)!r} is an in-memory SQLite database; the daemon uses several "
                f"connections, give a file path such as sqlite:///data/brandpulse.db"
            )
        return parsed
    raise StoreError(f"storage url {_safe(parsed)!r} is not supported; expected {SUPPORTED}")


def make_engine(url: str, *, echo: bool = False) -> sa.Engine:
    """Create the engine for ``url``; SQLite's folder is created when missing.

    Raises StoreError for an unsupported or malformed URL. Connecting is lazy: call
    ``check(engine)`` to find out whether the database is reachable.
    """
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo)
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:
        # Without it an unreachable host (dropped packets) hangs a poll or /readyz for minutes.
        connect_args["connect_timeout"] = defaults.PG_CONNECT_TIMEOUT_SECONDS
    engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args, echo=echo)
    log.debug("store engine created url=%s", _safe(parsed))
    return engine


def _sqlite_engine(url: URL, *, echo: bool) -> sa.Engine:
    database = url.database or ""
    if not database.startswith("file:"):
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"storage url {_safe(url)!r}: cannot create folder {str(folder)!r}: {exc.strerror or exc}"
            ) from None
    engine = sa.create_engine(url, echo=echo)
    busy_ms = int(defaults.SQLITE_BUSY_TIMEOUT_MS)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (it would BEGIN lazily, only
        # before DML, and commit on DDL); the "begin" listener below issues BEGIN itself, so
        # reads and writes of one engine.begin() block really are one transaction and
        # SAVEPOINTs work. This is SQLAlchemy's documented recipe for pysqlite.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            # WAL: readers (API, metrics) never block the ingest writer, and vice versa.
            _enable_wal(cur, busy_ms)
            cur.execute("PRAGMA foreign_keys=ON")
            # NORMAL is durable across application crashes in WAL mode; only an OS crash or
            # power loss may lose the last commits, and the source cursors roll back with them.
            cur.execute("PRAGMA synchronous=NORMAL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        # IMMEDIATE takes the write lock up front (waiting up to busy_timeout), so a
        # read-then-write transaction cannot fail half-way with "database is locked".
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_IMMEDIATE_OPTION) else "BEGIN")

    log.debug("store engine created url=%s", _safe(url))
    return engine


def _enable_wal(cur: Any, busy_ms: int) -> None:
    """Switch the database file to WAL unless it already is.

    Switching needs a moment of exclusive access, and SQLite answers "database is locked" at
    once instead of waiting for busy_timeout when several processes open a new file together
    (replicas starting at the same time), so retry for up to the busy timeout.
    """
    deadline = time.monotonic() + busy_ms / 1000.0
    delay = 0.01
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


@contextmanager
def begin_immediate(engine: sa.Engine) -> Iterator[sa.Connection]:
    """``engine.begin()`` for transactions that read, then write (claims, leases, migrations).

    On SQLite it takes the write lock at BEGIN, so two such transactions queue behind each
    other instead of one failing with "database is locked" when it tries to write. On
    PostgreSQL it is exactly ``engine.begin()`` (use row locks there).

        with begin_immediate(engine) as conn:
            row = conn.execute(select_lease).first()
            conn.execute(update_lease)
    """
    with engine.connect() as conn:
        conn = conn.execution_options(**{_IMMEDIATE_OPTION: True})
        with conn.begin():
            yield conn


def dialect_insert(conn: sa.Connection, table: sa.Table) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing/do_update`` on the connection's database."""
    name = conn.dialect.name
    if name == "sqlite":
        return sqlite_dialect.insert(table)
    if name == "postgresql":
        return pg_dialect.insert(table)
    raise StoreError(f"database dialect {name!r} is not supported; expected sqlite or postgresql")


def describe(engine: sa.Engine) -> str:
    """The engine's URL without its password, for logs and messages."""
    return _safe(engine.url)


def check(engine: sa.Engine) -> None:
    """Raise StoreError with a one-line reason when the database cannot answer a query."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1")).scalar_one()
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"database {describe(engine)!r} is unreachable: {reason(exc)}") from exc
    except OSError as exc:
        raise StoreError(f"database {describe(engine)!r} is unreachable: {exc}") from exc


def reason(exc: BaseException) -> str:
    """The driver's own message for a SQLAlchemy error, on one line, without SQL or links."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc)
    # SQLAlchemy appends "(Background on this error at: https://sqlalche.me/...)".
    text = text.split("(Background on this error", 1)[0]
    return " ".join(text.split()) or type(exc).__name__
