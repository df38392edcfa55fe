"""Posture measures, one module per area, all in the canonical frame (see `posture.geometry`).

Every measure is a `Measurement`: a value (or None with a reason code) and a confidence in 0..1.
`measure_all` runs them and collects drawing primitives for the overlay.
"""

from __future__ import annotations

from .base import Body, Measurement, MeasureSet, build_body
from .run import MEASURE_NAMES, measure_all

__all__ = ["MEASURE_NAMES", "Body", "MeasureSet", "Measurement", "build_body", "measure_all"]
