from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from monitor.errors import StoreError
from monitor.store import schema
from monitor.store.engine import make_engine
from monitor.store.migrate import current_revision, head_revision, upgrade

ROOT = Path(__file__).resolve().parents[3]


def test_migrations_produce_exactly_schema_metadata(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(ctx, schema.metadata) == []
            names = set(sa.inspect(conn).get_table_names())
        assert names == set(schema.metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def test_constraint_and_index_names_follow_the_naming_convention(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        insp = sa.inspect(engine)
        assert {ix["name"] for ix in insp.get_indexes("mention_brands")} == {
            "ix_mention_brands_brand_published_ts_mention_id_sentiment_label"
        }
        assert {uq["name"] for uq in insp.get_unique_constraints("mentions")} == {
            "uq_mentions_source_id_external_id"
        }
        assert {fk["name"] for fk in insp.get_foreign_keys("outbox")} == {"fk_outbox_alert_id_alerts"}
        if engine.dialect.name == "postgresql":  # SQLite does not report primary key names
            assert insp.get_pk_constraint("mentions")["name"] == "pk_mentions"
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_and_reports_revisions(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision() >= "0003"
        upgrade(engine)  # second run: nothing to do, nothing fails
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_replicas_starting_together_migrate_once(db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(3)]
    errors: list[BaseException] = []

    def run(e: sa.Engine) -> None:
        try:
            upgrade(e)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert current_revision(engines[0]) == head_revision()
    finally:
        for e in engines:
            e.dispose()


def test_one_process_migrating_two_databases_at_once_keeps_them_apart(sqlite_url: str, pg_url: str) -> None:
    """Alembic's op/context proxies are process globals: without the process lock, the SQLite
    thread's CREATE TABLE and the PostgreSQL thread's CREATE INDEX crossed connections
    ("relation mentions does not exist", then KeyError 'script')."""
    for _ in range(3):
        engines = {"sqlite": make_engine(sqlite_url), "postgres": make_engine(pg_url)}
        errors: list[BaseException] = []

        def run(e: sa.Engine, errors: list[BaseException] = errors) -> None:
            try:
                upgrade(e)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(e,)) for e in engines.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            assert errors == []
            for e in engines.values():
                assert current_revision(e) == head_revision()
                with e.connect() as conn:
                    assert not compare_metadata(MigrationContext.configure(conn), schema.metadata)
        finally:
            for e in engines.values():
                with e.begin() as conn:
                    for table in reversed(schema.metadata.sorted_tables):
                        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table.name}"
                                             f"{' CASCADE' if conn.dialect.name == 'postgresql' else ''}"))
                    conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
                e.dispose()


def test_database_from_a_newer_version_is_a_store_error(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(StoreError) as info:
            upgrade(engine)
        assert "'9999'" in str(info.value)
        assert "\n" not in str(info.value)
    finally:
        engine.dispose()


def test_production_code_never_calls_create_all() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for pkg in ("monitor", "sources", "nlp", "alerts")
        for p in (ROOT / pkg).rglob("*.py")
        if "create_all(" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_0002_adds_mention_terms_and_keeps_existing_rows(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0001")
        with engine.begin() as conn:  # a row written by a BrandPulse that predates 0002
            conn.execute(
                sa.text(
                    "INSERT INTO mentions (source_id, external_id, text, published_at, fetched_at, brands,"
                    " content_hash, simhash, sentiment_label, sentiment_score, model_version)"
                    " VALUES ('s', 'old-1', 'x', '2026-03-02 09:00:00', '2026-03-02 09:00:00', 'acme',"
                    " 'h', 1, 'negative', 0.1, 'm')"
                )
            )
        assert "keywords" not in {c["name"] for c in sa.inspect(engine).get_columns("mentions")}
        upgrade(engine, "0002")
        assert current_revision(engine) == "0002"
        columns = {c["name"]: c for c in sa.inspect(engine).get_columns("mentions")}
        assert columns["keywords"]["nullable"] and columns["crisis_terms"]["nullable"]
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT external_id, keywords, crisis_terms FROM mentions")).one()
        assert tuple(row) == ("old-1", None, None)
    finally:
        engine.dispose()
