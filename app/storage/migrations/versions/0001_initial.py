"""Initial schema: users, API keys, subjects, analyses and their documents.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("lookup", sa.String(32), nullable=False, unique=True),
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])
    op.create_table(
        "subjects",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_subjects_user_id", "subjects", ["user_id"])
    op.create_table(
        "analyses",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("subject_id", sa.Uuid(), sa.ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("photo_sha256", sa.String(64), nullable=True),
        sa.Column("overlay_sha256", sa.String(64), nullable=True),
        sa.Column("series_layout", sa.String(16), nullable=False),
        sa.Column("series", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_analyses_subject_taken", "analyses", ["subject_id", "taken_at", "id"])
    # Reference checks before a stored file is deleted.
    op.create_index("ix_analyses_photo_sha256", "analyses", ["photo_sha256"])
    op.create_index("ix_analyses_overlay_sha256", "analyses", ["overlay_sha256"])
    # The full analysis object, apart from the rows that history scans (small rows scan fast).
    op.create_table(
        "analysis_documents",
        sa.Column(
            "analysis_id", sa.Uuid(), sa.ForeignKey("analyses.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("result", _json(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("analysis_documents")
    op.drop_table("analyses")
    op.drop_table("subjects")
    op.drop_table("api_keys")
    op.drop_table("users")
