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
    # Migration 0003 widened (brand, published_ts) to cover the mention stream and the series:
    # a brand's page, newest first, filtered by sentiment, and its per-bucket counts read only this index.
    sa.Index(None, "brand", "published_ts", "mention_id", "sentiment_label"),
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

# Migration 0004. Exclusive work shared by replicas (monitor/store/leases.py): "source:<id>"
# (who polls it), "eval:<brand>" (who evaluates its alerts), "replica:<id>" (who is alive).
# token grows on every takeover (fencing); rows are kept when released so it never goes back.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(300), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),  # replica id: host-pid-random
    sa.Column("token", sa.BigInteger, nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("renewed_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),  # database clock on PostgreSQL
    sa.Column("ready_at", UTCDateTime),  # the holder caught up on the work it took over
)

# Migration 0005. Daily counts of mentions that retention pruned (monitor/store/retention.py):
# a mention is counted here in the same transaction that deletes it, so every mention is in
# exactly one of `mentions` or `mention_daily` and reports add the two. day = UTC publication day.
mention_daily = sa.Table(
    "mention_daily",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("brand", sa.String(100), primary_key=True),
    sa.Column("source_id", sa.String(200), primary_key=True),
    sa.Column("sentiment_label", sa.String(16), primary_key=True),
    sa.Column("mentions", sa.BigInteger, nullable=False),
    sa.Column("engagement", sa.BigInteger, nullable=False),  # summed engagement of those mentions
    sa.Index(None, "brand", "day"),
)


# --- mention history and analyst corrections (migration 0003; monitor/store/query.py, corrections.py) ---

# The mention stream filtered by source or author, newest first (by brand: mention_brands' index).
sa.Index("ix_mentions_source_id_published_at", mentions.c.source_id, mentions.c.published_at)
sa.Index("ix_mentions_author_published_at", mentions.c.author, mentions.c.published_at)

# Analysts' corrections, never updated, only appended: the audit trail. Each one takes effect in
# mention_brands in the same transaction (a relabel rewrites the mention's sentiment_label there,
# "irrelevant" deletes the (mention, brand) row, "restore" puts it back), so every count honours
# it; mentions.sentiment_label stays the model's own output.
mention_corrections = sa.Table(
    "mention_corrections",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("mention_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
              sa.ForeignKey("mentions.id", ondelete="CASCADE"), nullable=False),
    sa.Column("brand", sa.String(100)),  # the brand an irrelevant/restore is about; NULL for a relabel
    sa.Column("kind", sa.String(16), nullable=False),  # sentiment, irrelevant, restore
    sa.Column("sentiment_label", sa.String(16)),  # the analyst's label (kind sentiment only)
    sa.Column("actor", sa.String(200), nullable=False),  # who corrected
    sa.Column("note", sa.Text, nullable=False),  # why ("" when not said)
    sa.Column("at", UTCDateTime, nullable=False),
    sa.CheckConstraint(
        "(kind = 'sentiment' AND brand IS NULL AND sentiment_label IS NOT NULL"
        " AND sentiment_label IN ('negative', 'neutral', 'positive'))"
        " OR (kind IN ('irrelevant', 'restore') AND sentiment_label IS NULL AND brand IS NOT NULL)",
        name="ck_mention_corrections_kind",
    ),
    sa.Index(None, "mention_id"),
)

# Migration 0006. One row per scheduled report delivery: (report kind, period, brand scope,
# channel, contact) is unique, so each period's report reaches each target once across restarts
# and replicas (monitor/reports/schedule.py); status/attempts/claim work like the outbox's.
report_sends = sa.Table(
    "report_sends",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(8), nullable=False),  # week, month
    sa.Column("period_end", sa.Date, nullable=False),  # the period's last local day
    sa.Column("scope", sa.String(100), nullable=False),  # brand id, or "*" for all brands
    sa.Column("channel", sa.String(100), nullable=False),  # notifier id
    sa.Column("contact", sa.String(100), nullable=False),  # plan contact id; "" when the channel was named itself
    sa.Column("status", sa.String(16), nullable=False),  # pending, sending, done, failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("claimed_until", UTCDateTime),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("kind", "period_end", "scope", "channel", "contact"),
    sa.Index(None, "status", "next_attempt_at"),
)


# --- push sources (migration 0007; monitor/store/push.py, sources/push.py) ---

# Records POSTed to /api/v1/push/{source_id}, stored before the 202 answer and handed to the
# pipeline by the source's poll (cursor = the last id it delivered); rows a committed cursor
# covers are deleted by the next poll.
push_items = sa.Table(
    "push_items",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("source_id", sa.String(200), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # one record, as JSON text
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Index(None, "source_id", "id"),
    # ids are the poll's cursor: never reused, also on SQLite after the table was emptied
    sqlite_autoincrement=True,
)

# Signatures of accepted pushes, kept until their timestamp is well outside the window, so a
# replayed request is refused across restarts and replicas (the primary key decides a race).
push_signatures = sa.Table(
    "push_signatures",
    metadata,
    sa.Column("source_id", sa.String(200), primary_key=True),
    sa.Column("signature", sa.String(64), primary_key=True),  # hex HMAC-SHA256
    sa.Column("expires_at", UTCDateTime, nullable=False),  # signed timestamp + 2 windows
    sa.Index(None, "expires_at"),
)
