"""Scheduled report deliveries: ``report_sends``, one row per (report, period, brand scope,
channel, contact), so each period's report reaches each target once across restarts and
replicas (monitor/reports/schedule.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_sends",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("contact", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_report_sends"),
        sa.UniqueConstraint("kind", "period_end", "scope", "channel", "contact",
                            name="uq_report_sends_kind_period_end_scope_channel_contact"),
    )
    op.create_index("ix_report_sends_status_next_attempt_at", "report_sends", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_report_sends_status_next_attempt_at", table_name="report_sends")
    op.drop_table("report_sends")
