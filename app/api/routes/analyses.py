"""Analyses: upload a photo to a subject's history, read, download its files, delete; and the stateless
`POST /analyze`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile, status
from fastapi.responses import FileResponse
from pydantic import AfterValidator
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.api.deps import AnalyzerDep, CurrentUser, DbSession, SettingsDep, Store, require_multipart
from app.api.routes.common import AnalysisId, Limit, Offset, SubjectId
from app.core.errors import ApiError, responses
from app.schemas import Analysis, Page, StoredAnalysis
from app.services.records import analysis_or_404, stored_analysis, subject_or_404
from app.services.uploads import analyze_photo, check_taken_at, make_job, read_photo, resolve_taken_at
from app.storage import repository
from app.storage.files import FileKind
from app.storage.models import User, utcnow
from posture.facing import Facing
from posture.options import AnalysisOptions
from posture.result import Mode

router = APIRouter(tags=["analyses"], responses=responses(401, 422))

PhotoField = Annotated[
    UploadFile,
    File(description="The side-profile photo: JPEG, PNG, WebP or HEIC (EXIF orientation is applied)."),
]
FacingField = Annotated[Facing | None, Form(description="Override the detected facing direction.")]
ModeField = Annotated[Mode, Form(description="Standing posture or knee-to-wall lunge.")]
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
    options = AnalysisOptions(facing=facing, mode=mode, camera_roll_deg=camera_roll_deg)
    job = make_job(settings, data, photo.filename, options, keep_files=True)
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
    options = AnalysisOptions(facing=facing, mode=mode, camera_roll_deg=camera_roll_deg)
    job = make_job(settings, data, photo.filename, options, keep_files=False)
    return (await analyze_photo(analyzer, job)).analysis


@router.get("/subjects/{subject_id}/analyses", responses=responses(404))
def list_analyses(
    subject_id: SubjectId,
    user: CurrentUser,
    db: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
    mode: Mode | None = None,
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


def _download(kind: FileKind, what: str, doc: str) -> Callable[..., FileResponse]:
    """The GET handler of one stored file kind (the overlay, the photo)."""

    def download(analysis_id: AnalysisId, user: CurrentUser, db: DbSession, store: Store) -> FileResponse:
        record = analysis_or_404(db, user, analysis_id)
        digest = record.overlay_sha256 if kind is FileKind.OVERLAY else record.photo_sha256
        if digest is None:
            raise ApiError(
                404, f"{what}_not_stored", f"No {what} was stored: this server does not keep photos."
            )
        path = store.path(kind, digest)
        if not path.is_file():
            raise ApiError(
                404, f"{what}_missing", f"The stored {what} file is missing from the data directory."
            )
        return FileResponse(path, media_type=kind.media_type, headers=_IMAGE_CACHE)

    download.__doc__ = doc
    download.__name__ = f"get_{what}"
    return download


for _kind, _what, _path, _description, _doc in (
    (
        FileKind.OVERLAY,
        "overlay",
        "/analyses/{analysis_id}/overlay.png",
        "The annotated overlay.",
        "The annotated overlay (same scale for every photo, aligned at the ankle).",
    ),
    (
        FileKind.PHOTO,
        "photo",
        "/analyses/{analysis_id}/photo",
        "The photo, without metadata.",
        "The uploaded photo, upright and re-encoded without EXIF, GPS or any other metadata.",
    ),
):
    router.add_api_route(
        _path,
        _download(_kind, _what, _doc),
        methods=["GET"],
        response_class=FileResponse,
        responses={200: {"content": {_kind.media_type: {}}, "description": _description}, **responses(404)},
    )


@router.delete("/analyses/{analysis_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404))
def delete_analysis(analysis_id: AnalysisId, user: CurrentUser, db: DbSession, store: Store) -> Response:
    """Delete one analysis and its stored files (unless another analysis uses the same photo)."""
    record = analysis_or_404(db, user, analysis_id)
    repository.delete_analysis(db, store, record)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
