"""Overall standing alignment: trunk, head, body line, hip angle and Kendall plumb-line offsets.

Segment inclinations are against true vertical, positive when the upper point is forward (SAPO's
lateral-view angles, with MediaPipe joint centres standing in for acromion, trochanter and tragus).
`head_forward_deg` (shoulder→ear) is **not** the craniovertebral angle, which needs C7: CVA cut-offs
never apply to it.
"""

from __future__ import annotations

import numpy as np

from ..geometry import inclination_deg
from .base import Body, Measurement, MeasureSet

PLUMB_PARTS = ("ear", "shoulder", "hip", "knee")


def measure_alignment(body: Body) -> MeasureSet:
    """Trunk, head, body line, hip angle and plumb offsets, with the plumb line for the overlay."""
    ear, shoulder, hip = body.p("ear"), body.p("shoulder"), body.p("hip")
    knee, ankle = body.p("knee"), body.p("ankle")
    out = MeasureSet()
    v = out.values
    trunk = inclination_deg(hip, shoulder)
    v["trunk_lean_deg"] = Measurement(trunk, body.vis("hip", "shoulder"))
    v["head_forward_deg"] = Measurement(inclination_deg(shoulder, ear), body.vis("shoulder", "ear"))
    v["body_line_deg"] = Measurement(inclination_deg(ankle, shoulder), body.vis("ankle", "shoulder"))
    # SAPO hip angle: trunk line vs thigh line, 0 = in line, + = trunk inclined forward of the thigh.
    thigh = inclination_deg(knee, hip)
    v["hip_angle_deg"] = Measurement(trunk - thigh, body.vis("shoulder", "hip", "knee"))

    # Kendall plumb line: the vertical through the ankle; offsets as % of standing height, + forward.
    for part in PLUMB_PARTS:
        offset_pct = 100.0 * float(body.p(part)[0] - ankle[0]) / body.height_px
        v[f"plumb_{part}_pct"] = Measurement(offset_pct, body.vis(part, "ankle"))
    out.drawing["plumb"] = np.array([[ankle[0], body.floor_y], [ankle[0], body.floor_y - body.height_px]])
    return out
