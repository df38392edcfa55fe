"""Shared inputs and result types of the measures."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from ..landmarks import Side, side_index
from ..silhouette import profile


@dataclass(frozen=True)
class Measurement:
    """A measured value, or None with a stable `reason` code; `confidence` in 0..1."""

    value: float | None
    confidence: float = 0.0
    reason: str | None = None

    @classmethod
    def missing(cls, reason: str) -> Measurement:
        return cls(None, 0.0, reason)


@dataclass
class MeasureSet:
    """Measures (one area's, or all of one photo's) plus their canonical-frame primitives for the overlay."""

    values: dict[str, Measurement] = field(default_factory=dict)
    drawing: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Body:
    """The subject in the canonical frame: near-side chain, silhouette and body scale.

    `lm` is (33, 4): x, y, z, visibility. `contour` is the closed silhouette outline or None.
    `height_px` is standing height (top of the silhouette to the floor under the near foot);
    `torso_px` the shoulder–hip distance.
    """

    lm: np.ndarray
    contour: np.ndarray | None
    side: Side
    height_px: float
    torso_px: float
    floor_y: float

    def p(self, part: str, side: Side | None = None) -> np.ndarray:
        """(x, y) of a one-sided landmark, on the near side unless `side` is given."""
        return self.lm[side_index(part, side or self.side), :2]

    def vis(self, *parts: str, side: Side | None = None) -> float:
        """Lowest visibility among `parts` (near side by default): a measure is as good as its
        weakest point."""
        return float(min(self.lm[side_index(part, side or self.side), 3] for part in parts))

    def back(self, ys: np.ndarray) -> np.ndarray:
        """Posterior silhouette edge x at heights `ys` (NaN where unavailable)."""
        return profile(self.contour, ys, "back") if self.contour is not None else np.full(len(ys), np.nan)


def build_body(lm: np.ndarray, contour: np.ndarray | None, side: Side) -> Body:
    """Body scale from canonical landmarks (33, ≥4) and the canonical contour."""
    lm = np.asarray(lm, dtype=np.float64)[:, :4]
    foot = [side_index(p, side) for p in ("heel", "foot_index", "ankle")]
    floor_y = float(lm[foot, 1].max())
    if contour is not None:
        top = float(contour[:, 1].min())
    else:  # the crown sits about a nose-to-shoulder distance above the nose
        nose, shoulder = lm[0, :2], lm[side_index("shoulder", side), :2]
        top = float(nose[1] - (shoulder[1] - nose[1]))
    shoulder = lm[side_index("shoulder", side), :2]
    hip = lm[side_index("hip", side), :2]
    return Body(
        lm=lm,
        contour=contour,
        side=side,
        height_px=max(floor_y - top, 1.0),
        torso_px=max(float(np.hypot(*(shoulder - hip))), 1.0),
        floor_y=floor_y,
    )


def arm_mask(body: Body, points: np.ndarray, radius_frac: float = 0.035) -> np.ndarray:
    """True for (N, 2) contour points that lie on a forearm or hand (either arm) rather than the trunk."""
    r = radius_frac * body.height_px
    near = np.zeros(len(points), dtype=bool)
    for side in ("left", "right"):
        chain = [body.p(part, side) for part in ("elbow", "wrist", "index")]
        for a, b in itertools.pairwise(chain):
            near |= _segment_distance(points, a, b) < r
    return near


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = b - a
    t = np.clip(((points - a) @ d) / max(float(d @ d), 1e-9), 0.0, 1.0)
    closest = a + t[:, None] * d
    return np.hypot(*(points - closest).T)
