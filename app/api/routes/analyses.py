"""Analyses: upload a photo to a subject's history, read, download its files, delete; and the stateless
`POST /analyze`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile, status
from fastapi.responses import FileResponse
from pydantic import AfterValidator
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ... import repository
from ...errors import ApiError, responses
from ...models import User, utcnow
from ...schemas import Analysis, Page, StoredAnalysis
from ...storage import FileKind
from ...uploads import analyze_photo, check_taken_at, make_job, read_photo, resolve_taken_at
from ..deps import AnalyzerDep, CurrentUser, DbSession, SettingsDep, Store, require_multipart
from .common import AnalysisId, Limit, Offset, SubjectId, analysis_or_404, stored_analysis, subject_or_404

router = APIRouter(tags=["analyses"], responses=responses(401, 422))

PhotoField = Annotated[
    UploadFile,
    File(description="The side-profile photo: JPEG, PNG, WebP or HEIC (EXIF orientation is applied)."),
]
FacingField = Annotated[
    Literal["left", "right"] | None, Form(description="Override the detected facing direction.")
]
ModeField = Annotated[
    Literal["standing", "lunge"], Form(description="Standing posture or knee-to-wall lunge.")
]
RollField = Annotated[
    float | None,
    Form(ge=-45, le=45, description="Camera roll in degrees, if known (from the phone's level)."),
]
TakenAtField = Annotated[
    datetime | None,
    Form(description="When the photo was taken (ISO 8601); default: EXIF capture time, else now."),
    AfterValidator(check_taken_at),
]
_UPLOAD_ERRORS = responses(404, 413, 415, 503)
_IMAGE_CACHE = {"Cache-Control": "private, max-age=86400"}


@router.post(
    "/subjects/{subject_id}/analyses",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_multipart)],
    responses=_UPLOAD_ERRORS,
)
async def upload_analysis(
    subject_id: SubjectId,
    photo: PhotoField,
    user: CurrentUser,
    db: DbSession,
    store: Store,
    analyzer: AnalyzerDep,
    settings: SettingsDep,
    taken_at: TakenAtField = None,
    facing: FacingField = None,
    mode: ModeField = "standing",
    camera_roll_deg: RollField = None,
) -> StoredAnalysis:
    """Analyse a photo and add it to the subject's history. A photo the quality gate refuses answers 422
    with its code (e.g. `not_side_view`) and nothing is stored."""
    await run_in_threadpool(_check_subject, db, user, subject_id)
    data = await read_photo(photo)
    job = make_job(
        settings,
        data,
        photo.filename,
        keep_files=True,
        facing=facing,
        mode=mode,
        camera_roll_deg=camera_roll_deg,
    )
    outcome = await analyze_photo(analyzer, job)
    when = resolve_taken_at(taken_at, outcome, utcnow())
    record = await run_in_threadpool(repository.add_analysis, db, store, subject_id, outcome, when)
    if record is None:
        raise ApiError(404, "subject_not_found", f"Subject {subject_id} was deleted during the upload.")
    return stored_analysis(record)


def _check_subject(db: Session, user: User, subject_id: uuid.UUID) -> None:
    subject_or_404(db, user, subject_id)
    db.commit()  # no transaction (or pooled connection) held while the photo is analysed


@router.post("/analyze", dependencies=[Depends(require_multipart)], responses=responses(413, 415, 503))
async def analyze_once(
    photo: PhotoField,
    user: CurrentUser,
    analyzer: AnalyzerDep,
    settings: SettingsDep,
    facing: FacingField = None,
    mode: ModeField = "standing",
    camera_roll_deg: RollField = None,
) -> Analysis:
    """Analyse one photo without storing anything."""
    data = await read_photo(photo)
    job = make_job(
        settings,
        data,
        photo.filename,
        keep_files=False,
        facing=facing,
        mode=mode,
        camera_roll_deg=camera_roll_deg,
    )
    return (await analyze_photo(analyzer, job)).analysis


@router.get("/subjects/{subject_id}/analyses", responses=responses(404))
def list_analyses(
    subject_id: SubjectId,
    user: CurrentUser,
    db: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
    mode: Literal["standing", "lunge"] | None = None,
) -> Page[StoredAnalysis]:
    """The subject's history in `taken_at` order (oldest first), a page at a time."""
    subject_or_404(db, user, subject_id)
    records, total = repository.history(db, subject_id, limit, offset, mode)
    return Page[StoredAnalysis](
        items=[stored_analysis(r) for r in records], total=total, limit=limit, offset=offset
    )


@router.get("/analyses/{analysis_id}", responses=responses(404))
def get_analysis(analysis_id: AnalysisId, user: CurrentUser, db: DbSession) -> StoredAnalysis:
    return stored_analysis(analysis_or_404(db, user, analysis_id))


@router.get(
    "/analyses/{analysis_id}/overlay.png",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/png": {}}, "description": "The annotated overlay."},
        **responses(404),
    },
)
def get_overlay(analysis_id: AnalysisId, user: CurrentUser, db: DbSession, store: Store) -> FileResponse:
    """The annotated overlay (same scale for every photo, aligned at the ankle)."""
    record = analysis_or_404(db, user, analysis_id)
    return _stored_file(store, FileKind.OVERLAY, record.overlay_sha256, "overlay")


@router.get(
    "/analyses/{analysis_id}/photo",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "The photo, without metadata."},
        **responses(404),
    },
)
def get_photo(analysis_id: AnalysisId, user: CurrentUser, db: DbSession, store: Store) -> FileResponse:
    """The uploaded photo, upright and re-encoded without EXIF, GPS or any other metadata."""
    record = analysis_or_404(db, user, analysis_id)
    return _stored_file(store, FileKind.PHOTO, record.photo_sha256, "photo")


def _stored_file(store: Store, kind: FileKind, digest: str | None, what: str) -> FileResponse:
    if digest is None:
        raise ApiError(404, f"{what}_not_stored", f"No {what} was stored: this server does not keep photos.")
    path = store.path(kind, digest)
    if not path.is_file():
        raise ApiError(404, f"{what}_missing", f"The stored {what} file is missing from the data directory.")
    return FileResponse(path, media_type=kind.media_type, headers=_IMAGE_CACHE)


@router.delete("/analyses/{analysis_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404))
def delete_analysis(analysis_id: AnalysisId, user: CurrentUser, db: DbSession, store: Store) -> Response:
    """Delete one analysis and its stored files (unless another analysis uses the same photo)."""
    record = analysis_or_404(db, user, analysis_id)
    repository.delete_analysis(db, store, record)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
