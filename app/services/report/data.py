"""What a subject's report shows, gathered through the service functions the API's endpoints call
(the trends, the comparison, the stored analyses and their overlays), so the PDF says exactly what the
page says. Nothing here queries storage itself.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from app.core.errors import ApiError
from app.schemas import ProgrammeEffect, ProgrammeOut
from app.services import history, programmes
from app.services import movements as movement_views
from app.services.cache import VersionedCache
from app.services.records import analysis_or_404, subject_or_404, subject_view
from app.storage.files import FileKind, FileStore
from app.storage.models import User
from posture.result import Mode
from posture.rules import load_rules
from posture.trends import OVERALL, TRACKED

Paper = Literal["a4", "letter"]
Images = Literal["overlay", "none"]
NoiseSource = Literal["rules", "personal"]


@dataclass(frozen=True)
class ReportOptions:
    since: datetime | None = None
    until: datetime | None = None
    mode: Mode | None = None
    """None: standing photos, or the lunge photos of a subject who has only those (as the page does)."""
    paper: Paper = "a4"
    images: Images = "overlay"


@dataclass(frozen=True)
class Point:
    """One point of the report's trends and one column of its table: a visit."""

    id: str
    taken_at: datetime
    n: int
    """Photos in the visit."""


@dataclass(frozen=True)
class MeasureRow:
    """One line of the table: the first and the latest visit, as the comparison reports them."""

    name: str
    first: float | None
    latest: float | None
    change: float | None
    noise: float | None
    noise_source: NoiseSource | None
    noise_visits: int
    """Multi-shot visits the personal band rests on (0: none)."""
    within_noise: bool | None
    areas: list[str] | None = None
    """The overall score's row: the areas both visits' overall scores are over."""
    areas_only_first: list[str] = field(default_factory=list)
    areas_only_latest: list[str] = field(default_factory=list)
    first_as_scored: float | None = None
    latest_as_scored: float | None = None


@dataclass(frozen=True)
class MeasureSeries:
    """One trend chart, as the trends report it: one value per point."""

    name: str
    values: list[float | None]
    n: int
    fit_start: float | None
    fit_end: float | None
    change: float | None
    noise: float | None
    noise_source: NoiseSource | None
    noise_visits: int
    beyond_noise: bool | None
    spread: list[float | None] | None = None
    """Per point: the max − min of the visit's shots (null below two)."""
    fit_start_at: datetime | None = None
    fit_end_at: datetime | None = None
    """Where the fitted line starts and ends: the first and last day with a value."""
    span_days: float | None = None
    days: int = 0
    """Separate days with a value (points within a day are pooled); a trend needs two."""
    latest: float | None = None
    latest_at: datetime | None = None
    areas: list[str] | None = None
    """The overall score: the areas every plotted overall is over (like for like)."""
    areas_missing: list[list[str]] | None = None
    """The overall score, per point: the areas it lacks (left out of the chart)."""
    rescored: int = 0
    """The overall score: points that scored more areas, re-scored over `areas`."""


@dataclass(frozen=True)
class Picture:
    """A visit's overlay (PNG, same scale and aligned at the ankle), or None when none was kept."""

    taken_at: datetime
    n: int
    png: bytes | None


@dataclass(frozen=True)
class MovementRep:
    """One repetition of the latest clip of a test."""

    index: int
    bottom_s: float
    side: str | None
    measures: dict[str, float | None]
    peak_s: float | None = None  # the frame the rep's quoted shin peak is centred on (older clips: none)


@dataclass(frozen=True)
class MovementPart:
    """The report's movement section for one test: its headline measure (the peak shin angle) over the
    clips, as the movement trends give it, and the latest clip's numbers and reps."""

    test: str
    times: list[datetime]
    series: MeasureSeries
    n: int
    latest_taken_at: datetime
    latest_measures: dict[str, float | None]
    latest_reps: list[MovementRep]
    latest_findings: list[str]
    latest_withheld: list[str] = field(default_factory=list)  # shown, not scored (outside the test's range)


@dataclass(frozen=True)
class ProgrammePart:
    """A programme and its before/after table, as `GET /programmes/{id}/effect` gives it."""

    programme: ProgrammeOut
    effect: ProgrammeEffect


@dataclass(frozen=True)
class PhotoDue:
    day: date
    due_in_days: int
    interval_days: int


# The report's programme pages: the latest few programmes (a subject has a handful).
MAX_PROGRAMMES = 3


@dataclass(frozen=True)
class ReportData:
    subject_id: uuid.UUID
    subject_name: str
    mode: Mode
    options: ReportOptions
    points: list[Point]
    n_photos: int
    versions: dict[str, Any]
    mixed_versions: bool
    rows: list[MeasureRow]
    series: list[MeasureSeries]
    findings: list[str]
    disclaimer: str
    latest_warnings: list[str]
    personal_visits: int | None
    """Visits the personal noise band rests on, where one applies."""
    first_picture: Picture | None = None
    latest_picture: Picture | None = None
    movements: list[MovementPart] = field(default_factory=list)
    """One part per movement test the subject has clips of in the window (none: no movement section)."""
    programmes: list[ProgrammePart] = field(default_factory=list)
    """The latest programmes (latest start first) with their before/after; none: no programme page."""
    photo_due: PhotoDue | None = None
    made_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def first(self) -> Point:
        return self.points[0]

    @property
    def latest(self) -> Point:
        return self.points[-1]


