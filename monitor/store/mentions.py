"""Stored mentions: idempotent insert, per-brand time buckets, and the queries built on them.

    with engine.begin() as conn:
        new = insert_mentions(conn, batch)          # duplicates (source_id, external_id) skipped
        save_cursor(conn, source.id, source.kind, cursor, now)
    with engine.connect() as conn:
        buckets = bucket_counts(conn, "acme", since, until, 900)
        # {1772442000: {"negative": 4, "neutral": 1}, ...}

Every function takes a Connection and leaves transaction control to the caller, so the
pipeline can store mentions and the cursor that covers them atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from monitor.models import Mention, SentimentLabel
from monitor.store.engine import dialect_insert
from monitor.store.schema import mention_brands, mentions

log = logging.getLogger(__name__)

# Rows per INSERT statement. ~20 columns x 500 rows stays far below SQLite's 32766
# bound-parameter limit and PostgreSQL's 65535, while keeping round trips few.
INSERT_CHUNK = 500

_U64 = 1 << 64
_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1
_LABELS = {label.value for label in SentimentLabel}


def to_signed64(value: int) -> int:
    """Unsigned 64-bit (the model's SimHash) -> signed, as a BIGINT column stores it."""
    if not 0 <= value < _U64:
        raise ValueError(f"simhash {value!r} is not an unsigned 64-bit integer")
    return value - _U64 if value > _I64_MAX else value


def to_unsigned64(value: int) -> int:
    """Signed 64-bit from a BIGINT column -> the unsigned SimHash the model uses."""
    if not _I64_MIN <= value <= _I64_MAX:
        raise ValueError(f"stored simhash {value!r} is not a signed 64-bit integer")
    return value & (_U64 - 1)


def epoch_seconds(when: datetime) -> int:
    """Whole seconds since the epoch (floored), as ``mention_brands.published_ts`` holds them."""
    _require_aware(when, "datetime")
    return math.floor(when.timestamp())


def _require_aware(when: datetime, what: str) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} {when!r} is naive; the store needs timezone-aware datetimes")


def _clip(value: str | None, size: int) -> str | None:
    # Display-only columns: a longer value is cut rather than failing the whole batch
    # (PostgreSQL enforces VARCHAR lengths; losing a mention over an author name is worse).
    return value if value is None or len(value) <= size else value[: size - 1] + "…"


def _key_id(external_id: str, size: int = 512) -> str:
    # An id longer than the column (e.g. a long URL used as a feed entry id) is shortened
    # deterministically, so the same item maps to the same key on every poll.
    if len(external_id) <= size:
        return external_id
    digest = hashlib.sha1(external_id.encode("utf-8")).hexdigest()
    return external_id[: size - 46] + "…sha1=" + digest


def _row(m: Mention) -> dict[str, Any]:
    where = f"source={m.source_id} external_id={m.external_id[:80]!r}"
    _require_aware(m.published_at, f"{where}: published_at")
    _require_aware(m.fetched_at, f"{where}: fetched_at")
    if len(m.source_id) > 200:
        raise ValueError(f"source id {m.source_id[:80]!r}... is longer than 200 characters")
    label = (
        m.sentiment.label.value if isinstance(m.sentiment.label, SentimentLabel) else str(m.sentiment.label)
    )
    if label not in _LABELS:
        raise ValueError(f"{where}: sentiment label {label!r} is not one of {sorted(_LABELS)}")
    return {
        "source_id": m.source_id,
        "external_id": _key_id(m.external_id),
        "url": m.url,
        "author": _clip(m.author, 512),
        "title": m.title,
        "text": m.text,
        "published_at": m.published_at,
        "fetched_at": m.fetched_at,
        "platform": _clip(m.platform, 64),
        "lang": _clip(m.lang, 8),
        "engagement": int(m.engagement),
        "author_followers": None if m.author_followers is None else int(m.author_followers),
        "brands": _clip(",".join(_unique_brands(m)), 1024),
        "content_hash": m.content_hash,
        "simhash": to_signed64(m.simhash),
        "sentiment_label": label,
        "sentiment_score": float(m.sentiment.score),
        "model_version": _clip(m.sentiment.model_version, 64),
        # keywords are jieba tokens, which never contain whitespace: space-joined (cheaper than
        # JSON on the ingest path); crisis terms can ("food poisoning"): a JSON array.
        "keywords": " ".join(m.keywords) if m.keywords else None,
        "crisis_terms": _terms_json(m.crisis_terms),
    }


