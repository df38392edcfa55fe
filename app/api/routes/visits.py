"""Visits: the shots of one session, summarised by their median."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path

from app.api.deps import CurrentUser, DbSession
from app.api.routes.common import Limit, Offset, SubjectId
from app.core.errors import responses
from app.schemas import Page, Visit
from app.services import visits
from app.services.records import subject_or_404
from posture.result import Mode

router = APIRouter(tags=["visits"], responses=responses(401, 404, 422))

VisitId = Annotated[uuid.UUID, Path(description="Visit id.")]


@router.get("/subjects/{subject_id}/visits")
def list_visits(
    subject_id: SubjectId,
    user: CurrentUser,
    db: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
    mode: Mode | None = None,
) -> Page[Visit]:
    """The subject's visits in order of their first shot (oldest first), a page at a time: per visit
    its shots, each measure's median and spread (max − min), the areas' median scores and the shot
    nearest the medians. Shots within 30 minutes of the previous one (rules.toml `[visits]`) form a
    visit, unless the upload gave a `visit` label."""
    subject_or_404(db, user, subject_id)
    return visits.list_visits(db, subject_id, limit, offset, mode)


@router.get("/visits/{visit_id}")
def get_visit(visit_id: VisitId, user: CurrentUser, db: DbSession) -> Visit:
    return visits.get_visit(db, user, visit_id)
