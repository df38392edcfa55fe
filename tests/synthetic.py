"""Synthetic bodies with known geometry: landmarks from chosen angles, and a drawn silhouette whose
back has a known lumbar hollow and sacral slope. Coordinates are canonical (facing +x, y down)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posture.landmarks import INDEX

WIDTH, HEIGHT = 1800, 2100
ANKLE = np.array([900.0, 1900.0])
FLOOR_Y = 1930.0
TOP_Y = 120.0  # crown of the head
SHANK, THIGH, TRUNK, NECK = 450.0, 450.0, 600.0, 250.0


def _unit(incl_deg: float) -> np.ndarray:
    t = np.deg2rad(incl_deg)
    return np.array([np.sin(t), -np.cos(t)])


@dataclass(frozen=True)
class Pose:
    shank_deg: float = 3.0
    knee_deg: float = 4.0
    trunk_deg: float = 2.0
    head_deg: float = 12.0


def landmarks(p: Pose, side: str = "right") -> np.ndarray:
    """(33, 4) canonical landmarks (visibility 1) for the given segment angles; both sides alike."""
    knee = ANKLE + SHANK * _unit(p.shank_deg)
    thigh_deg = p.shank_deg - p.knee_deg
    hip = knee + THIGH * _unit(thigh_deg)
    shoulder = hip + TRUNK * _unit(p.trunk_deg)
    ear = shoulder + NECK * _unit(p.head_deg)
    arm_x = shoulder[0] + 180.0  # arms hang in front of the trunk, clear of the back outline
    parts = {
        "ankle": ANKLE,
        "heel": np.array([ANKLE[0] - 50, FLOOR_Y]),
        "foot_index": np.array([ANKLE[0] + 200, FLOOR_Y]),
        "knee": knee,
        "hip": hip,
        "shoulder": shoulder,
        "ear": ear,
        "elbow": np.array([arm_x, shoulder[1] + 300]),
        "wrist": np.array([arm_x, shoulder[1] + 560]),
        "index": np.array([arm_x, shoulder[1] + 640]),
        "pinky": np.array([arm_x, shoulder[1] + 630]),
        "thumb": np.array([arm_x + 10, shoulder[1] + 620]),
    }
    lm = np.zeros((33, 4))
    lm[:, 3] = 1.0
    for s in ("left", "right"):
        for part, xy in parts.items():
            lm[INDEX[f"{s}_{part}"], :2] = xy
    lm[INDEX["nose"], :2] = ear + np.array([90.0, 20.0])
    for name in (
        "left_eye",
        "right_eye",
        "left_eye_inner",
        "right_eye_inner",
        "left_eye_outer",
        "right_eye_outer",
    ):
        lm[INDEX[name], :2] = ear + np.array([70.0, -5.0])
    for name in ("mouth_left", "mouth_right"):
        lm[INDEX[name], :2] = ear + np.array([80.0, 50.0])
    return lm


@dataclass(frozen=True)
class Back:
    """A back outline: vertical chord at x = `x0` from `top_y` to `bottom_y`; between them either a
    parabolic hollow of depth `depth` or, with `sacral_deg`, a V whose lower limb has that slope."""

    x0: float = 700.0
    top_y: float = 600.5  # corners on pixel-centre rows, where the rendered outline is exact
    bottom_y: float = 1150.5
    depth: float = 35.0
    sacral_deg: float | None = None
    apex_y: float = 900.5  # the V's deepest point (only with sacral_deg)

    def x(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, float)
        out = np.empty_like(y)
        above, below = y < self.top_y, y > self.bottom_y
        # Outside the chord the outline turns forward (towards the neck and the thighs).
        out[above] = self.x0 + 0.1 * (self.top_y - y[above])
        out[below] = self.x0 + 0.1 * (y[below] - self.bottom_y)
        mid = ~above & ~below
        if self.sacral_deg is None:
            u = (y[mid] - self.top_y) / (self.bottom_y - self.top_y)
            out[mid] = self.x0 + 4.0 * self.depth * u * (1.0 - u)
        else:
            d = (self.bottom_y - self.apex_y) * np.tan(np.deg2rad(self.sacral_deg))
            upper = y[mid] <= self.apex_y
            ym = y[mid]
            out_mid = np.where(
                upper,
                self.x0 + d * (ym - self.top_y) / (self.apex_y - self.top_y),
                self.x0 + d * (self.bottom_y - ym) / (self.bottom_y - self.apex_y),
            )
            out[mid] = out_mid
        return out

    @property
    def lordosis_deg(self) -> float:
        return float(np.degrees(4 * np.arctan(2 * self.depth / (self.bottom_y - self.top_y))))


def canonical_to_image(points: np.ndarray, roll_deg: float) -> np.ndarray:
    """What a camera rolled by `roll_deg` records: the scene turned clockwise by that angle."""
    from posture.geometry import rotate_clockwise

    return rotate_clockwise(points, roll_deg, (WIDTH / 2, HEIGHT / 2))


def render_mask(back: Back, roll_deg: float = 0.0, ramp_px: float = 2.0, scale: int = 1) -> np.ndarray:
    """Soft mask (float32, (HEIGHT×WIDTH)·scale) of a body whose back is `back` and front 330 px ahead.

    Each pixel centre is mapped back into the canonical frame and given a linear ramp of the distance
    to the outline, so the 0.5 iso-line is the outline itself to well under a tenth of a pixel, except
    within a pixel of a corner that does not sit on the pixel grid (a rolled picture): there the grid
    rounds it, which `scale` > 1 (finer mask pixels) makes smaller.
    """
    from posture.geometry import rotate_clockwise

    ramp_px = ramp_px / scale
    jj, ii = np.meshgrid((np.arange(WIDTH * scale) + 0.5) / scale, (np.arange(HEIGHT * scale) + 0.5) / scale)
    pts = np.stack([jj.ravel(), ii.ravel()], axis=1)
    q = rotate_clockwise(pts, -roll_deg, (WIDTH / 2, HEIGHT / 2)) if roll_deg else pts
    xb = back.x(q[:, 1])
    inside = np.minimum.reduce(
        [
            (q[:, 0] - xb) / ramp_px,
            (xb + 330.0 - q[:, 0]) / ramp_px,
            (q[:, 1] - TOP_Y) / ramp_px,
            (FLOOR_Y - q[:, 1]) / ramp_px,
        ]
    )
    return np.clip(0.5 + inside, 0.0, 1.0).reshape(HEIGHT * scale, WIDTH * scale).astype(np.float32)
