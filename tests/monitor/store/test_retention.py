"""Retention prune on SQLite and PostgreSQL: aggregates first (same transaction), raw rows gone,
counts unchanged, idempotent, batched and interruptible, safe from two pruners at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from monitor.store import schema
from monitor.store.mentions import insert_mentions
from monitor.store.retention import daily_counts, prune, raw_cutoff
from tests.monitor.store.conftest import MentionFactory

NOW = datetime(2026, 6, 15, 13, 30, tzinfo=UTC)
LABELS = ("negative", "neutral", "positive")


def _fill(engine: sa.Engine, make_mention: MentionFactory, days_back: range, per_day: int = 5) -> int:
    """Mentions spread over the given days before NOW: two sources, one or two brands, all labels."""
    batch = []
    for d in days_back:
        for i in range(per_day):
            at = NOW - timedelta(days=d, hours=i)
            batch.append(make_mention(
                f"d{d}-{i}", text=f"阿克米 贝塔 mention {d}-{i}", published_at=at, fetched_at=at,
                brands=("acme", "beta") if i % 2 else ("acme",), label=LABELS[(d + i) % 3],
                source_id="weibo" if i % 3 else "news", engagement=10 * i, author=f"user{i}",
                url=f"https://example.com/{d}/{i}"))
    with engine.begin() as conn:
        return len(insert_mentions(conn, batch))


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _daily(engine: sa.Engine) -> dict[tuple[date, str], dict[str, int]]:
    with engine.connect() as conn:
        return daily_counts(conn, date(2026, 1, 1), date(2026, 12, 31))


@pytest.fixture
def filled(engine: sa.Engine, make_mention: MentionFactory) -> Iterator[sa.Engine]:
    assert _fill(engine, make_mention, range(0, 40)) == 200
    yield engine


def test_old_mentions_become_daily_counts_and_every_count_stays_the_same(filled: sa.Engine) -> None:
    before = _daily(filled)
    cutoff = raw_cutoff(NOW, 30)
    assert cutoff == datetime(2026, 5, 16, tzinfo=UTC)  # whole UTC days: 30 full days + today kept
    with filled.connect() as conn:
        old = conn.execute(sa.select(sa.func.count()).select_from(schema.mentions)
                           .where(schema.mentions.c.published_at < cutoff)).scalar_one()
    assert old > 0

    result = prune(filled, NOW, raw_days=30, batch_rows=7)
    assert result.complete and result.mentions == old and result.batches == -(-old // 7)
    assert _daily(filled) == before  # reports read the same numbers before and after
    with filled.connect() as conn:
        left = conn.execute(sa.select(sa.func.min(schema.mentions.c.published_at))).scalar_one()
        orphans = conn.execute(sa.select(sa.func.count()).select_from(schema.mention_brands).where(
            schema.mention_brands.c.published_ts < int(cutoff.timestamp()))).scalar_one()
        stored = {(r.day, r.brand, r.source_id, r.sentiment_label): (r.mentions, r.engagement)
                  for r in conn.execute(sa.select(schema.mention_daily))}
    assert left >= cutoff and orphans == 0
    assert _count(filled, schema.mentions) == 200 - old
    assert stored == _expected_aggregates(cutoff)  # per day, brand, source and label, engagement summed


def _expected_aggregates(cutoff: datetime) -> dict[tuple[date, str, str, str], tuple[int, int]]:
    """What _fill's mentions published before ``cutoff`` add up to."""
    out: dict[tuple[date, str, str, str], tuple[int, int]] = {}
    for d in range(0, 40):
        for i in range(5):
            at = NOW - timedelta(days=d, hours=i)
            if at >= cutoff:
                continue
            for brand in (("acme", "beta") if i % 2 else ("acme",)):
                key = (at.date(), brand, "weibo" if i % 3 else "news", LABELS[(d + i) % 3])
                n, e = out.get(key, (0, 0))
                out[key] = (n + 1, e + 10 * i)
    return out


def test_prune_is_idempotent_and_a_second_run_changes_nothing(filled: sa.Engine) -> None:
    first = prune(filled, NOW, raw_days=30)
    with filled.connect() as conn:
        snapshot = conn.execute(sa.select(schema.mention_daily).order_by(*schema.mention_daily.primary_key)).all()
    again = prune(filled, NOW, raw_days=30)
    assert first.mentions > 0 and again.mentions == 0 and again.batches == 0
    with filled.connect() as conn:
        assert conn.execute(sa.select(schema.mention_daily).order_by(*schema.mention_daily.primary_key)).all() \
            == snapshot


