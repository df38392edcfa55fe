"""Movement tests from a side clip: the bodyweight squat and the knee-to-wall lunge.

>>> from posture import analyze_clip, ClipOptions
>>> result = analyze_clip("squat.mp4", ClipOptions(test="squat"))
>>> result.measures["squat_shin_peak_deg"]

One module per concept: `clip` (decoding and sampling), `tracking` (the landmarker in VIDEO mode),
`reps` (reps from the hip's path), `measures` (per frame, per rep, headline), `scoring` (rules),
`overlay` (the deepest frame), `result`, `options`, `analysis` (`analyze_clip`).
"""

from ..model import VideoPoseModel
from .analysis import analyze_clip, default_video_model
from .clip import VIDEO_SUFFIXES, is_clip_path
from .measures import MOVEMENT_MEASURE_NAMES
from .options import ClipOptions
from .result import MovementAnalysis

__all__ = [
    "MOVEMENT_MEASURE_NAMES",
    "VIDEO_SUFFIXES",
    "ClipOptions",
    "MovementAnalysis",
    "VideoPoseModel",
    "analyze_clip",
    "default_video_model",
    "is_clip_path",
]
