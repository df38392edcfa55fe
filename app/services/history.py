"""A subject's history seen as change: compare two analyses, trends, and the exports.

The statistics are the library's (`posture.trends`); this module fetches what they need from storage
and shapes the API's answers, so the routes only parse the request and return.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime

import numpy as np
from sqlalchemy.orm import Session

from app.core.errors import ApiError
from app.schemas import AnalysisRef, Comparison, MeasureDifference, MeasureTrend, SubjectExport, Trends
from app.services.cache import VersionedCache
from app.services.records import analysis_or_404, stored_analysis, subject_or_404, subject_out
from app.storage import repository
from app.storage.models import Subject, User
from posture import trends as stats
from posture.result import Mode
from posture.rows import CSV_COLUMNS as ROW_COLUMNS
from posture.rows import csv_cell, flatten_analysis

# The row layout of `posture batch` (docs/batch.md), so every CSV of analyses the project writes reads
# the same, preceded by the ids that link a row to the API. `sha256` (the original file's hash) stays
# empty: the service keeps only the metadata-free copy of a photo.
CSV_COLUMNS: tuple[str, ...] = ("id", "subject_id", *ROW_COLUMNS)


def compare(db: Session, user: User, a: uuid.UUID, b: uuid.UUID) -> Comparison:
    """Per-measure differences b − a, each flagged against the measure's noise band."""
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
        warnings=stats.comparison_warnings(ra.result, rb.result),
    )


def trends_json(
    db: Session,
    user: User,
    cache: VersionedCache,
    subject_id: uuid.UUID,
    mode: Mode,
    since: datetime | None,
    until: datetime | None,
) -> bytes:
    """The trends document as JSON bytes, from the cache while the subject's history is unchanged."""
    subject = subject_or_404(db, user, subject_id)
    key = (subject_id, mode, since, until)
    cached = cache.get(key, subject.history_version)
    if cached is not None:
        return cached
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
    return body


def export_csv(db: Session, subject: Subject) -> str:
    """The history as CSV, one row per analysis in `taken_at` order, in the layout of `posture batch`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in repository.all_analyses(db, subject.id):
        taken_at = stored_analysis(record).model_dump(mode="json", include={"taken_at"})["taken_at"]
        row = flatten_analysis(record.result, subject=subject.name, taken_at=taken_at)
        writer.writerow([csv_cell(v) for v in (str(record.id), str(record.subject_id), *row.values())])
    return out.getvalue()


def export_json(db: Session, subject: Subject) -> SubjectExport:
    analyses = [stored_analysis(r) for r in repository.all_analyses(db, subject.id)]
    return SubjectExport(subject=subject_out(repository.summarize(db, subject)), analyses=analyses)
