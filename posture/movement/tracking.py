"""Following the person through the sampled frames with the landmarker in VIDEO mode.

One `VideoPoseModel` pass per frame, with the frame's timestamp, so the landmarker tracks the person
from the previous frame instead of searching the whole picture again. When the model sees several
people the subject is the tallest in the first frame where anyone is found, then, frame by frame, the
one whose hips are nearest the subject's previous hips. Each frame's silhouette contour is kept (a few
thousand points), never its mask or pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..landmarks import INDEX
from ..model import PoseDetection
from ..silhouette import subject_contour
from .clip import Clip, ClipFrame

_HIPS = [INDEX["left_hip"], INDEX["right_hip"]]
# A detection whose hips are further than this share of the subject's height from the subject's last
# hips is someone else (a bystander the tracker jumped to), not the subject.
_MAX_JUMP_FRAC = 0.5


class VideoModel(Protocol):
    """What tracking needs of a model (`posture.model.VideoPoseModel`, or a fake in unit tests)."""

    sha256: str

    def start_clip(self) -> None: ...

    def detect_for_video(self, rgb: np.ndarray, timestamp_ms: int) -> list[PoseDetection]: ...


@dataclass(frozen=True)
class TrackedFrame:
    """The subject in one sampled frame, in clip pixels (upright frame, before any roll or mirroring).

    `landmarks` (33, 5: x, y, z, visibility, presence) and `contour` (N, 2) are None when no subject was
    found; `n_people` is how many people the model saw."""

    frame: ClipFrame
    landmarks: np.ndarray | None
    contour: np.ndarray | None
    mask: np.ndarray | None  # working-size mask, only when asked for (`keep_mask`)
    n_people: int


def track(
    clip: Clip,
    model: VideoModel,
    *,
    keep_mask: Callable[[ClipFrame, np.ndarray], bool] | None = None,
) -> Iterator[TrackedFrame]:
    """Yield the subject of each sampled frame. `keep_mask(frame, landmarks)` says which frames keep
    their mask (the analysis keeps the current standing candidate's, for the camera level)."""
    model.start_clip()
    last_hips: np.ndarray | None = None
    last_height = 0.0
    for frame in clip.frames():
        people = model.detect_for_video(frame.rgb, round(frame.time_s * 1000))
        chosen = _choose(people, last_hips, last_height)
        if chosen is None:
            yield TrackedFrame(frame, None, None, None, len(people))
            continue
        lm_work = chosen.landmarks
        hips_work = lm_work[_HIPS, :2].mean(axis=0)
        last_hips, last_height = hips_work, _height(lm_work)
        contour = subject_contour(chosen.mask, (0.0, 0.0), 1.0, hips_work)
        lm = lm_work.copy()
        lm[:, :2] /= frame.scale
        keep = keep_mask is not None and keep_mask(frame, lm)
        yield TrackedFrame(
            frame,
            lm,
            None if contour is None else contour / frame.scale,
            chosen.mask if keep else None,
            len(people),
        )


def _height(lm: np.ndarray) -> float:
    return float(lm[:, 1].max() - lm[:, 1].min())


def _choose(
    people: list[PoseDetection], last_hips: np.ndarray | None, last_height: float
) -> PoseDetection | None:
    if not people:
        return None
    if last_hips is None:
        return max(people, key=lambda p: _height(p.landmarks))
    distances = [float(np.hypot(*(p.landmarks[_HIPS, :2].mean(axis=0) - last_hips))) for p in people]
    best = int(np.argmin(distances))
    if distances[best] > _MAX_JUMP_FRAC * max(last_height, 1.0):
        return None
    return people[best]
