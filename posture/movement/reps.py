"""Repetitions from the hip's vertical path.

The hip height above the floor, sampled at a steady rate, is smoothed with a Savitzky–Golay filter
(`scipy.signal.savgol_filter`: a local polynomial fit, which keeps the depth of a dip where a moving
average would flatten it). A rep is a dip of the smoothed height whose prominence — how far it falls
below the lower of the two tops around it — is at least `min_drop` (a share of the standing hip height):
down and back up. Its start and end are the highest points between it and the neighbouring bottoms
(or the clip's ends).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks, savgol_filter


@dataclass(frozen=True)
class RepSpan:
    """One rep as sample indices: the top before it, its bottom, the top after it."""

    start: int
    bottom: int
    end: int


def fill_gaps(values: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN samples (failed frames), constant beyond the ends; all-NaN stays NaN."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    if ok.all() or not ok.any():
        return v.copy()
    idx = np.arange(len(v))
    return np.interp(idx, idx[ok], v[ok])


def smooth(values: np.ndarray, window: int, polyorder: int) -> np.ndarray:
    """Savitzky–Golay smoothing over an odd `window` of samples (shrunk to fit a short series); gaps
    (NaN) are interpolated first and put back as NaN afterwards."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    if ok.sum() < 3:
        return v.copy()
    filled = fill_gaps(v)
    w = min(int(window) | 1, len(v) if len(v) % 2 else len(v) - 1)
    out = filled if w <= polyorder else savgol_filter(filled, w, polyorder, mode="interp")
    out = np.asarray(out, dtype=np.float64)
    out[~ok] = np.nan
    return out


def window_samples(sample_fps: float, window_s: float, polyorder: int) -> int:
    """The smoothing window in samples: odd, and longer than the polynomial order."""
    w = round(window_s * sample_fps) | 1
    return max(w, polyorder + 2 | 1)


def find_reps(hip_height: np.ndarray, *, min_drop: float, min_separation: int) -> list[RepSpan]:
    """Reps in a smoothed hip-height series (up = larger; NaN gaps interpolated). `min_drop` is in the
    series' units; `min_separation` the fewest samples between two bottoms."""
    h = fill_gaps(hip_height)
    if len(h) < 3 or not np.isfinite(h).all():
        return []
    bottoms, _ = find_peaks(-h, prominence=min_drop, distance=max(1, int(min_separation)))
    reps: list[RepSpan] = []
    for i, b in enumerate(bottoms):
        lo = bottoms[i - 1] if i > 0 else 0
        hi = bottoms[i + 1] if i + 1 < len(bottoms) else len(h) - 1
        start = lo + int(np.argmax(h[lo : b + 1]))
        end = b + int(np.argmax(h[b : hi + 1]))
        reps.append(RepSpan(int(start), int(b), int(end)))
    return reps
