"""Pelvic tilt — an **estimate** from the back silhouette.

MediaPipe has no ASIS or PSIS, so the clinical angle (ASIS–PSIS line vs horizontal) cannot be
measured. What moves with it is the sacral slope of the back outline: when the pelvis tilts forward
the sacrum turns towards horizontal and the buttocks move back relative to the lower back. The
estimate is the inclination, against true vertical, of the back outline over the lower half of the
lumbar hollow — from the hollow's centre to the gluteal high point, trimmed by 15 % at each end where
the outline curves — fitted by total least squares; positive when the upper end is forward, i.e.
anterior tilt. The hollow's centre is its depth-weighted centroid along the lumbar chord (thoracic
high point → gluteal high point), which stays put where the single deepest point would slide along a
flat-bottomed hollow.
Its values are not ASIS–PSIS angles and are not comparable between people (pelvic shape alone varies
by 13 ± 5°, Preece 2008): what it tracks is change within one person.
"""

from __future__ import annotations

import numpy as np

from ..geometry import line_inclination_deg
from .base import Body, Measurement, MeasureSet
from .lumbar import Hollow

TRIM = 0.15  # share of the centre→gluteal stretch dropped at each end


def measure_pelvis(body: Body, hollow: Hollow | None) -> MeasureSet:
    """The pelvic tilt estimate from the lumbar `usable_hollow`, with the fitted stretch to draw."""
    out = MeasureSet()
    v = out.values
    if hollow is None:
        v["pelvic_tilt_deg"] = Measurement.missing(
            "no_silhouette" if body.contour is None else "back_not_visible"
        )
        return out
    prof = hollow.profile
    axis = (hollow.bottom - hollow.top) / hollow.chord_px
    along = (prof - hollow.top) @ axis / hollow.chord_px  # 0 at the top of the chord, 1 at the bottom
    depth = np.clip((prof - hollow.top) @ np.array([axis[1], -axis[0]]), 0.0, None)  # in front of the chord
    weight = depth * np.gradient(along)
    centre = float((along * weight).sum() / weight.sum()) if weight.sum() > 0 else 0.5
    lo, hi = centre + TRIM * (1 - centre), 1 - TRIM * (1 - centre)
    window = prof[(along >= lo) & (along <= hi)]
    if len(window) < 4:
        v["pelvic_tilt_deg"] = Measurement.missing("back_not_visible")
        return out
    incl = line_inclination_deg(window)
    v["pelvic_tilt_deg"] = Measurement(incl, body.vis("hip", "shoulder") * hollow.coverage * 0.8)
    out.drawing["pelvis"] = window[[0, -1]]
    return out
