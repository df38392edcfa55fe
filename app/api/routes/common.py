"""Path and paging parameters shared by the routers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Path, Query

from app.core.errors import ApiError
from app.services.uploads import as_utc

SubjectId = Annotated[uuid.UUID, Path(description="Subject id.")]
AnalysisId = Annotated[uuid.UUID, Path(description="Analysis id.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Items to skip.")]


def utc_or_422(value: datetime | None) -> datetime | None:
    """A `since`/`until` query value in UTC (naive means UTC); 422 outside 1900–2200."""
    if value is None:
        return None
    utc = as_utc(value)
    if utc is None:
        raise ApiError(422, "invalid_request", "Invalid request: since/until must lie between 1900 and 2200.")
    return utc
