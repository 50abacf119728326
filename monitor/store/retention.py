"""Retention: raw mentions are kept ``raw_days``, their daily counts ``aggregates_days``.

Pruning a mention means deleting its ``mentions`` row (text, title, author, URL: the personal
data) and its ``mention_brands`` rows, after adding it to ``mention_daily`` (one row per UTC
publication day, brand, source and sentiment). Both happen in one transaction per batch, so
every mention is counted in exactly one of the two tables at any moment: a crash between
batches loses nothing and counts nothing twice, and running the prune again only continues
it. :func:`daily_counts` adds the two, so a report over any period reads the same numbers
before and after a prune.

    result = prune(engine, now, raw_days=90, aggregates_days=730)       # one call per scheduler tick
    plan = prune(engine, now, raw_days=90, aggregates_days=730, dry_run=True)   # counts only

Rows are deleted rather than having their text blanked: the author, URL and title are personal
data too, the unique (source, external id) index and ``mention_brands`` would otherwise grow
forever, and ``mentions.text`` is NOT NULL by design. The cost: a source that re-delivers an
item older than ``raw_days`` after it was pruned stores it again (and it is counted again when
pruned); feeds and exports that far back are rare, and the file source's byte-offset cursor
never re-reads.

Batches are short transactions (``RETENTION_BATCH_ROWS`` mentions), so ingest never waits
long for the SQLite write lock. On PostgreSQL each batch takes a transaction-level advisory
lock, so replicas pruning at the same time take turns instead of counting a batch twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from monitor import defaults
from monitor.store.engine import begin_immediate, dialect_insert
from monitor.store.schema import mention_brands, mention_daily, mentions

log = logging.getLogger(__name__)

DAY = 86_400
# pg_advisory_xact_lock key ("BPRT"): one prune batch at a time across replicas.
_PG_LOCK_KEY = 0x42505254


@dataclass(frozen=True)
class PruneResult:
    """What one prune did (or, with ``dry_run``, would do)."""

    raw_cutoff: datetime  # mentions published before this are pruned
    aggregates_cutoff: date | None  # daily aggregates of days before this are deleted; None = kept forever
    mentions: int  # raw mentions aggregated and deleted (dry run: that would be)
    batches: int  # transactions used (dry run: 0)
    aggregate_rows: int  # mention_daily rows deleted past aggregates_days (dry run: that would be)
    oldest: datetime | None  # publication time of the oldest raw mention before the prune
    dry_run: bool
    complete: bool  # False when should_stop() interrupted it; the next prune continues

    def as_dict(self) -> dict[str, Any]:
        return {
            "raw_cutoff": self.raw_cutoff.isoformat(),
            "aggregates_cutoff": self.aggregates_cutoff.isoformat() if self.aggregates_cutoff else None,
            "mentions": self.mentions, "batches": self.batches, "aggregate_rows": self.aggregate_rows,
            "oldest": self.oldest.isoformat() if self.oldest else None, "dry_run": self.dry_run,
            "complete": self.complete,
        }


def day_start(when: datetime) -> datetime:
    """Midnight UTC of ``when``'s UTC day."""
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: give a timezone-aware time")
    utc = when.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, tzinfo=UTC)


def raw_cutoff(now: datetime, raw_days: int) -> datetime:
    """Mentions published before this are pruned: whole UTC days, at least ``raw_days`` of them kept."""
    return day_start(now) - timedelta(days=raw_days)


def aggregates_cutoff(now: datetime, aggregates_days: int) -> date:
    """Daily aggregates of days before this are deleted."""
    return (day_start(now) - timedelta(days=aggregates_days)).date()


