"""Movement tests: upload a clip (answered 202 with a job), poll the job, read, list, compare, trend and
delete movements, and the deepest frame's image."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Self

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import FileResponse, JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.api.deps import CurrentUser, DbSession, Store, require_clip_multipart
from app.api.forms import multipart_body, open_form
from app.api.routes.common import Limit, Offset, SubjectId, stored_file_response, utc_or_422
from app.core.errors import ApiError, responses
from app.schemas import (
    JobAccepted,
    MovementComparison,
    MovementJobOut,
    MovementTest,
    MovementTrends,
    Page,
    StoredMovement,
)
from app.services import history, movements
from app.services.records import subject_or_404
from app.services.uploads import check_taken_at, source_name
from app.storage.files import FileKind
from app.storage.models import User, utcnow
from posture.facing import Facing
from posture.movement.options import MAX_SAMPLE_FPS, MIN_SAMPLE_FPS
from posture.options import LevelMode, RollSource

router = APIRouter(tags=["movements"], responses=responses(401, 422))

CLIP_UPLOAD_PATH = re.compile(r"/api/v1/subjects/[^/]+/movements")
"""The clip upload's path: its body may be up to `max_clip_bytes`, not `max_upload_bytes` (app.main)."""
JobId = Annotated[uuid.UUID, Path(description="Job id.")]
MovementId = Annotated[uuid.UUID, Path(description="Movement id.")]
CLIP_DESCRIPTION = (
    "The side-on clip of the movement: MP4, MOV or WebM (up to 30 s; rotation metadata is honoured)."
)


def get_runner(request: Request) -> movements.MovementJobs:
    return request.app.state.movements


Runner = Annotated[movements.MovementJobs, Depends(get_runner)]


class MovementFields(BaseModel):
    """The form fields of a clip upload besides `clip` (multipart, read by `app.api.forms.open_form`).
    Every field is applied; a field the route does not know is refused (422), never dropped unread."""

    model_config = ConfigDict(extra="forbid")

    test: MovementTest = Field("squat", description="A bodyweight squat or a knee-to-wall lunge.")
    facing: Facing | None = Field(None, description="Override the detected facing direction.")
    camera_roll_deg: float | None = Field(
        None, ge=-45, le=45, description="Camera roll in degrees, if known (from the phone's level)."
    )
    taken_at: Annotated[datetime | None, AfterValidator(check_taken_at)] = Field(
        None, description="When the clip was filmed (ISO 8601); default: the upload time."
    )
    mirror_pass: bool = Field(
        False,
        description="Also analyse each frame mirrored and average the two passes: steadier numbers "
        "(docs/accuracy.md), about twice the analysis time.",
    )
    sample_fps: float = Field(
        15.0,
        ge=MIN_SAMPLE_FPS,
        le=MAX_SAMPLE_FPS,
        description="Frames analysed per second of clip (all frames when the clip has fewer).",
    )
    level: LevelMode = Field(
        "auto",
        description="Without `camera_roll_deg`: `auto` reads the camera's roll from a standing frame and "
        "applies it when confident; `off` trusts the clip's frame as upright.",
    )
    camera_roll_source: RollSource = Field(
        "given",
        description="Who read `camera_roll_deg`: `given` (typed in, a level app) or `device` (the phone's "
        "orientation sensor); stored as `camera_level.source`.",
    )

    @model_validator(mode="after")
    def _device_needs_a_roll(self) -> Self:
        if self.camera_roll_source == "device" and self.camera_roll_deg is None:
            raise ValueError("camera_roll_source 'device' needs the roll the device read (camera_roll_deg)")
        return self


@router.post(
    "/subjects/{subject_id}/movements",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_clip_multipart)],
    responses=responses(404, 413, 415, 503),
    openapi_extra=multipart_body(MovementFields, "clip", CLIP_DESCRIPTION),
)
async def upload_movement(
    request: Request, subject_id: SubjectId, user: CurrentUser, db: DbSession, store: Store, runner: Runner
) -> JSONResponse:
    """Store a clip and start its analysis: answers 202 with the job to poll (`GET /jobs/{id}`). A clip
    the library cannot use ends the job as `failed` with its code (`clip_unreadable`, `clip_too_long`,
    `no_movement`, `not_the_test`, `person_left_frame`, `not_side_on`...), and nothing else is kept."""
    await run_in_threadpool(_check_subject, db, user, subject_id)
    runner.check_capacity()
    async with open_form(request, MovementFields, file_field="clip") as (part, form):
        # Stored from the parser's spooled file while the form is open: never whole in memory.
        job = await run_in_threadpool(
            movements.create_job,
            db,
            store,
            runner,
            subject_id,
            movements.clip_file(part),
            test=form.test,
            facing=form.facing,
            camera_roll_deg=form.camera_roll_deg,
            mirror_pass=form.mirror_pass,
            sample_fps=form.sample_fps,
            level=form.level,
            camera_roll_source=form.camera_roll_source,
            source=source_name(part.filename),
            taken_at=form.taken_at or utcnow(),
        )
    runner.submit(job)
    body = JobAccepted(job=movements.job_out(job))
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": f"/api/v1/jobs/{job.id}"},
    )


