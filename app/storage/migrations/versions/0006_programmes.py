"""Programme log and the next photo due (issue 24): `programmes`, their `programme_exercises` and the
`programme_ticks` of workouts done; on `subjects`, the photo interval and the calendar feed's token hash.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
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
    # Plain ADD COLUMNs (no table rebuild on SQLite): a server default fills the existing rows.
    op.add_column(
        "subjects", sa.Column("photo_interval_days", sa.Integer(), nullable=False, server_default="14")
    )
    op.add_column("subjects", sa.Column("calendar_token_sha256", sa.String(64), nullable=True))
    op.create_table(
        "programmes",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("subject_id", sa.Uuid(), sa.ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_programmes_subject_start", "programmes", ["subject_id", "start_date", "id"])
    op.create_table(
        "programme_exercises",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "programme_id", sa.Uuid(), sa.ForeignKey("programmes.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("dose", sa.String(200), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_programme_exercises_programme_id", "programme_exercises", ["programme_id"])
    op.create_table(
        "programme_ticks",
        sa.Column(
            "exercise_id",
            sa.Uuid(),
            sa.ForeignKey("programme_exercises.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("done_on", sa.Date(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("programme_ticks")
    op.drop_table("programme_exercises")
    op.drop_table("programmes")
    # Plain DROP COLUMN (SQLite ≥ 3.35), not a batch rebuild: rebuilding `subjects` would drop the old
    # table, and with foreign keys on that deletes every row referencing it (0004 does the same).
    op.drop_column("subjects", "calendar_token_sha256")
    op.drop_column("subjects", "photo_interval_days")
