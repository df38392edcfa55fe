"""Run every measure on one body."""

from __future__ import annotations

import numpy as np

from ..landmarks import Side
from .alignment import PLUMB_PARTS, measure_alignment
from .ankle_knee import measure_ankle_knee
from .base import MeasureSet, build_body
from .lumbar import measure_lumbar, usable_hollow
from .pelvis import measure_pelvis

# Every key of `Analysis.measures`, in display order (CSV columns follow it).
MEASURE_NAMES: tuple[str, ...] = (
    "pelvic_tilt_deg",
    "lumbar_lordosis_deg",
    "lumbar_lordosis_index",
    "shank_angle_deg",
    "knee_angle_deg",
    "knee_over_foot_pct",
    "trunk_lean_deg",
    "head_forward_deg",
    "body_line_deg",
    "hip_angle_deg",
    *(f"plumb_{p}_pct" for p in PLUMB_PARTS),
    "lunge_tibia_deg",
    "heel_lift",
)


def measure_all(lm: np.ndarray, contour: np.ndarray | None, side: Side, mode: str = "standing") -> MeasureSet:
    """All measures from canonical landmarks (33, ≥4: x, y, z, visibility) and contour."""
    body = build_body(lm, contour, side)
    hollow = usable_hollow(body)  # shared by the lumbar and the pelvic estimates
    parts = (
        measure_lumbar(body, hollow),
        measure_pelvis(body, hollow),
        measure_ankle_knee(body, mode),
        measure_alignment(body),
    )
    values = {name: m for part in parts for name, m in part.values.items()}
    drawing = {key: d for part in parts for key, d in part.drawing.items()}
    return MeasureSet({name: values[name] for name in MEASURE_NAMES}, drawing)
