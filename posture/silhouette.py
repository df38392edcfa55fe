"""The person's silhouette: outer contour of the segmentation mask, and its front and back profiles.

The contour is traced at mask level 0.5 by marching squares (sub-pixel), so contour-based measures do
not step with the pixel grid when a photo is resized.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage import measure


def subject_contour(
    mask: np.ndarray, origin: tuple[float, float], scale: float, seed_xy: np.ndarray
) -> np.ndarray | None:
    """Outer contour (N, 2; x, y in full-size pixels, closed) of the silhouette around `seed_xy`.

    `mask` is a soft mask whose pixel (i, j) starts at full-size point `origin + (j, i) / scale`;
    `seed_xy` is a point inside the person in full-size pixels (the hip centre). Pixel centres sit at
    half-integer positions, so mirroring and resizing map contours consistently. None when no contour
    encloses the seed.
    """
    padded = np.pad(mask.astype(np.float32), 1)  # closes contours that touch the frame edge
    contours = measure.find_contours(padded, 0.5)
    # padded index k ↔ mask index k−1 ↔ continuous coordinate k−0.5
    seed = (
        float((seed_xy[0] - origin[0]) * scale) + 0.5,
        float((seed_xy[1] - origin[1]) * scale) + 0.5,
    )
    best: np.ndarray | None = None
    best_len = 0
    for c in contours:
        if len(c) < 8:
            continue
        xy = np.ascontiguousarray(c[:, ::-1], dtype=np.float32)  # (row, col) → (x, y)
        if cv2.pointPolygonTest(xy.reshape(-1, 1, 2), seed, False) >= 0 and len(c) > best_len:
            best, best_len = xy, len(c)
    if best is None:
        return None
    return (best.astype(np.float64) - 0.5) / scale + np.asarray(origin)


def profile(contour: np.ndarray, ys: np.ndarray, side: str) -> np.ndarray:
    """Posterior (`side="back"`, smallest x) or anterior (`"front"`, largest x) edge at each height.

    `contour` is closed, in the canonical frame (facing +x). Returns x for each y in `ys` (NaN where the
    horizontal line misses the contour). Vectorised over edges: each edge contributes to the samples
    whose height it spans.
    """
    ys = np.asarray(ys, dtype=np.float64)
    order = np.argsort(ys)
    ys_sorted = ys[order]
    a = np.asarray(contour, dtype=np.float64)
    b = np.roll(a, -1, axis=0)
    keep = a[:, 1] != b[:, 1]  # horizontal edges cross no sample line transversally
    a, b = a[keep], b[keep]
    lo = np.minimum(a[:, 1], b[:, 1])
    hi = np.maximum(a[:, 1], b[:, 1])
    start = np.searchsorted(ys_sorted, lo, side="left")
    stop = np.searchsorted(ys_sorted, hi, side="right")
    counts = np.clip(stop - start, 0, None)
    edge = np.repeat(np.arange(len(a)), counts)
    first = np.repeat(start, counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    sample = first + offsets
    t = (ys_sorted[sample] - a[edge, 1]) / (b[edge, 1] - a[edge, 1])
    xs = a[edge, 0] + t * (b[edge, 0] - a[edge, 0])
    if side == "back":
        best = np.full(len(ys), np.inf)
        np.minimum.at(best, sample, xs)
    else:
        best = np.full(len(ys), -np.inf)
        np.maximum.at(best, sample, xs)
    best[~np.isfinite(best)] = np.nan
    out = np.empty(len(ys))
    out[order] = best
    return out
