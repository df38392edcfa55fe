"""Plane geometry in the canonical frame.

**Canonical frame** (used by every measure): image pixels of the upright photo, rotated so that true
vertical is the frame's vertical (camera roll removed) and mirrored when needed so the person faces +x.
x grows forward (the direction the person faces), y grows downward (image rows). All angles are in
degrees; an inclination "vs vertical" is positive when the upper end of the segment lies forward of the
lower end.

**Camera roll**: `camera_roll_deg` > 0 means the camera was turned counter-clockwise (as seen from behind
it), so the upright scene appears turned clockwise by that angle in the photo.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def rotate_clockwise(points: np.ndarray, angle_deg: float, centre: Sequence[float]) -> np.ndarray:
    """Rotate (…, 2) points clockwise as seen on screen (y down) by `angle_deg` about `centre`."""
    theta = np.deg2rad(angle_deg)
    c, s = np.cos(theta), np.sin(theta)
    p = np.asarray(points, dtype=np.float64) - centre
    x = p[..., 0] * c - p[..., 1] * s
    y = p[..., 0] * s + p[..., 1] * c
    return np.stack([x, y], axis=-1) + centre


def to_canonical(
    points: np.ndarray, *, width: float, height: float, facing_left: bool, camera_roll_deg: float = 0.0
) -> np.ndarray:
    """Map (…, 2) image points (upright photo pixels) into the canonical frame.

    The roll is undone first (in image orientation), then the frame is mirrored about the image's
    vertical centre line if the person faces image-left.
    """
    centre = (width / 2.0, height / 2.0)
    p = np.asarray(points, dtype=np.float64)
    if camera_roll_deg:
        p = rotate_clockwise(p, -camera_roll_deg, centre)
    if facing_left:
        p = p.copy()
        p[..., 0] = width - p[..., 0]
    return p


def from_canonical(
    points: np.ndarray, *, width: float, height: float, facing_left: bool, camera_roll_deg: float = 0.0
) -> np.ndarray:
    """Inverse of `to_canonical`: canonical points back into image pixels (for drawing)."""
    centre = (width / 2.0, height / 2.0)
    p = np.asarray(points, dtype=np.float64).copy()
    if facing_left:
        p[..., 0] = width - p[..., 0]
    if camera_roll_deg:
        p = rotate_clockwise(p, camera_roll_deg, centre)
    return p


def inclination_deg(lower: np.ndarray, upper: np.ndarray) -> float:
    """Inclination of the segment lower→upper against vertical; + when `upper` is forward of `lower`."""
    dx = float(upper[0] - lower[0])
    rise = float(lower[1] - upper[1])  # y grows downward
    return float(np.degrees(np.arctan2(dx, rise)))


def line_inclination_deg(points: np.ndarray) -> float:
    """Inclination vs vertical of the total-least-squares line through (N, 2) points.

    Same sign rule as `inclination_deg` (upper end forward = positive); the line is fitted along its
    principal axis, so it is exact for collinear points at any angle.
    """
    p = np.asarray(points, dtype=np.float64)
    centred = p - p.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    direction = vt[0]
    if direction[1] > 0:  # orient the direction upward (towards smaller y)
        direction = -direction
    return float(np.degrees(np.arctan2(direction[0], -direction[1])))


def joint_angle_deg(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """Unsigned deviation from straight at `b` of the chain a→b→c (0 = in line), in degrees."""
    u = np.asarray(b, float) - np.asarray(a, float)
    v = np.asarray(c, float) - np.asarray(b, float)
    cross = u[0] * v[1] - u[1] * v[0]
    dot = float(u @ v)
    return float(abs(np.degrees(np.arctan2(cross, dot))))


def signed_turn_deg(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """Signed turn at `b` of the chain a→b→c, in degrees (0 = in line).

    Positive when the chain turns clockwise on screen (y down), i.e. towards +x when walking upward.
    """
    u = np.asarray(b, float) - np.asarray(a, float)
    v = np.asarray(c, float) - np.asarray(b, float)
    cross = u[0] * v[1] - u[1] * v[0]
    return float(np.degrees(np.arctan2(cross, float(u @ v))))


def point_line_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Signed perpendicular distance of (N, 2) points from the line a→b; + to the left of a→b on screen."""
    a = np.asarray(a, float)
    d = np.asarray(b, float) - a
    n = np.hypot(d[0], d[1])
    p = np.asarray(points, float) - a
    return (d[0] * p[:, 1] - d[1] * p[:, 0]) / n
