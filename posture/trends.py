"""Change over time: compare two analyses and fit trends, against the noise levels of the rules file
(`[noise]`). Pure functions over analysis documents (`Analysis.to_dict()`) and numpy arrays.

`noise` is the minimal detectable change (MDC95) of a measure: a difference smaller than it is not
distinguishable from re-photographing the same posture.

A trend (`fit_trend`, `trend_table`) is a per-day pooled Theil–Sen line (docs/accuracy.md, "Trends"):
1. points less than `POOL_DAYS` (one day) after the first point of their group are pooled into that
   group, at the group's first time, with the median of their values: groups are at least a day apart,
   so a retake two hours later cannot turn a small difference into a slope of "difference / 0.08 day";
2. the slope is Theil–Sen over the groups (the median of pairwise slopes: one odd day cannot swing
   it), the intercept the median residual;
3. the fitted line runs from the first to the last group with a value, and its ends are held inside the
   range of the pooled values (a robust line can otherwise overshoot its data a little).
Invariants (tests/test_trend_properties.py): the ends, and so the change, lie within the range of the
points; `slope_per_30d` is the change per 30 days between the ends; a trend needs values on two
groups, i.e. on two separate days.

Visits (several shots of one session, `[visits]` in the rules) are summarised by their median, and a
subject's own multi-shot visits give a personal noise band: the pooled within-visit standard deviation,
turned into the MDC of a difference of two medians (docs/accuracy.md, "A personal noise band").
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .errors import WarningCode
from .measures.run import MEASURE_NAMES
from .rules import load_rules

OVERALL = "overall_score"  # `scores["overall"]`, tracked beside the measures (its noise is in the rules)
TRACKED: tuple[str, ...] = (*MEASURE_NAMES, OVERALL)
DAYS_PER_PERIOD = 30.0
# Beyond this many pairs the slope is the median of a fixed pseudo-random sample of pairs: exact
# up to 141 photos (a few years of weekly photos), within a small fraction of the noise above, and
# fast for thousands.
MAX_PAIRS = 10_000


def noise_levels() -> dict[str, float]:
    return {k: float(v) for k, v in load_rules()["noise"].items()}


def tracked_values(measures: Mapping[str, object], scores: Mapping[str, object]) -> dict[str, float | None]:
    """The measures plus `overall_score`, as floats or None."""
    values = {name: finite_or_none(measures.get(name)) for name in MEASURE_NAMES}
    values[OVERALL] = finite_or_none(scores.get("overall"))
    return values


def finite_or_none(value: object) -> float | None:
    """A finite number as a float, else None (a missing, boolean, NaN or infinite value)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if np.isfinite(value) else None


def difference(a: float | None, b: float | None, noise: float | None) -> tuple[float | None, bool | None]:
    """(b − a, whether |b − a| is below the noise); None where a value or the noise is missing."""
    if a is None or b is None:
        return None, None
    diff = round(b - a, 2)
    return diff, (abs(diff) < noise if noise is not None else None)


POOL_DAYS = 1.0
"""Points closer together than this (in days, after the first point of their group) are one point of a
trend: the product's unit of change is the day, and retakes within it are noise, not change."""


def day_groups(days: np.ndarray, separation_days: float = POOL_DAYS) -> np.ndarray:
    """For times in days, sorted ascending: each point's group index (0, 1, …). A group starts at a
    point and takes every later point less than `separation_days` after that first point; the next
    point starts the next group. Group starts are therefore at least `separation_days` apart, and a
    schedule's grouping does not depend on the time zone (no calendar days)."""
    n = len(days)
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    # A point a day or more after the previous one surely starts a group (its group's start is no later
    # than that previous point). Between such points lie runs of close points: a run shorter than a day
    # is one group; only a longer run (a chain of points each within a day of the next) is walked.
    starts = np.r_[True, np.diff(days) >= separation_days]
    if not starts.all():
        first = np.flatnonzero(starts)
        last = np.r_[first[1:] - 1, n - 1]
        times = days.tolist()  # Python floats: bisect on them is far quicker than numpy's per call
        for a, b in zip(first.tolist(), last.tolist(), strict=True):
            if times[b] - times[a] < separation_days:
                continue
            i = a
            while i <= b:  # one step per group
                starts[i] = True
                start = times[i]
                j = bisect.bisect_left(times, start + separation_days, i + 1, b + 1)
                # The rule is `t − start ≥ separation` as written, whatever rounding `start + separation` had.
                while j > i + 1 and times[j - 1] - start >= separation_days:
                    j -= 1
                while j <= b and times[j] - start < separation_days:
                    j += 1
                i = j
    marks = starts.astype(np.int64)
    marks[0] = 0
    return np.cumsum(marks)