def test_an_interrupted_prune_loses_and_doubles_nothing_and_the_next_one_finishes(filled: sa.Engine) -> None:
    before = _daily(filled)
    calls = iter(range(1000))
    stopped = prune(filled, NOW, raw_days=30, batch_rows=5, should_stop=lambda: next(calls) >= 3)
    assert not stopped.complete and stopped.batches == 3 and stopped.mentions == 15
    assert _daily(filled) == before  # between batches the two tables add up exactly
    rest = prune(filled, NOW, raw_days=30, batch_rows=5)
    assert rest.complete and rest.mentions > 0
    assert _daily(filled) == before


def test_aggregates_past_their_retention_are_dropped_after_raw_rows(filled: sa.Engine) -> None:
    prune(filled, NOW, raw_days=10)
    with filled.connect() as conn:
        days = sorted(d for (d,) in conn.execute(sa.select(schema.mention_daily.c.day).distinct()))
    assert days[0] == (NOW - timedelta(days=39, hours=4)).date()
    later = NOW + timedelta(days=10)
    result = prune(filled, later, raw_days=10, aggregates_days=30)
    assert result.aggregates_cutoff == date(2026, 5, 26)
    with filled.connect() as conn:
        days = sorted(d for (d,) in conn.execute(sa.select(schema.mention_daily.c.day).distinct()))
        n_mentions = conn.execute(sa.select(sa.func.count()).select_from(schema.mentions)).scalar_one()
    assert days[0] == date(2026, 5, 26) and result.aggregate_rows > 0
    assert n_mentions == sum(1 for d in range(0, 40) for i in range(5)
                             if NOW - timedelta(days=d, hours=i) >= raw_cutoff(later, 10))


def test_dry_run_counts_without_changing_anything(filled: sa.Engine) -> None:
    before = (_count(filled, schema.mentions), _count(filled, schema.mention_brands), _daily(filled))
    plan = prune(filled, NOW, raw_days=30, aggregates_days=60, dry_run=True)
    assert plan.dry_run and plan.batches == 0 and plan.mentions > 0
    assert plan.oldest == NOW - timedelta(days=39, hours=4)
    assert (_count(filled, schema.mentions), _count(filled, schema.mention_brands), _daily(filled)) == before
    assert _count(filled, schema.mention_daily) == 0
    done = prune(filled, NOW, raw_days=30, aggregates_days=60)
    assert done.mentions == plan.mentions


def test_two_pruners_at_once_count_every_mention_once(filled: sa.Engine, db_url: str) -> None:
    from monitor.store.engine import make_engine

    before = _daily(filled)
    other = make_engine(db_url)
    results, errors = [], []

    def run(engine: sa.Engine) -> None:
        try:
            results.append(prune(engine, NOW, raw_days=5, batch_rows=4))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in (filled, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    other.dispose()
    assert errors == []
    assert sum(r.mentions for r in results) == sum(1 for d in range(0, 40) for i in range(5)
                                                   if NOW - timedelta(days=d, hours=i) < raw_cutoff(NOW, 5))
    assert _daily(filled) == before


def test_new_mentions_of_a_pruned_day_are_added_not_lost(engine: sa.Engine, make_mention: MentionFactory) -> None:
    """A late backfill of an old export: pruned on the next run, added to that day's counts."""
    _fill(engine, make_mention, range(35, 36))
    prune(engine, NOW, raw_days=30)
    at = NOW - timedelta(days=35, hours=1)
    with engine.begin() as conn:
        insert_mentions(conn, [make_mention("late-1", text="阿克米 late", published_at=at, fetched_at=at,
                                            label="negative", source_id="weibo")])
    before = _daily(engine)
    prune(engine, NOW, raw_days=30)
    assert _daily(engine) == before
    assert before[(at.date(), "acme")]["negative"] >= 1


def test_bad_arguments_are_refused(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="raw_days"):
        prune(engine, NOW, raw_days=0)
    with pytest.raises(ValueError, match=r"aggregates_days \(5\) must be at least raw_days \(10\)"):
        prune(engine, NOW, raw_days=10, aggregates_days=5)
    with pytest.raises(ValueError, match="naive"):
        prune(engine, NOW.replace(tzinfo=None), raw_days=10)


def test_migration_0005_creates_exactly_the_schema_table_and_downgrades(db_url: str) -> None:
    from monitor.store.engine import make_engine
    from monitor.store.migrate import upgrade

    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            diffs = [d for d in compare_metadata(ctx, schema.metadata) if "mention_daily" in repr(d)]
            indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("mention_daily")}
        assert diffs == []
        assert indexes == {"ix_mention_daily_brand_day"}
        upgrade(engine, "0005")  # already there: a no-op
        _downgrade(engine, "0004")  # below 0005, whatever came after it
        assert "mention_daily" not in sa.inspect(engine).get_table_names()
        upgrade(engine)
        assert "mention_daily" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _downgrade(engine: sa.Engine, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from monitor.store import migrate

    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
