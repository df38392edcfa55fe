"""Path and paging parameters shared by the routers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Query

SubjectId = Annotated[uuid.UUID, Path(description="Subject id.")]
AnalysisId = Annotated[uuid.UUID, Path(description="Analysis id.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Items to skip.")]
