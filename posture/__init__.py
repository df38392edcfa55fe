"""posture: side-profile posture photo analysis (MediaPipe landmarks and silhouette → measures).

>>> import posture
>>> result = posture.analyze("photo.jpg")
>>> result.to_dict()["status"]
"""

from .analysis import analyze, default_model
from .errors import ErrorCode, ModelIntegrityError, PostureError
from .model import PoseModel, PoseModelOptions
from .options import AnalysisOptions
from .result import Analysis

__all__ = [
    "Analysis",
    "AnalysisOptions",
    "ErrorCode",
    "ModelIntegrityError",
    "PoseModel",
    "PoseModelOptions",
    "PostureError",
    "analyze",
    "default_model",
]
