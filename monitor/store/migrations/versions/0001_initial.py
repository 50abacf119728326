"""Initial schema: mentions, per-brand rows, source state, alerts, alert events, outbox.

Written by hand to match monitor/store/schema.py exactly (constraint and index names follow
its naming convention); tests/monitor/store/test_migrate.py compares the two on SQLite and
PostgreSQL. Times are naive UTC ``DateTime`` columns (schema.UTCDateTime in Python).

Revision ID: 0001
Revises:
Create Date: 2026-03-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    # INTEGER PRIMARY KEY on SQLite is the rowid (autoincrementing); BIGINT elsewhere.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mentions",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(200), nullable=False),
        sa.Column("external_id", sa.String(512), nullable=False),
        sa.Column("url", sa.Text()),
        sa.Column("author", sa.String(512)),
        sa.Column("title", sa.Text()),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.Column("platform", sa.String(64)),
        sa.Column("lang", sa.String(8)),
        sa.Column("engagement", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("author_followers", sa.BigInteger()),
        sa.Column("brands", sa.String(1024), nullable=False),
        sa.Column("content_hash", sa.String(40), nullable=False),
        sa.Column("simhash", sa.BigInteger(), nullable=False),
        sa.Column("sentiment_label", sa.String(16), nullable=False),
        sa.Column("sentiment_score", sa.Float(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mentions"),
        sa.UniqueConstraint("source_id", "external_id", name="uq_mentions_source_id_external_id"),
    )
    op.create_index("ix_mentions_published_at", "mentions", ["published_at"])
    op.create_index("ix_mentions_fetched_at", "mentions", ["fetched_at"])

    op.create_table(
        "mention_brands",
        sa.Column("mention_id", _id(), nullable=False),
        sa.Column("brand", sa.String(100), nullable=False),
        sa.Column("published_ts", sa.BigInteger(), nullable=False),
        sa.Column("sentiment_label", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("mention_id", "brand", name="pk_mention_brands"),
        sa.ForeignKeyConstraint(
            ["mention_id"], ["mentions.id"], name="fk_mention_brands_mention_id_mentions", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_mention_brands_brand_published_ts", "mention_brands", ["brand", "published_ts"])

    op.create_table(
        "source_state",
        sa.Column("source_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_success_at", sa.DateTime()),
        sa.Column("last_error_at", sa.DateTime()),
        sa.Column("last_error", sa.Text()),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("source_id", name="pk_source_state"),
    )

    op.create_table(
        "alerts",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("group_key", sa.String(300), nullable=False),
        sa.Column("brand", sa.String(100), nullable=False),
        sa.Column("level", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("drill", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("ack_deadline", sa.DateTime()),
        sa.Column("acknowledged_at", sa.DateTime()),
        sa.Column("acknowledged_by", sa.String(200)),
        sa.Column("resolved_at", sa.DateTime()),
        sa.Column("resolved_by", sa.String(200)),
        sa.Column("last_signal_at", sa.DateTime()),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_brand_state", "alerts", ["brand", "state"])
    op.create_index("ix_alerts_group_key", "alerts", ["group_key"])

    op.create_table(
        "alert_events",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("alert_id", _id(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("level", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_events"),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_alert_events_alert_id_alerts", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_alert_events_alert_id", "alert_events", ["alert_id"])

    op.create_table(
        "outbox",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(400), nullable=False),
        sa.Column("alert_id", _id(), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("contact", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_until", sa.DateTime()),
        sa.Column("delivered_at", sa.DateTime()),
        sa.Column("last_error", sa.Text()),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_outbox_alert_id_alerts", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_alert_id", "outbox", ["alert_id"])


def downgrade() -> None:
    for table in ("outbox", "alert_events", "alerts", "source_state", "mention_brands", "mentions"):
        op.drop_table(table)
