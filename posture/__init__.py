"""posture: side-profile posture photo analysis (MediaPipe landmarks and silhouette → measures).

>>> import posture
>>> result = posture.analyze("photo.jpg")
>>> result.to_dict()["status"]
"""

from .analysis import analyze, default_model
from .errors import ErrorCode, ModelIntegrityError, PostureError
from .model import PoseModel, PoseModelOptions, VideoPoseModel
from .movement import MOVEMENT_MEASURE_NAMES, ClipOptions, MovementAnalysis, analyze_clip
from .options import AnalysisOptions
from .result import Analysis

__all__ = [
    "MOVEMENT_MEASURE_NAMES",
    "Analysis",
    "AnalysisOptions",
    "ClipOptions",
    "ErrorCode",
    "ModelIntegrityError",
    "MovementAnalysis",
    "PoseModel",
    "PoseModelOptions",
    "PostureError",
    "VideoPoseModel",
    "analyze",
    "analyze_clip",
    "default_model",
]