def _check_subject(db: Session, user: User, subject_id: uuid.UUID) -> None:
    subject_or_404(db, user, subject_id)
    db.commit()  # no transaction (or pooled connection) held while the clip arrives


@router.get("/jobs/{job_id}", responses=responses(404))
def get_job(job_id: JobId, user: CurrentUser, db: DbSession, runner: Runner) -> MovementJobOut:
    """A movement job: `queued`, `running` (with `progress`), `done` (with `movement_id`) or `failed`
    (with `error`)."""
    return movements.job_out(movements.job_or_404(db, user, job_id, runner))


@router.get("/subjects/{subject_id}/movements", responses=responses(404))
def list_movements(
    subject_id: SubjectId,
    user: CurrentUser,
    db: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
    test: MovementTest | None = None,
) -> Page[StoredMovement]:
    """The subject's movements in `taken_at` order (oldest first), a page at a time."""
    subject_or_404(db, user, subject_id)
    rows, total = movements.storage.list_movements(db, subject_id, limit, offset, test)
    return Page[StoredMovement](
        items=[movements.movement_out(m) for m in rows], total=total, limit=limit, offset=offset
    )


@router.get(
    "/subjects/{subject_id}/movements/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The movements as CSV."}, **responses(404)},
)
def export_movements_csv(subject_id: SubjectId, user: CurrentUser, db: DbSession) -> Response:
    """The subject's movements as CSV, one row per movement (`export.json` has them in full)."""
    subject = subject_or_404(db, user, subject_id)
    return Response(
        history.export_movements_csv(db, subject),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="movements-{subject_id}.csv"'},
    )


@router.get("/subjects/{subject_id}/movements/trends", responses=responses(404))
def movement_trends(
    subject_id: SubjectId,
    user: CurrentUser,
    db: DbSession,
    test: Annotated[MovementTest, Query(description="Which test (tests are not mixed).")] = "lunge",
    since: Annotated[datetime | None, Query(description="Only movements at or after this time.")] = None,
    until: Annotated[datetime | None, Query(description="Only movements at or before this time.")] = None,
) -> MovementTrends:
    """Each measure of the test over time (one point per movement) with its Theil–Sen slope, beside the
    standing pelvic tilt of the photos over the same window."""
    return movements.trends(db, user, subject_id, test, utc_or_422(since), utc_or_422(until))


@router.get("/movements/compare", responses=responses(404))
def compare_movements(
    a: Annotated[uuid.UUID, Query(description="Earlier movement id.")],
    b: Annotated[uuid.UUID, Query(description="Later movement id.")],
    user: CurrentUser,
    db: DbSession,
) -> MovementComparison:
    """b − a per measure of two movements of one test, each against the measure's noise band."""
    return movements.compare(db, user, a, b)


@router.get("/movements/{movement_id}", responses=responses(404))
def get_movement(movement_id: MovementId, user: CurrentUser, db: DbSession) -> StoredMovement:
    return movements.movement_out(movements.movement_or_404(db, user, movement_id))


@router.get(
    "/movements/{movement_id}/deepest.png",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}}, "description": "The deepest frame."}, **responses(404)},
)
def get_deepest_frame(
    request: Request, movement_id: MovementId, user: CurrentUser, db: DbSession, store: Store
) -> Response:
    """The frame at the deepest point of the movement, annotated (shin angle, hip and knee)."""
    movement = movements.movement_or_404(db, user, movement_id)
    digest = movement.deepest_sha256
    if digest is None:
        raise ApiError(404, "deepest_frame_not_stored", "No image of the deepest frame was stored.")
    db.commit()  # no transaction (or pooled connection) held while the file streams
    return stored_file_response(
        request,
        store,
        FileKind.OVERLAY,
        digest,
        missing=ApiError(404, "deepest_frame_missing", "The stored image is missing from the file store."),
    )


@router.delete("/movements/{movement_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404))
def delete_movement(movement_id: MovementId, user: CurrentUser, db: DbSession, store: Store) -> Response:
    """Delete a movement, its clip and its deepest frame (unless another movement has the same clip)."""
    movements.delete(db, store, movements.movement_or_404(db, user, movement_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
