"""The programme log: programmes, their exercises and workout ticks, the before/after up the chain; and
the subject's calendar feed of the next photo due."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from app.api.deps import CurrentUser, DbSession, require_json
from app.api.routes.common import SubjectId
from app.core.errors import responses
from app.schemas import (
    CalendarLink,
    ExerciseIn,
    ExerciseUpdate,
    ProgrammeCreate,
    ProgrammeEffect,
    ProgrammeOut,
    ProgrammeUpdate,
)
from app.services import calendar, programmes
from app.services.records import subject_or_404

router = APIRouter(tags=["programmes"], responses=responses(401, 404, 422))

ProgrammeId = Annotated[uuid.UUID, Path(description="Programme id.")]
ExerciseId = Annotated[uuid.UUID, Path(description="Exercise id.")]
Day = Annotated[date, Path(description="The day (YYYY-MM-DD, UTC).")]


@router.post(
    "/subjects/{subject_id}/programmes",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_json)],
    responses=responses(415),
)
def create_programme(
    subject_id: SubjectId, body: ProgrammeCreate, user: CurrentUser, db: DbSession
) -> ProgrammeOut:
    """Log a programme (name, start day, optional end day, notes, optional exercises)."""
    return programmes.create(db, user, subject_id, body)


@router.get("/subjects/{subject_id}/programmes")
def list_programmes(subject_id: SubjectId, user: CurrentUser, db: DbSession) -> list[ProgrammeOut]:
    """The subject's programmes, latest start first, with their exercises and ticks."""
    return programmes.list_for(db, user, subject_id)


@router.get("/programmes/{programme_id}")
def get_programme(programme_id: ProgrammeId, user: CurrentUser, db: DbSession) -> ProgrammeOut:
    return programmes.read(db, user, programme_id)


@router.patch("/programmes/{programme_id}", dependencies=[Depends(require_json)], responses=responses(415))
def update_programme(
    programme_id: ProgrammeId, body: ProgrammeUpdate, user: CurrentUser, db: DbSession
) -> ProgrammeOut:
    """Change a programme (fields left out are kept; `end_date: null` makes it open-ended again)."""
    return programmes.update(db, user, programme_id, body)


@router.delete("/programmes/{programme_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_programme(programme_id: ProgrammeId, user: CurrentUser, db: DbSession) -> Response:
    """Delete a programme with its exercises and ticks (the photos and clips are kept)."""
    programmes.delete(db, user, programme_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/programmes/{programme_id}/exercises",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_json)],
    responses=responses(415),
)
def add_exercise(
    programme_id: ProgrammeId, body: ExerciseIn, user: CurrentUser, db: DbSession
) -> ProgrammeOut:
    """Add an exercise; answers the whole programme."""
    return programmes.add_exercise(db, user, programme_id, body)


@router.patch(
    "/programmes/{programme_id}/exercises/{exercise_id}",
    dependencies=[Depends(require_json)],
    responses=responses(415),
)
def update_exercise(
    programme_id: ProgrammeId, exercise_id: ExerciseId, body: ExerciseUpdate, user: CurrentUser, db: DbSession
) -> ProgrammeOut:
    return programmes.update_exercise(db, user, programme_id, exercise_id, body)


@router.delete("/programmes/{programme_id}/exercises/{exercise_id}")
def delete_exercise(
    programme_id: ProgrammeId, exercise_id: ExerciseId, user: CurrentUser, db: DbSession
) -> ProgrammeOut:
    """Remove an exercise and its ticks; answers the programme."""
    return programmes.delete_exercise(db, user, programme_id, exercise_id)


@router.put("/programmes/{programme_id}/exercises/{exercise_id}/ticks/{day}")
def tick(
    programme_id: ProgrammeId, exercise_id: ExerciseId, day: Day, user: CurrentUser, db: DbSession
) -> ProgrammeOut:
    """Mark the exercise done on `day` (idempotent: ticking twice keeps one tick)."""
    return programmes.tick(db, user, programme_id, exercise_id, day, True)


@router.delete("/programmes/{programme_id}/exercises/{exercise_id}/ticks/{day}")
def untick(
    programme_id: ProgrammeId, exercise_id: ExerciseId, day: Day, user: CurrentUser, db: DbSession
) -> ProgrammeOut:
    """Remove the tick of `day` (idempotent)."""
    return programmes.tick(db, user, programme_id, exercise_id, day, False)


@router.get("/programmes/{programme_id}/effect")
def programme_effect(programme_id: ProgrammeId, user: CurrentUser, db: DbSession) -> ProgrammeEffect:
    """Before and after, read up the chain: per measure (ankle first), the visits before the start day
    against the visits since (to the end day), medians, difference, noise band and whether it is beyond
    it, and each side's trend. A side needs at least two visits on separate days (rules.toml
    `[programme] min_visits`) before anything is judged; it says so when it has fewer. An association
    in time, not a cause."""
    return programmes.effect(db, user, programme_id)


# --- the calendar feed ------------------------------------------------------------------------------


@router.post("/subjects/{subject_id}/calendar", status_code=status.HTTP_201_CREATED)
def create_calendar_link(
    subject_id: SubjectId, request: Request, user: CurrentUser, db: DbSession
) -> CalendarLink:
    """A new secret address for the subject's calendar feed (replacing any earlier one), for a calendar
    app to subscribe to. The token in it is shown only now; it opens this feed only."""
    subject = subject_or_404(db, user, subject_id)
    token = calendar.issue_token(db, subject)
    url = str(request.url_for("calendar_feed", subject_id=str(subject_id)).include_query_params(token=token))
    return CalendarLink(url=url, token=token)


@router.delete("/subjects/{subject_id}/calendar", status_code=status.HTTP_204_NO_CONTENT)
def delete_calendar_link(subject_id: SubjectId, user: CurrentUser, db: DbSession) -> Response:
    """Turn the calendar feed off: its address answers 404 from now on."""
    calendar.revoke_token(db, subject_or_404(db, user, subject_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/subjects/{subject_id}/calendar.ics",
    name="calendar_feed",
    responses={200: {"content": {"text/calendar": {}}, "description": "An iCalendar (RFC 5545) feed."}},
    openapi_extra={"security": []},
)
def calendar_feed(
    subject_id: SubjectId,
    db: DbSession,
    token: Annotated[str, Query(min_length=1, max_length=200, description="The feed's secret token.")],
) -> Response:
    """The subject's next photo due (and programme periods) as iCalendar. Authenticated by the token of
    `POST /subjects/{id}/calendar`, not the API key: calendar apps cannot send headers."""
    subject = calendar.subject_by_token(db, subject_id, token)
    return Response(
        calendar.feed(db, subject),
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=3600"},
    )
