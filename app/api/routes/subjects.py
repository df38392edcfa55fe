"""Subjects: the people being tracked."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from app.api.deps import CurrentUser, DbSession, Store, require_json
from app.api.routes.common import Limit, Offset, SubjectId
from app.core.errors import ApiError, responses
from app.schemas import Page, SubjectCreate, SubjectOut, SubjectUpdate
from app.services.records import subject_or_404, subject_out
from app.storage import repository

router = APIRouter(prefix="/subjects", tags=["subjects"], responses=responses(401, 422))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_json)],
    responses=responses(415),
)
def create_subject(body: SubjectCreate, user: CurrentUser, db: DbSession) -> SubjectOut:
    """Start tracking a person (`name` is a name or pseudonym)."""
    subject = repository.create_subject(db, user, body.name, body.notes, body.photo_interval_days)
    return subject_out(repository.SubjectSummary(subject, 0, None))


@router.get("")
def list_subjects(
    user: CurrentUser, db: DbSession, limit: Limit = 50, offset: Offset = 0
) -> Page[SubjectOut]:
    """This account's subjects, oldest first."""
    summaries, total = repository.list_subjects(db, user, limit, offset)
    return Page[SubjectOut](
        items=[subject_out(s) for s in summaries], total=total, limit=limit, offset=offset
    )


@router.get("/{subject_id}", responses=responses(404))
def get_subject(subject_id: SubjectId, user: CurrentUser, db: DbSession) -> SubjectOut:
    subject = subject_or_404(db, user, subject_id)
    return subject_out(repository.summarize(db, subject))


@router.patch("/{subject_id}", dependencies=[Depends(require_json)], responses=responses(404, 415))
def update_subject(
    subject_id: SubjectId, body: SubjectUpdate, user: CurrentUser, db: DbSession
) -> SubjectOut:
    """Rename a subject or change its notes (fields left out are kept)."""
    subject = subject_or_404(db, user, subject_id)
    subject = repository.update_subject(db, subject, body.model_dump(exclude_unset=True))
    return subject_out(repository.summarize(db, subject))


@router.delete("/{subject_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404))
def delete_subject(subject_id: SubjectId, user: CurrentUser, db: DbSession, store: Store) -> Response:
    """Delete the subject, all its analyses and their stored photos and overlays."""
    if not repository.delete_subject(db, store, user, subject_id):
        raise ApiError(404, "subject_not_found", f"No subject {subject_id}.")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