def prune(
    engine: sa.Engine,
    now: datetime,
    *,
    raw_days: int,
    aggregates_days: int | None = None,
    batch_rows: int = defaults.RETENTION_BATCH_ROWS,
    dry_run: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> PruneResult:
    """Aggregate and delete mentions older than ``raw_days``, then drop aggregates older than
    ``aggregates_days`` (None: keep them). Idempotent; safe to run from several replicas."""
    if raw_days < 1:
        raise ValueError(f"raw_days must be at least 1, got {raw_days!r}")
    if aggregates_days is not None and aggregates_days < raw_days:
        raise ValueError(f"aggregates_days ({aggregates_days}) must be at least raw_days ({raw_days})")
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, got {batch_rows!r}")
    cutoff = raw_cutoff(now, raw_days)
    agg_cutoff = aggregates_cutoff(now, aggregates_days) if aggregates_days is not None else None
    with engine.connect() as conn:
        oldest = conn.execute(sa.select(sa.func.min(mentions.c.published_at))).scalar_one()
        if dry_run:
            n = conn.execute(sa.select(sa.func.count()).select_from(mentions)
                             .where(mentions.c.published_at < cutoff)).scalar_one()
            aggs = _count_old_aggregates(conn, agg_cutoff)
            return PruneResult(cutoff, agg_cutoff, int(n), 0, aggs, oldest, True, True)
    pruned = batches = 0
    complete = True
    while True:
        if should_stop is not None and should_stop():
            complete = False
            break
        n = _prune_batch(engine, cutoff, batch_rows)
        if n == 0:
            break
        pruned += n
        batches += 1
        time.sleep(0)  # let a waiting writer (ingest) take the lock between batches
    aggs = 0
    if agg_cutoff is not None and complete:
        with begin_immediate(engine) as conn:
            aggs = conn.execute(mention_daily.delete().where(mention_daily.c.day < agg_cutoff)).rowcount or 0
    return PruneResult(cutoff, agg_cutoff, pruned, batches, aggs, oldest, False, complete)


def _count_old_aggregates(conn: sa.Connection, agg_cutoff: date | None) -> int:
    if agg_cutoff is None:
        return 0
    return int(conn.execute(sa.select(sa.func.count()).select_from(mention_daily)
                            .where(mention_daily.c.day < agg_cutoff)).scalar_one())


def _prune_batch(engine: sa.Engine, cutoff: datetime, batch_rows: int) -> int:
    """One transaction: count up to ``batch_rows`` old mentions into mention_daily, delete them."""
    with begin_immediate(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        rows = conn.execute(
            sa.select(mentions.c.id, mentions.c.source_id, mentions.c.engagement, mentions.c.published_at)
            .where(mentions.c.published_at < cutoff)
            .order_by(mentions.c.published_at, mentions.c.id)
            .limit(batch_rows)
        ).all()
        if not rows:
            return 0
        ids = [r.id for r in rows]
        per_brand: dict[int, list[tuple[str, str]]] = {}
        for mention_id, brand, label in conn.execute(
            sa.select(mention_brands.c.mention_id, mention_brands.c.brand, mention_brands.c.sentiment_label)
            .where(mention_brands.c.mention_id.in_(ids))
        ):
            per_brand.setdefault(mention_id, []).append((brand, label))
        totals: dict[tuple[date, str, str, str], list[int]] = {}
        for r in rows:
            # Counted as every count reads it: from mention_brands, which honours analysts'
            # corrections (a relabel changes the label there, "irrelevant" removes the brand row).
            day = r.published_at.astimezone(UTC).date()
            for brand, label in per_brand.get(r.id, []):
                acc = totals.setdefault((day, brand, r.source_id, label), [0, 0])
                acc[0] += 1
                acc[1] += int(r.engagement or 0)
        if totals:
            ins = dialect_insert(conn, mention_daily)
            stmt = ins.on_conflict_do_update(
                index_elements=[mention_daily.c.day, mention_daily.c.brand, mention_daily.c.source_id,
                                mention_daily.c.sentiment_label],
                set_={"mentions": mention_daily.c.mentions + ins.excluded.mentions,
                      "engagement": mention_daily.c.engagement + ins.excluded.engagement},
            )
            conn.execute(stmt, [{"day": d, "brand": b, "source_id": s, "sentiment_label": lbl,
                                 "mentions": n, "engagement": e} for (d, b, s, lbl), (n, e) in sorted(totals.items())])
        conn.execute(mention_brands.delete().where(mention_brands.c.mention_id.in_(ids)))
        conn.execute(mentions.delete().where(mentions.c.id.in_(ids)))
        return len(ids)


def daily_counts(
    conn: sa.Connection, since: date, until: date, *, brand: str | None = None
) -> dict[tuple[date, str], dict[str, int]]:
    """Mentions per (UTC day, brand) and sentiment label for days in [since, until), from raw
    mentions and pruned aggregates together: the same answer before and after a prune."""
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC)
    lo, hi = int(start.timestamp()), int(end.timestamp())
    mb = mention_brands
    day_no = (mb.c.published_ts // DAY).label("day_no")  # floor division on both databases (ts >= 0)
    raw = sa.select(day_no, mb.c.brand, mb.c.sentiment_label, sa.func.count()).where(
        mb.c.published_ts >= lo, mb.c.published_ts < hi)
    agg = sa.select(mention_daily.c.day, mention_daily.c.brand, mention_daily.c.sentiment_label,
                    sa.func.sum(mention_daily.c.mentions)).where(
        mention_daily.c.day >= since, mention_daily.c.day < until)
    if brand is not None:
        raw = raw.where(mb.c.brand == brand)
        agg = agg.where(mention_daily.c.brand == brand)
    out: dict[tuple[date, str], dict[str, int]] = {}
    epoch = date(1970, 1, 1)
    for n_day, b, label, n in conn.execute(raw.group_by(day_no, mb.c.brand, mb.c.sentiment_label)):
        key = (epoch + timedelta(days=int(n_day)), b)
        out.setdefault(key, {})[label] = out.get(key, {}).get(label, 0) + int(n)
    for d, b, label, n in conn.execute(agg.group_by(mention_daily.c.day, mention_daily.c.brand,
                                                   mention_daily.c.sentiment_label)):
        key = (d, b)
        out.setdefault(key, {})[label] = out.get(key, {}).get(label, 0) + int(n)
    return dict(sorted(out.items()))
