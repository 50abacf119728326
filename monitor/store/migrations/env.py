"""Alembic environment for BrandPulse.

At runtime ``monitor.store.migrate.upgrade(engine)`` hands Alembic an open connection in
``config.attributes["connection"]`` and owns the transaction; no alembic.ini is read. For
development (``alembic -c monitor/store/alembic.ini revision -m "..."``) the URL comes from
``sqlalchemy.url`` or the BRANDPULSE_STORAGE_URL environment variable.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from monitor.store.engine import make_engine
from monitor.store.schema import metadata

config = context.config


def _configure(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table, so future
        # migrations written with op.batch_alter_table run on both databases.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = os.environ.get("BRANDPULSE_STORAGE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set BRANDPULSE_STORAGE_URL or sqlalchemy.url to run Alembic by hand")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


def run_offline() -> None:
    """``alembic upgrade head --sql``: print the DDL instead of running it."""
    url = os.environ.get("BRANDPULSE_STORAGE_URL") or config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=bool(url and url.startswith("sqlite")),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
