"""Mention history and analyst corrections: the ``mention_corrections`` log and the indexes the
mention stream, exports and series need at a million rows.

- ``mention_corrections``: append-only; each row takes effect in ``mention_brands`` (see
  monitor/store/corrections.py), so nothing else has to know about corrections.
- ``mention_brands (brand, published_ts)`` becomes ``(brand, published_ts, mention_id,
  sentiment_label)``: a brand's newest page filtered by sentiment, its keyset cursor and its
  per-bucket sentiment counts are then read from the index alone (index-only on both databases).
  The old index is its prefix, so it is dropped rather than kept as a second copy to maintain.
- ``mentions (source_id, published_at)`` and ``(author, published_at)``: the stream filtered
  by source or author, newest first, without sorting.

Building the indexes reads the whole table once (seconds at a million mentions); PostgreSQL
blocks writers meanwhile, as any in-transaction migration does.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BRAND_INDEX = "ix_mention_brands_brand_published_ts_mention_id_sentiment_label"


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mention_corrections",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("mention_id", _id(), nullable=False),
        sa.Column("brand", sa.String(100)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sentiment_label", sa.String(16)),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mention_corrections"),
        sa.ForeignKeyConstraint(
            ["mention_id"], ["mentions.id"], name="fk_mention_corrections_mention_id_mentions", ondelete="CASCADE"
        ),
        sa.CheckConstraint(
            "(kind = 'sentiment' AND brand IS NULL AND sentiment_label IS NOT NULL"
            " AND sentiment_label IN ('negative', 'neutral', 'positive'))"
            " OR (kind IN ('irrelevant', 'restore') AND sentiment_label IS NULL AND brand IS NOT NULL)",
            name="ck_mention_corrections_kind",
        ),
    )
    op.create_index("ix_mention_corrections_mention_id", "mention_corrections", ["mention_id"])
    op.create_index(_BRAND_INDEX, "mention_brands", ["brand", "published_ts", "mention_id", "sentiment_label"])
    op.drop_index("ix_mention_brands_brand_published_ts", table_name="mention_brands")
    op.create_index("ix_mentions_source_id_published_at", "mentions", ["source_id", "published_at"])
    op.create_index("ix_mentions_author_published_at", "mentions", ["author", "published_at"])


def downgrade() -> None:
    op.drop_index("ix_mentions_author_published_at", table_name="mentions")
    op.drop_index("ix_mentions_source_id_published_at", table_name="mentions")
    op.create_index("ix_mention_brands_brand_published_ts", "mention_brands", ["brand", "published_ts"])
    op.drop_index(_BRAND_INDEX, table_name="mention_brands")
    op.drop_index("ix_mention_corrections_mention_id", table_name="mention_corrections")
    op.drop_table("mention_corrections")
