"""Analyst corrections: relabel a mention's sentiment, mark a brand match irrelevant, restore it.

    relabel(engine, 42, "negative", by="王五", at=clock.now(), note="sarcasm")
    mark_irrelevant(engine, 42, "acme", by="王五", at=clock.now(), note="阿克米 the football club")
    restore(engine, 42, "acme", by="王五", at=clock.now())
    history(engine, 42)            # every correction of mention 42, oldest first

Each call appends one row to ``mention_corrections`` (the audit trail: who, when, why) and, in
the same transaction, applies it to ``mention_brands``, the table every count reads (alert
detection, metrics, reports, series):

- relabel: ``mention_brands.sentiment_label`` of every row of the mention becomes the label;
- irrelevant for brand B: the (mention, B) row is deleted, so B's counts no longer see it;
- restore for brand B: the (mention, B) row comes back, with the mention's effective label.

``mentions.sentiment_label`` is never changed: it stays what the model said (the training
data for ``brandpulse train --with-corrections`` is the difference, see ``labelled_texts``).
Concurrent corrections of one mention are serialised (SQLite: the write lock taken at BEGIN;
PostgreSQL: a row lock on the mention), so "already marked" checks cannot race.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from monitor.errors import BrandPulseError
from monitor.models import SentimentLabel
from monitor.store.engine import begin_immediate
from monitor.store.mentions import epoch_seconds
from monitor.store.schema import mention_brands, mention_corrections, mentions

KINDS = ("sentiment", "irrelevant", "restore")
MAX_BY_CHARS = 200
MAX_NOTE_CHARS = 2000
_LABELS = tuple(label.value for label in SentimentLabel)


class CorrectionError(BrandPulseError):
    """A correction that cannot be made. ``reason``: "not_found" (no such mention), "conflict"
    (e.g. the brand is already marked irrelevant) or "invalid" (a bad label, brand or name)."""

    def __init__(self, problem: str, *, mention_id: int, reason: str) -> None:
        self.mention_id = mention_id
        self.reason = reason
        super().__init__(f"mention {mention_id}: {problem}")


@dataclass(frozen=True)
class Correction:
    id: int
    mention_id: int
    brand: str | None  # the brand an irrelevant/restore is about; None for a relabel
    kind: str  # "sentiment", "irrelevant" or "restore"
    sentiment_label: str | None  # the analyst's label (kind "sentiment" only)
    by: str
    note: str
    at: datetime


def _who(mention_id: int, by: str, note: str, at: datetime) -> str:
    who = by.strip() if isinstance(by, str) else ""
    if not who:
        raise CorrectionError(f"say who corrects it (by), got {by!r}", mention_id=mention_id, reason="invalid")
    if len(who) > MAX_BY_CHARS:
        raise CorrectionError(f"by is {len(who)} characters long; at most {MAX_BY_CHARS}", mention_id=mention_id,
                              reason="invalid")
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
        raise CorrectionError(f"note must be text of at most {MAX_NOTE_CHARS} characters", mention_id=mention_id,
                              reason="invalid")
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"at {at!r} must be a timezone-aware datetime")  # a programming error, not input
    return who


@contextmanager
def _locked(engine: sa.Engine, mention_id: int) -> Iterator[tuple[sa.Connection, sa.RowMapping]]:
    """A write transaction holding mention ``mention_id`` (its row locked on PostgreSQL)."""
    with begin_immediate(engine) as conn:
        stmt = sa.select(mentions.c.id, mentions.c.brands, mentions.c.published_at, mentions.c.sentiment_label
                         ).where(mentions.c.id == mention_id)
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise CorrectionError("no such mention", mention_id=mention_id, reason="not_found")
        yield conn, row


def _append(conn: sa.Connection, values: dict[str, Any]) -> Correction:
    new_id = conn.execute(mention_corrections.insert().values(**values).returning(mention_corrections.c.id)
                          ).scalar_one()
    return Correction(id=int(new_id), mention_id=values["mention_id"], brand=values["brand"], kind=values["kind"],
                      sentiment_label=values["sentiment_label"], by=values["actor"], note=values["note"],
                      at=values["at"])


def _current(conn: sa.Connection, mention_id: int, brand: str) -> bool:
    mb = mention_brands
    return conn.execute(sa.select(mb.c.brand).where(mb.c.mention_id == mention_id, mb.c.brand == brand)
                        ).first() is not None


def _matched_brand(row: sa.RowMapping, brand: str) -> str:
    matched = [b for b in row["brands"].split(",") if b]
    if not isinstance(brand, str) or brand not in matched:
        raise CorrectionError(f"brand {brand!r} is not one the mention matched ({', '.join(matched) or 'none'})",
                              mention_id=int(row["id"]), reason="invalid")
    return brand


def relabel(engine: sa.Engine, mention_id: int, label: str, *, by: str, at: datetime, note: str = "") -> Correction:
    """Set the mention's sentiment to ``label`` (negative/neutral/positive) for every count."""
    who = _who(mention_id, by, note, at)
    value = label.value if isinstance(label, SentimentLabel) else label
    if value not in _LABELS:
        raise CorrectionError(f"sentiment {label!r} is not one of {', '.join(_LABELS)}", mention_id=mention_id,
                              reason="invalid")
    with _locked(engine, mention_id) as (conn, _):
        conn.execute(mention_brands.update().where(mention_brands.c.mention_id == mention_id)
                     .values(sentiment_label=value))
        return _append(conn, {"mention_id": mention_id, "brand": None, "kind": "sentiment",
                              "sentiment_label": value, "actor": who, "note": note, "at": at})


