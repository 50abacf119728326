"""Retention: ``mention_daily``, the daily counts of mentions that retention pruned.

One row per (UTC publication day, brand, source, sentiment label) with the number of pruned
mentions and their summed engagement. monitor/store/retention.py adds a mention here in the
same transaction that deletes it from ``mentions``, so reports add the two tables. A new table
only: nothing existing changes, and downgrading drops the aggregates (raw mentions pruned
before that are gone either way).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mention_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("brand", sa.String(100), nullable=False),
        sa.Column("source_id", sa.String(200), nullable=False),
        sa.Column("sentiment_label", sa.String(16), nullable=False),
        sa.Column("mentions", sa.BigInteger(), nullable=False),
        sa.Column("engagement", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "brand", "source_id", "sentiment_label", name="pk_mention_daily"),
    )
    op.create_index("ix_mention_daily_brand_day", "mention_daily", ["brand", "day"])


def downgrade() -> None:
    op.drop_index("ix_mention_daily_brand_day", table_name="mention_daily")
    op.drop_table("mention_daily")
