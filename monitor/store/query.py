"""Mention history as analysts read it: filtered, keyset-paged, with corrections applied.

    flt = MentionFilter(brands=("acme",), sentiments=("negative",), since=now - timedelta(days=7))
    page = search_mentions(engine, flt, limit=50)              # newest first
    more = search_mentions(engine, flt, cursor=page.next_cursor)
    for row in iter_mentions(engine, flt):                      # a whole selection, constant memory
        ...
    series = sentiment_series(engine, "acme", start, end, 900)   # zero-filled 15-minute buckets

Corrections (monitor/store/corrections.py) take effect in ``mention_brands``, so what a row
shows, and what a filter matches, is the corrected state: ``brands`` leaves out brands marked
irrelevant, ``sentiment_label`` is the analyst's label when there is one (``model_label`` keeps
the model's). A mention whose every brand was marked irrelevant is left out unless
``include_irrelevant``.

Speed at a million mentions: a single-brand filter walks mention_brands' (brand, published_ts,
mention_id, sentiment_label) index newest first and stops after ``limit`` matches; other
filters walk mentions' published_at (or source/author) index. Cursors are keyset positions
(sort key + id), so page 1000 costs what page 1 costs and a row inserted meanwhile neither
shifts nor repeats rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from monitor import defaults
from monitor.errors import BrandPulseError
from monitor.models import SentimentLabel
from monitor.store import pagecursor
from monitor.store.mentions import _terms_of, bucket_counts, epoch_seconds
from monitor.store.schema import mention_brands, mention_corrections, mentions
from monitor.store.textsearch import text_conditions

ORDERS = ("newest", "oldest", "engagement")
MAX_PAGE = defaults.HISTORY_MAX_PAGE
MAX_SERIES_POINTS = defaults.SERIES_MAX_POINTS
_LABELS = tuple(label.value for label in SentimentLabel)


class QueryError(BrandPulseError):
    """A mention query that cannot run as asked: a bad filter, order, limit or cursor."""


@dataclass(frozen=True)
class MentionFilter:
    brands: tuple[str, ...] = ()  # any of these brands (after irrelevant marks)
    sources: tuple[str, ...] = ()  # any of these source ids
    since: datetime | None = None  # published_at >= since
    until: datetime | None = None  # published_at < until
    sentiments: tuple[str, ...] = ()  # effective label after corrections: negative/neutral/positive
    text: str | None = None  # every term in title or text; Traditional/Simplified, case and width folded
    author: str | None = None  # exact author name
    include_irrelevant: bool = False  # also mentions (and brands) an analyst marked irrelevant


@dataclass(frozen=True)
class MentionRow:
    id: int
    source_id: str
    external_id: str
    url: str | None
    author: str | None
    title: str | None
    text: str
    published_at: datetime
    platform: str | None
    lang: str | None
    engagement: int
    author_followers: int | None
    brands: tuple[str, ...]  # matched brands minus those marked irrelevant
    sentiment_label: str  # effective: the latest analyst relabel, else the model's
    sentiment_score: float  # the model's probability that the text is positive
    model_label: str  # the model's own label
    corrected_by: str | None  # who made the latest correction of any kind (None: never corrected)
    corrected_at: datetime | None
    irrelevant_brands: tuple[str, ...]  # matched brands an analyst marked irrelevant
    keywords: tuple[str, ...]
    crisis_terms: tuple[str, ...]
    fetched_at: datetime | None = None
    model_version: str | None = None


def mention_dict(row: MentionRow) -> dict[str, Any]:
    """``row`` as JSON-ready values (ISO 8601 times, lists), as the API and exports write it."""
    out: dict[str, Any] = {}
    for f in fields(row):
        v = getattr(row, f.name)
        out[f.name] = v.isoformat() if isinstance(v, datetime) else list(v) if isinstance(v, tuple) else v
    return out


@dataclass(frozen=True)
class Page:
    rows: list[MentionRow]
    next_cursor: str | None  # None: this was the last page


@dataclass(frozen=True)
class SeriesPoint:
    start: datetime  # bucket start (aware UTC); the bucket is [start, start + bucket_seconds)
    negative: int
    neutral: int
    positive: int

    @property
    def total(self) -> int:
        return self.negative + self.neutral + self.positive


# --- filters -----------------------------------------------------------------------------------


def _aware(when: datetime | None, name: str) -> None:
    if when is not None and (when.tzinfo is None or when.utcoffset() is None):
        raise QueryError(f"{name} {when.isoformat()!r} has no time zone; give an aware UTC time")


def _check(flt: MentionFilter, order: str, limit: int) -> None:
    if order not in ORDERS:
        raise QueryError(f"order {order!r} is not one of {', '.join(ORDERS)}")
    if not 1 <= limit <= MAX_PAGE:
        raise QueryError(f"limit must be between 1 and {MAX_PAGE}, got {limit!r}")
    bad = [s for s in flt.sentiments if s not in _LABELS]
    if bad:
        raise QueryError(f"sentiment {bad[0]!r} is not one of {', '.join(_LABELS)}")
    _aware(flt.since, "since")
    _aware(flt.until, "until")
    if flt.since is not None and flt.until is not None and flt.until <= flt.since:
        raise QueryError(f"since ({flt.since.isoformat()}) must be before until ({flt.until.isoformat()})")


def _latest_relabel(mention_id: sa.ColumnElement[int]) -> sa.ScalarSelect[Any]:
    c = mention_corrections
    return (sa.select(c.c.sentiment_label).where(c.c.mention_id == mention_id, c.c.kind == "sentiment")
            .order_by(c.c.id.desc()).limit(1).scalar_subquery())


def _brand_driven(flt: MentionFilter) -> bool:
    return len(flt.brands) == 1 and not flt.include_irrelevant


def _select(flt: MentionFilter, dialect: str) -> tuple[sa.Select[Any], sa.ColumnElement[Any], sa.ColumnElement[int]]:
    """The filtered SELECT (no order yet), its time sort key and its id column."""
    m, mb = mentions, mention_brands
    conds: list[sa.ColumnElement[bool]] = []
    if _brand_driven(flt):
        # Walk the brand's index range. published_ts is whole seconds, so published_at decides
        # only inside the edge second of a bound with a fraction; written as an OR so that
        # PostgreSQL does not count the time range twice (it then underestimates the matches
        # and plans a parallel scan whose start-up costs more than the whole page).
        conds.append(mb.c.brand == flt.brands[0])
        if flt.since is not None:
            start = epoch_seconds(flt.since)
            conds.append(mb.c.published_ts >= start)
            if flt.since.timestamp() != start:
                conds.append(sa.or_(mb.c.published_ts > start, m.c.published_at >= flt.since))
        if flt.until is not None:
            end = epoch_seconds(flt.until)
            if flt.until.timestamp() != end:
                conds += [mb.c.published_ts <= end, sa.or_(mb.c.published_ts < end, m.c.published_at < flt.until)]
            else:
                conds.append(mb.c.published_ts < end)
        if flt.sentiments:
            conds.append(mb.c.sentiment_label.in_(flt.sentiments))
        stmt = sa.select(m, mb.c.published_ts.label("_ts")).select_from(mb.join(m, m.c.id == mb.c.mention_id))
        time_key: sa.ColumnElement[Any] = mb.c.published_ts
        id_key: sa.ColumnElement[int] = mb.c.mention_id
    else:
        stmt = sa.select(m)
        time_key, id_key = m.c.published_at, m.c.id
        if flt.since is not None:
            conds.append(m.c.published_at >= flt.since)
        if flt.until is not None:
            conds.append(m.c.published_at < flt.until)
        if not flt.include_irrelevant:
            sub = sa.select(mb.c.mention_id).where(mb.c.mention_id == m.c.id)
            if flt.brands:
                sub = sub.where(mb.c.brand.in_(flt.brands))
            if flt.sentiments:
                sub = sub.where(mb.c.sentiment_label.in_(flt.sentiments))
            conds.append(sub.exists())
        else:
            c = mention_corrections
            if flt.brands:
                current = sa.select(mb.c.mention_id).where(mb.c.mention_id == m.c.id, mb.c.brand.in_(flt.brands))
                marked = sa.select(c.c.mention_id).where(c.c.mention_id == m.c.id, c.c.kind == "irrelevant",
                                                         c.c.brand.in_(flt.brands))
                conds.append(sa.or_(current.exists(), marked.exists()))
            if flt.sentiments:
                effective = sa.func.coalesce(_latest_relabel(m.c.id), m.c.sentiment_label)
                conds.append(effective.in_(flt.sentiments))
    if flt.sources:
        conds.append(m.c.source_id.in_(flt.sources))
    if flt.author is not None:
        conds.append(m.c.author == flt.author)
    if flt.text:
        try:
            conds += text_conditions(flt.text, [m.c.title, m.c.text], dialect)
        except ValueError as exc:
            raise QueryError(str(exc)) from None
    return stmt.where(*conds), time_key, id_key


# --- queries -----------------------------------------------------------------------------------


def _path(flt: MentionFilter, order: str) -> str:
    if order == "engagement":
        return "eng"
    return "ts" if _brand_driven(flt) else "at"


def _no_parallel(conn: sa.Connection) -> None:
    """PostgreSQL: no parallel workers for this transaction. A page stops after ``limit`` rows, so
    starting workers (~10 ms) costs more than the scan; the planner, which cannot know how soon
    the index walk finds its rows, would otherwise pick a parallel plan at a million mentions."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")


