"""A subject's history seen as change: compare two analyses or visits, trends, and the exports.

The statistics are the library's (`posture.trends`); this module fetches what they need from storage
and shapes the API's answers, so the routes only parse the request and return.

Noise bands: every difference is judged against the larger of the subject's personal band (from its
own multi-shot visits, for the medians actually compared) and the rules' floor, and says which one
applied (`noise_source`) and how many visits the personal band rests on (`noise_visits`).
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from sqlalchemy.orm import Session

from app.core.errors import ApiError
from app.schemas import AnalysisRef, Comparison, MeasureDifference, MeasureTrend, SubjectExport, Trends
from app.services import programmes, visits
from app.services.cache import VersionedCache
from app.services.movements import movement_out
from app.services.records import stored_analysis, subject_or_404, subject_out
from app.storage import movements as movement_storage
from app.storage import repository
from app.storage.models import Movement, Subject, User
from posture import trends as stats
from posture.errors import WarningCode
from posture.movement.result import MovementAnalysis
from posture.movement.rows import CLIP_CSV_COLUMNS, flatten_clip
from posture.result import Mode
from posture.rows import CSV_COLUMNS as ROW_COLUMNS
from posture.rows import csv_cell, flatten_analysis

TrendsBy = Literal["visit", "photo"]

# The row layout of `posture batch` (docs/batch.md), so every CSV of analyses the project writes reads
# the same, preceded by the ids that link a row to the API and its visit. `sha256` (the original
# file's hash) stays empty: the service keeps only the metadata-free copy of a photo.
CSV_COLUMNS: tuple[str, ...] = ("id", "subject_id", "visit_id", "visit", *ROW_COLUMNS)


def compare(db: Session, user: User, a: uuid.UUID, b: uuid.UUID) -> Comparison:
    """Per-measure differences b − a between two analyses or visits (a visit counts as the medians of
    its shots), each flagged against the noise band of those medians."""
    sa, sb = visits.sample(db, user, a), visits.sample(db, user, b)
    if sa.subject_id != sb.subject_id:
        raise ApiError(422, "different_subjects", "Both analyses must belong to the same subject.")
    personal = None
    if sa.mode == sb.mode:
        personal = visits.personal_noise(repository.series(db, sa.subject_id, sa.mode))
    floors = stats.noise_levels()
    min_visits = stats.visit_rules().personal_min_visits
    values_a, values_b, areas = sa.values, sb.values, None
    if sa.mode == sb.mode:
        values_a, values_b, areas = _like_for_like(sa.values, sb.values, sa.mode)
    measures = {}
    for k, name in enumerate(stats.TRACKED):
        va, vb = _value(values_a[k]), _value(values_b[k])
        na, nb = int(sa.counts[k]), int(sb.counts[k])
        band = stats.noise_band(name, personal, na, nb, floors, min_visits)
        diff, within = stats.difference(va, vb, band.noise)
        measures[name] = MeasureDifference(
            a=va,
            b=vb,
            difference=diff,
            noise=band.noise,
            noise_source=band.source,
            noise_visits=band.visits,
            n_a=na,
            n_b=nb,
            within_noise=within,
        )
    if areas is not None:
        measures[stats.OVERALL] = measures[stats.OVERALL].model_copy(
            update={
                **areas,
                "a_as_scored": _value(sa.values[stats.TRACKED.index(stats.OVERALL)]),
                "b_as_scored": _value(sb.values[stats.TRACKED.index(stats.OVERALL)]),
            }
        )
    days = (sb.taken_at - sa.taken_at).total_seconds() / 86400.0  # type: ignore[operator]
    return Comparison(
        subject_id=sa.subject_id,
        a=_ref(sa),
        b=_ref(sb),
        days_between=round(days, 3),
        measures=measures,
        warnings=_warnings(sa.mode, sb.mode, [*sa.methods, *sb.methods]),
    )


def _like_for_like(a: np.ndarray, b: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """A's and B's tracked values with their overall scores over the measures both scored, and in
    which areas they differ (`posture.trends.like_for_like_pair`)."""
    k = stats.TRACKED.index(stats.OVERALL)
    overall_a, overall_b, info = stats.like_for_like_pair(a, b, mode)
    a, b = a.copy(), b.copy()
    a[k], b[k] = overall_a, overall_b
    areas = {"areas": list(info.areas), "areas_only_a": list(info.only_a), "areas_only_b": list(info.only_b)}
    return a, b, areas


def _ref(sample: visits.Sample) -> AnalysisRef:
    return AnalysisRef(
        id=sample.id,
        kind=sample.kind,  # type: ignore[arg-type]
        taken_at=sample.taken_at,  # type: ignore[arg-type]
        mode=sample.mode,  # type: ignore[arg-type]
        n=len(sample.analysis_ids),
        analysis_ids=sample.analysis_ids,
        central_analysis_id=sample.central_analysis_id,
    )


def _value(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _warnings(mode_a: str, mode_b: str, methods: list[str]) -> list[WarningCode]:
    """What makes the compared results less comparable: another mode, rules version or model, and
    `mixed_versions` whenever the shots behind them span methods."""
    warnings = []
    if mode_a != mode_b:
        warnings.append(WarningCode.MODE_DIFFERS)
    if len({m.split("|", 1)[0] for m in methods}) > 1:
        warnings.append(WarningCode.RULES_VERSION_DIFFERS)
    if len({m.split("|", 1)[-1] for m in methods}) > 1:
        warnings.append(WarningCode.MODEL_DIFFERS)
    return warnings + stats.versions_warnings(methods)


def trends_json(
    db: Session,
    user: User,
    cache: VersionedCache,
    subject_id: uuid.UUID,
    mode: Mode,
    since: datetime | None,
    until: datetime | None,
    by: TrendsBy = "visit",
) -> bytes:
    """The trends document as JSON bytes, from the cache while the subject's history is unchanged."""
    subject = subject_or_404(db, user, subject_id)
    key = (subject_id, mode, since, until, by)
    cached = cache.get(key, subject.history_version)
    if cached is not None:
        return cached
    body = _trends_body(db, subject_id, mode, since, until, by)
    cache.put(key, subject.history_version, body)
    return body


