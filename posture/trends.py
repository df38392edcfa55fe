"""Change over time: compare two analyses and fit trends, against the noise levels of the rules file
(`[noise]`). Pure functions over analysis documents (`Analysis.to_dict()`) and numpy arrays.

`noise` is the minimal detectable change (MDC95) of a measure: a difference smaller than it is not
distinguishable from re-photographing the same posture. The trend slope is Theil–Sen (the median of
pairwise slopes): one odd photo cannot swing it, unlike a least-squares line.
"""

from __future__ import annotations

from collections.abc import Mapping

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
    values = {name: _number(measures.get(name)) for name in MEASURE_NAMES}
    values[OVERALL] = _number(scores.get("overall"))
    return values


def _number(value: object) -> float | None:
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


def trend_table(taken_at: np.ndarray, matrix: np.ndarray) -> dict[str, dict[str, object]]:
    """Per tracked measure (columns of `matrix`, NaN = missing; rows in time order, `taken_at` as
    datetime64): values, n, slope per 30 days, fitted line ends, fitted change, noise."""
    noise = noise_levels()
    days = (taken_at - taken_at[0]) / np.timedelta64(1, "D") if len(taken_at) else np.zeros(0)
    slopes = theil_sen(days, matrix)
    out: dict[str, dict[str, object]] = {}
    for k, name in enumerate(TRACKED):
        column = matrix[:, k]
        present = np.isfinite(column)
        slope = slopes[k]
        entry: dict[str, object] = {
            "values": column.tolist(),  # NaN where missing: written as null in JSON
            "n": int(present.sum()),
            "noise": noise.get(name),
            "slope_per_30d": None,
            "fit_start": None,
            "fit_end": None,
            "change": None,
            "beyond_noise": None,
        }
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
                beyond_noise=(abs(change) >= noise[name]) if name in noise else None,
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
