"""Request and response bodies. The analysis object is `posture.result.Analysis` itself (the contract
shared with the CLI and the page), extended with where it lives in the history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from posture.result import Analysis, ErrorInfo, Mode

__all__ = ["Analysis", "ErrorInfo"]

T = TypeVar("T")


def _storable_text(value: str, *, single_line: bool) -> str:
    # PostgreSQL refuses NUL and lone surrogates (JSON can carry both): refuse them here as a 422.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    allowed = "" if single_line else "\n\r\t"
    if any(ord(c) < 32 and c not in allowed for c in value) or "\x7f" in value:
        raise ValueError("text must not contain control characters")
    return value


def _name(value: str) -> str:
    value = _storable_text(value, single_line=True).strip()
    if not value:
        raise ValueError("name must not be blank")
    return value


def _notes(value: str) -> str:
    return _storable_text(value, single_line=False)


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_name)]
Notes = Annotated[str, Field(max_length=10_000), AfterValidator(_notes)]


class Health(BaseModel):
    status: Literal["ok", "starting", "unavailable"] = Field(
        description="`ok` once a pose model is loaded and the database answers."
    )
    detail: str | None = Field(None, description="Why the service is not `ok`.")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="Items in the whole collection.")
    limit: int
    offset: int


class SubjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="Name or pseudonym of the person.")
    notes: Notes | None = None


class SubjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(None, description="New name (null is not allowed; omit to keep).")
    notes: Notes | None = Field(None, description="New notes; null clears them.")

    @model_validator(mode="after")
    def _name_not_null(self) -> SubjectUpdate:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null; omit it to keep the current name")
        return self


class SubjectOut(BaseModel):
    id: uuid.UUID
    name: str
    notes: str | None
    created_at: datetime
    updated_at: datetime
    analysis_count: int = Field(description="Analyses stored for this subject.")
    last_taken_at: datetime | None = Field(description="`taken_at` of the latest analysis.")


class StoredAnalysis(Analysis):
    """An analysis in a subject's history: `Analysis.to_dict()` plus its id, subject and time."""

    id: uuid.UUID
    subject_id: uuid.UUID
    taken_at: datetime = Field(
        description="When the photo was taken: the upload's `taken_at`, else the photo's EXIF capture time, "
        "else the upload time. UTC (a time without zone is read as UTC)."
    )


class AnalysisRef(BaseModel):
    id: uuid.UUID
    taken_at: datetime
    mode: Mode


class MeasureDifference(BaseModel):
    a: float | None
    b: float | None
    difference: float | None = Field(description="b − a.")
    noise: float | None = Field(
        description="Minimal detectable change of the measure (rules.toml `[noise]`)."
    )
    within_noise: bool | None = Field(
        description="|difference| < noise: not distinguishable from photo-to-photo noise."
    )


class Comparison(BaseModel):
    subject_id: uuid.UUID
    a: AnalysisRef
    b: AnalysisRef
    days_between: float
    measures: dict[str, MeasureDifference] = Field(
        description="Every measure of the analysis object, plus `overall_score` (scores.overall)."
    )
    warnings: list[str] = Field(
        description="`mode_differs`, `rules_version_differs`, `model_differs`: the two results were not "
        "made the same way, so differences may not be changes in posture."
    )


class MeasureTrend(BaseModel):
    values: list[float | None] = Field(description="One per analysis, aligned with `taken_at`.")
    n: int = Field(description="Analyses where the measure has a value.")
    slope_per_30d: float | None = Field(description="Theil–Sen slope, units per 30 days.")
    fit_start: float | None = Field(description="Fitted line at the first photo.")
    fit_end: float | None = Field(description="Fitted line at the last photo.")
    change: float | None = Field(description="fit_end − fit_start.")
    noise: float | None = Field(description="Noise band half-width (MDC): draw the line ± noise.")
    beyond_noise: bool | None = Field(description="|change| ≥ noise.")


class Trends(BaseModel):
    subject_id: uuid.UUID
    mode: Mode
    n: int
    analysis_ids: list[uuid.UUID]
    taken_at: list[datetime]
    measures: dict[str, MeasureTrend]


class SubjectExport(BaseModel):
    subject: SubjectOut
    analyses: list[StoredAnalysis]