def refresh_trends(db: Session, cache: VersionedCache, subject_id: uuid.UUID) -> None:
    """Compute the trends the page asks for next (each mode, per visit, the whole history) into the
    cache, right after a change to the subject's history, so that the first request after an upload
    or a deletion is served from the cache. The version is read first: an entry is never older than
    its label (app.services.cache)."""
    version = repository.history_version(db, subject_id)
    if version is None:
        return
    for mode in ("standing", "lunge"):
        key = (subject_id, mode, None, None, "visit")
        if cache.get(key, version) is None:
            cache.put(key, version, _trends_body(db, subject_id, mode, None, None, "visit"))  # type: ignore[arg-type]
    db.commit()  # end the read transaction


def _trends_body(
    db: Session,
    subject_id: uuid.UUID,
    mode: Mode,
    since: datetime | None,
    until: datetime | None,
    by: TrendsBy,
) -> bytes:
    # Written without validating thousands of values the service has just computed (model_construct):
    # the same JSON as `trends()` validated, in a fraction of the time (docs/benchmarks.md).
    parts = _trends_parts(db, subject_id, mode, since, until, by)
    measures = {name: MeasureTrend.model_construct(**entry) for name, entry in parts.pop("measures").items()}
    return Trends.model_construct(**parts, measures=measures).model_dump_json(warnings=False).encode()


def trends(
    db: Session,
    subject_id: uuid.UUID,
    mode: Mode,
    since: datetime | None = None,
    until: datetime | None = None,
    by: TrendsBy = "visit",
) -> Trends:
    """One point per visit (its medians, with each visit's spread) or per photo; a Theil–Sen line and
    the noise band per measure. The personal band comes from the whole history of the mode, whatever
    the window: it describes the person's retakes, not a period."""
    return Trends.model_validate(_trends_parts(db, subject_id, mode, since, until, by))


def _trends_parts(
    db: Session,
    subject_id: uuid.UUID,
    mode: Mode,
    since: datetime | None,
    until: datetime | None,
    by: TrendsBy,
) -> dict[str, Any]:
    """The trends document as plain data in its JSON form (ids and times as text)."""
    series = repository.series(db, subject_id, mode)
    groups, keys = visits.visit_groups(series)
    rules = stats.visit_rules()
    personal = stats.personal_noise(series.values, groups, len(keys), rules.personal_min_shots)
    window = np.ones(len(series.ids), dtype=bool)
    if since is not None:
        window &= series.taken_at >= _naive_utc(since)
    if until is not None:
        window &= series.taken_at <= _naive_utc(until)
    rows = np.flatnonzero(window)
    times, values = series.taken_at[rows], series.values[rows]
    floors = stats.noise_levels()
    extra: dict[str, object] = {}
    if by == "photo":
        points, spread = (times, values), None
        counts = np.isfinite(values).astype(np.int64)
    else:
        # Visits are numbered in order of their first shot, so the window's visits keep that order;
        # the first row of each in the window is its first shot there.
        found, first = np.unique(groups[rows], return_index=True)
        point_of = np.zeros(len(keys), dtype=np.int64)
        point_of[found] = np.arange(len(found))
        point = point_of[groups[rows]]
        summary = stats.summarize_groups(values, point, len(found))
        points, spread, counts = (times[first], summary.median), summary.spread, summary.count
        visit_ids = [None if keys[g].startswith("row:") else keys[g] for g in found]
        extra = {"visit_ids": repository.canonical_ids(visit_ids), "shots": np.bincount(point).tolist()}
    bands = {}
    for k, name in enumerate(stats.TRACKED):
        measured = counts[:, k][counts[:, k] > 0]
        # The band between two typical points: medians of the usual number of shots.
        n = max(1, int(np.median(measured))) if len(measured) else 1
        bands[name] = stats.noise_band(name, personal, n, n, floors, rules.personal_min_visits)
    # The overall score like for like: every plotted overall over the same areas.
    k_overall = stats.TRACKED.index(stats.OVERALL)
    matrix = points[1].copy()
    same = stats.like_for_like(matrix, mode)
    as_scored = matrix[:, k_overall].copy()
    matrix[:, k_overall] = same.values
    table = stats.trend_table(
        points[0], matrix, noise={name: b.noise for name, b in bands.items()}, spread=spread
    )
    iso = _iso_times(points[0])
    for name, entry in table.items():
        entry.update(noise_source=bands[name].source, noise_visits=bands[name].visits)
        entry.setdefault("spread", None)
        _times_of(entry, iso)
    if len(iso) and as_scored.size:
        table[stats.OVERALL].update(
            areas=list(same.areas),
            areas_missing=[
                list(m) if np.isfinite(v) else [] for m, v in zip(same.missing, as_scored, strict=True)
            ],
            values_as_scored=as_scored.tolist(),
        )
    everything = len(rows) == len(series.ids)
    return {
        "subject_id": str(subject_id),
        "mode": mode,
        "by": by,
        "n": len(points[0]),
        "n_analyses": len(rows),
        # One per point: per photo only (a visit's photos are in GET /visits/{id}).
        "analysis_ids": repository.canonical_ids([series.ids[i] for i in rows]) if by == "photo" else [],
        "visit_ids": None,
        "shots": None,
        "taken_at": _iso_times(points[0]),
        "measures": table,
        "warnings": stats.versions_warnings(
            series.methods if everything else [series.methods[i] for i in rows]
        ),
        **extra,
    }