def gather(
    db: Session,
    user: User,
    store: FileStore,
    cache: VersionedCache,
    subject_id: uuid.UUID,
    options: ReportOptions,
) -> ReportData:
    """Everything the report shows; 404 for a foreign or unknown subject, 422 `no_analyses_in_window`
    when the window holds no analysis of the mode."""
    subject = subject_or_404(db, user, subject_id)
    mode, trends = _trends(db, user, cache, subject_id, options)
    points = _points(trends)
    if not points:
        which = f"{mode} photos" if options.mode else "photos"
        raise ApiError(
            422,
            "no_analyses_in_window",
            f"No {which} of this subject in the chosen period: widen since/until"
            + (" or choose the other mode." if options.mode else "."),
        )
    comparison = history.compare(db, user, uuid.UUID(points[0].id), uuid.UUID(points[-1].id))
    compared = comparison.model_dump(mode="json")
    # The shot that stands for each visit (the one nearest its medians): its overlay and findings.
    first_record = analysis_or_404(db, user, comparison.a.central_analysis_id or comparison.a.id)
    latest_record = analysis_or_404(db, user, comparison.b.central_analysis_id or comparison.b.id)
    latest = latest_record.result
    pictures: tuple[Picture | None, Picture | None] = (None, None)
    if options.images == "overlay":
        pictures = (
            Picture(points[0].taken_at, points[0].n, _overlay(store, first_record.overlay_sha256)),
            Picture(points[-1].taken_at, points[-1].n, _overlay(store, latest_record.overlay_sha256)),
        )
    rows = _rows(compared, single=len(points) == 1)
    return ReportData(
        subject_id=subject.id,
        subject_name=subject.name,
        mode=mode,
        options=options,
        points=points,
        n_photos=int(trends.get("n_analyses", trends["n"])),
        versions=dict(latest.get("versions") or {}),
        mixed_versions="mixed_versions" in {*trends.get("warnings", []), *compared["warnings"]},
        rows=rows,
        series=_series(trends),
        findings=list(latest.get("findings") or []),
        disclaimer=load_rules()["findings"]["disclaimer"],
        latest_warnings=list(latest.get("warnings") or []),
        personal_visits=_personal_visits(compared, trends),
        first_picture=pictures[0],
        latest_picture=pictures[1],
        movements=_movements(db, user, subject_id, options),
        programmes=[
            ProgrammePart(p, programmes.effect(db, user, p.id))
            for p in programmes.all_of(db, subject.id)[:MAX_PROGRAMMES]
        ],
        photo_due=_photo_due(db, subject),
    )


def _photo_due(db: Session, subject: Any) -> PhotoDue | None:
    view = subject_view(db, subject)
    if view.next_photo_due is None or view.due_in_days is None:
        return None
    return PhotoDue(view.next_photo_due, view.due_in_days, view.photo_interval_days)


# The headline of each movement test, in the page's order (labels.js MOVEMENT_TESTS).
_MOVEMENT_HEADLINES = {"lunge": "lunge_shin_peak_deg", "squat": "squat_shin_peak_deg"}


def _movements(db: Session, user: User, subject_id: uuid.UUID, options: ReportOptions) -> list[MovementPart]:
    """Each test's part, from the movement trends and the latest movement (the page's API calls)."""
    parts = []
    for test, name in _MOVEMENT_HEADLINES.items():
        trends = movement_views.trends(db, user, subject_id, test, options.since, options.until)
        latest = movement_views.latest(db, user, subject_id, test, options.since, options.until)
        if trends.n == 0 or latest is None:
            continue
        m = trends.measures.get(name)
        series = MeasureSeries(
            name=name,
            # A value withheld as implausible was not scored: the report's line leaves it out.
            values=[None if w else v for v, w in zip(m.values, m.withheld, strict=True)]
            if m
            else [None] * trends.n,
            n=m.n if m else 0,
            fit_start=m.fit_start if m else None,
            fit_end=m.fit_end if m else None,
            change=m.change if m else None,
            noise=m.noise if m else None,
            noise_source="rules" if m and m.noise is not None else None,
            noise_visits=0,
            beyond_noise=m.beyond_noise if m else None,
            fit_start_at=m.fit_start_at.astimezone(UTC) if m and m.fit_start_at else None,
            fit_end_at=m.fit_end_at.astimezone(UTC) if m and m.fit_end_at else None,
            span_days=m.span_days if m else None,
            days=m.days if m else 0,
            latest=m.latest if m else None,
            latest_at=m.latest_at.astimezone(UTC) if m and m.latest_at else None,
        )
        reps = [
            MovementRep(
                index=int(r.get("index", i)),
                bottom_s=float(r.get("bottom_s") or 0.0),
                side=r.get("side"),
                measures=dict(r.get("measures") or {}),
                peak_s=None if r.get("peak_s") is None else float(r["peak_s"]),
            )
            for i, r in enumerate(latest.analysis.get("reps") or [])  # type: ignore[union-attr]
        ]
        parts.append(
            MovementPart(
                test=test,
                times=[t.astimezone(UTC) for t in trends.taken_at],
                series=series,
                n=trends.n,
                latest_taken_at=latest.taken_at.astimezone(UTC),
                latest_measures=dict(latest.measures),
                latest_reps=reps,
                latest_findings=[str(f) for f in latest.analysis.get("findings") or []],  # type: ignore[union-attr]
                latest_withheld=[str(n) for n in latest.analysis.get("withheld") or []],  # type: ignore[union-attr]
            )
        )
    return parts