def _terms_json(terms: Sequence[str]) -> str | None:
    # NULL when empty, which is what crisis_counts() tests for.
    return json.dumps(list(terms), ensure_ascii=False) if terms else None


def _terms_of(value: str | None) -> list[str]:
    """Stored terms -> list: a JSON array (crisis_terms) or space-joined words (keywords)."""
    if not value:
        return []
    if not value.startswith("["):
        return value.split()
    try:
        loaded = json.loads(value)
    except ValueError:  # written by something else: keep what can be read rather than fail a query
        return value.split()
    return [str(t) for t in loaded] if isinstance(loaded, list) else []


def _unique_brands(m: Mention) -> list[str]:
    brands = list(dict.fromkeys(m.brands))
    for b in brands:
        if not b or len(b) > 100 or "," in b:
            raise ValueError(f"source={m.source_id}: brand id {b!r} must be 1-100 characters without ','")
    return brands


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_mentions(conn: sa.Connection, batch: Sequence[Mention]) -> list[Mention]:
    """Store new mentions and their per-brand rows; return the ones actually inserted.

    Idempotent on (source_id, external_id): an item already stored (re-polled after a crash,
    or by another replica) is skipped, not an error. Within ``batch`` the first occurrence of
    a key wins. Order of the result follows ``batch``.
    """
    by_key: dict[tuple[str, str], tuple[Mention, dict[str, Any]]] = {}
    for m in batch:
        row = _row(m)
        by_key.setdefault((row["source_id"], row["external_id"]), (m, row))
    if not by_key:
        return []
    # Insert in key order: two transactions writing overlapping keys then take PostgreSQL's
    # unique-index locks in the same order and wait for each other instead of deadlocking.
    entries = [by_key[k] for k in sorted(by_key)]
    ins = dialect_insert(conn, mentions)
    stmt = ins.on_conflict_do_nothing(index_elements=["source_id", "external_id"]).returning(
        mentions.c.id, mentions.c.source_id, mentions.c.external_id
    )
    new_ids: dict[tuple[str, str], int] = {}
    for chunk in _chunks(entries, INSERT_CHUNK):
        # executemany + RETURNING: SQLAlchemy's "insertmanyvalues" sends multi-row
        # INSERT ... ON CONFLICT DO NOTHING RETURNING statements from one cached compilation;
        # RETURNING reports exactly the rows that were new (SQLite >= 3.35 and PostgreSQL).
        result = conn.execute(stmt, [row for _, row in chunk])
        for mention_id, source_id, external_id in result:
            new_ids[(source_id, external_id)] = mention_id
    if not new_ids:
        return []
    inserted: list[Mention] = []
    brand_rows: list[dict[str, Any]] = []
    for key, (m, row) in by_key.items():
        mention_id = new_ids.get(key)
        if mention_id is None:
            continue
        inserted.append(m)
        published_ts = epoch_seconds(m.published_at)
        for brand in _unique_brands(m):
            brand_rows.append(
                {
                    "mention_id": mention_id,
                    "brand": brand,
                    "published_ts": published_ts,
                    "sentiment_label": row["sentiment_label"],
                }
            )
    if brand_rows:
        conn.execute(mention_brands.insert(), brand_rows)  # executemany, no RETURNING needed
    skipped = len(batch) - len(inserted)
    if skipped:
        log.debug("mentions skipped as already stored count=%s inserted=%s", skipped, len(inserted))
    return inserted


