"""Every table BrandPulse stores, in one SQLAlchemy Core metadata.

This is the single source of truth for the schema; migrations in ``migrations/versions`` are
written to produce exactly this (tests/monitor/store/test_migrate.py compares them).
Times are stored as naive UTC and come back timezone-aware (``UTCDateTime``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Naive UTC in the database, aware UTC in Python, identical on SQLite and PostgreSQL."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


mentions = sa.Table(
    "mentions",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("source_id", sa.String(200), nullable=False),
    sa.Column("external_id", sa.String(512), nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("author", sa.String(512)),
    sa.Column("title", sa.Text),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("published_at", UTCDateTime, nullable=False),
    sa.Column("fetched_at", UTCDateTime, nullable=False),
    sa.Column("platform", sa.String(64)),
    sa.Column("lang", sa.String(8)),
    sa.Column("engagement", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("author_followers", sa.BigInteger),
    sa.Column("brands", sa.String(1024), nullable=False),  # comma-joined brand ids, for display/export
    sa.Column("content_hash", sa.String(40), nullable=False),
    sa.Column("simhash", sa.BigInteger, nullable=False),  # stored signed: see mentions.to_signed64
    sa.Column("sentiment_label", sa.String(16), nullable=False),
    sa.Column("sentiment_score", sa.Float, nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    # Migration 0002. NULL when there are none, so "has crisis terms" is an IS NOT NULL test;
    # rows stored before 0002 have NULL in both.
    sa.Column("keywords", sa.Text),  # top content terms of the mention (nlp.keywords), space-joined
    sa.Column("crisis_terms", sa.Text),  # crisis word-list terms found in the mention, a JSON array
    sa.UniqueConstraint("source_id", "external_id"),
    sa.Index(None, "published_at"),
    sa.Index(None, "fetched_at"),
)

# One row per (mention, brand): what per-brand time-bucket queries read. published_ts is
# epoch seconds so buckets are integer division on both databases.
mention_brands = sa.Table(
    "mention_brands",
    metadata,
    sa.Column("mention_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
              sa.ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("brand", sa.String(100), primary_key=True),
    sa.Column("published_ts", sa.BigInteger, nullable=False),
    sa.Column("sentiment_label", sa.String(16), nullable=False),
    sa.Index(None, "brand", "published_ts"),
)

source_state = sa.Table(
    "source_state",
    metadata,
    sa.Column("source_id", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("cursor", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("last_success_at", UTCDateTime),
    sa.Column("last_error_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("group_key", sa.String(300), nullable=False),
    sa.Column("brand", sa.String(100), nullable=False),
    sa.Column("level", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("drill", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("ack_deadline", UTCDateTime),
    sa.Column("acknowledged_at", UTCDateTime),
    sa.Column("acknowledged_by", sa.String(200)),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("resolved_by", sa.String(200)),
    sa.Column("last_signal_at", UTCDateTime),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Index(None, "brand", "state"),
    sa.Index(None, "group_key"),
)

# Every state change of an alert: who, when, why. Never updated, only appended.
alert_events = sa.Table(
    "alert_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
              sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("from_state", sa.String(16)),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("level", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),  # "engine", or the person who acked/resolved
    sa.Column("reason", sa.Text, nullable=False),
    sa.Index(None, "alert_id"),
)

# Notifications to send. dedupe_key makes enqueueing idempotent, so a crash between
# deciding and sending can neither lose nor repeat a notification.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("dedupe_key", sa.String(400), nullable=False, unique=True),
    sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
              sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("channel", sa.String(100), nullable=False),
    sa.Column("contact", sa.String(100), nullable=False),
    sa.Column("reason", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending, sending, done, failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("claimed_until", UTCDateTime),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Index(None, "status", "next_attempt_at"),
    sa.Index(None, "alert_id"),
)
