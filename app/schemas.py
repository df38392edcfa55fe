"""Request and response bodies. The analysis object is `posture.result.Analysis` itself (the contract
shared with the CLI and the page), extended with where it lives in the history."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
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
PhotoInterval = Annotated[
    int,
    Field(ge=1, le=365, description="Days between photos: the next photo is due this long after the latest."),
]


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
    photo_interval_days: PhotoInterval = 14


class SubjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(None, description="New name (null is not allowed; omit to keep).")
    notes: Notes | None = Field(None, description="New notes; null clears them.")
    photo_interval_days: PhotoInterval | None = Field(None, description="New photo interval (omit to keep).")

    @model_validator(mode="after")
    def _name_not_null(self) -> SubjectUpdate:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null; omit it to keep the current name")
        if "photo_interval_days" in self.model_fields_set and self.photo_interval_days is None:
            raise ValueError("photo_interval_days cannot be null; omit it to keep the current interval")
        return self


class SubjectOut(BaseModel):
    id: uuid.UUID
    name: str
    notes: str | None
    created_at: datetime
    updated_at: datetime
    analysis_count: int = Field(description="Analyses stored for this subject.")
    last_taken_at: datetime | None = Field(description="`taken_at` of the latest analysis.")
    photo_interval_days: int = Field(14, description="Days between photos (the protocol's: 14).")
    next_photo_due: date | None = Field(
        None,
        description="The UTC day the next photo is due: latest photo's day + interval; today if none.",
    )
    due_in_days: int | None = Field(
        None,
        description="Days from today (UTC) to `next_photo_due`: negative when overdue, 0 when due today.",
    )


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
    # overall_score only (issue 21): the overall is compared over the areas both sides scored.
    areas: list[str] | None = Field(
        None,
        description="`overall_score`: the areas `a` and `b` are scored over (those both scored). Where A "
        "and B scored different areas, `a` and `b` are each re-scored over these only, so a difference in "
        "what was scored is never a change.",
    )
    areas_only_a: list[str] = Field(default_factory=list, description="`overall_score`: scored in A only.")
    areas_only_b: list[str] = Field(default_factory=list, description="`overall_score`: scored in B only.")
    a_as_scored: float | None = Field(None, description="`overall_score`: A's overall over all its areas.")
    b_as_scored: float | None = Field(None, description="`overall_score`: B's overall over all its areas.")


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
    days: int = Field(
        0,
        description="Separate days with a value: points less than a day after the first point of their "
        'group are pooled (their median). A trend needs two (docs/accuracy.md, "Trends").',
    )
    slope_per_30d: float | None = Field(
        description="Slope of the fitted line (per-day pooled Theil–Sen), units per 30 days: change / "
        "span_days × 30."
    )
    fit_start: float | None = Field(description="Fitted line at `fit_start_at`, within the points' range.")
    fit_end: float | None = Field(description="Fitted line at `fit_end_at`, within the points' range.")
    fit_start_at: datetime | None = Field(
        None, description="Where the line starts: the first day with a value (its first point's time)."
    )
    fit_end_at: datetime | None = Field(
        None, description="Where the line ends: the last day with a value (its first point's time)."
    )
    span_days: float | None = Field(None, description="Days from `fit_start_at` to `fit_end_at`.")
    change: float | None = Field(
        description="fit_end − fit_start: never more than the range of the points (max − min)."
    )
    latest: float | None = Field(None, description="The latest point's value that has one.")
    latest_at: datetime | None = Field(
        None,
        description="When `latest` was taken: earlier than the last point when that one lacks the measure.",
    )
    areas: list[str] | None = Field(
        None,
        description="`overall_score`: the areas every plotted overall is scored over (those most points "
        "scored). A point that scored more is re-scored over these; one that lacks any is left out.",
    )
    areas_missing: list[list[str]] | None = Field(
        None, description="`overall_score`, per point: the areas of `areas` it did not score (left out)."
    )
    values_as_scored: list[float | None] | None = Field(
        None, description="`overall_score`, per point: its overall over all the areas it scored."
    )
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
        "`clip_too_long`, `no_movement`, `not_the_test`, `person_left_frame`, `not_side_on`, "
        "`no_person`...), or "
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
    withheld: list[bool] = Field(
        default_factory=list,
        description="One per movement: its value lies outside what the test can give and was not "
        "scored (`measure_implausible`); shown in `values`, left out of `n`, `days`, the line and `latest`.",
    )
    n: int = Field(description="Movements with a scored value of this measure.")
    days: int = Field(0, description="Separate days with a value (movements within a day are pooled).")
    slope_per_30d: float | None = Field(description="Per-day pooled Theil–Sen slope, units per 30 days.")
    fit_start: float | None = Field(None, description="Fitted line at `fit_start_at`.")
    fit_end: float | None = Field(None, description="Fitted line at `fit_end_at`.")
    fit_start_at: datetime | None = Field(None, description="The first day with a value.")
    fit_end_at: datetime | None = Field(None, description="The last day with a value.")
    span_days: float | None = Field(None, description="Days from `fit_start_at` to `fit_end_at`.")
    change: float | None = Field(description="fit_end − fit_start, within the values' range.")
    latest: float | None = Field(None, description="The latest movement's value that has one.")
    latest_at: datetime | None = Field(None, description="When `latest` was filmed.")
    noise: float | None = Field(description="Repeatability band of one value (rules.toml), when known.")
    beyond_noise: bool | None = Field(description="|change| ≥ noise.")


class StandingBeside(BaseModel):
    """A standing measure over the same weeks, to read beside the movement (e.g. pelvic tilt)."""

    measure: str
    taken_at: list[datetime]
    values: list[float | None]
    slope_per_30d: float | None
    fit_start: float | None = Field(None, description="The standing trend line at `fit_start_at`.")
    fit_end: float | None = Field(None, description="The standing trend line at `fit_end_at`.")
    fit_start_at: datetime | None = None
    fit_end_at: datetime | None = None
    change: float | None = None
    noise: float | None = Field(None, description="The rules' noise band of the measure (rules.toml).")
    beyond_noise: bool | None = None


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


# --- the programme log (issue 24) -----------------------------------------------------------------


def _day(value: date) -> date:
    if not date(1900, 1, 1) <= value <= date(2200, 12, 31):
        raise ValueError("dates must lie between 1900 and 2200")
    return value


def _short_text(value: str) -> str:
    value = _storable_text(value, single_line=True).strip()
    return value


Day = Annotated[date, AfterValidator(_day)]
Dose = Annotated[str, Field(max_length=200), AfterValidator(_short_text)]


class ExerciseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description='The exercise, e.g. "eccentric heel drops".')
    dose: Dose | None = Field(None, description='Sets, reps or time, e.g. "3×15"; free text.')


class ExerciseUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(None, description="New name (omit to keep).")
    dose: Dose | None = Field(None, description="New dose; null clears it.")

    @model_validator(mode="after")
    def _name_not_null(self) -> ExerciseUpdate:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null; omit it to keep the current name")
        return self


class ProgrammeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description='The programme, e.g. "Calf programme, 6 weeks".')
    start_date: Day = Field(description="The first day of the programme (UTC day, as photos' days are).")
    end_date: Day | None = Field(None, description="Its last day; null while it goes on.")
    notes: Notes | None = None
    exercises: list[ExerciseIn] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _ordered(self) -> ProgrammeCreate:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class ProgrammeUpdate(BaseModel):
    """`PATCH /programmes/{id}`: fields left out are kept; `end_date` and `notes` null clear them."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    notes: Notes | None = None

    @model_validator(mode="after")
    def _not_null(self) -> ProgrammeUpdate:
        for field in ("name", "start_date"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null; omit it to keep the current value")
        return self


class ExerciseOut(BaseModel):
    id: uuid.UUID
    name: str
    dose: str | None
    ticks: list[date] = Field(description="The days it was done, in order.")


class ProgrammeOut(BaseModel):
    id: uuid.UUID
    subject_id: uuid.UUID
    name: str
    start_date: date
    end_date: date | None
    notes: str | None
    created_at: datetime
    updated_at: datetime
    status: Literal["planned", "active", "ended"] = Field(description="Against today's UTC day.")
    workout_days: int = Field(description="Days with at least one exercise ticked.")
    exercises: list[ExerciseOut]


class EffectSide(BaseModel):
    visits: int = Field(description="Visits (photos: sessions; clips: one each) on this side.")
    days: int = Field(description="Separate days those visits fall on.")
    median: float | None = Field(description="Median of the visits' values.")
    slope_per_30d: float | None = Field(description="Theil–Sen trend over this side's visits, per 30 days.")
    first: datetime | None = None
    last: datetime | None = None


class MeasureEffect(BaseModel):
    measure: str
    label: str
    area: Literal["ankle", "knee", "pelvis", "lumbar", "overall"]
    source: Literal["standing", "lunge", "squat"] = Field(
        description="Standing photos' visits, or the lunge / squat movement clips."
    )
    unit: str
    before: EffectSide
    since: EffectSide
    difference: float | None = Field(description="Median since − median before.")
    noise: float | None
    noise_source: NoiseSource
    noise_visits: int = Field(description="Visits the personal band rests on (0: none).")
    enough: bool = Field(description="At least two visits on separate days on each side.")
    beyond_noise: bool | None = Field(description="|difference| ≥ noise; null when not `enough`.")
    statement: str = Field(description="The row in words (rules.toml `[programme]`).")

    @property
    def reading(self) -> str:
        """The verdict in a few words, as the command line and the PDF print it."""
        if not self.enough:
            return "too few visits"
        if self.beyond_noise is None:
            return "no band"
        return "beyond noise" if self.beyond_noise else "within noise"


class ProgrammeEffect(BaseModel):
    programme_id: uuid.UUID
    subject_id: uuid.UUID
    start_date: date
    end_date: date | None
    min_visits: int = Field(
        description="Visits on separate days each side needs before a difference is judged."
    )
    measures: list[MeasureEffect] = Field(description="Ankle first, then knee, pelvis, lumbar, overall.")
    summary: str
    disclaimer: str
    warnings: list[str] = Field(default_factory=list, description="`mixed_versions`, as for trends.")


class CalendarLink(BaseModel):
    url: str = Field(description="The feed's address with its secret token: give it to a calendar app only.")
    token: str


class SubjectExport(BaseModel):
    subject: SubjectOut
    analyses: list[StoredAnalysis]
    visits: list[Visit] = Field(default_factory=list, description="The visits, in time order.")
    movements: list[StoredMovement] = Field(
        default_factory=list, description="The movement tests (squat, lunge clips), in `taken_at` order."
    )
    programmes: list[ProgrammeOut] = Field(
        default_factory=list, description="The programme log, latest first."
    )
