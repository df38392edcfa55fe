"""The two legs known by geometry and continuity, not by the landmarker's left/right labels.

In a side view the landmarker often swaps its "left" and "right" legs from one frame to the next, or
labels the whole clip the other way round (a mirrored copy of a clip gets the other labels). A leg
measure read by label then jumps between the legs. Here the legs are two tracks:

- each frame's two legs (knee, ankle, heel and toe, as the landmarker pairs them) are given to the two
  tracks in the order that lies nearer the tracks' predicted positions (the last positions moved on
  by the last motion: continuity, also where the legs cross in a step);
- the track nearer the camera (MediaPipe's relative depth `z`, smaller = nearer, median over the clip)
  is named the near side, the other the far side.

The result is the landmarks with their leg points reordered, so every later step can keep reading
`left_knee`/`right_knee`: those names now mean "the far/near leg as tracked".
"""

from __future__ import annotations

import numpy as np

from ..landmarks import Side, side_index

_LEG = ("knee", "ankle", "heel", "foot_index")
_SIDES: tuple[Side, Side] = ("left", "right")


def _rows(group: tuple[str, ...]) -> np.ndarray:
    """(2, k) landmark indices of `group`'s parts for the left and right labels."""
    return np.array([[side_index(p, sd) for p in group] for sd in _SIDES])


def _swap(out: np.ndarray, i: int, rows: np.ndarray) -> None:
    a, b = rows[0], rows[1]
    out[i, a], out[i, b] = out[i, b].copy(), out[i, a].copy()


def assign_legs(lm: np.ndarray, near: Side) -> np.ndarray:
    """A copy of the (n, 33, ≥3) landmarks (x, y, z, …; NaN rows for failed frames) whose leg points are
    the two tracked legs, the nearer one under `near`'s labels. Coordinates may be in any frame whose
    axes are the image's (canonical or clip pixels)."""
    out = np.array(lm, dtype=np.float64, copy=True)
    legs = _rows(_LEG)
    last: np.ndarray | None = None  # the tracks' last known positions, (2, k, 2)
    step = np.zeros((2, legs.shape[1], 2))  # their last motion per frame, for the prediction
    gap = 1  # frames since `last`
    for i in range(len(out)):
        here = out[i, legs, :2]
        if not np.isfinite(here).all():
            gap += 1
            continue
        if last is not None:
            predicted = last + step * gap
            keep = np.linalg.norm(here - predicted, axis=-1).sum()
            swapped = np.linalg.norm(here[::-1] - predicted, axis=-1).sum()
            if swapped < keep:
                _swap(out, i, legs)
                here = out[i, legs, :2]
            step = (here - last) / gap
        last, gap = here.copy(), 1
    if out.shape[2] > 2:
        z = [out[:, legs[k], 2] for k in (0, 1)]
        if all(np.isfinite(v).any() for v in z):
            mine = float(np.nanmedian(z[_SIDES.index(near)]))
            other = float(np.nanmedian(z[1 - _SIDES.index(near)]))
            if mine > other:  # the track under `near`'s name is the farther one: rename
                for i in range(len(out)):
                    _swap(out, i, legs)
    return out