def bucket_counts(
    conn: sa.Connection, brand: str, since: datetime, until: datetime, bucket_seconds: int
) -> dict[int, dict[str, int]]:
    """Mentions of ``brand`` per time bucket and sentiment label, from ``since`` to ``until``.

    Buckets start at multiples of ``bucket_seconds`` since the epoch (15-minute buckets start
    at :00, :15, ...). The range is [since, until) to the second, so a bucket that ``since``
    cuts through is counted only from ``since``. Only buckets with mentions appear; the key
    is the bucket's start in epoch seconds and each value maps label -> count.
    """
    if bucket_seconds <= 0:
        raise ValueError(f"bucket_seconds must be positive, got {bucket_seconds!r}")
    start, end = epoch_seconds(since), _end_seconds(until)
    origin = start - start % bucket_seconds
    ts = mention_brands.c.published_ts
    # (ts - origin) is never negative, so integer division is floor division on both
    # databases; `//` renders as `/` on integers for SQLite and PostgreSQL.
    bucket = (sa.literal(origin, sa.BigInteger) + ((ts - origin) // bucket_seconds) * bucket_seconds).label(
        "bucket"
    )
    stmt = (
        sa.select(bucket, mention_brands.c.sentiment_label, sa.func.count().label("n"))
        .where(mention_brands.c.brand == brand, ts >= start, ts < end)
        .group_by(bucket, mention_brands.c.sentiment_label)
    )
    out: dict[int, dict[str, int]] = {}
    for bucket_start, label, n in conn.execute(stmt):
        out.setdefault(int(bucket_start), {})[label] = int(n)
    return dict(sorted(out.items()))


def _end_seconds(until: datetime) -> int:
    # published_ts is floored to the second, so an exclusive end rounds up: a mention in the
    # same second as ``until`` but before it still counts.
    _require_aware(until, "until")
    return math.ceil(until.timestamp())


def crisis_counts(
    conn: sa.Connection, brand: str, since: datetime, until: datetime, bucket_seconds: int
) -> dict[int, tuple[int, int]]:
    """Mentions of ``brand`` with crisis terms per time bucket in [since, until):
    ``{bucket start: (mentions, largest author_followers among them)}``.

    Buckets as in :func:`bucket_counts`; only buckets with such mentions appear. An unknown
    follower count counts as 0. One grouped query, not a scan of the rows in Python.
    """
    if bucket_seconds <= 0:
        raise ValueError(f"bucket_seconds must be positive, got {bucket_seconds!r}")
    start, end = epoch_seconds(since), _end_seconds(until)
    origin = start - start % bucket_seconds
    mb = mention_brands
    bucket = (sa.literal(origin, sa.BigInteger) + ((mb.c.published_ts - origin) // bucket_seconds) * bucket_seconds)
    stmt = (
        sa.select(
            bucket.label("bucket"),
            sa.func.count().label("n"),
            sa.func.max(sa.func.coalesce(mentions.c.author_followers, 0)).label("reach"),
        )
        .select_from(mb.join(mentions, mentions.c.id == mb.c.mention_id))
        .where(mb.c.brand == brand, mb.c.published_ts >= start, mb.c.published_ts < end)
        .where(mentions.c.crisis_terms.is_not(None))
        .group_by(bucket)
    )
    return {int(b): (int(n), int(reach or 0)) for b, n, reach in sorted(conn.execute(stmt), key=lambda r: r[0])}


def term_counts(
    conn: sa.Connection,
    brand: str,
    since: datetime,
    until: datetime,
    *,
    column: str = "keywords",
    sentiment: SentimentLabel | str | None = None,
    limit: int = 10,
) -> list[tuple[str, int]]:
    """The ``limit`` terms of ``column`` ("keywords" or "crisis_terms") found in the most
    mentions of ``brand`` in [since, until) (optionally of one sentiment), most frequent
    first (ties alphabetical). Reads only that column of the window's rows."""
    if column not in ("keywords", "crisis_terms"):
        raise ValueError(f"column must be 'keywords' or 'crisis_terms', got {column!r}")
    if limit < 0:
        raise ValueError(f"limit must not be negative, got {limit!r}")
    start, end = epoch_seconds(since), _end_seconds(until)
    mb = mention_brands
    col = mentions.c[column]
    conds = [mb.c.brand == brand, mb.c.published_ts >= start, mb.c.published_ts < end, col.is_not(None)]
    if sentiment is not None:
        conds.append(mb.c.sentiment_label == SentimentLabel(sentiment).value)
    stmt = sa.select(col).select_from(mb.join(mentions, mentions.c.id == mb.c.mention_id)).where(*conds)
    counter: Counter[str] = Counter()
    for (value,) in conn.execute(stmt):
        counter.update(set(_terms_of(value)))  # mentions containing the term, not occurrences
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def recent_fingerprints(conn: sa.Connection, since: datetime) -> list[tuple[str, int, datetime]]:
    """(content_hash, unsigned simhash, fetched_at) of mentions fetched at or after ``since``,
    oldest first: what the deduper reloads after a restart."""
    _require_aware(since, "since")
    stmt = (
        sa.select(mentions.c.content_hash, mentions.c.simhash, mentions.c.fetched_at)
        .where(mentions.c.fetched_at >= since)
        .order_by(mentions.c.fetched_at, mentions.c.id)
    )
    return [(h, to_unsigned64(s), at) for h, s, at in conn.execute(stmt)]


def _filters(
    *,
    brand: str | None,
    since: datetime | None,
    until: datetime | None,
    sentiment: SentimentLabel | str | None,
    source_id: str | None,
) -> list[sa.ColumnElement[bool]]:
    conds: list[sa.ColumnElement[bool]] = []
    if brand is not None:
        conds.append(
            mentions.c.id.in_(sa.select(mention_brands.c.mention_id).where(mention_brands.c.brand == brand))
        )
    if since is not None:
        _require_aware(since, "since")
        conds.append(mentions.c.published_at >= since)
    if until is not None:
        _require_aware(until, "until")
        conds.append(mentions.c.published_at < until)
    if sentiment is not None:
        conds.append(mentions.c.sentiment_label == SentimentLabel(sentiment).value)
    if source_id is not None:
        conds.append(mentions.c.source_id == source_id)
    return conds


def _as_dict(row: sa.Row[Any]) -> dict[str, Any]:
    d = dict(row._mapping)
    d["brands"] = [b for b in d["brands"].split(",") if b]
    d["simhash"] = to_unsigned64(d["simhash"])
    d["keywords"] = _terms_of(d.get("keywords"))
    d["crisis_terms"] = _terms_of(d.get("crisis_terms"))
    return d


def query_mentions(
    conn: sa.Connection,
    *,
    brand: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sentiment: SentimentLabel | str | None = None,
    source_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Mentions matching every given filter, newest published first; [since, until).

    Each dict has the ``mentions`` columns, with ``brands`` as a list and ``simhash``
    unsigned. Raises ValueError for a negative limit/offset or an unknown sentiment.
    """
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must not be negative, got limit={limit!r} offset={offset!r}")
    conds = _filters(brand=brand, since=since, until=until, sentiment=sentiment, source_id=source_id)
    stmt = (
        sa.select(mentions)
        .where(*conds)
        .order_by(mentions.c.published_at.desc(), mentions.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_as_dict(r) for r in conn.execute(stmt)]


def count_mentions(
    conn: sa.Connection,
    *,
    brand: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sentiment: SentimentLabel | str | None = None,
    source_id: str | None = None,
) -> int:
    """How many mentions ``query_mentions`` with the same filters would page through."""
    conds = _filters(brand=brand, since=since, until=until, sentiment=sentiment, source_id=source_id)
    return int(conn.execute(sa.select(sa.func.count()).select_from(mentions).where(*conds)).scalar_one())


def sample_mentions(
    conn: sa.Connection,
    brand: str,
    since: datetime,
    until: datetime,
    sentiment: SentimentLabel | str | None = None,
    limit: int = 5,
) -> list[dict[str, Any]]:
    """The ``limit`` mentions of ``brand`` in [since, until) with the most engagement (then the
    widest-reaching author, then the newest): the evidence an alert shows."""
    if limit < 0:
        raise ValueError(f"limit must not be negative, got {limit!r}")
    start, end = epoch_seconds(since), _end_seconds(until)
    mb = mention_brands
    conds = [mb.c.brand == brand, mb.c.published_ts >= start, mb.c.published_ts < end]
    if sentiment is not None:
        conds.append(mb.c.sentiment_label == SentimentLabel(sentiment).value)
    # Filtered through the (brand, published_ts) index, then joined to the few rows kept.
    stmt = (
        sa.select(mentions)
        .join(mb, mb.c.mention_id == mentions.c.id)
        .where(*conds)
        .order_by(
            mentions.c.engagement.desc(),
            sa.func.coalesce(mentions.c.author_followers, 0).desc(),
            mentions.c.published_at.desc(),
            mentions.c.id.desc(),
        )
        .limit(limit)
    )
    return [_as_dict(r) for r in conn.execute(stmt)]
