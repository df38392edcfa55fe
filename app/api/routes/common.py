"""Small helpers shared by the routers: path and paging parameters, lookups that 404."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Query
from sqlalchemy.orm import Session

from ... import repository
from ...errors import ApiError
from ...models import AnalysisRecord, Subject, User
from ...schemas import StoredAnalysis, SubjectOut

SubjectId = Annotated[uuid.UUID, Path(description="Subject id.")]
AnalysisId = Annotated[uuid.UUID, Path(description="Analysis id.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Items to skip.")]


def subject_or_404(db: Session, user: User, subject_id: uuid.UUID) -> Subject:
    subject = repository.get_subject(db, user, subject_id)
    if subject is None:
        raise ApiError(404, "subject_not_found", f"No subject {subject_id}.")
    return subject


def analysis_or_404(db: Session, user: User, analysis_id: uuid.UUID) -> AnalysisRecord:
    record = repository.get_analysis(db, user, analysis_id)
    if record is None:
        raise ApiError(404, "analysis_not_found", f"No analysis {analysis_id}.")
    return record


def stored_analysis(record: AnalysisRecord) -> StoredAnalysis:
    return StoredAnalysis.model_validate(
        {**record.result, "id": record.id, "subject_id": record.subject_id, "taken_at": record.taken_at}
    )


def subject_out(summary: repository.SubjectSummary) -> SubjectOut:
    s = summary.subject
    return SubjectOut(
        id=s.id,
        name=s.name,
        notes=s.notes,
        created_at=s.created_at,
        updated_at=s.updated_at,
        analysis_count=summary.analysis_count,
        last_taken_at=summary.last_taken_at,
    )