def _times_of(entry: dict[str, Any], iso: list[str]) -> None:
    """The trend table's row indices (the fit's ends, the latest value) as the points' times."""
    for index, at in (
        ("fit_start_index", "fit_start_at"),
        ("fit_end_index", "fit_end_at"),
        ("latest_index", "latest_at"),
    ):
        row = entry.pop(index, None)
        entry[at] = iso[row] if row is not None else None


def _iso_times(times: np.ndarray) -> list[str]:
    """datetime64 UTC times as the API writes datetimes: `…T09:00:00Z`, with `.ffffff` only when there
    are microseconds."""
    if not len(times):
        return []
    whole = np.datetime_as_string(times, unit="s", timezone="UTC")
    exact = times.astype("int64") % 1_000_000 == 0
    if exact.all():
        return whole.tolist()
    return np.where(exact, whole, np.datetime_as_string(times, unit="us", timezone="UTC")).tolist()


def _naive_utc(value: datetime) -> np.datetime64:
    utc = value.astimezone(UTC) if value.tzinfo is not None else value
    return np.datetime64(utc.replace(tzinfo=None), "us")


def export_csv(db: Session, subject: Subject) -> str:
    """The history as CSV, one row per analysis in `taken_at` order, in the layout of `posture batch`
    after the ids and the visit."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in repository.all_analyses(db, subject.id):
        taken_at = stored_analysis(record).model_dump(mode="json", include={"taken_at"})["taken_at"]
        row = flatten_analysis(record.result, subject=subject.name, taken_at=taken_at)
        ids = (str(record.id), str(record.subject_id), str(record.visit_id or ""), record.visit_label or "")
        writer.writerow([csv_cell(v) for v in (*ids, *row.values())])
    return out.getvalue()


def export_json(db: Session, subject: Subject) -> SubjectExport:
    analyses = [stored_analysis(r) for r in repository.all_analyses(db, subject.id)]
    return SubjectExport(
        subject=subject_out(repository.summarize(db, subject)),
        analyses=analyses,
        visits=visits.all_visits(db, subject.id),
        movements=[movement_out(m) for m in _all_movements(db, subject.id)],
        programmes=programmes.all_of(db, subject.id),
    )


MOVEMENT_CSV_COLUMNS = ("id", "subject_id", "taken_at", *CLIP_CSV_COLUMNS)


def export_movements_csv(db: Session, subject: Subject) -> str:
    """The subject's movements as CSV, one row per movement in `taken_at` order: the ids and time, then
    the layout of `posture batch`'s `.clips.csv` (`posture.movement.rows`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MOVEMENT_CSV_COLUMNS)
    for movement in _all_movements(db, subject.id):
        analysis = MovementAnalysis.model_validate(movement.result or {})
        row = flatten_clip(analysis, sha256=movement.clip_sha256, subject=subject.name)
        row["source"] = movement.source
        taken_at = movement_out(movement).model_dump(mode="json", include={"taken_at"})["taken_at"]
        ids = (str(movement.id), str(movement.subject_id), taken_at)
        writer.writerow([csv_cell(v) for v in (*ids, *row.values())])
    return out.getvalue()


def _all_movements(db: Session, subject_id: uuid.UUID) -> list[Movement]:
    rows, _ = movement_storage.list_movements(db, subject_id, limit=1_000_000, offset=0)
    return list(rows)
