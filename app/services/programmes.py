"""The programme log as the API shows it, and the question it exists for: did the measures up the chain
change since the programme began?

Before/after (`effect`): for each measure of `rules.toml [[programme.measures]]` (ankle first, then
knee, pelvis, lumbar, overall), the visits before the start day against the visits since (up to the end
day, when there is one). A standing photo visit counts by the median of its shots; a movement clip is a
visit of its own. Each side is summarised by the median of its visits, and the difference is judged
against the band between two single visits (the personal band where the subject has one, else the
rules'): a median over several visits is steadier than one visit, so the band errs wide. A side with
fewer than `[programme] min_visits` visits on separate days is not compared at all, and says so.

Days are UTC days, as photos' `taken_at` are UTC: a programme starting "2026-03-02" begins at 00:00 UTC.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from app.core.errors import ApiError
from app.schemas import (
    EffectSide,
    ExerciseIn,
    ExerciseOut,
    ExerciseUpdate,
    MeasureEffect,
    ProgrammeCreate,
    ProgrammeEffect,
    ProgrammeOut,
    ProgrammeUpdate,
)
from app.services import visits
from app.services.records import subject_or_404
from app.storage import movements as movement_storage
from app.storage import programmes as stored
from app.storage import repository
from app.storage.models import Programme, ProgrammeExercise, User
from posture import trends as stats
from posture.rules import load_rules


def today() -> date:
    return datetime.now(UTC).date()


# --- the log ------------------------------------------------------------------------------------------


def programme_or_404(db: Session, user: User, programme_id: uuid.UUID) -> Programme:
    programme = stored.get_programme(db, user, programme_id)
    if programme is None:
        raise ApiError(404, "programme_not_found", f"No programme {programme_id}.")
    return programme


def exercise_or_404(db: Session, programme: Programme, exercise_id: uuid.UUID) -> ProgrammeExercise:
    exercise = stored.get_exercise(db, programme, exercise_id)
    if exercise is None:
        raise ApiError(404, "exercise_not_found", f"No exercise {exercise_id} in programme {programme.id}.")
    return exercise


def programme_out(programme: Programme, on: date | None = None) -> ProgrammeOut:
    on = on or today()
    status = (
        "planned"
        if on < programme.start_date
        else "ended"
        if programme.end_date is not None and on > programme.end_date
        else "active"
    )
    days = {t.done_on for e in programme.exercises for t in e.ticks}
    return ProgrammeOut(
        id=programme.id,
        subject_id=programme.subject_id,
        name=programme.name,
        start_date=programme.start_date,
        end_date=programme.end_date,
        notes=programme.notes,
        created_at=programme.created_at,
        updated_at=programme.updated_at,
        status=status,  # type: ignore[arg-type]
        workout_days=len(days),
        exercises=[
            ExerciseOut(id=e.id, name=e.name, dose=e.dose, ticks=[t.done_on for t in e.ticks])
            for e in programme.exercises
        ],
    )


def create(db: Session, user: User, subject_id: uuid.UUID, body: ProgrammeCreate) -> ProgrammeOut:
    subject_or_404(db, user, subject_id)
    programme = stored.create_programme(
        db,
        subject_id,
        name=body.name,
        start_date=body.start_date,
        end_date=body.end_date,
        notes=body.notes,
        exercises=[(e.name, e.dose) for e in body.exercises],
    )
    if programme is None:
        raise ApiError(404, "subject_not_found", f"Subject {subject_id} was deleted meanwhile.")
    return read(db, user, programme.id)


def read(db: Session, user: User, programme_id: uuid.UUID) -> ProgrammeOut:
    db.expire_all()  # exercises and ticks as committed, not as this session last saw them
    return programme_out(programme_or_404(db, user, programme_id))


def list_for(db: Session, user: User, subject_id: uuid.UUID) -> list[ProgrammeOut]:
    subject_or_404(db, user, subject_id)
    return all_of(db, subject_id)


def all_of(db: Session, subject_id: uuid.UUID) -> list[ProgrammeOut]:
    """The subject's programmes, latest start first (the subject is checked by the caller)."""
    on = today()
    return [programme_out(p, on) for p in stored.list_programmes(db, subject_id)]


def update(db: Session, user: User, programme_id: uuid.UUID, body: ProgrammeUpdate) -> ProgrammeOut:
    programme = programme_or_404(db, user, programme_id)
    changes = body.model_dump(exclude_unset=True)
    start = changes.get("start_date", programme.start_date)
    end = changes.get("end_date", programme.end_date)
    if end is not None and end < start:
        raise ApiError(
            422, "invalid_programme_dates", f"The end date {end} is before the start date {start}."
        )
    stored.update_programme(db, programme, changes)
    return read(db, user, programme_id)


def delete(db: Session, user: User, programme_id: uuid.UUID) -> None:
    stored.delete_programme(db, programme_or_404(db, user, programme_id))


def add_exercise(db: Session, user: User, programme_id: uuid.UUID, body: ExerciseIn) -> ProgrammeOut:
    programme = programme_or_404(db, user, programme_id)
    if len(programme.exercises) >= 50:
        raise ApiError(422, "too_many_exercises", "A programme holds at most 50 exercises.")
    stored.add_exercise(db, programme, body.name, body.dose)
    return read(db, user, programme_id)


