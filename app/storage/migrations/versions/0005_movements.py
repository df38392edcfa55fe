"""Movement tests (issue 17): the `movements` table (one analysed clip) and `movement_jobs` (a clip's way
from upload to movement, with status, progress, error and the server's heartbeat).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "movements",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("subject_id", sa.Uuid(), sa.ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("test", sa.String(16), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(255), nullable=True),
        sa.Column("clip_sha256", sa.String(64), nullable=True),
        sa.Column("deepest_sha256", sa.String(64), nullable=True),
        sa.Column("method", sa.String(96), nullable=False, server_default=""),
        sa.Column("measures", _json(), nullable=False),
        sa.Column("result", _json(), nullable=False),
    )
    op.create_index("ix_movements_subject_taken", "movements", ["subject_id", "test", "taken_at", "id"])
    op.create_index("ix_movements_clip_sha256", "movements", ["clip_sha256"])
    op.create_index("ix_movements_deepest_sha256", "movements", ["deepest_sha256"])
    op.create_table(
        "movement_jobs",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("subject_id", sa.Uuid(), sa.ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False, server_default="0"),
        sa.Column("test", sa.String(16), nullable=False),
        sa.Column("options", _json(), nullable=False),
        sa.Column("source", sa.String(255), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clip_sha256", sa.String(64), nullable=True),
        sa.Column(
            "movement_id", sa.Uuid(), sa.ForeignKey("movements.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_movement_jobs_subject_id", "movement_jobs", ["subject_id"])
    op.create_index("ix_movement_jobs_clip_sha256", "movement_jobs", ["clip_sha256"])
    op.create_index("ix_movement_jobs_status", "movement_jobs", ["status", "heartbeat_at"])


def downgrade() -> None:
    op.drop_table("movement_jobs")
    op.drop_table("movements")
