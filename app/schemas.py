"""Request and response bodies. The analysis object is `posture.result.Analysis` itself (the contract
shared with the CLI and the page), extended with where it lives in the history."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from posture.result import Analysis, Band, ErrorInfo, Mode

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


BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
"""Invisible characters that reorder how text is shown (bidirectional marks, embeddings, overrides and
isolates), as a regex character class: in a name they can make one subject look like another, and in a
file name hide its real extension."""
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


def _name(value: str) -> str:
    value = _BIDI.sub("", _storable_text(value, single_line=True)).strip()
    if any(0x80 <= ord(c) <= 0x9F for c in value):  # C1 controls, as the C0 ones above
        raise ValueError("text must not contain control characters")
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


class CaptureSettings(BaseModel):
    level_tolerance_deg: float = Field(
        description="The page's shutter opens only while the phone's roll reads within this many degrees "
        "(rules.toml `[capture]`)."
    )
    rules_version: str = Field(description="The version of the rules file these settings come from.")


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
    visit_id: uuid.UUID | None = Field(
        None, description="The visit (shots of one session) this analysis belongs to: `GET /visits/{id}`."
    )
    visit: str | None = Field(
        None, description="The client's visit label, when one was given (it overrides the grouping by time)."
    )
    reanalysis_skipped: str | None = Field(
        None,
        description="Set when a re-analysis with the current method could not replace this analysis "
        "(`photo_not_stored`, `photo_missing`, `refused`): it keeps the version it was made with.",
    )


class AnalysisUpdate(BaseModel):
    """`PATCH /analyses/{id}`: fields left out are kept."""

    model_config = ConfigDict(extra="forbid")

    taken_at: datetime | None = Field(None, description="A new capture time (re-dating regroups the visits).")
    visit: str | None = Field(
        None, description="A visit label (1–64 printable characters); null clears it (grouping by time)."
    )


NoiseSource = Literal["rules", "personal"]


class AnalysisRef(BaseModel):
    """One side of a comparison: an analysis (one shot) or a visit (the median of its shots)."""

    id: uuid.UUID
    kind: Literal["analysis", "visit"] = Field(description="Which kind of id `id` is.")
    taken_at: datetime = Field(description="The photo's time; for a visit, its first shot's.")
    mode: Mode
    n: int = Field(1, description="Shots behind the values (1 for an analysis).")
    analysis_ids: list[uuid.UUID] = Field(default_factory=list, description="Those shots, in time order.")
    central_analysis_id: uuid.UUID | None = Field(
        None, description="The shot nearest the visit's medians: the one to show (its overlay)."
    )


class MeasureDifference(BaseModel):
    a: float | None = Field(description="A's value (a visit's: the median over its shots).")
    b: float | None
    difference: float | None = Field(description="b − a.")
    noise: float | None = Field(
        description="Minimal detectable change for this difference: the larger of the subject's personal "
        "band (for the medians of `n_a` and `n_b` shots) and the rules' floor (rules.toml `[noise]`)."
    )
    noise_source: NoiseSource = Field("rules", description="Which of the two `noise` is.")
    noise_visits: int = Field(0, description="Multi-shot visits the personal band rests on (0: none).")
    n_a: int = Field(0, description="Shots of A with a value of this measure.")
    n_b: int = Field(0, description="Shots of B with a value of this measure.")
    within_noise: bool | None = Field(
        description="|difference| < noise: not distinguishable from re-taking the photos."
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
        description="`mode_differs`, `rules_version_differs`, `model_differs`, `mixed_versions`: the "
        "results were not all made the same way, so differences may not be changes in posture."
    )


class MeasureTrend(BaseModel):
    values: list[float | None] = Field(
        description="One per point, aligned with `taken_at`: a visit's median (`by=visit`) or a photo's "
        "value."
    )
    spread: list[float | None] | None = Field(
        None, description="`by=visit`: each visit's max − min over its shots (null below two shots)."
    )
    n: int = Field(description="Points where the measure has a value.")
    slope_per_30d: float | None = Field(description="Theil–Sen slope, units per 30 days.")
    fit_start: float | None = Field(description="Fitted line at the first photo.")
    fit_end: float | None = Field(description="Fitted line at the last photo.")
    change: float | None = Field(description="fit_end − fit_start.")
    noise: float | None = Field(
        description="Noise band half-width (MDC between two points): draw the line ± noise. The larger of "
        "the personal band and the rules' floor."
    )
    noise_source: NoiseSource = Field("rules", description="`personal` or `rules`: which one `noise` is.")
    noise_visits: int = Field(0, description="Multi-shot visits the personal band rests on (0: none).")
    beyond_noise: bool | None = Field(description="|change| ≥ noise.")


class Trends(BaseModel):
    subject_id: uuid.UUID
    mode: Mode
    by: Literal["visit", "photo"] = Field(description="One point per visit (its median) or per photo.")
    n: int = Field(description="Points: visits (`by=visit`) or photos.")
    n_analyses: int = Field(description="Photos behind the points.")
    analysis_ids: list[uuid.UUID] = Field(
        description="`by=photo`: one per point. Empty for `by=visit`: a visit's photos are in "
        "`GET /visits/{id}`."
    )
    visit_ids: list[uuid.UUID | None] | None = Field(None, description="`by=visit`: one per point.")
    shots: list[int] | None = Field(None, description="`by=visit`: photos behind each point.")
    taken_at: list[datetime] = Field(description="One per point; a visit's first shot's time.")
    measures: dict[str, MeasureTrend]
    warnings: list[str] = Field(
        default_factory=list, description="`mixed_versions`: the photos were analysed by several methods."
    )


class VisitShot(BaseModel):
    id: uuid.UUID
    taken_at: datetime
    overall_score: float | None
    overall_band: Band | None
    reanalysis_skipped: str | None = None


class Visit(BaseModel):
    """The shots of one subject taken in one session, summarised by their median."""

    id: uuid.UUID
    subject_id: uuid.UUID
    mode: Mode
    label: str | None = Field(description="The client's visit label, if the visit was labelled.")
    taken_at: datetime = Field(description="The first shot's time.")
    n: int = Field(description="Shots in the visit.")
    analysis_ids: list[uuid.UUID] = Field(description="The shots, in time order.")
    shots: list[VisitShot] = Field(description="The shots with their time and overall score.")
    central_analysis_id: uuid.UUID = Field(description="The shot nearest the medians (the one to show).")
    measures: dict[str, float | None] = Field(
        description="Each measure's median over the shots; null where no shot measured it."
    )
    spread: dict[str, float | None] = Field(
        description="Each measure's max − min over the shots; null below two values."
    )
    scores: dict[str, float] = Field(
        description="Each area's score (and `overall`): the median over the shots."
    )
    band: Band | None = Field(
        description="The band of the median overall score (rules.toml `[overall_band]`)."
    )
    warnings: list[str] = Field(description="`mixed_versions`: the shots were analysed by several methods.")


class MeasureChange(BaseModel):
    n: int = Field(description="Re-analysed analyses with this measure before and after.")
    mean_abs_change: float | None = Field(description="Mean |new − old| over them.")
    changed: int = Field(description="How many of them changed by more than 0.01.")


class ReanalysisReport(BaseModel):
    """What a re-analysis did. Re-running it continues where it stopped: analyses already made by the
    current method are not re-run (unless forced)."""

    method: str = Field(description="The current method (rules version | model SHA-256).")
    candidates: int = Field(description="Analyses not made by the current method (or all, when forced).")
    reanalysed: int = Field(description="Replaced by a re-analysis of their stored photo.")
    changed: int = Field(description="Re-analysed with a measure or score that moved.")
    photo_not_stored: int = Field(description="Kept as they were: no photo was stored for them.")
    photo_missing: int = Field(description="Kept as they were: the stored photo file is missing.")
    refused: int = Field(description="Kept as they were: the current method refuses the photo.")
    gone: int = Field(description="Deleted while the re-analysis ran.")
    measures: dict[str, MeasureChange] = Field(description="Per measure (and `overall_score`).")
    refusals: dict[str, int] = Field(default_factory=dict, description="Refusal codes of `refused`.")


class SubjectExport(BaseModel):
    subject: SubjectOut
    analyses: list[StoredAnalysis]
    visits: list[Visit] = Field(default_factory=list, description="The visits, in time order.")
    movements: list[StoredMovement] = Field(
        default_factory=list, description="The movement tests (squat, lunge clips), in `taken_at` order."
    )


# --- movement tests (issue 17) ----------------------------------------------------------------------

MovementTest = Literal["squat", "lunge"]
JobStatus = Literal["queued", "running", "done", "failed"]


class MovementJobOut(BaseModel):
    """A clip on its way to a movement: poll `GET /jobs/{id}` until `done` (then read `movement_id`) or
    `failed` (then read `error`)."""

    id: uuid.UUID
    subject_id: uuid.UUID
    kind: Literal["movement"] = "movement"
    status: JobStatus
    progress: float = Field(description="0 to 1: the clip's frames analysed so far (1 once done).")
    test: MovementTest
    source: str | None = Field(None, description="The clip's file name, as uploaded.")
    movement_id: uuid.UUID | None = Field(None, description="Once `done`: the movement made.")
    error: ErrorInfo | None = Field(
        None,
        description="Once `failed`: the library's code for a clip it cannot use (`clip_unreadable`, "
        "`clip_too_long`, `no_movement`, `person_left_frame`, `not_side_on`, `no_person`...), or "
        "`job_interrupted` (the server stopped mid-job), `busy`, `analysis_unavailable`.",
    )
    created_at: datetime
    finished_at: datetime | None = None


class JobAccepted(BaseModel):
    """The answer to a clip upload (202): the job to poll."""

    job: MovementJobOut


class StoredMovement(BaseModel):
    """A movement in a subject's history: the library's `MovementAnalysis.to_dict()` (`analysis`) and
    where it lives."""

    id: uuid.UUID
    subject_id: uuid.UUID
    test: MovementTest
    taken_at: datetime = Field(description="The upload's `taken_at`, else the upload time (UTC).")
    created_at: datetime
    source: str | None
    measures: dict[str, float | None] = Field(description="The headline measures: medians over the reps.")
    reps: int = Field(description="Repetitions found.")
    has_deepest_frame: bool = Field(description="Whether `GET /movements/{id}/deepest.png` has an image.")
    analysis: dict[str, object] = Field(
        description="The whole movement analysis: clip, reps, series, scores, findings, failed frames..."
    )


class MovementMeasureTrend(BaseModel):
    values: list[float | None] = Field(description="One per movement, aligned with `taken_at`.")
    n: int = Field(description="Movements with a value of this measure.")
    slope_per_30d: float | None = Field(description="Theil–Sen slope, units per 30 days.")
    fit_start: float | None = Field(None, description="Fitted line at the first movement.")
    fit_end: float | None = Field(None, description="Fitted line at the last movement.")
    change: float | None = Field(description="fit_end − fit_start.")
    noise: float | None = Field(description="Repeatability band of one value (rules.toml), when known.")
    beyond_noise: bool | None = Field(description="|change| ≥ noise.")


class StandingBeside(BaseModel):
    """A standing measure over the same weeks, to read beside the movement (e.g. pelvic tilt)."""

    measure: str
    taken_at: list[datetime]
    values: list[float | None]
    slope_per_30d: float | None


class MovementTrends(BaseModel):
    subject_id: uuid.UUID
    test: MovementTest
    n: int = Field(description="Movements of this test in the window.")
    movement_ids: list[uuid.UUID]
    taken_at: list[datetime]
    measures: dict[str, MovementMeasureTrend]
    standing: list[StandingBeside] = Field(
        default_factory=list, description="Standing measures over the same window (photos' history)."
    )
    warnings: list[str] = Field(default_factory=list, description="`mixed_versions`, as for photos.")


class MovementDifference(BaseModel):
    a: float | None
    b: float | None
    difference: float | None = Field(description="b − a.")
    noise: float | None
    within_noise: bool | None


class MovementComparison(BaseModel):
    subject_id: uuid.UUID
    test: MovementTest
    a: uuid.UUID
    b: uuid.UUID
    days_between: float
    measures: dict[str, MovementDifference]
    warnings: list[str] = Field(default_factory=list)