def update_exercise(
    db: Session, user: User, programme_id: uuid.UUID, exercise_id: uuid.UUID, body: ExerciseUpdate
) -> ProgrammeOut:
    programme = programme_or_404(db, user, programme_id)
    stored.update_exercise(
        db, exercise_or_404(db, programme, exercise_id), body.model_dump(exclude_unset=True)
    )
    return read(db, user, programme_id)


def delete_exercise(db: Session, user: User, programme_id: uuid.UUID, exercise_id: uuid.UUID) -> ProgrammeOut:
    programme = programme_or_404(db, user, programme_id)
    stored.delete_exercise(db, exercise_or_404(db, programme, exercise_id))
    return read(db, user, programme_id)


def tick(
    db: Session, user: User, programme_id: uuid.UUID, exercise_id: uuid.UUID, day: date, done: bool
) -> ProgrammeOut:
    """Mark an exercise done (or not) on a day. A tick is refused on a day after today (UTC, with a day's
    grace for time zones ahead of UTC): a log records what was done."""
    programme = programme_or_404(db, user, programme_id)
    exercise = exercise_or_404(db, programme, exercise_id)
    if done and day > today() + timedelta(days=1):
        raise ApiError(422, "tick_in_future", f"{day} is in the future: tick a workout once it is done.")
    if done and not date(1900, 1, 1) <= day <= date(2200, 12, 31):
        raise ApiError(422, "invalid_request", "Invalid request: the day must lie between 1900 and 2200.")
    stored.set_tick(db, exercise.id, day, done)
    return read(db, user, programme_id)


# --- before and after ------------------------------------------------------------------------------


def slope_per_30d(times: np.ndarray, values: np.ndarray) -> float | None:
    """The trend of one side's visits (datetime64 times, values with NaN for missing), per 30 days, by
    the library's trend fit (`posture.trends.fit_trend`: a day's retakes pooled, the line held in the
    data); None below values on two separate days."""
    days = (times - times.min()) / np.timedelta64(1, "D") if len(times) else np.zeros(0)
    fit = stats.fit_trend(np.asarray(days, dtype=float), values)
    return round(fit.slope_per_30d, 3) if fit is not None else None


def _day_start(day: date) -> np.datetime64:
    return np.datetime64(datetime(day.year, day.month, day.day), "us")


def _side(times: np.ndarray, values: np.ndarray) -> EffectSide:
    present = np.isfinite(values)
    t, v = times[present], values[present]
    days = len(np.unique(t.astype("datetime64[D]")))
    return EffectSide(
        visits=len(v),
        days=days,
        median=round(float(np.median(v)), 2) if len(v) else None,
        slope_per_30d=slope_per_30d(t, v),
        first=_aware(t[0]) if len(t) else None,
        last=_aware(t[-1]) if len(t) else None,
    )


def _aware(value: np.datetime64) -> datetime:
    return value.astype("datetime64[us]").item().replace(tzinfo=UTC)


def _unit(measure: str) -> str:
    return "°" if measure.endswith("_deg") else " %" if measure.endswith("_pct") else " points"


def _signed(value: float, unit: str) -> str:
    return f"{value:+.1f}".replace("-", "−") + unit


def compare_sides(
    times: np.ndarray,
    values: np.ndarray,
    start: np.datetime64,
    end: np.datetime64 | None,
    noise: float | None,
    min_visits: int,
) -> tuple[EffectSide, EffectSide, float | None, bool, bool | None]:
    """One measure's visits (datetime64 times in order, values with NaN for missing) split at `start`
    (before: earlier; since: from `start` up to `end`, exclusive): (before, since, since − before of the
    medians, enough, beyond the noise). `enough`: each side has `min_visits` visits on as many separate
    days; only then is the difference judged (`beyond` None otherwise, and without a band)."""
    before_mask = times < start
    since_mask = times >= start
    if end is not None:
        since_mask &= times < end
    before = _side(times[before_mask], values[before_mask])
    since = _side(times[since_mask], values[since_mask])
    enough = all(s.visits >= min_visits and s.days >= min_visits for s in (before, since))
    difference = None
    if before.median is not None and since.median is not None:
        difference = round(since.median - before.median, 2)
    beyond = None
    if enough and difference is not None and noise is not None:
        beyond = abs(difference) >= noise
    return before, since, difference, enough, beyond


class _Visits:
    """One source's visits in time order: times (datetime64[us] UTC) and a value matrix per measure."""

    def __init__(self, times: np.ndarray, columns: dict[str, np.ndarray], methods: Sequence[str]) -> None:
        self.times, self.columns, self.methods = times, columns, list(methods)


