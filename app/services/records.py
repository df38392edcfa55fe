"""Rows as the API shows them: account-scoped lookups that answer 404, and the API form of a stored
analysis and of a subject."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from app.core.errors import ApiError
from app.schemas import StoredAnalysis, SubjectOut
from app.storage import repository
from app.storage.models import AnalysisRecord, Subject, User


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
        {
            **record.result,
            "id": record.id,
            "subject_id": record.subject_id,
            "taken_at": record.taken_at,
            "visit_id": record.visit_id,
            "visit": record.visit_label,
            "reanalysis_skipped": record.reanalysis_skipped,
        }
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
