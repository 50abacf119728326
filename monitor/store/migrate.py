"""Schema migrations, run from code: the daemon and the CLI call ``upgrade(engine)`` at start.

    engine = make_engine(url)
    upgrade(engine)                       # no-op when already at head; safe from several replicas
    assert current_revision(engine) == head_revision()

The Alembic environment lives in ``migrations/`` (shipped as package data); no alembic.ini is
needed at runtime. Production code never calls ``metadata.create_all``: the migrations are
the only way tables come to exist, so SQLite and PostgreSQL share one history.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from monitor.errors import StoreError
from monitor.store.engine import begin_immediate, describe, reason

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# pg_advisory_xact_lock key ("BPMI"): replicas starting together migrate one at a time.
_PG_LOCK_KEY = 0x42504D49
# Alembic's ``op`` and ``context`` are module-level proxies: two threads of one process migrating
# at once (two databases, or a CLI command beside the daemon) would run one's operations on the
# other's connection. One migration per process at a time.
_ALEMBIC_LOCK = threading.Lock()


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest revision this version of BrandPulse ships."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001
        raise StoreError(f"no migrations found in {str(MIGRATIONS)!r}")
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(
            f"database {describe(engine)!r}: cannot read schema revision: {reason(exc)}"
        ) from exc


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` in one transaction (all or nothing on both databases).

    Raises StoreError when the database is unreachable, or is at a revision this version does
    not know (it was migrated by a newer BrandPulse).
    """
    try:
        with _ALEMBIC_LOCK, begin_immediate(engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            before = MigrationContext.configure(conn).get_current_revision()
            cfg = _config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            after = MigrationContext.configure(conn).get_current_revision()
    except CommandError as exc:
        raise StoreError(
            f"database {describe(engine)!r}: cannot migrate to {revision!r}: {' '.join(str(exc).split())}"
        ) from exc
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"database {describe(engine)!r}: migration failed: {reason(exc)}") from exc
    if before != after:
        log.info("store migrated url=%s from=%s to=%s", describe(engine), before, after)
    else:
        log.debug("store schema current url=%s revision=%s", describe(engine), after)
