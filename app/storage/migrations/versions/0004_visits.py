"""Visits: several shots of one session. The `visits` table; on analyses the visit, the client's visit
label, the method (rules version and model) and the re-analysis mark; existing histories grouped.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The grouping rule when this migration was written (posture/rules.toml `[visits] gap_min`), frozen
# here: a migration must do the same thing whatever the rules file says later.
_GAP = timedelta(minutes=30)
_BATCH = 500


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "visits",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("subject_id", sa.Uuid(), sa.ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("label", sa.String(64), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_visits_subject_taken", "visits", ["subject_id", "taken_at", "id"])
    op.create_index("ix_visits_subject_label", "visits", ["subject_id", "mode", "label"], unique=True)
    # Plain ADD COLUMN on both databases (SQLite would otherwise rebuild the table): no foreign key on
    # visit_id, see app.storage.models.AnalysisRecord.
    op.add_column("analyses", sa.Column("visit_id", sa.Uuid(), nullable=True))
    op.add_column("analyses", sa.Column("visit_label", sa.String(64), nullable=True))
    op.add_column("analyses", sa.Column("method", sa.String(96), nullable=False, server_default=""))
    op.add_column("analyses", sa.Column("reanalysis_skipped", sa.String(32), nullable=True))
    op.create_index("ix_analyses_visit_id", "analyses", ["visit_id"])
    _fill(op.get_bind())


def _fill(bind: sa.Connection) -> None:
    """Every existing analysis gets its method and its visit: per subject and mode, a shot within
    30 minutes of the previous one joins its visit."""
    analyses = sa.table(
        "analyses",
        sa.column("id", sa.Uuid()),
        sa.column("subject_id", sa.Uuid()),
        sa.column("mode", sa.String()),
        sa.column("taken_at", sa.DateTime(timezone=True)),
        sa.column("visit_id", sa.Uuid()),
        sa.column("method", sa.String()),
    )
    documents = sa.table(
        "analysis_documents", sa.column("analysis_id", sa.Uuid()), sa.column("result", _json())
    )
    visits = sa.table(
        "visits",
        sa.column("id", sa.Uuid()),
        sa.column("subject_id", sa.Uuid()),
        sa.column("mode", sa.String()),
        sa.column("label", sa.String()),
        sa.column("taken_at", sa.DateTime(timezone=True)),
    )
    versions = bind.execute(sa.select(documents.c.analysis_id, documents.c.result["versions"])).all()
    methods = [{"key": analysis_id, "m": _method(value)} for analysis_id, value in versions]
    update_method = (
        analyses.update().where(analyses.c.id == sa.bindparam("key")).values(method=sa.bindparam("m"))
    )
    for start in range(0, len(methods), _BATCH):
        bind.execute(update_method, methods[start : start + _BATCH])

    rows = bind.execute(
        sa.select(analyses.c.id, analyses.c.subject_id, analyses.c.mode, analyses.c.taken_at).order_by(
            analyses.c.subject_id, analyses.c.mode, analyses.c.taken_at, analyses.c.id
        )
    ).all()
    new_visits: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    previous: tuple[Any, str, datetime] | None = None
    for analysis_id, subject_id, mode, taken_at in rows:
        same_series = previous is not None and previous[:2] == (subject_id, mode)
        if not same_series or taken_at - previous[2] > _GAP:  # type: ignore[index]
            new_visits.append(
                {
                    "id": uuid.uuid4(),
                    "subject_id": subject_id,
                    "mode": mode,
                    "label": None,
                    "taken_at": taken_at,
                }
            )
        members.append({"key": analysis_id, "v": new_visits[-1]["id"]})
        previous = (subject_id, mode, taken_at)
    for start in range(0, len(new_visits), _BATCH):
        bind.execute(visits.insert(), new_visits[start : start + _BATCH])
    update_visit = (
        analyses.update().where(analyses.c.id == sa.bindparam("key")).values(visit_id=sa.bindparam("v"))
    )
    for start in range(0, len(members), _BATCH):
        bind.execute(update_visit, members[start : start + _BATCH])


def _method(versions: Any) -> str:
    """`posture.trends.method_key` as it was written: rules version and model, `|`-separated."""
    if isinstance(versions, str):  # SQLite's JSON path answer may come back as text
        import json

        versions = json.loads(versions)
    versions = versions if isinstance(versions, dict) else {}
    return f"{versions.get('rules') or ''}|{versions.get('model_sha256') or ''}"


def downgrade() -> None:
    op.drop_index("ix_analyses_visit_id", table_name="analyses")
    # Plain DROP COLUMN (SQLite ≥ 3.35) rather than a batch rebuild, for the same reason as above.
    for column in ("reanalysis_skipped", "method", "visit_label", "visit_id"):
        op.drop_column("analyses", column)
    op.drop_index("ix_visits_subject_label", table_name="visits")
    op.drop_index("ix_visits_subject_taken", table_name="visits")
    op.drop_table("visits")
