"""Ankle-over-knee alignment: shank (shin) angle, knee angle, knee position over the foot; and the
weight-bearing lunge (knee-to-wall) test.

`shank_angle_deg`: ankle→knee against vertical, + when the knee is ahead of the ankle (dorsiflexed
ankle). `knee_angle_deg`: 0 straight, + flexed, − hyperextended (thigh vs shank). In lunge mode the
front leg's shank angle is the tibial inclination of the lunge test (`lunge_tibia_deg`; < 36.5° is
"restricted" in Backman 2011) and `heel_lift` is 1 when the heel has left the floor.
"""

from __future__ import annotations

import numpy as np

from ..geometry import inclination_deg
from ..landmarks import Side
from ..rules import load_rules
from .base import Body, Measurement, MeasureSet


def measure_ankle_knee(body: Body, mode: str) -> MeasureSet:
    """Shin, knee and knee-over-foot; in lunge mode also the front shin and heel lift."""
    out = MeasureSet()
    v = out.values
    hip, knee, ankle = body.p("hip"), body.p("knee"), body.p("ankle")
    heel, toe = body.p("heel"), body.p("foot_index")
    shank = inclination_deg(ankle, knee)
    thigh = inclination_deg(knee, hip)
    conf = body.vis("hip", "knee", "ankle")
    v["shank_angle_deg"] = Measurement(shank, body.vis("knee", "ankle"))
    v["knee_angle_deg"] = Measurement(shank - thigh, conf)
    foot_len = float(np.hypot(*(toe - heel)))
    if foot_len > 0.02 * body.height_px:
        v["knee_over_foot_pct"] = Measurement(
            100.0 * float(knee[0] - ankle[0]) / foot_len, body.vis("knee", "ankle", "heel", "foot_index")
        )
    else:
        v["knee_over_foot_pct"] = Measurement.missing("foot_not_visible")

    if mode != "lunge":
        v["lunge_tibia_deg"] = Measurement.missing("not_lunge_mode")
        v["heel_lift"] = Measurement.missing("not_lunge_mode")
        return out
    # The front leg is the one whose ankle is further forward.
    front: Side = "left" if body.p("ankle", "left")[0] >= body.p("ankle", "right")[0] else "right"
    f_knee, f_ankle = body.p("knee", front), body.p("ankle", front)
    f_heel, f_toe = body.p("heel", front), body.p("foot_index", front)
    v["lunge_tibia_deg"] = Measurement(
        inclination_deg(f_ankle, f_knee), body.vis("knee", "ankle", side=front)
    )
    # Heel lift: heel above the toe by more than the rules' angle (y grows downward).
    rise_deg = float(np.degrees(np.arctan2(f_toe[1] - f_heel[1], abs(f_toe[0] - f_heel[0]) + 1e-9)))
    limit = load_rules()["lunge"]["heel_lift_deg"]
    heel_vis = body.vis("heel", "foot_index", side=front)
    v["heel_lift"] = Measurement(1.0 if rise_deg > limit else 0.0, heel_vis)
    out.drawing["lunge_tibia"] = np.array([f_ankle, f_knee])
    return out