def _narrowed(flt: MentionFilter, order: str, path: str, key: Any) -> MentionFilter:
    """``flt`` with its time range cut at the cursor, so the index range itself starts there.

    Two upper (or lower) bounds on one column make SQLite pick one of them for the range, and
    it picks ``until``: the walk would then step over every row before the cursor again.
    """
    if path == "ts":  # whole seconds: the cursor's second stays inside the range
        edge = datetime.fromtimestamp(key + (1 if order == "newest" else 0), UTC)
    else:
        edge = key + timedelta(microseconds=1) if order == "newest" else key
    if order == "newest":
        return replace(flt, until=edge if flt.until is None else min(flt.until, edge))
    return replace(flt, since=edge if flt.since is None else max(flt.since, edge))


def search_mentions(engine: sa.Engine, flt: MentionFilter, *, order: str = "newest",
                    limit: int = defaults.HISTORY_PAGE_SIZE,
                    cursor: str | None = None) -> Page:
    """One page of mentions matching ``flt``; ``next_cursor`` fetches the next one.

    ``order``: "newest" or "oldest" (published time, then id) or "engagement" (most first,
    then newest id). Raises QueryError for a bad filter, order, limit or cursor.
    """
    _check(flt, order, limit)
    path = _path(flt, order)
    try:
        after = pagecursor.decode(cursor, order, path) if cursor else None
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    if after is not None and path != "eng":
        flt = _narrowed(flt, order, path, after[0])
    with engine.connect() as conn:
        _no_parallel(conn)
        stmt, time_key, id_key = _select(flt, conn.dialect.name)
        key_col: sa.ColumnElement[Any] = mentions.c.engagement if order == "engagement" else time_key
        if order == "oldest":
            if after is not None:  # the range starts at the cursor's time (narrowed); ties go by id
                stmt = stmt.where(sa.or_(key_col > after[0], id_key > after[1]))
            stmt = stmt.order_by(key_col.asc(), id_key.asc())
        elif order == "newest":
            if after is not None:
                stmt = stmt.where(sa.or_(key_col < after[0], id_key < after[1]))
            stmt = stmt.order_by(key_col.desc(), id_key.desc())
        else:
            if after is not None:  # the first conjunct bounds the sort, the second breaks ties
                stmt = stmt.where(key_col <= after[0], sa.or_(key_col < after[0], id_key < after[1]))
            stmt = stmt.order_by(key_col.desc(), id_key.desc())
        result = conn.execute(stmt.limit(limit + 1)).mappings().all()
        more = len(result) > limit
        result = result[:limit]
        rows = _hydrate(conn, result)
    next_cursor = None
    if more and result:
        last = result[-1]
        key: Any
        if path == "eng":
            key = int(last["engagement"])
        elif path == "ts":
            key = int(last["_ts"])
        else:
            key = last["published_at"].isoformat()
        next_cursor = pagecursor.encode(order, path, key, int(last["id"]))
    return Page(rows=rows, next_cursor=next_cursor)