def mark_irrelevant(engine: sa.Engine, mention_id: int, brand: str, *, by: str, at: datetime,
                    note: str = "") -> Correction:
    """The mention is not about ``brand`` (a false match): it leaves that brand's counts."""
    who = _who(mention_id, by, note, at)
    with _locked(engine, mention_id) as (conn, row):
        _matched_brand(row, brand)
        if not _current(conn, mention_id, brand):
            raise CorrectionError(f"brand {brand!r} is already marked irrelevant", mention_id=mention_id,
                                  reason="conflict")
        conn.execute(mention_brands.delete().where(mention_brands.c.mention_id == mention_id,
                                                   mention_brands.c.brand == brand))
        return _append(conn, {"mention_id": mention_id, "brand": brand, "kind": "irrelevant",
                              "sentiment_label": None, "actor": who, "note": note, "at": at})


def restore(engine: sa.Engine, mention_id: int, brand: str, *, by: str, at: datetime, note: str = "") -> Correction:
    """Undo ``mark_irrelevant``: the mention counts for ``brand`` again, with its current label."""
    who = _who(mention_id, by, note, at)
    with _locked(engine, mention_id) as (conn, row):
        _matched_brand(row, brand)
        if _current(conn, mention_id, brand):
            raise CorrectionError(f"brand {brand!r} is not marked irrelevant", mention_id=mention_id,
                                  reason="conflict")
        c = mention_corrections
        relabelled = conn.execute(sa.select(c.c.sentiment_label).where(c.c.mention_id == mention_id,
                                                                       c.c.kind == "sentiment")
                                  .order_by(c.c.id.desc()).limit(1)).scalar()
        conn.execute(mention_brands.insert().values(
            mention_id=mention_id, brand=brand, published_ts=epoch_seconds(row["published_at"]),
            sentiment_label=relabelled or row["sentiment_label"]))
        return _append(conn, {"mention_id": mention_id, "brand": brand, "kind": "restore",
                              "sentiment_label": None, "actor": who, "note": note, "at": at})


def _correction(r: sa.RowMapping) -> Correction:
    return Correction(id=int(r["id"]), mention_id=int(r["mention_id"]), brand=r["brand"], kind=r["kind"],
                      sentiment_label=r["sentiment_label"], by=r["actor"], note=r["note"], at=r["at"])


def history(engine: sa.Engine, mention_id: int) -> list[Correction]:
    """Every correction of the mention, oldest first (empty for an uncorrected or unknown mention)."""
    c = mention_corrections
    with engine.connect() as conn:
        rows = conn.execute(sa.select(c).where(c.c.mention_id == mention_id).order_by(c.c.id)).mappings().all()
    return [_correction(r) for r in rows]


def labelled_texts(engine: sa.Engine) -> list[tuple[str, str]]:
    """(mention text, analyst's label) for every relabelled mention, its latest relabel winning,
    in mention order: the extra training data of ``brandpulse train --with-corrections``."""
    c = mention_corrections
    latest = (sa.select(sa.func.max(c.c.id).label("id")).where(c.c.kind == "sentiment")
              .group_by(c.c.mention_id).subquery())
    stmt = (sa.select(mentions.c.text, c.c.sentiment_label)
            .select_from(c.join(latest, latest.c.id == c.c.id).join(mentions, mentions.c.id == c.c.mention_id))
            .order_by(c.c.mention_id))
    with engine.connect() as conn:
        return [(text, label) for text, label in conn.execute(stmt)]
