"""Push sources: ``push_items`` (records POSTed to /api/v1/push/{source_id}, spooled until the
source's poll hands them to the pipeline) and ``push_signatures`` (signatures of accepted
requests, so a replay is refused across restarts and replicas).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "push_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_push_items"),
        sqlite_autoincrement=True,  # ids are the poll's cursor: never reused after the table was emptied
    )
    op.create_index("ix_push_items_source_id_id", "push_items", ["source_id", "id"])
    op.create_table(
        "push_signatures",
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source_id", "signature", name="pk_push_signatures"),
    )
    op.create_index("ix_push_signatures_expires_at", "push_signatures", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_push_signatures_expires_at", table_name="push_signatures")
    op.drop_table("push_signatures")
    op.drop_index("ix_push_items_source_id_id", table_name="push_items")
    op.drop_table("push_items")
