"""Compare two analyses, trends over a subject's history, and export."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Query, Response

from posture.batching.rows import CSV_COLUMNS as ROW_COLUMNS
from posture.batching.rows import csv_cell, flatten_analysis
from posture.errors import WarningCode

from ... import repository, stats
from ...errors import ApiError, responses
from ...schemas import AnalysisRef, Comparison, MeasureDifference, MeasureTrend, SubjectExport, Trends
from ...uploads import as_utc
from ..deps import CurrentUser, DbSession, TrendsCache
from .common import SubjectId, analysis_or_404, stored_analysis, subject_or_404, subject_out

router = APIRouter(tags=["history"], responses=responses(401, 404, 422))

ModeQuery = Annotated[Literal["standing", "lunge"], Query(description="Which series (modes are not mixed).")]


@router.get("/compare")
def compare(
    a: Annotated[uuid.UUID, Query(description="Earlier analysis id.")],
    b: Annotated[uuid.UUID, Query(description="Later analysis id.")],
    user: CurrentUser,
    db: DbSession,
) -> Comparison:
    """Per-measure differences b − a, each flagged `within_noise` against the measure's minimal
    detectable change (rules.toml `[noise]`). Both analyses must belong to the same subject."""
    ra, rb = analysis_or_404(db, user, a), analysis_or_404(db, user, b)
    if ra.subject_id != rb.subject_id:
        raise ApiError(422, "different_subjects", "Both analyses must belong to the same subject.")
    noise = stats.noise_levels()
    va = stats.tracked_values(ra.result["measures"], ra.result["scores"])
    vb = stats.tracked_values(rb.result["measures"], rb.result["scores"])
    measures = {}
    for name in stats.TRACKED:
        diff, within = stats.difference(va[name], vb[name], noise.get(name))
        measures[name] = MeasureDifference(
            a=va[name], b=vb[name], difference=diff, noise=noise.get(name), within_noise=within
        )
    return Comparison(
        subject_id=ra.subject_id,
        a=AnalysisRef(id=ra.id, taken_at=ra.taken_at, mode=ra.mode),  # type: ignore[arg-type]
        b=AnalysisRef(id=rb.id, taken_at=rb.taken_at, mode=rb.mode),  # type: ignore[arg-type]
        days_between=round((rb.taken_at - ra.taken_at).total_seconds() / 86400.0, 3),
        measures=measures,
        warnings=_comparison_warnings(ra.result, rb.result),
    )


def _comparison_warnings(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    warnings = []
    if a.get("mode") != b.get("mode"):
        warnings.append(WarningCode.MODE_DIFFERS)
    va, vb = a.get("versions") or {}, b.get("versions") or {}
    if va.get("rules") != vb.get("rules"):
        warnings.append(WarningCode.RULES_VERSION_DIFFERS)
    if va.get("model_sha256") != vb.get("model_sha256"):
        warnings.append(WarningCode.MODEL_DIFFERS)
    return warnings


@router.get("/subjects/{subject_id}/trends", response_model=Trends)
def trends(
    subject_id: SubjectId,
    user: CurrentUser,
    db: DbSession,
    cache: TrendsCache,
    mode: ModeQuery = "standing",
    since: Annotated[datetime | None, Query(description="Only photos taken at or after this time.")] = None,
    until: Annotated[datetime | None, Query(description="Only photos taken at or before this time.")] = None,
) -> Response:
    """Per measure: the time series, a Theil–Sen slope per 30 days, the fitted change and the noise band."""
    subject = subject_or_404(db, user, subject_id)
    since, until = _utc_or_none(since), _utc_or_none(until)
    key = (subject_id, mode, since, until)
    cached = cache.get(key, subject.history_version)
    if cached is not None:
        return Response(cached, media_type="application/json")
    series = repository.series(db, subject_id, mode, since, until)
    table = stats.trend_table(series.taken_at, series.values)
    trends = Trends(
        subject_id=subject_id,
        mode=mode,
        n=len(series.ids),
        analysis_ids=series.ids,  # type: ignore[arg-type]
        taken_at=np.datetime_as_string(series.taken_at, unit="us", timezone="UTC").tolist(),
        measures={name: MeasureTrend(**entry) for name, entry in table.items()},  # type: ignore[arg-type]
    )
    # Serialised here in one pass: thousands of values would otherwise be validated and encoded twice.
    body = trends.model_dump_json().encode()
    cache.put(key, subject.history_version, body)
    return Response(body, media_type="application/json")


def _utc_or_none(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    utc = as_utc(value)
    if utc is None:
        raise ApiError(422, "invalid_request", "Invalid request: since/until must lie between 1900 and 2200.")
    return utc


# --- export ---------------------------------------------------------------------------------------

# The row layout of `posture batch` (docs/batch.md), so every CSV of analyses the project writes reads
# the same, preceded by the ids that link a row to the API. `sha256` (the original file's hash) stays
# empty: the service keeps only the metadata-free copy of a photo.
CSV_COLUMNS: tuple[str, ...] = ("id", "subject_id", *ROW_COLUMNS)


@router.get(
    "/subjects/{subject_id}/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per analysis."}},
)
def export_csv(subject_id: SubjectId, user: CurrentUser, db: DbSession) -> Response:
    """The history as CSV, one row per analysis in `taken_at` order, in the layout of `posture batch`:
    every measure is a column named as in the analysis object's `measures`."""
    subject = subject_or_404(db, user, subject_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in repository.all_analyses(db, subject.id):
        taken_at = stored_analysis(record).model_dump(mode="json", include={"taken_at"})["taken_at"]
        row = flatten_analysis(record.result, subject=subject.name, taken_at=taken_at)
        writer.writerow([csv_cell(v) for v in (str(record.id), str(record.subject_id), *row.values())])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="subject-{subject.id}.csv"'},
    )


@router.get("/subjects/{subject_id}/export.json")
def export_json(subject_id: SubjectId, user: CurrentUser, db: DbSession) -> SubjectExport:
    """The subject and every analysis object in full, in `taken_at` order."""
    subject = subject_or_404(db, user, subject_id)
    analyses = [stored_analysis(r) for r in repository.all_analyses(db, subject.id)]
    return SubjectExport(subject=subject_out(repository.summarize(db, subject)), analyses=analyses)
