"""Pelvic tilt — an **estimate** from the back silhouette.

MediaPipe has no ASIS or PSIS, so the clinical angle (ASIS–PSIS line vs horizontal) cannot be
measured. What moves with it is the sacral slope of the back outline: when the pelvis tilts forward
the sacrum turns towards horizontal and the buttocks move back relative to the lower back. The
estimate is the inclination, against true vertical, of the steepest stretch of the posterior contour
between the deepest point of the lumbar hollow and the gluteal high point (a window of 40 % of that
stretch, fitted by total least squares), positive when the upper end is forward — anterior tilt.
Its values are not ASIS–PSIS angles and are not comparable between people (pelvic shape alone varies
by 13 ± 5°, Preece 2008): what it tracks is change within one person.
"""

from __future__ import annotations

import numpy as np

from ..geometry import line_inclination_deg
from .base import Body, Measurement, MeasureSet
from .lumbar import Hollow

WINDOW_FRAC = 0.4


def measure_pelvis(body: Body, hollow: Hollow | None, out: MeasureSet) -> None:
    v = out.values
    if hollow is None:
        v["pelvic_tilt_deg"] = Measurement.missing(
            "no_silhouette" if body.contour is None else "back_not_visible"
        )
        return
    prof = hollow.profile
    k = int(np.argmin(np.hypot(*(prof - hollow.deepest).T)))
    stretch = prof[k:]
    n = max(3, round(WINDOW_FRAC * len(stretch)))
    if len(stretch) < n or len(stretch) < 4:
        v["pelvic_tilt_deg"] = Measurement.missing("back_not_visible")
        return
    best, best_at = -np.inf, 0
    for start in range(len(stretch) - n + 1):
        incl = line_inclination_deg(stretch[start : start + n])
        if incl > best:
            best, best_at = incl, start
    window = stretch[best_at : best_at + n]
    v["pelvic_tilt_deg"] = Measurement(float(best), body.vis("hip", "shoulder") * hollow.coverage * 0.8)
    out.drawing["pelvis"] = window[[0, -1]]
