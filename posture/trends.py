"""Change over time: compare two analyses and fit trends, against the noise levels of the rules file
(`[noise]`). Pure functions over analysis documents (`Analysis.to_dict()`) and numpy arrays.

`noise` is the minimal detectable change (MDC95) of a measure: a difference smaller than it is not
distinguishable from re-photographing the same posture. The trend slope is Theil–Sen (the median of
pairwise slopes): one odd photo cannot swing it, unlike a least-squares line.

Visits (several shots of one session, `[visits]` in the rules) are summarised by their median, and a
subject's own multi-shot visits give a personal noise band: the pooled within-visit standard deviation,
turned into the MDC of a difference of two medians (docs/accuracy.md, "A personal noise band").
"""

from __future__ import annotations

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
    datetime64): values, n, slope per 30 days, fitted line ends, fitted change, noise. `noise` replaces
    the rules' levels (a personal band, or a movement test's levels); `spread` (same shape as `matrix`)
    adds each point's spread."""
    if noise is None:
        noise = noise_levels()
    days = (taken_at - taken_at[0]) / np.timedelta64(1, "D") if len(taken_at) else np.zeros(0)
    slopes = theil_sen(days, matrix)
    out: dict[str, dict[str, object]] = {}
    for k, name in enumerate(names):
        column = matrix[:, k]
        present = np.isfinite(column)
        slope = slopes[k]
        band = noise.get(name)
        entry: dict[str, object] = {
            "values": column.tolist(),  # NaN where missing: written as null in JSON
            "n": int(present.sum()),
            "noise": band,
            "slope_per_30d": None,
            "fit_start": None,
            "fit_end": None,
            "change": None,
            "beyond_noise": None,
        }
        if spread is not None:
            entry["spread"] = spread[:, k].tolist()
        if np.isfinite(slope):
            # Intercept: median residual (Theil–Sen's usual companion, as robust as the slope).
            intercept = float(np.median(column[present] - slope * days[present]))
            span = float(days[-1] - days[0])
            change = float(slope * span)
            entry.update(
                slope_per_30d=round(float(slope) * DAYS_PER_PERIOD, 3),
                fit_start=round(intercept, 2),
                fit_end=round(intercept + slope * span, 2),
                change=round(change, 2),
                beyond_noise=(abs(change) >= band) if band is not None else None,
            )
        out[name] = entry
    return out


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
