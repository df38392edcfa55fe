"""Lumbar curve from the back silhouette: the silhouette analogue of the flexicurve method.

The posterior edge of the silhouette is sampled from shoulder height to mid-thigh. Its posterior
convex hull bridges the lumbar hollow with a chord from the thoracic high point to the sacral/gluteal
high point (length L). The hollow's depth H is its **parabola-equivalent depth**, H = 1.5·A/L, where A
is the area between the chord and the edge: exact for a parabolic (or, at these depths, circular)
curve, and an integral over the whole hollow rather than the single deepest sample, so a pixel of
mask noise does not move it. `lumbar_lordosis_deg` = 4·arctan(2H/L) and `lumbar_lordosis_index` =
100·H/L (flexicurve formulas;
Rajabi 2025 reports 42.3 ± 13° with a real flexicurve, which measures the spine, not the skin and
gluteal outline: the numbers are not interchangeable). Both are invariant to rotation and scale.
Samples lying on a forearm or hand are dropped before the hull is taken.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..geometry import point_line_distance
from .base import Body, Measurement, MeasureSet, arm_mask

N_ROWS = 800  # ≈ 0.1 % of body height apart
MIN_COVERAGE = 0.6  # share of the hollow's outline not hidden by an arm or hand
MIN_POINTS = 100  # fewer usable back-edge points than this: the back is not visible enough


@dataclass(frozen=True)
class Hollow:
    """The lumbar hollow: chord ends (thoracic and gluteal high points), deepest point, depth, length.

    `depth_px` is the parabola-equivalent depth (1.5 × area / chord)."""

    top: np.ndarray
    bottom: np.ndarray
    deepest: np.ndarray
    depth_px: float
    chord_px: float
    profile: np.ndarray  # the valid back-edge samples between the chord ends (N, 2)
    coverage: float  # share of samples between the ends that were usable


def back_edge(body: Body) -> tuple[np.ndarray, np.ndarray]:
    """Back-edge points (N, 2), ordered by height, from shoulder height to mid-thigh, and which are
    usable: dense rows, plus the contour's own vertices on the posterior edge, so that hull corners
    fall on real outline points rather than between rows."""
    y0 = float(body.p("shoulder")[1])
    hip_y, knee_y = float(body.p("hip")[1]), float(body.p("knee")[1])
    y1 = hip_y + 0.45 * (knee_y - hip_y)
    c = body.contour
    vertices = c[(c[:, 1] >= y0) & (c[:, 1] <= y1)]
    ys = np.concatenate([np.linspace(y0, y1, N_ROWS), vertices[:, 1]])
    pts = np.column_stack([body.back(ys), ys])
    pts = pts[np.isfinite(pts[:, 0])]
    pts = pts[np.lexsort((pts[:, 0], pts[:, 1]))]
    if len(pts):
        keep = np.r_[True, np.diff(pts[:, 1]) > 1e-9]  # one point per height
        pts = pts[keep]
    usable = np.ones(len(pts), dtype=bool)
    if len(pts):
        usable &= ~arm_mask(body, pts)
    return pts, usable


def find_hollow(body: Body) -> Hollow | None:
    """The deepest bridge of the back edge's posterior hull whose hollow lies in the lumbar region."""
    if body.contour is None:
        return None
    pts, usable = back_edge(body)
    idx = np.flatnonzero(usable)
    if len(idx) < MIN_POINTS:
        return None
    hull = _posterior_hull(pts[idx])
    lo = float(body.p("shoulder")[1]) + 0.2 * body.torso_px
    hi = float(body.p("hip")[1]) + 0.05 * body.torso_px
    best: Hollow | None = None
    for a, b in itertools.pairwise(hull):
        if b - a < 2:
            continue
        inner = pts[idx[a : b + 1]]
        top, bottom = inner[0], inner[-1]
        depth = -point_line_distance(inner, top, bottom)  # + in front of the chord (top→bottom)
        k = int(np.argmax(depth))
        if not lo <= inner[k, 1] <= hi:
            continue
        equivalent = 1.5 * _area_in_front(inner, top, bottom) / float(np.hypot(*(bottom - top)))
        if best is None or equivalent > best.depth_px:
            span = idx[b] - idx[a] + 1
            best = Hollow(
                top=top,
                bottom=bottom,
                deepest=inner[k],
                depth_px=equivalent,
                chord_px=float(np.hypot(*(bottom - top))),
                profile=inner,
                coverage=(b - a + 1) / span,
            )
    return best


def usable_hollow(body: Body) -> Hollow | None:
    """The lumbar hollow both the lumbar and the pelvic measures use, or None when there is no
    silhouette or arms and hands hide too much of it."""
    hollow = find_hollow(body)
    return hollow if hollow is not None and hollow.coverage >= MIN_COVERAGE else None


def measure_lumbar(body: Body, hollow: Hollow | None) -> MeasureSet:
    """Lumbar angle and index from the `usable_hollow`, with the back profile, chord and depth to draw."""
    out = MeasureSet()
    v = out.values
    if body.contour is None:
        v["lumbar_lordosis_deg"] = v["lumbar_lordosis_index"] = Measurement.missing("no_silhouette")
        return out
    if hollow is None:
        v["lumbar_lordosis_deg"] = v["lumbar_lordosis_index"] = Measurement.missing("back_not_visible")
        return out
    ratio = hollow.depth_px / hollow.chord_px
    conf = body.vis("shoulder", "hip", "knee") * hollow.coverage
    v["lumbar_lordosis_deg"] = Measurement(float(np.degrees(4.0 * np.arctan(2.0 * ratio))), conf)
    v["lumbar_lordosis_index"] = Measurement(100.0 * ratio, conf)
    out.drawing["back_profile"] = hollow.profile
    out.drawing["lumbar_chord"] = np.array([hollow.top, hollow.bottom])
    foot = _foot_on_chord(hollow)
    # Drawn at the deepest sample, with the equivalent depth's length, perpendicular to the chord.
    normal = hollow.deepest - foot
    normal = normal / max(float(np.hypot(*normal)), 1e-9)
    out.drawing["lumbar_depth"] = np.array([foot, foot + hollow.depth_px * normal])
    return out


def _area_in_front(points: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> float:
    """Area between the chord top→bottom and the polyline `points` (its part in front of the chord)."""
    d = (bottom - top) / float(np.hypot(*(bottom - top)))
    along = (points - top) @ d
    depth = np.clip(-point_line_distance(points, top, bottom), 0.0, None)
    return float(np.sum((along[1:] - along[:-1]) * (depth[1:] + depth[:-1]) / 2.0))


def _foot_on_chord(h: Hollow) -> np.ndarray:
    d = (h.bottom - h.top) / h.chord_px
    return h.top + float((h.deepest - h.top) @ d) * d


def _posterior_hull(pts: np.ndarray) -> list[int]:
    """Indices of the convex hull's posterior chain of points ordered by height (monotone chain)."""
    hull: list[int] = []
    for i in range(len(pts)):
        while len(hull) >= 2:
            o, a, b = pts[hull[-2]], pts[hull[-1]], pts[i]
            cross = (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
            if cross < 0:  # `a` bulges backwards: it stays on the posterior hull
                break
            hull.pop()
        hull.append(i)
    return hull