def iter_mentions(engine: sa.Engine, flt: MentionFilter, *, order: str = "newest",
                  batch: int = defaults.EXPORT_BATCH) -> Iterator[MentionRow]:
    """Every mention matching ``flt``, in ``order``, fetched ``batch`` rows at a time (for exports:
    memory stays constant however large the selection; no connection is held between batches)."""
    cursor: str | None = None
    while True:
        page = search_mentions(engine, flt, order=order, limit=batch, cursor=cursor)
        yield from page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def count_mentions(engine: sa.Engine, flt: MentionFilter, *, cap: int | None = None) -> int:
    """How many mentions match ``flt`` (at most ``cap``, so a UI can say "10,000+" cheaply)."""
    _check(flt, "newest", 1)
    with engine.connect() as conn:
        stmt, _, id_key = _select(flt, conn.dialect.name)
        inner = stmt.with_only_columns(id_key)
        if cap is not None:
            inner = inner.limit(cap)
        return int(conn.execute(sa.select(sa.func.count()).select_from(inner.subquery())).scalar_one())


def get_mention(engine: sa.Engine, mention_id: int) -> MentionRow | None:
    """One mention by id, whatever its corrections (None when there is no such mention)."""
    with engine.connect() as conn:
        found = conn.execute(sa.select(mentions).where(mentions.c.id == mention_id)).mappings().all()
        rows = _hydrate(conn, found)
    return rows[0] if rows else None


