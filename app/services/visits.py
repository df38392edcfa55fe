"""Visits as the API shows them, and what they give the comparisons and trends.

A visit (the shots of one session, grouped by `app.storage.visits`) is shown by its medians, the
spread of its shots and the shot nearest the medians. Its shots also estimate the subject's own retake
noise: `personal_noise` pools the within-visit variation of the subject's multi-shot visits
(`posture.trends.personal_noise`). The functions here are what the routes and the PDF report call.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from app.core.errors import ApiError
from app.schemas import AnalysisUpdate, Page, StoredAnalysis, Visit, VisitShot
from app.services.records import analysis_or_404, stored_analysis
from app.services.uploads import as_utc
from app.storage import repository
from app.storage import visits as stored
from app.storage.models import User
from app.storage.models import Visit as VisitRow
from posture import trends as stats
from posture.measures.run import MEASURE_NAMES
from posture.rules import load_rules

_MEASURE_COLUMNS = [(name, stats.TRACKED.index(name)) for name in MEASURE_NAMES]


def check_label(value: str | None) -> str | None:
    """A client's visit label as stored (stripped), or None; 422 `invalid_visit_label` otherwise."""
    if value is None:
        return None
    try:
        return stats.visit_label(value)
    except ValueError as exc:
        raise ApiError(422, "invalid_visit_label", f"Invalid visit label: {exc}.") from None


def update_analysis(db: Session, user: User, analysis_id: uuid.UUID, body: AnalysisUpdate) -> StoredAnalysis:
    """`PATCH /analyses/{id}`: a new `taken_at` and/or visit label; the visits are regrouped."""
    record = analysis_or_404(db, user, analysis_id)
    changes: dict[str, object] = {}
    if "visit" in body.model_fields_set:
        changes["visit"] = check_label(body.visit)
    taken_at = None
    if "taken_at" in body.model_fields_set:
        taken_at = as_utc(body.taken_at) if body.taken_at is not None else None
        if taken_at is None:
            raise ApiError(
                422, "invalid_request", "Invalid request: taken_at must be a time between 1900 and 2200."
            )
    updated = repository.update_analysis(db, record, taken_at=taken_at, **changes)
    if updated is None:
        raise ApiError(404, "analysis_not_found", f"Analysis {analysis_id} was deleted meanwhile.")
    return stored_analysis(updated)


def visit_or_404(db: Session, user: User, visit_id: uuid.UUID) -> VisitRow:
    visit = stored.get_visit(db, user, visit_id)
    if visit is None:
        raise ApiError(404, "visit_not_found", f"No visit {visit_id}.")
    return visit


def get_visit(db: Session, user: User, visit_id: uuid.UUID) -> Visit:
    visit = visit_or_404(db, user, visit_id)
    return visits_out(db, [visit])[0]


def list_visits(
    db: Session, subject_id: uuid.UUID, limit: int, offset: int, mode: str | None = None
) -> Page[Visit]:
    """The subject's visits in order of their first shot, a page at a time (the subject is checked by
    the caller)."""
    rows, total = stored.visit_page(db, subject_id, limit, offset, mode)
    return Page[Visit](items=visits_out(db, rows), total=total, limit=limit, offset=offset)


def all_visits(db: Session, subject_id: uuid.UUID) -> list[Visit]:
    rows, _ = stored.visit_page(db, subject_id, limit=1_000_000_000, offset=0)
    return visits_out(db, rows)


def visits_out(db: Session, rows: Sequence[VisitRow]) -> list[Visit]:
    """The API form of `rows`: one query for all their shots, one vectorised summary."""
    if not rows:
        return []
    shots = stored.shots(db, [v.id for v in rows])
    position = {v.id: i for i, v in enumerate(rows)}
    groups = np.array([position[v] for v in shots.visit_ids], dtype=np.int64)
    summary = stats.summarize_groups(shots.values, groups, len(rows))
    floors = stats.noise_levels()
    order = np.argsort(groups, kind="stable")  # shots of each visit together, still in time order
    ends = np.cumsum(np.bincount(groups, minlength=len(rows)))
    # Rounded and listed in bulk: per-value Python calls are what a page of visits costs.
    columns = [k for _, k in _MEASURE_COLUMNS]
    medians, spreads = (_listed(matrix[:, columns]) for matrix in (summary.median, summary.spread))
    overall = _listed(shots.values[:, [stats.TRACKED.index(stats.OVERALL)]])
    out = []
    for i, visit in enumerate(rows):
        members = order[(ends[i - 1] if i else 0) : ends[i]]
        if not len(members):  # cannot happen while the grouping holds: no visit is ever left empty
            continue
        central = members[stats.central_shot(shots.values[members], summary.median[i], floors)]
        out.append(
            Visit(
                id=visit.id,
                subject_id=visit.subject_id,
                mode=visit.mode,  # type: ignore[arg-type]
                label=visit.label,
                taken_at=visit.taken_at,
                n=len(members),
                analysis_ids=[shots.ids[j] for j in members],
                shots=[
                    VisitShot(
                        id=shots.ids[j],
                        taken_at=shots.taken_at[j],
                        overall_score=overall[j][0],
                        overall_band=shots.bands[j],  # type: ignore[arg-type]
                        reanalysis_skipped=shots.reanalysis_skipped[j],
                    )
                    for j in members
                ],
                central_analysis_id=shots.ids[central],
                measures=dict(zip(MEASURE_NAMES, medians[i], strict=True)),
                spread=dict(zip(MEASURE_NAMES, spreads[i], strict=True)),
                scores=(scores := _median_scores([shots.scores[j] for j in members])),
                band=_band(scores.get("overall")),  # type: ignore[arg-type]
                warnings=stats.versions_warnings(shots.methods[j] for j in members),
            )
        )
    return out


