"""Mention terms: ``keywords`` (space-joined) and ``crisis_terms`` (a JSON array) on ``mentions``.

Both nullable: rows stored before this revision keep NULL (no keywords known, no crisis terms),
and NULL also means "none" for new rows, so detection can count crisis mentions with
``crisis_terms IS NOT NULL``. Plain ADD COLUMN works on both SQLite and PostgreSQL; the
downgrade uses batch_alter_table because older SQLite cannot DROP COLUMN.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("mentions", sa.Column("keywords", sa.Text(), nullable=True))
    op.add_column("mentions", sa.Column("crisis_terms", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mentions") as batch:
        batch.drop_column("crisis_terms")
        batch.drop_column("keywords")
