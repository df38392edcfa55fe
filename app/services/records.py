"""Rows as the API shows them: account-scoped lookups that answer 404, and the API form of a stored
analysis and of a subject."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

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


def next_photo_due(
    last_taken_at: datetime | None, interval_days: int, today: date | None = None
) -> tuple[date, int]:
    """(the UTC day the next photo is due, days from today to it: negative when overdue). With no photo
    yet, the first is due today."""
    today = today or datetime.now(UTC).date()
    due = (
        today
        if last_taken_at is None
        else last_taken_at.astimezone(UTC).date() + timedelta(days=interval_days)
    )
    return due, (due - today).days


def subject_out(summary: repository.SubjectSummary) -> SubjectOut:
    s = summary.subject
    due, due_in = next_photo_due(summary.last_taken_at, s.photo_interval_days)
    return SubjectOut(
        id=s.id,
        name=s.name,
        notes=s.notes,
        created_at=s.created_at,
        updated_at=s.updated_at,
        analysis_count=summary.analysis_count,
        last_taken_at=summary.last_taken_at,
        photo_interval_days=s.photo_interval_days,
        next_photo_due=due,
        due_in_days=due_in,
    )


def subject_view(db: Session, subject: Subject) -> SubjectOut:
    """The API form of a subject, with its counts and the next photo due."""
    return subject_out(repository.summarize(db, subject))
