"""The pose model: MediaPipe Tasks `PoseLandmarker`, wrapped in the Tasks shape.

Options in, one long-lived object, `detect(image)`. The model file is the offline bundle shipped inside
the package, `posture/model_data/` (built from a registry package by `models/build_pose_task.py`, origin
and licence in `models/README.md`); its SHA-256 is pinned here and checked at load, so
a result always names the exact weights that produced it. One `PoseModel` must not be used by two threads
at once: give each worker its own.
"""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions, vision

from .errors import ModelIntegrityError
from .native_logs import quiet_native

MODEL_FILENAME = "pose_landmarker_full.task"
MODEL_DATA_DIR = "model_data"
MODEL_SHA256 = "74cd0bdebb6fd5c794d539f394a0a2ae3994bad94631cc12b706db359e49c5b1"
N_LANDMARKS = 33


def default_model_path() -> Path:
    """`$POSTURE_MODEL_PATH`, else the copy shipped as package data, `posture/model_data/`.

    Package data, not a folder beside the package, so that a wheel or `pip install .` carries it and an
    installed `posture` works from any directory. pip always installs on disk, so a plain path is enough.
    """
    env = os.environ.get("POSTURE_MODEL_PATH")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / MODEL_DATA_DIR / MODEL_FILENAME


@dataclass(frozen=True)
class PoseModelOptions:
    """How to build a `PoseModel`. `num_poses` > 1 lets the analysis see bystanders and pick the subject."""

    model_path: Path = field(default_factory=default_model_path)
    expected_sha256: str | None = MODEL_SHA256
    num_poses: int = 3
    min_pose_detection_confidence: float = 0.5
    min_pose_presence_confidence: float = 0.5


@dataclass(frozen=True)
class PoseDetection:
    """One person found by the model, in the pixel frame of the image passed to `detect`.

    `landmarks` is (33, 5): x_px, y_px, z (relative depth, hips ≈ 0, smaller = nearer the camera),
    visibility, presence. `mask` is the person's soft segmentation (float32 in 0..1, image-sized).
    """

    landmarks: np.ndarray
    mask: np.ndarray