def _listed(matrix: np.ndarray) -> list[list[float | None]]:
    """Rows of `matrix` as lists, rounded to 4 decimals, NaN as None."""
    return [[None if v != v else v for v in row] for row in np.round(matrix, 4).tolist()]


def _band(overall: float | None) -> str | None:
    """The band of an overall score, as `posture.scoring` bands a photo's."""
    if overall is None:
        return None
    cut = load_rules()["overall_band"]
    return "good" if overall >= cut["good_from"] else "mild" if overall >= cut["mild_from"] else "marked"


def _median_scores(scores: Sequence[dict[str, object]]) -> dict[str, float]:
    areas = {area for s in scores for area in s}
    out = {}
    for area in sorted(areas):
        values = [
            float(v) for s in scores if isinstance(v := s.get(area), int | float) and not isinstance(v, bool)
        ]
        if values:
            out[area] = statistics.median(values)
    return out


# --- a visit or an analysis as one side of a comparison ----------------------------------------------


@dataclass(frozen=True)
class Sample:
    """What a comparison compares: one shot, or the medians of a visit's shots."""

    kind: str
    id: uuid.UUID
    subject_id: uuid.UUID
    mode: str
    taken_at: object
    values: np.ndarray
    """Per tracked measure (`posture.trends.TRACKED`), NaN where missing."""
    counts: np.ndarray
    """Shots with a value, per tracked measure."""
    analysis_ids: list[uuid.UUID]
    central_analysis_id: uuid.UUID
    methods: list[str]


def sample(db: Session, user: User, sample_id: uuid.UUID) -> Sample:
    """The analysis or the visit of that id (404 when it is neither, or another account's)."""
    record = repository.get_analysis(db, user, sample_id)
    if record is not None:
        values = np.array([np.nan if v is None else v for v in _tracked(record.result).values()], dtype=float)
        return Sample(
            kind="analysis",
            id=record.id,
            subject_id=record.subject_id,
            mode=record.mode,
            taken_at=record.taken_at,
            values=values,
            counts=np.isfinite(values).astype(np.int64),
            analysis_ids=[record.id],
            central_analysis_id=record.id,
            methods=[stats.method_key(record.result.get("versions"))],
        )
    visit = stored.get_visit(db, user, sample_id)
    if visit is None:
        raise ApiError(404, "analysis_not_found", f"No analysis or visit {sample_id}.")
    shots = stored.shots(db, [visit.id])
    summary = stats.summarize_groups(shots.values, np.zeros(len(shots.ids), dtype=np.int64), 1)
    central = stats.central_shot(shots.values, summary.median[0], stats.noise_levels())
    return Sample(
        kind="visit",
        id=visit.id,
        subject_id=visit.subject_id,
        mode=visit.mode,
        taken_at=visit.taken_at,
        values=summary.median[0],
        counts=summary.count[0],
        analysis_ids=list(shots.ids),
        central_analysis_id=shots.ids[central],
        methods=list(shots.methods),
    )


def _tracked(result: dict[str, object]) -> dict[str, float | None]:
    return stats.tracked_values(result.get("measures") or {}, result.get("scores") or {})  # type: ignore[arg-type]


# --- the personal noise band ----------------------------------------------------------------------


def visit_groups(series: repository.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's visit as an index into the returned visit ids, numbered in order of first appearance:
    rows are in time order, so visits come out in the order of their first shot. (A row without a
    visit, which the grouping never leaves, counts as a visit of its own.)"""
    index: dict[str, int] = {}
    groups = [
        index.setdefault(v if v is not None else f"row:{i}", len(index))
        for i, v in zip(series.ids, series.visit_ids, strict=True)
    ]
    return np.array(groups, dtype=np.int64), list(index)


def personal_noise(series: repository.Series) -> stats.PersonalNoise:
    """The subject's retake noise from the multi-shot visits of `series` (one subject and mode)."""
    groups, keys = visit_groups(series)
    return stats.personal_noise(series.values, groups, len(keys), stats.visit_rules().personal_min_shots)
