"""Analyses: upload a photo to a subject's history, read, download its files, delete; and the stateless
`POST /analyze`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Self

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import FileResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.api.deps import (
    AnalyzerDep,
    CurrentUser,
    DbSession,
    SettingsDep,
    Store,
    TrendsCache,
    require_json,
    require_multipart,
)
from app.api.forms import multipart_body, read_form
from app.api.routes.common import AnalysisId, Limit, Offset, SubjectId, stored_file_response
from app.core.errors import ApiError, responses
from app.schemas import Analysis, AnalysisUpdate, Page, StoredAnalysis
from app.services import history, visits
from app.services.records import analysis_or_404, stored_analysis, subject_or_404
from app.services.uploads import analyze_photo, check_taken_at, make_job, resolve_taken_at
from app.storage import repository
from app.storage.files import FileKind
from app.storage.models import User, utcnow
from posture.facing import Facing
from posture.options import AnalysisOptions, LevelMode, RollSource
from posture.result import Mode

router = APIRouter(tags=["analyses"], responses=responses(401, 422))


class AnalyzeFields(BaseModel):
    """The form fields of an analysis besides `photo` (multipart, read by `app.api.forms.read_form`)."""

    model_config = ConfigDict(extra="ignore")

    facing: Facing | None = Field(None, description="Override the detected facing direction.")
    mode: Mode = Field("standing", description="Standing posture or knee-to-wall lunge.")
    camera_roll_deg: float | None = Field(
        None, ge=-45, le=45, description="Camera roll in degrees, if known (from the phone's level)."
    )
    level: LevelMode = Field(
        "auto",
        description="Without `camera_roll_deg`: `auto` reads the camera's roll from the photo and applies "
        "it when confident; `off` trusts the photo's frame as upright.",
    )
    camera_roll_source: RollSource = Field(
        "given",
        description="Who read `camera_roll_deg`: `given` (typed in, a level app) or `device` (the phone's "
        "orientation sensor at the shot, as the capture page sends it); stored as `camera_level.source`.",
    )

    @model_validator(mode="after")
    def _device_needs_a_roll(self) -> Self:
        if self.camera_roll_source == "device" and self.camera_roll_deg is None:
            raise ValueError("camera_roll_source 'device' needs the roll the device read (camera_roll_deg)")
        return self

    def options(self) -> AnalysisOptions:
        return AnalysisOptions(
            facing=self.facing,
            mode=self.mode,
            camera_roll_deg=self.camera_roll_deg,
            level=self.level,
            camera_roll_source=self.camera_roll_source,
        )


class UploadFields(AnalyzeFields):
    """The form fields of an upload to a history besides `photo`."""

    taken_at: Annotated[datetime | None, AfterValidator(check_taken_at)] = Field(
        None, description="When the photo was taken (ISO 8601); default: EXIF capture time, else now."
    )
    visit: str | None = Field(
        None,
        description="A visit label (1–64 printable characters): shots with one label form one visit, "
        "whatever their times; without one, a shot within 30 minutes of the previous one joins its visit.",
    )


_UPLOAD_ERRORS = responses(404, 413, 415, 503)


@router.post(
    "/subjects/{subject_id}/analyses",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_multipart)],
    responses=_UPLOAD_ERRORS,
    openapi_extra=multipart_body(UploadFields),
)
async def upload_analysis(
    request: Request,
    subject_id: SubjectId,
    user: CurrentUser,
    db: DbSession,
    store: Store,
    analyzer: AnalyzerDep,
    settings: SettingsDep,
    cache: TrendsCache,
) -> StoredAnalysis:
    """Analyse a photo and add it to the subject's history. A photo the quality gate refuses answers 422
    with its code (e.g. `not_side_view`) and nothing is stored."""
    await run_in_threadpool(_check_subject, db, user, subject_id)
    photo, form = await read_form(request, UploadFields)  # only now, with the key checked
    label = visits.check_label(form.visit)
    job = make_job(settings, photo.data, photo.filename, form.options(), keep_files=True)
    outcome = await analyze_photo(analyzer, job)
    when = resolve_taken_at(form.taken_at, outcome, utcnow())
    record = await run_in_threadpool(repository.add_analysis, db, store, subject_id, outcome, when, label)
    if record is None:
        raise ApiError(404, "subject_not_found", f"Subject {subject_id} was deleted during the upload.")
    # The page reads the trends next: computed now, they are served from the cache (docs/benchmarks.md).
    await run_in_threadpool(history.refresh_trends, db, cache, subject_id)
    return stored_analysis(record)


def _check_subject(db: Session, user: User, subject_id: uuid.UUID) -> None:
    subject_or_404(db, user, subject_id)
    db.commit()  # no transaction (or pooled connection) held while the photo is analysed


@router.post(
    "/analyze",
    dependencies=[Depends(require_multipart)],
    responses=responses(413, 415, 503),
    openapi_extra=multipart_body(AnalyzeFields),
)
async def analyze_once(
    request: Request, user: CurrentUser, analyzer: AnalyzerDep, settings: SettingsDep
) -> Analysis:
    """Analyse one photo without storing anything."""
    photo, form = await read_form(request, AnalyzeFields)
    job = make_job(settings, photo.data, photo.filename, form.options(), keep_files=False)
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


def _download(kind: FileKind, what: str, doc: str) -> Callable[..., Response]:
    """The GET handler of one stored file kind (the overlay, the photo)."""

    def download(
        request: Request, analysis_id: AnalysisId, user: CurrentUser, db: DbSession, store: Store
    ) -> Response:
        record = analysis_or_404(db, user, analysis_id)
        digest = record.overlay_sha256 if kind is FileKind.OVERLAY else record.photo_sha256
        if digest is None:
            raise ApiError(
                404, f"{what}_not_stored", f"No {what} was stored: this server does not keep photos."
            )
        db.commit()  # no transaction (or pooled connection) held while the file streams
        return stored_file_response(
            request,
            store,
            kind,
            digest,
            missing=ApiError(404, f"{what}_missing", f"The stored {what} file is missing from the store."),
        )

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
def delete_analysis(
    analysis_id: AnalysisId, user: CurrentUser, db: DbSession, store: Store, cache: TrendsCache
) -> Response:
    """Delete one analysis and its stored files (unless another analysis uses the same photo)."""
    record = analysis_or_404(db, user, analysis_id)
    subject_id = record.subject_id  # read now: a rollback (deleted meanwhile) expires the record
    repository.delete_analysis(db, store, record)
    history.refresh_trends(db, cache, subject_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch("/analyses/{analysis_id}", dependencies=[Depends(require_json)], responses=responses(404, 415))
def update_analysis(
    analysis_id: AnalysisId, body: AnalysisUpdate, user: CurrentUser, db: DbSession, cache: TrendsCache
) -> StoredAnalysis:
    """Re-date an analysis (`taken_at`) or set its visit label (`visit`; null clears it, and the shot
    joins its visit by time again). The visits it leaves and joins are regrouped at once."""
    updated = visits.update_analysis(db, user, analysis_id, body)
    history.refresh_trends(db, cache, updated.subject_id)
    return updated