def _trends(
    db: Session, user: User, cache: VersionedCache, subject_id: uuid.UUID, options: ReportOptions
) -> tuple[Mode, dict[str, Any]]:
    """The trends document the page reads (the same JSON, one point per visit), for the chosen mode or
    the page's default one."""

    def load(mode: Mode) -> dict[str, Any]:
        body = history.trends_json(
            db, user, cache, subject_id, mode, options.since, options.until, by="visit"
        )
        return json.loads(body)

    if options.mode is not None:
        return options.mode, load(options.mode)
    standing = load("standing")
    if standing["n"] == 0:
        lunge = load("lunge")
        if lunge["n"] > 0:
            return "lunge", lunge
    return "standing", standing


def _points(trends: dict[str, Any]) -> list[Point]:
    ids = trends.get("visit_ids") or trends["analysis_ids"]
    shots = trends.get("shots") or [1] * len(ids)
    return [
        Point(id=str(pid), taken_at=_time(t), n=int(n))
        for pid, t, n in zip(ids, trends["taken_at"], shots, strict=True)
    ]


# --- shaping ------------------------------------------------------------------------------------------


def _personal_visits(compared: dict[str, Any], trends: dict[str, Any]) -> int | None:
    counts = [
        int(m.get("noise_visits") or 0)
        for m in (*compared["measures"].values(), *trends["measures"].values())
        if m.get("noise_source") == "personal"
    ]
    return max(counts) if counts else None


def _time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _source(entry: dict[str, Any]) -> NoiseSource | None:
    if entry.get("noise") is None:
        return None
    return "personal" if entry.get("noise_source") == "personal" else "rules"


def _rows(comparison: dict[str, Any], *, single: bool) -> list[MeasureRow]:
    rows = []
    for name in TRACKED:
        d = comparison["measures"].get(name)
        if d is None:
            continue
        rows.append(
            MeasureRow(
                name=name,
                first=d["a"],
                latest=d["b"],
                # One visit is compared with itself: no change to speak of.
                change=None if single else d["difference"],
                noise=d["noise"],
                noise_source=_source(d),
                noise_visits=int(d.get("noise_visits") or 0),
                within_noise=None if single else d["within_noise"],
                areas=d.get("areas"),
                areas_only_first=list(d.get("areas_only_a") or []),
                areas_only_latest=list(d.get("areas_only_b") or []),
                first_as_scored=d.get("a_as_scored"),
                latest_as_scored=d.get("b_as_scored"),
            )
        )
    return rows


def _series(trends: dict[str, Any]) -> list[MeasureSeries]:
    out = []
    for name in TRACKED:
        m = trends["measures"].get(name)
        if m is None:
            continue
        out.append(
            MeasureSeries(
                name=name,
                values=m["values"],
                n=m["n"],
                fit_start=m["fit_start"],
                fit_end=m["fit_end"],
                change=m["change"],
                noise=m["noise"],
                noise_source=_source(m),
                noise_visits=int(m.get("noise_visits") or 0),
                beyond_noise=m["beyond_noise"],
                spread=m.get("spread"),
                fit_start_at=_time(m["fit_start_at"]) if m.get("fit_start_at") else None,
                fit_end_at=_time(m["fit_end_at"]) if m.get("fit_end_at") else None,
                span_days=m.get("span_days"),
                days=int(m.get("days") or 0),
                latest=m.get("latest"),
                latest_at=_time(m["latest_at"]) if m.get("latest_at") else None,
                areas=m.get("areas"),
                areas_missing=m.get("areas_missing"),
                rescored=sum(
                    1
                    for v, scored in zip(m["values"], m.get("values_as_scored") or [], strict=False)
                    if v is not None and scored is not None and v != scored
                ),
            )
        )
    # The overall score first, as on the page.
    out.sort(key=lambda s: s.name != OVERALL)
    return out


def _overlay(store: FileStore, digest: str | None) -> bytes | None:
    if not digest:
        return None
    return store.read(FileKind.OVERLAY, digest)
