"""The two legs known by geometry and continuity, not by the landmarker's left/right labels.

In a side view the landmarker often swaps its "left" and "right" legs from one frame to the next, or
labels the whole clip the other way round (a mirrored copy of a clip gets the other labels). A leg
measure read by label then jumps between the legs. Here the legs are two tracks:

- each frame's two knees, and separately its two feet (ankle, heel and toe together), are given to the
  two tracks in the order that moves them least from the tracks' last positions (continuity; the
  first frame pairs each knee with the ankle below it);
- the track nearer the camera (MediaPipe's relative depth `z`, smaller = nearer, median over the clip)
  is named the near side, the other the far side.

The result is the landmarks with their leg points reordered, so every later step can keep reading
`left_knee`/`right_knee`: those names now mean "the far/near leg as tracked".
"""

from __future__ import annotations

import numpy as np

from ..landmarks import Side, side_index

_KNEE = ("knee",)
_FOOT = ("ankle", "heel", "foot_index")
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
    knee, foot = _rows(_KNEE), _rows(_FOOT)
    last: np.ndarray | None = None  # the last known (33, 2) positions of the tracks
    for i in range(len(out)):
        pts = out[i, :, :2]
        if not np.isfinite(pts[np.concatenate([knee.ravel(), foot.ravel()])]).all():
            continue
        if last is None:
            # Each knee above its own ankle: the pairing with the smaller horizontal offsets.
            ka, kb = pts[knee[:, 0], 0]
            aa, ab = pts[foot[:, 0], 0]
            if abs(ka - ab) + abs(kb - aa) < abs(ka - aa) + abs(kb - ab):
                _swap(out, i, knee)
        else:
            for rows in (knee, foot):
                here = out[i, rows, :2]  # (2, k, 2)
                keep = np.linalg.norm(here - last[rows], axis=-1).sum()
                swapped = np.linalg.norm(here[::-1] - last[rows], axis=-1).sum()
                if swapped < keep:
                    _swap(out, i, rows)
        last = out[i, :, :2].copy()
    if out.shape[2] > 2:
        legs = np.concatenate([knee, foot], axis=1)
        z = [out[:, legs[k], 2] for k in (0, 1)]
        if all(np.isfinite(v).any() for v in z):
            z_near_label = float(np.nanmedian(z[_SIDES.index(near)]))
            z_other = float(np.nanmedian(z[1 - _SIDES.index(near)]))
            if z_near_label > z_other:  # the track under `near`'s name is the farther one: rename
                for i in range(len(out)):
                    _swap(out, i, legs)
    return out