def pool_days(
    days: np.ndarray, values: np.ndarray, separation_days: float = POOL_DAYS
) -> tuple[np.ndarray, np.ndarray]:
    """Points pooled by `day_groups`: (each group's first time, n_groups; the median of each column's
    values in the group, n_groups × m, NaN where the group has none). `days` sorted ascending."""
    groups = day_groups(days, separation_days)
    n_groups = int(groups[-1]) + 1 if len(groups) else 0
    first = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]]) if len(groups) else groups
    return days[first], summarize_groups(values, groups, n_groups).median


def _group_medians(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """The median of each group of finite `values` (`groups`: 0..n_groups−1, each non-empty), by one
    sort: within each group the middle one, or the mean of the middle two."""
    ordered = values[np.lexsort((values, groups))]
    counts = np.bincount(groups, minlength=n_groups)
    first = np.cumsum(counts) - counts
    return (ordered[first + (counts - 1) // 2] + ordered[first + counts // 2]) / 2


@dataclass(frozen=True)
class TrendFit:
    """A per-day pooled Theil–Sen line over one measure (`fit_trend`)."""

    slope_per_30d: float
    """(end − start) / (end_day − start_day) × 30: the change per 30 days along the line."""
    start: float
    """The line at `start_day`, the first pooled day with a value."""
    end: float
    """The line at `end_day`, the last pooled day with a value."""
    start_day: float
    end_day: float
    """Times of the ends, in the units of the `days` given (the first time of their day's group)."""
    change: float
    """end − start: never larger than the range of the values (max − min)."""
    n_days: int
    """Pooled days with a value (at least 2)."""
    clamped: bool
    """Whether an end was held inside the range of the pooled values."""


def fit_trend(days: np.ndarray, values: np.ndarray, separation_days: float = POOL_DAYS) -> TrendFit | None:
    """The trend of one measure: `values` (NaN = missing) at `days` (times in days, any order, any
    origin), pooled per day (`pool_days`), Theil–Sen over the pooled days, the line's ends held in the
    pooled values' range. None when fewer than two separate days have a value."""
    days = np.asarray(days, dtype=float)
    values = np.asarray(values, dtype=float)
    order = np.argsort(days, kind="stable")
    days, values = days[order], values[order]
    keep = np.isfinite(values) & np.isfinite(days)
    days, values = days[keep], values[keep]
    groups = day_groups(days, separation_days)
    n_groups = int(groups[-1]) + 1 if len(groups) else 0
    if n_groups < 2:
        return None
    first = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    return _fit_pooled(days[first], _group_medians(values, groups, n_groups))


def _fit_pooled(x: np.ndarray, v: np.ndarray) -> TrendFit | None:
    """Theil–Sen over pooled days `x` (ascending, at least a day apart) and their values `v` (NaN =
    missing), with the ends held in the values' range."""
    present = np.isfinite(v)
    x, v = x[present], v[present]
    if len(x) < 2:
        return None
    slope = float(theil_sen(x, v[:, None])[0])
    intercept = float(np.median(v - slope * x))
    lo, hi = float(v.min()), float(v.max())
    raw_start, raw_end = intercept + slope * x[0], intercept + slope * x[-1]
    start, end = min(max(raw_start, lo), hi), min(max(raw_end, lo), hi)
    span = float(x[-1] - x[0])
    return TrendFit(
        slope_per_30d=float((end - start) / span * DAYS_PER_PERIOD),
        start=float(start),
        end=float(end),
        start_day=float(x[0]),
        end_day=float(x[-1]),
        change=float(end - start),
        n_days=len(x),
        clamped=bool(start != raw_start or end != raw_end),
    )


def theil_sen(days: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Median pairwise slope per day for each column of `values` (n × m, NaN = missing); NaN where a
    column has fewer than two values at distinct times. `days` must be sorted ascending."""
    n = len(days)
    if n < 2:
        return np.full(values.shape[1], np.nan)
    if n * (n - 1) // 2 <= MAX_PAIRS:
        i, j = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(0)
        i, j = rng.integers(0, n, MAX_PAIRS), rng.integers(0, n, MAX_PAIRS)
        i, j = np.minimum(i, j), np.maximum(i, j)
    dt = days[j] - days[i]
    keep = dt > 0
    i, j, dt = i[keep], j[keep], dt[keep]
    if len(dt) == 0:
        return np.full(values.shape[1], np.nan)
    slopes = (values[j] - values[i]) / dt[:, None]
    finite = np.isfinite(slopes)
    out = np.full(values.shape[1], np.nan)
    # One median over the complete columns; column by column only where values are missing
    # (both much faster than np.nanmedian on the whole matrix).
    complete = finite.all(axis=0)
    if complete.any():
        out[complete] = np.median(slopes[:, complete], axis=0)
    for k in np.flatnonzero(~complete & finite.any(axis=0)):
        out[k] = np.median(slopes[finite[:, k], k])
    return out


def trend_table(
    taken_at: np.ndarray,
    matrix: np.ndarray,
    *,
    noise: Mapping[str, float | None] | None = None,
    spread: np.ndarray | None = None,
    names: Sequence[str] = TRACKED,
) -> dict[str, dict[str, object]]:
    """Per measure (`names`, the columns of `matrix`, NaN = missing; rows in time order, `taken_at` as
    datetime64): values, n, the per-day pooled Theil–Sen line (`fit_trend`: slope per 30 days, the
    ends and their rows, the change, the pooled days), noise, and the latest value with its row.
    `noise` replaces the rules' levels (a personal band, or a movement test's levels); `spread` (same
    shape as `matrix`) adds each point's spread."""
    if noise is None:
        noise = noise_levels()
    days = (taken_at - taken_at[0]) / np.timedelta64(1, "D") if len(taken_at) else np.zeros(0)
    out: dict[str, dict[str, object]] = {}
    for k, name in enumerate(names):
        column = matrix[:, k]
        present = np.flatnonzero(np.isfinite(column))
        band = noise.get(name)
        entry: dict[str, object] = {
            "values": column.tolist(),  # NaN where missing: written as null in JSON
            "n": len(present),
            "days": 0,
            "noise": band,
            "slope_per_30d": None,
            "fit_start": None,
            "fit_end": None,
            "fit_start_index": None,
            "fit_end_index": None,
            "span_days": None,
            "change": None,
            "beyond_noise": None,
            "latest": float(column[present[-1]]) if len(present) else None,
            "latest_index": int(present[-1]) if len(present) else None,
        }
        if spread is not None:
            entry["spread"] = spread[:, k].tolist()
        # Pooled over the measure's own values: the days are the days it was measured on.
        groups = day_groups(days[present])
        starts = present[np.r_[True, groups[1:] != groups[:-1]]] if len(present) else present
        entry["days"] = len(starts)
        fit = None
        if len(starts) >= 2:
            if len(starts) == len(present):  # no two values within a day: nothing to pool
                pooled = column[present]
            else:
                pooled = _group_medians(column[present], groups, len(starts))
            fit = _fit_pooled(days[starts], pooled)
        if fit is not None:
            # The ends sit at the first row of their day's group.
            first_row, last_row = int(starts[0]), int(starts[-1])
            # Rounded as written, and the slope from the written change: the three agree.
            change = round(round(fit.end, 2) - round(fit.start, 2), 2)
            span = fit.end_day - fit.start_day
            entry.update(
                slope_per_30d=round(change / span * DAYS_PER_PERIOD, 3),
                fit_start=round(fit.start, 2),
                fit_end=round(fit.end, 2),
                fit_start_index=first_row,
                fit_end_index=last_row,
                span_days=round(span, 4),
                change=change,
                beyond_noise=bool(abs(change) >= band) if band is not None else None,
            )
        out[name] = entry
    return out


# --- like-for-like overall scores -------------------------------------------------------------------
#
# The overall score is the weighted mean of the areas a photo could score, each area its worst measure
# (posture.scoring): a photo whose pelvis was not scored has an overall over three areas, not four, and
# comparing it with a four-area score compares different things. So overall scores are compared only
# over what both sides scored, measure by measure: where that differs, each side is re-scored from its
# measures over the shared ones by the current rules (the stored overall is kept where nothing differs).


def score_areas(mode: str) -> dict[str, tuple[str, ...]]:
    """The areas `mode` scores and the measures of each (rules.toml `[scores.<mode>]`)."""
    table = load_rules()["scores"].get(mode) or {}
    return {area: tuple(measures) for area, measures in table.items()}


def scored_measures(mode: str) -> tuple[str, ...]:
    """Every measure that enters `mode`'s overall score, area by area."""
    return tuple(name for measures in score_areas(mode).values() for name in measures)


def scored_mask(values: np.ndarray, mode: str, names: Sequence[str] = TRACKED) -> np.ndarray:
    """n × `scored_measures(mode)`: whether each row (`values`, columns `names`, NaN = missing) has
    that measure."""
    wanted = scored_measures(mode)
    out = np.zeros((values.shape[0], len(wanted)), dtype=bool)
    for j, name in enumerate(wanted):
        if name in names:
            out[:, j] = np.isfinite(values[:, list(names).index(name)])
    return out


def areas_of(mask: np.ndarray, mode: str) -> tuple[str, ...]:
    """The areas with at least one measure marked in `mask` (`scored_measures` order)."""
    marked = {name for name, m in zip(scored_measures(mode), mask, strict=True) if m}
    return tuple(area for area, measures in score_areas(mode).items() if marked & set(measures))


def overall_over(
    values: np.ndarray, mode: str, mask: np.ndarray, names: Sequence[str] = TRACKED
) -> np.ndarray:
    """Each row's overall score over only the measures marked in `mask` (`scored_measures` order), by
    the current rules exactly as `posture.scoring.score_all` scores (an area: its worst measure's score;
    the overall: the weighted mean of the areas, rounded); NaN where a row lacks one of those measures
    or none is marked."""
    rules = load_rules()
    table = rules["scores"].get(mode) or {}
    wanted = scored_measures(mode)
    use = {name for name, m in zip(wanted, mask, strict=True) if m}
    weighted = np.zeros(values.shape[0])
    weights = 0.0
    complete = np.ones(values.shape[0], dtype=bool)
    for area, per_measure in table.items():
        worst = None
        for name, rule in per_measure.items():
            if name not in use or name not in names:
                continue
            score = _score_values(values[:, list(names).index(name)], rule["good"], rule["mild"])
            complete &= np.isfinite(score)
            worst = score if worst is None else np.fmin(worst, score)
        if worst is None:
            continue
        weight = float(rules["overall"].get(area, 1.0))
        weighted += weight * np.where(np.isfinite(worst), worst, 0.0)
        weights += weight
    if not weights:
        return np.full(values.shape[0], np.nan)
    # np.round is half to even, as Python's round in score_all.
    return np.where(complete, np.round(weighted / weights), np.nan)


def _score_values(x: np.ndarray, good: Sequence[float], mild: Sequence[float]) -> np.ndarray:
    """`posture.scoring.score_value` over an array (NaN stays NaN)."""
    lo, hi = float(good[0]), float(good[1])
    with np.errstate(invalid="ignore"):
        above = 100.0 - 30.0 * (x - hi) / max(float(mild[1]) - hi, 1e-9)
        below = 100.0 - 30.0 * (lo - x) / max(lo - float(mild[0]), 1e-9)
        score = np.where(x > hi, above, np.where(x < lo, below, 100.0))
    return np.where(np.isfinite(x), np.maximum(score, 0.0), np.nan)


@dataclass(frozen=True)
class LikeForLike:
    """Overall scores made comparable: each row's overall over the same scored measures."""

    values: np.ndarray
    """Per row: the overall over the reference measures (the stored one where the row scored exactly
    those, else re-scored over them); NaN where the row lacks one of them or had no overall."""
    areas: tuple[str, ...]
    """The areas compared (those with a reference measure)."""
    missing: list[tuple[str, ...]]
    """Per row: the areas in which it lacks a reference measure (then its value is NaN)."""
    extra: list[tuple[str, ...]]
    """Per row: the areas in which it scored a measure beyond the reference (left out of its value)."""


def like_for_like(
    values: np.ndarray,
    mode: str,
    reference: np.ndarray | None = None,
    names: Sequence[str] = TRACKED,
) -> LikeForLike:
    """The overall score of each row (`values`, columns `names`, with `overall_score`) over one set of
    scored measures: `reference` (bool, `scored_measures` order), or by default the set that most rows
    with an overall scored (a tie: the latest such row's)."""
    scored = scored_mask(values, mode, names)
    overall = values[:, list(names).index(OVERALL)]
    if reference is None:
        reference = np.zeros(scored.shape[1], dtype=bool)
        rows = np.flatnonzero(np.isfinite(overall) & scored.any(axis=1))
        if len(rows):
            keys = [tuple(r) for r in scored[rows].tolist()]
            counts: dict[tuple[bool, ...], int] = {}
            for key in keys:
                counts[key] = counts.get(key, 0) + 1
            best = max(counts.values())
            reference = np.array(next(k for k in reversed(keys) if counts[k] == best), dtype=bool)
    same = (scored == reference).all(axis=1)
    out = np.where(same, overall, np.nan)
    redo = (scored | ~reference).all(axis=1) & ~same & np.isfinite(overall)
    if redo.any() and reference.any():
        out[redo] = overall_over(values[redo], mode, reference, names)
    if not reference.any():
        out[:] = np.nan
    return LikeForLike(
        values=out,
        areas=areas_of(reference, mode),
        missing=[areas_of(reference & ~row, mode) for row in scored],
        extra=[areas_of(row & ~reference, mode) for row in scored],
    )


def like_for_like_pair(a: np.ndarray, b: np.ndarray, mode: str) -> tuple[float, float, LikeForLikePair]:
    """Two rows' overall scores (`TRACKED` columns) over the measures both scored: the stored ones when
    they scored the same measures, else both re-scored over the shared ones (NaN when none is shared)."""
    pair = np.vstack([a, b])
    scored = scored_mask(pair, mode)
    common = scored[0] & scored[1]
    k = TRACKED.index(OVERALL)
    out = pair[:, k].copy()
    if (scored[0] != scored[1]).any():
        redo = overall_over(pair, mode, common) if common.any() else np.full(2, np.nan)
        out = np.where(np.isfinite(out), redo, np.nan)
    info = LikeForLikePair(
        areas=areas_of(common, mode),
        only_a=areas_of(scored[0] & ~scored[1], mode),
        only_b=areas_of(scored[1] & ~scored[0], mode),
    )
    return float(out[0]), float(out[1]), info


@dataclass(frozen=True)
class LikeForLikePair:
    areas: tuple[str, ...]
    """Areas with a measure both sides scored: the overall scores are over those measures."""
    only_a: tuple[str, ...]
    """Areas in which only A scored a measure."""
    only_b: tuple[str, ...]


def comparison_warnings(a: Mapping[str, object], b: Mapping[str, object]) -> list[WarningCode]:
    """What makes two analysis documents less comparable: another mode, rules version or model."""
    warnings = []
    if a.get("mode") != b.get("mode"):
        warnings.append(WarningCode.MODE_DIFFERS)
    va, vb = a.get("versions") or {}, b.get("versions") or {}
    if va.get("rules") != vb.get("rules"):  # type: ignore[union-attr]
        warnings.append(WarningCode.RULES_VERSION_DIFFERS)
    if va.get("model_sha256") != vb.get("model_sha256"):  # type: ignore[union-attr]
        warnings.append(WarningCode.MODEL_DIFFERS)
    return warnings


def method_key(versions: Mapping[str, object] | None) -> str:
    """What makes two analyses comparable as one method: the rules version and the model (the same
    two that `comparison_warnings` checks), as one short text."""
    versions = versions or {}
    return f"{versions.get('rules') or ''}|{versions.get('model_sha256') or ''}"


def versions_warnings(methods: Iterable[str]) -> list[WarningCode]:
    """`mixed_versions` when the analyses behind a trend or comparison were made by several methods."""
    return [WarningCode.MIXED_VERSIONS] if len(set(methods)) > 1 else []


# --- visits -----------------------------------------------------------------------------------------

VISIT_LABEL_MAX = 64


@dataclass(frozen=True)
class VisitRules:
    gap: np.timedelta64
    personal_min_visits: int
    personal_min_shots: int


def visit_rules() -> VisitRules:
    rules = load_rules()["visits"]
    return VisitRules(
        gap=np.timedelta64(round(float(rules["gap_min"]) * 60_000_000), "us"),
        personal_min_visits=int(rules["personal_min_visits"]),
        personal_min_shots=int(rules["personal_min_shots"]),
    )


def visit_label(value: str) -> str:
    """A client's visit label, stripped: 1–64 printable characters; raises ValueError otherwise."""
    text = value.strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a visit label must be valid Unicode text") from None
    if not 1 <= len(text) <= VISIT_LABEL_MAX or not text.isprintable():
        raise ValueError(f"a visit label is 1–{VISIT_LABEL_MAX} printable characters (no line breaks)")
    return text


def visit_starts(taken_at: np.ndarray, gap: np.timedelta64) -> np.ndarray:
    """For shots sorted by time (datetime64), True where a shot starts a new visit: more than `gap`
    after the previous shot (a shot within `gap` of the previous one joins its visit)."""
    starts = np.ones(len(taken_at), dtype=bool)
    if len(taken_at) > 1:
        starts[1:] = (taken_at[1:] - taken_at[:-1]) > gap
    return starts


@dataclass(frozen=True)
class GroupSummary:
    """Per group (rows) and tracked measure (columns): median, spread (max − min; NaN below two
    values) and how many shots have a value."""

    median: np.ndarray
    spread: np.ndarray
    count: np.ndarray


# Groups up to this size (visits of a few shots: nearly all of them) are summarised together, sorted
# along a short padded axis; the rare larger one (a label over many shots) is summarised by itself.
_PADDED_GROUP = 8


def summarize_groups(values: np.ndarray, groups: np.ndarray, n_groups: int) -> GroupSummary:
    """Median, spread and count of `values` (n × m, NaN = missing) per group (`groups`: n ints in
    0..n_groups−1), vectorised: the shots of the groups are laid out in a (groups × shots × m) array
    padded with NaN, which sorts to the end of each group, and sorted along the short shots axis."""
    n, m = values.shape
    median = np.full((n_groups, m), np.nan)
    spread = np.full((n_groups, m), np.nan)
    count = np.zeros((n_groups, m), dtype=np.int64)
    if n == 0:
        return GroupSummary(median, spread, count)
    sizes = np.bincount(groups, minlength=n_groups)
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    slot = np.arange(n) - (np.cumsum(sizes) - sizes)[sorted_groups]
    small = sizes[sorted_groups] <= _PADDED_GROUP
    width = int(min(sizes.max(), _PADDED_GROUP))
    padded = np.full((n_groups, width, m), np.nan)
    padded[sorted_groups[small], slot[small]] = values[order[small]]
    padded.sort(axis=1)  # NaN last
    count[:] = np.isfinite(padded).sum(axis=1)
    _fill(padded, count, median, spread, np.flatnonzero(sizes <= _PADDED_GROUP))
    for g in np.flatnonzero(sizes > _PADDED_GROUP):
        block = np.sort(values[groups == g], axis=0)[None]
        count[g] = np.isfinite(block[0]).sum(axis=0)
        _fill(block, count[g : g + 1], median[g : g + 1], spread[g : g + 1], np.array([0]))
    return GroupSummary(median, spread, count)


def _fill(
    ordered: np.ndarray, count: np.ndarray, median: np.ndarray, spread: np.ndarray, rows: np.ndarray
) -> None:
    """Median and spread of `rows` of `ordered` (groups × sorted shots × m, NaN last), written into
    `median` and `spread` (whose rows match `ordered`'s)."""
    if not len(rows):
        return
    block, c = ordered[rows], count[rows]
    last = block.shape[1] - 1

    def at(index: np.ndarray) -> np.ndarray:
        return np.take_along_axis(block, np.clip(index, 0, last)[:, None, :], axis=1)[:, 0, :]

    # The median of c sorted values: the middle one, or the mean of the middle two.
    median[rows] = np.where(c > 0, (at((c - 1) // 2) + at(c // 2)) / 2, np.nan)
    spread[rows] = np.where(c >= 2, at(c - 1) - at(np.zeros_like(c)), np.nan)


def central_shot(values: np.ndarray, median: np.ndarray, noise: Mapping[str, float]) -> int:
    """Index of the shot (row of `values`) nearest the visit's medians, each measure's distance in
    units of its noise level; a missing value counts as one noise level away. Ties: the earliest."""
    scale = np.array([noise.get(name) or 1.0 for name in TRACKED])
    wanted = np.isfinite(median)
    distance = np.abs(values - median) / scale
    distance = np.where(np.isfinite(distance), distance, 1.0)[:, wanted]
    return int(np.argmin(distance.sum(axis=1))) if len(values) else 0


# --- the personal noise band ------------------------------------------------------------------------

Z95 = 1.96
# The standard deviation of the median of n independent normal draws, in units of one draw's: exact
# values from the order-statistic densities by numerical integration (docs/accuracy.md; checked against
# a simulation in tests/test_trends.py). For even n the median is the mean of the middle two.
MEDIAN_SD_FACTOR: tuple[float, ...] = (
    1.0,
    0.7071,
    0.6698,
    0.5461,
    0.5356,
    0.4634,
    0.4587,
    0.4101,
    0.4076,
    0.3719,
    0.3704,
    0.3428,
)


def median_sd_factor(n: int) -> float:
    """SD(median of n shots) / SD(one shot) for normal retake noise: the table up to 12 shots, then the
    large-n limit √(π / 2n), which lies slightly above the exact values (so the band errs wide)."""
    if n < 1:
        raise ValueError("a median needs at least one shot")
    if n <= len(MEDIAN_SD_FACTOR):
        return MEDIAN_SD_FACTOR[n - 1]
    return math.sqrt(math.pi / (2 * n))


def mdc95(sd: float, n_a: int = 1, n_b: int = 1) -> float:
    """The minimal detectable change between the medians of n_a and n_b shots whose retake noise has
    standard deviation `sd`: 1.96 · sd · √(f(n_a)² + f(n_b)²); 1.96 · √2 · sd for two single shots."""
    return Z95 * sd * math.hypot(median_sd_factor(n_a), median_sd_factor(n_b))


@dataclass(frozen=True)
class PersonalNoise:
    """Per tracked measure: the pooled within-visit SD (NaN where not estimable) and the number of
    visits (with enough shots) it rests on."""

    sd: np.ndarray
    visits: np.ndarray

    def usable(self, k: int, min_visits: int) -> bool:
        return bool(self.visits[k] >= min_visits and np.isfinite(self.sd[k]))


def personal_noise(
    values: np.ndarray, groups: np.ndarray, n_groups: int, min_shots: int = 2
) -> PersonalNoise:
    """Pooled within-visit standard deviation per column of `values` (n × m shots, NaN = missing;
    `groups` their visit index): √(Σ squared deviations from each visit's mean / Σ (n_v − 1)) over the
    visits with at least `min_shots` values."""
    m = values.shape[1]
    sd = np.full(m, np.nan)
    visits = np.zeros(m, dtype=np.int64)
    for k in range(m):
        column = values[:, k]
        present = np.isfinite(column)
        g, x = groups[present], column[present]
        cnt = np.bincount(g, minlength=n_groups)
        used = cnt >= min_shots
        if not used.any():
            continue
        mean = np.bincount(g, weights=x, minlength=n_groups) / np.maximum(cnt, 1)
        squares = np.bincount(g, weights=(x - mean[g]) ** 2, minlength=n_groups)
        dof = int((cnt[used] - 1).sum())
        visits[k] = int(used.sum())
        sd[k] = math.sqrt(float(squares[used].sum()) / dof)
    return PersonalNoise(sd, visits)


NoiseSource = Literal["rules", "personal"]


@dataclass(frozen=True)
class NoiseBand:
    noise: float | None
    source: NoiseSource
    visits: int
    """Visits the personal estimate rests on (0: none); given even when the rules' floor is larger."""


def noise_band(
    name: str,
    personal: PersonalNoise | None,
    n_a: int = 1,
    n_b: int = 1,
    floors: Mapping[str, float] | None = None,
    min_visits: int | None = None,
) -> NoiseBand:
    """The band a difference of the medians of n_a and n_b shots is judged against: the larger of the
    personal MDC and the rules' floor (nothing is more repeatable than the software), and which one it
    is."""
    floors = noise_levels() if floors is None else floors
    if min_visits is None:
        min_visits = visit_rules().personal_min_visits
    floor = floors.get(name)
    k = TRACKED.index(name)
    visits = int(personal.visits[k]) if personal is not None else 0
    if personal is None or not personal.usable(k, min_visits):
        return NoiseBand(floor, "rules", visits)
    mine = round(mdc95(float(personal.sd[k]), max(n_a, 1), max(n_b, 1)), 2)
    if floor is not None and floor >= mine:
        return NoiseBand(floor, "rules", visits)
    return NoiseBand(mine, "personal", visits)