def _standing_visits(
    db: Session, subject_id: uuid.UUID
) -> tuple[_Visits, stats.PersonalNoise, dict[str, int]]:
    series = repository.series(db, subject_id, "standing")
    groups, keys = visits.visit_groups(series)
    summary = stats.summarize_groups(series.values, groups, len(keys))
    _, first = np.unique(groups, return_index=True)
    personal = visits.personal_noise(series)
    shots = {}
    for k, name in enumerate(stats.TRACKED):
        measured = summary.count[:, k][summary.count[:, k] > 0]
        shots[name] = max(1, int(np.median(measured))) if len(measured) else 1
    columns = {name: summary.median[:, k] for k, name in enumerate(stats.TRACKED)}
    return _Visits(series.taken_at[first], columns, series.methods), personal, shots


def _movement_visits(db: Session, subject_id: uuid.UUID, test: str, names: Sequence[str]) -> _Visits:
    points = movement_storage.movement_series(db, subject_id, test)
    times = np.array(
        [p.taken_at.astimezone(UTC).replace(tzinfo=None) for p in points], dtype="datetime64[us]"
    )
    # A value withheld as implausible was not scored: it counts neither for a median nor for a trend.
    columns = {
        name: np.array(
            [None if name in p.withheld else stats.finite_or_none(p.measures.get(name)) for p in points],
            dtype=float,
        )
        for name in names
    }
    return _Visits(times, columns, [p.method for p in points])


def effect(db: Session, user: User, programme_id: uuid.UUID) -> ProgrammeEffect:
    """`GET /programmes/{id}/effect`: the before/after table up the chain (module doc)."""
    programme = programme_or_404(db, user, programme_id)
    rules = load_rules()
    text: dict[str, Any] = rules["programme"]
    min_visits = int(text["min_visits"])
    start = _day_start(programme.start_date)
    end = _day_start(programme.end_date + timedelta(days=1)) if programme.end_date is not None else None
    rows = text["measures"]
    standing, personal, shots = _standing_visits(db, programme.subject_id)
    sources: dict[str, _Visits] = {"standing": standing}
    for test in ("lunge", "squat"):
        names = [r["measure"] for r in rows if r["source"] == test]
        sources[test] = _movement_visits(db, programme.subject_id, test, names)
    db.rollback()  # end the read transaction
    floors = stats.noise_levels()
    movement_noise = {k: float(v) for k, v in rules["movement"]["noise"].items()}
    personal_min = stats.visit_rules().personal_min_visits
    out: list[MeasureEffect] = []
    used_sources: set[str] = set()
    for row in rows:
        name, source = row["measure"], row["source"]
        data = sources[source]
        if source == "standing":
            band = stats.noise_band(name, personal, shots[name], shots[name], floors, personal_min)
            noise, noise_source, noise_visits = band.noise, band.source, band.visits
        else:
            noise, noise_source, noise_visits = movement_noise.get(name), "rules", 0
        before, since, difference, enough, beyond = compare_sides(
            data.times, data.columns[name], start, end, noise, min_visits
        )
        if before.visits or since.visits:
            used_sources.add(source)
        out.append(
            MeasureEffect(
                measure=name,
                label=row["label"],
                area=row["area"],
                source=source,
                unit=_unit(name).strip(),
                before=before,
                since=since,
                difference=difference,
                noise=noise,
                noise_source=noise_source,  # type: ignore[arg-type]
                noise_visits=noise_visits,
                enough=enough,
                beyond_noise=beyond,
                statement=_statement(
                    text,
                    row["label"],
                    _unit(name),
                    before,
                    since,
                    difference,
                    noise,
                    noise_source,
                    enough,
                    beyond,
                    min_visits,
                ),
            )
        )
    compared = [m for m in out if m.beyond_noise is not None]
    summary = (
        text["summary_some"].format(
            beyond=sum(bool(m.beyond_noise) for m in compared), compared=len(compared)
        )
        if compared
        else text["summary_none"]
    )
    return ProgrammeEffect(
        programme_id=programme.id,
        subject_id=programme.subject_id,
        start_date=programme.start_date,
        end_date=programme.end_date,
        min_visits=min_visits,
        measures=out,
        summary=summary,
        disclaimer=text["disclaimer"],
        # Over the whole history of each source the table draws on (`mixed_versions`, as trends say it).
        warnings=[
            str(w) for w in stats.versions_warnings(m for s in used_sources for m in sources[s].methods)
        ],
    )


def _statement(
    text: dict[str, Any],
    label: str,
    unit: str,
    before: EffectSide,
    since: EffectSide,
    difference: float | None,
    noise: float | None,
    noise_source: str,
    enough: bool,
    beyond: bool | None,
    min_visits: int,
) -> str:
    if not enough or difference is None:
        return text["too_few"].format(
            label=label,
            before=before.visits,
            since=since.visits,
            before_days=before.days,
            since_days=since.days,
            min=min_visits,
        )
    diff = _signed(difference, unit)
    if noise is None or beyond is None:
        return text["no_noise"].format(label=label, diff=diff)
    fields = {
        "label": label,
        "diff": diff,
        "noise": f"±{noise:.1f}{unit}",
        "noise_source": text[f"noise_{noise_source}"],
    }
    if beyond:
        verb = text["rose"] if difference > 0 else text["fell"]
        return text["beyond"].format(verb=verb, **{**fields, "diff": f"{abs(difference):.1f}{unit}"})
    return text["within"].format(**fields)