class PoseModel:
    """A long-lived pose landmarker; `detect(rgb)` returns every person found."""

    def __init__(self, options: PoseModelOptions | None = None) -> None:
        self.options = options or PoseModelOptions()
        data = load_model_bytes(self.options.model_path, self.options.expected_sha256)
        self.sha256 = hashlib.sha256(data).hexdigest()
        task_options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=data),
            running_mode=vision.RunningMode.IMAGE,
            num_poses=self.options.num_poses,
            min_pose_detection_confidence=self.options.min_pose_detection_confidence,
            min_pose_presence_confidence=self.options.min_pose_presence_confidence,
            output_segmentation_masks=True,
        )
        with quiet_native():  # its start-up lines (posture.native_logs)
            self._landmarker = vision.PoseLandmarker.create_from_options(task_options)
        self._lock = threading.Lock()
        self._first = True
        self._finalizer = weakref.finalize(self, _close_quietly, self._landmarker)

    @classmethod
    def create_from_options(cls, options: PoseModelOptions) -> PoseModel:
        return cls(options)

    def detect(self, rgb: np.ndarray) -> list[PoseDetection]:
        """Run the landmarker on an RGB uint8 image (H×W×3)."""
        height, width = rgb.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        with self._lock:  # the graph is not re-entrant; a lock turns misuse into waiting, not corruption
            with quiet_native() if self._first else nullcontext():  # the first frame's own lines
                result = self._landmarker.detect(image)
            self._first = False
        return _detections(result, width, height)

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> PoseModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoPoseModel:
    """The same landmarker and model file in VIDEO running mode, for the frames of a clip.

    VIDEO mode tracks the person from frame to frame (the detector runs only when the track is lost),
    so a frame costs one landmark pass instead of the photo pipeline's several crops. Its state belongs
    to one clip: call `start_clip()` before the first frame of each clip, then `detect_for_video` with
    strictly increasing timestamps. Not for two threads at once.
    """

    def __init__(self, options: PoseModelOptions | None = None) -> None:
        self.options = options or PoseModelOptions(num_poses=2)
        self._data = load_model_bytes(self.options.model_path, self.options.expected_sha256)
        self.sha256 = hashlib.sha256(self._data).hexdigest()
        self._landmarker: vision.PoseLandmarker | None = None
        self._finalizer: weakref.finalize | None = None
        self._last_ms = -1
        self._twin: VideoPoseModel | None = None

    def twin(self) -> VideoPoseModel:
        """A second video model of the same file with its own track (for a clip's mirrored frames),
        made on first use from the bytes already checked, and closed with this one."""
        if self._twin is None:
            twin = object.__new__(VideoPoseModel)
            twin.options, twin._data, twin.sha256 = self.options, self._data, self.sha256
            twin._landmarker, twin._finalizer, twin._last_ms, twin._twin = None, None, -1, None
            self._twin = twin
        return self._twin

    def start_clip(self) -> None:
        """Forget the previous clip's track: a fresh landmarker (the model bytes are kept in memory)."""
        self.close()
        task_options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=self._data),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=self.options.num_poses,
            min_pose_detection_confidence=self.options.min_pose_detection_confidence,
            min_pose_presence_confidence=self.options.min_pose_presence_confidence,
            output_segmentation_masks=True,
        )
        with quiet_native():  # its start-up lines (posture.native_logs)
            self._landmarker = vision.PoseLandmarker.create_from_options(task_options)
        self._finalizer = weakref.finalize(self, _close_quietly, self._landmarker)
        self._last_ms = -1

    def detect_for_video(self, rgb: np.ndarray, timestamp_ms: int) -> list[PoseDetection]:
        """Every person in one RGB uint8 frame at `timestamp_ms` (later than the previous frame's)."""
        if self._landmarker is None:
            self.start_clip()
        first = self._last_ms < 0
        timestamp_ms = max(int(timestamp_ms), self._last_ms + 1)  # MediaPipe refuses equal timestamps
        self._last_ms = timestamp_ms
        height, width = rgb.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        with quiet_native() if first else nullcontext():  # the first frame's own lines
            result = self._landmarker.detect_for_video(image, timestamp_ms)  # type: ignore[union-attr]
        return _detections(result, width, height)

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._landmarker = None
        self._finalizer = None
        if self._twin is not None:
            self._twin.close()

    def __enter__(self) -> VideoPoseModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _detections(result: vision.PoseLandmarkerResult, width: int, height: int) -> list[PoseDetection]:
    """The landmarker's result as `PoseDetection`s in pixels of a `width` × `height` image."""
    masks = result.segmentation_masks or []
    poses = []
    for i, pose in enumerate(result.pose_landmarks):
        lm = np.array(
            [(p.x * width, p.y * height, p.z, _or_zero(p.visibility), _or_zero(p.presence)) for p in pose],
            dtype=np.float64,
        )
        mask = (
            np.array(masks[i].numpy_view(), dtype=np.float32).reshape(height, width)
            if i < len(masks)
            else np.zeros((height, width), np.float32)
        )
        poses.append(PoseDetection(landmarks=lm, mask=mask))
    return poses


def load_model_bytes(path: Path, expected_sha256: str | None) -> bytes:
    """Read the model file and check its SHA-256 against the pinned value."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelIntegrityError(
            f"Pose model not found at {path}. It ships inside the package (posture/model_data/); "
            "reinstall the package, rebuild it with `python models/build_pose_task.py` "
            "or set POSTURE_MODEL_PATH."
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 and digest != expected_sha256:
        raise ModelIntegrityError(
            f"Pose model at {path} has SHA-256 {digest}, expected {expected_sha256}. "
            "The file is damaged or a different build; rebuild it with `python models/build_pose_task.py`."
        )
    return data


def _close_quietly(landmarker: vision.PoseLandmarker) -> None:
    """Close a landmarker, also at interpreter exit, when MediaPipe's executor is already shut down
    and its own close() (and later __del__) would print a traceback: the process is ending anyway."""
    try:
        landmarker.close()
    except (RuntimeError, TypeError):
        landmarker._handle = None


def _or_zero(value: float | None) -> float:
    return 0.0 if value is None else float(value)