def _hydrate(conn: sa.Connection, result: Sequence[sa.RowMapping]) -> list[MentionRow]:
    """Rows of ``mentions`` -> MentionRow, with current brands and corrections (two queries per page)."""
    if not result:
        return []
    ids = [int(r["id"]) for r in result]
    current: dict[int, set[str]] = {}
    for mid, brand in conn.execute(sa.select(mention_brands.c.mention_id, mention_brands.c.brand)
                                   .where(mention_brands.c.mention_id.in_(ids))):
        current.setdefault(int(mid), set()).add(brand)
    c = mention_corrections
    relabel: dict[int, str] = {}
    latest: dict[int, tuple[str, datetime]] = {}
    for mid, kind, label, actor, at in conn.execute(
            sa.select(c.c.mention_id, c.c.kind, c.c.sentiment_label, c.c.actor, c.c.at)
            .where(c.c.mention_id.in_(ids)).order_by(c.c.id)):
        latest[int(mid)] = (actor, at)  # ordered by id: the last one wins
        if kind == "sentiment":
            relabel[int(mid)] = label
    out = []
    for r in result:
        mid = int(r["id"])
        matched = [b for b in r["brands"].split(",") if b]
        now = current.get(mid, set())
        brands = [b for b in matched if b in now] + sorted(now.difference(matched))
        by, at = latest.get(mid, (None, None))
        out.append(MentionRow(
            id=mid, source_id=r["source_id"], external_id=r["external_id"], url=r["url"], author=r["author"],
            title=r["title"], text=r["text"], published_at=r["published_at"], platform=r["platform"],
            lang=r["lang"], engagement=int(r["engagement"]),
            author_followers=None if r["author_followers"] is None else int(r["author_followers"]),
            brands=tuple(brands), sentiment_label=relabel.get(mid, r["sentiment_label"]),
            sentiment_score=float(r["sentiment_score"]), model_label=r["sentiment_label"], corrected_by=by,
            corrected_at=at, irrelevant_brands=tuple(b for b in matched if b not in now),
            keywords=tuple(_terms_of(r["keywords"])), crisis_terms=tuple(_terms_of(r["crisis_terms"])),
            fetched_at=r["fetched_at"], model_version=r["model_version"]))
    return out


def sentiment_series(engine: sa.Engine, brand: str, start: datetime, end: datetime,
                     bucket_seconds: int) -> list[SeriesPoint]:
    """Mentions of ``brand`` per bucket and effective sentiment over [start, end), every bucket
    present (zeros included). Buckets start at multiples of ``bucket_seconds`` since the epoch,
    so the first one may begin before ``start`` (it then counts from ``start`` only)."""
    _aware(start, "start")
    _aware(end, "end")
    if bucket_seconds <= 0:
        raise QueryError(f"bucket must be a positive number of seconds, got {bucket_seconds!r}")
    if end <= start:
        raise QueryError(f"start ({start.isoformat()}) must be before end ({end.isoformat()})")
    first = epoch_seconds(start) - epoch_seconds(start) % bucket_seconds
    points = math.ceil((end.timestamp() - first) / bucket_seconds)
    if points > MAX_SERIES_POINTS:
        raise QueryError(f"series of {points} buckets is too long (at most {MAX_SERIES_POINTS}): "
                         f"use a wider bucket or a shorter range")
    with engine.connect() as conn:
        counts = bucket_counts(conn, brand, start, end, bucket_seconds)
    out = []
    for i in range(points):
        ts = first + i * bucket_seconds
        c = counts.get(ts, {})
        out.append(SeriesPoint(datetime.fromtimestamp(ts, UTC), c.get("negative", 0), c.get("neutral", 0),
                               c.get("positive", 0)))
    return out
