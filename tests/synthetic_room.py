"""A drawn room seen by a pinhole camera with known roll, pitch and yaw, for the camera level estimate.

World: x right, y down (gravity), z away from the camera, metres; the camera sits at the origin, the
floor is `FLOOR_Y` below it. The room has a back wall with a door in its frame and a picture, a side
wall meeting it in a vertical corner, skirting boards along both walls, a floor and a ceiling. A person
(a flat silhouette, dark) stands in front of the back wall and leans by `lean_deg` on their own; a board
may lean against the wall (clutter that is not vertical).

Camera: world → camera is roll (about the optical axis) · pitch (about x) · yaw (about y). A positive
roll turns the picture clockwise on screen, the sign of posture's `camera_roll_deg`; a positive pitch
looks up. The principal point is the image centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FLOOR_Y = 1.1
CEILING_Y = -2.0
BACK_Z = 4.5
SIDE_X = 1.3
SUBPIXEL = 16  # cv2.fillPoly with shift=4: vertices at 1/16 px


@dataclass(frozen=True)
class Room:
    roll_deg: float = 0.0
    pitch_deg: float = 0.0
    yaw_deg: float = 0.0
    width: int = 720
    height: int = 1280
    focal_long_sides: float = 0.8
    plain: bool = False  # only a flat wall behind the person
    person: bool = True
    lean_deg: float = 10.0  # the person's own lean against true vertical, + = top to image-right
    board_deg: float | None = None  # a board leaning against the back wall by this much
    noise: float = 4.0
    seed: int = 0


def rotation(roll_deg: float, pitch_deg: float, yaw_deg: float) -> np.ndarray:
    r, p, y = np.radians([roll_deg, pitch_deg, yaw_deg])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, -np.sin(y)], [0, 1, 0], [np.sin(y), 0, np.cos(y)]])
    return rz @ rx @ ry


def project(room: Room, points: np.ndarray, near_m: float = 0.05) -> np.ndarray:
    """Image points of world points; a polygon (≥ 3 points) is first clipped to what is in front."""
    p = np.asarray(points, float) @ rotation(room.roll_deg, room.pitch_deg, room.yaw_deg).T
    if len(p) > 2:
        out = []
        for a, b in zip(p, np.roll(p, -1, axis=0), strict=True):
            if a[2] >= near_m:
                out.append(a)
            if (a[2] >= near_m) != (b[2] >= near_m):
                out.append(a + (near_m - a[2]) / (b[2] - a[2]) * (b - a))
        p = np.array(out).reshape(-1, 3)
    f = room.focal_long_sides * max(room.width, room.height)
    return np.c_[f * p[:, 0] / p[:, 2] + room.width / 2, f * p[:, 1] / p[:, 2] + room.height / 2]


def _wall_z(z: float, x0: float, x1: float, y0: float, y1: float) -> list[tuple[float, float, float]]:
    return [(x0, y0, z), (x1, y0, z), (x1, y1, z), (x0, y1, z)]


def _wall_x(x: float, y0: float, y1: float, z0: float, z1: float) -> list[tuple[float, float, float]]:
    return [(x, y0, z0), (x, y0, z1), (x, y1, z1), (x, y1, z0)]


def _level_y(y: float, x0: float, x1: float, z0: float, z1: float) -> list[tuple[float, float, float]]:
    return [(x0, y, z0), (x1, y, z0), (x1, y, z1), (x0, y, z1)]


def _surfaces(room: Room) -> list[tuple[list, float]]:
    """(polygon, grey) from back to front."""
    if room.plain:
        return [(_wall_z(BACK_Z, -9, 9, -9, 9), 172.0)]
    skirt = FLOOR_Y - 0.1
    return [
        (_wall_z(BACK_Z, -6, SIDE_X, CEILING_Y, FLOOR_Y), 172.0),
        (_wall_x(SIDE_X, CEILING_Y, FLOOR_Y, -2, BACK_Z), 146.0),
        (_level_y(FLOOR_Y, -6, SIDE_X, -2, BACK_Z), 108.0),
        (_level_y(CEILING_Y, -6, SIDE_X, -2, BACK_Z), 196.0),
        (_wall_z(BACK_Z - 0.001, -6, SIDE_X, skirt, FLOOR_Y), 232.0),
        (_wall_x(SIDE_X - 0.001, skirt, FLOOR_Y, -2, BACK_Z), 226.0),
        (_wall_z(BACK_Z - 0.002, -1.6, -0.6, -0.95, skirt), 214.0),  # door frame
        (_wall_z(BACK_Z - 0.003, -1.52, -0.68, -0.87, skirt), 92.0),  # door leaf
        (_wall_z(BACK_Z - 0.002, 0.15, 0.85, -0.9, -0.3), 58.0),  # picture frame
        (_wall_z(BACK_Z - 0.003, 0.2, 0.8, -0.85, -0.35), 205.0),
    ]


def _fill(img: np.ndarray, uv: np.ndarray, value: float) -> None:
    if len(uv) >= 3:
        pts = np.round(uv * SUBPIXEL).astype(np.int32)
        cv2.fillPoly(img, [pts], value, cv2.LINE_AA, shift=4)


def render_room(room: Room) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(rgb uint8 H×W×3, person mask float 0..1, heel and toe image points or None)."""
    img = np.zeros((room.height, room.width), np.float32)
    for poly, grey in _surfaces(room):
        _fill(img, project(room, poly), grey)
    if room.board_deg is not None:
        t = np.radians(room.board_deg)
        base = np.array([0.55, FLOOR_Y, BACK_Z - 0.1])
        up, across = np.array([np.sin(t), -np.cos(t), 0.0]), 0.25 * np.array([np.cos(t), np.sin(t), 0.0])
        _fill(img, project(room, [base, base + across, base + across + 2 * up, base + 2 * up]), 250.0)
    mask = np.zeros_like(img)
    feet = None
    if room.person:
        heel, toe = project(room, [(-0.22, FLOOR_Y, 3.0), (0.05, FLOOR_Y, 3.0)])
        crown = project(room, [(-0.1, FLOOR_Y - 1.7, 3.0)])[0]
        tall = float(np.hypot(*(crown - heel)))
        t = np.radians(room.roll_deg + room.lean_deg)  # the camera's roll adds to the person's own lean
        up, fwd = np.array([np.sin(t), -np.cos(t)]), np.array([np.cos(t), np.sin(t)])
        anchor = 0.5 * (heel + toe)
        # (along the body from the soles, across it toward the front), in body heights
        shape = [(0, -0.07), (0, 0.09), (0.03, 0.04), (0.48, 0.06), (0.62, 0.09), (0.8, 0.07), (0.84, 0.03),
                 (0.88, 0.06), (0.97, 0.04), (1.0, 0.0), (0.97, -0.05), (0.86, -0.05), (0.82, -0.03),
                 (0.78, -0.09), (0.55, -0.08), (0.45, -0.07), (0.03, -0.06)]  # fmt: skip
        outline = np.array([anchor + a * tall * up + b * tall * fwd for a, b in shape])
        _fill(mask, outline, 1.0)
        img = img * (1 - mask) + 48.0 * mask
        feet = np.array([heel, toe])
    rng = np.random.default_rng(room.seed)
    # Uneven light, a slight blur and sensor noise.
    yy, xx = np.mgrid[0 : room.height, 0 : room.width] / max(room.width, room.height)
    img = img * (0.85 + 0.25 * xx - 0.1 * yy)
    img = cv2.GaussianBlur(img, (0, 0), 0.8) + rng.normal(0.0, room.noise, img.shape)
    rgb = np.repeat(np.clip(img, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    return rgb, mask, feet
