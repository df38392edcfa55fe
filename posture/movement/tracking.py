"""Following the person through the sampled frames with the landmarker in VIDEO mode.

One `VideoPoseModel` pass per frame, with the frame's timestamp, so the landmarker tracks the person
from the previous frame instead of searching the whole picture again. When the model sees several
people the subject is the tallest in the first frame where anyone is found, then, frame by frame, the
one whose hips are nearest the subject's previous hips. Of the segmentation mask, when asked for, each
frame keeps only the box around the person, compressed (a few kB): the silhouette is traced later, only for
the frames a measure needs (`TrackedFrame.contour()`), never for every frame.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from ..landmarks import INDEX, mirror_landmarks
from ..model import PoseDetection
from ..silhouette import subject_contour
from .clip import Clip, ClipFrame

_HIPS = [INDEX["left_hip"], INDEX["right_hip"]]
# A detection whose hips are further than this share of the subject's height from the subject's last
# hips is someone else (a bystander the tracker jumped to), not the subject. The reach grows by as much
# again for every frame the subject was not seen in, so a subject lost for a few frames (occluded,
# blurred) while moving on is found again.
_MAX_JUMP_FRAC = 0.5


class VideoModel(Protocol):
    """What tracking needs of a model (`posture.model.VideoPoseModel`, or a fake in unit tests)."""

    sha256: str

    def start_clip(self) -> None: ...

    def detect_for_video(self, rgb: np.ndarray, timestamp_ms: int) -> list[PoseDetection]: ...


@dataclass(frozen=True)
class MaskCrop:
    """The person's soft mask inside a box of the working frame, quantised to 8 bits and compressed
    (zlib level 1: a third of a PNG encoder's time, about the same size, ~10 kB)."""

    origin: tuple[int, int]  # (x, y) of the box's top-left pixel in working pixels
    shape: tuple[int, int]  # rows, columns
    data: bytes

    def contour(self, seed_xy: np.ndarray) -> np.ndarray | None:
        """The silhouette outline (working pixels) around `seed_xy` (working pixels)."""
        mask = np.frombuffer(zlib.decompress(self.data), np.uint8).reshape(self.shape)
        return subject_contour(
            mask.astype(np.float32) / 255.0, (float(self.origin[0]), float(self.origin[1])), 1.0, seed_xy
        )


@dataclass(frozen=True)
class TrackedFrame:
    """The subject in one sampled frame, in clip pixels (upright frame, before any roll or mirroring).

    `landmarks` (33, 5: x, y, z, visibility, presence) is None when no subject was found; `n_people` is how
    many people the model saw. `mask_crop` is kept when tracking was asked to (`keep_masks`); `mask` (the
    whole working-size mask) only for the frames `keep_mask` picks."""

    frame: ClipFrame
    landmarks: np.ndarray | None
    mask_crop: MaskCrop | None
    mask: np.ndarray | None
    n_people: int

    def contour(self) -> np.ndarray | None:
        """The silhouette outline in clip pixels, traced now from the kept mask crop; None without one."""
        if self.mask_crop is None or self.landmarks is None:
            return None
        hips = self.landmarks[_HIPS, :2].mean(axis=0) * self.frame.scale
        outline = self.mask_crop.contour(hips)
        return None if outline is None else outline / self.frame.scale


def track(
    clip: Clip,
    model: VideoModel,
    *,
    keep_mask: Callable[[ClipFrame, np.ndarray], bool] | None = None,
    keep_masks: bool = False,
    mirror_pass: bool = False,
) -> Iterator[TrackedFrame]:
    """Yield the subject of each sampled frame. `keep_mask(frame, landmarks)` says which frames keep
    their whole mask (the analysis keeps the current standing candidate's, for the camera level);
    `keep_masks` keeps every frame's mask crop (for silhouette measures). `mirror_pass` runs the
    model's twin (`twin()`) on each frame mirrored and averages the subject's landmarks of both passes
    (left and right swapped back), as the photo pipeline fuses its mirrored views."""
    model.start_clip()
    twin = model.twin() if mirror_pass else None  # type: ignore[attr-defined]
    if twin is not None:
        twin.start_clip()
    last_hips: np.ndarray | None = None
    last_height = 0.0
    missed = 0  # frames since the subject was last seen
    for frame in clip.frames():
        ms = round(frame.time_s * 1000)
        people = model.detect_for_video(frame.rgb, ms)
        chosen = _choose(people, last_hips, last_height * (1 + missed))
        if chosen is None:
            missed += 1
            yield TrackedFrame(frame, None, None, None, len(people))
            continue
        missed = 0
        lm_work = chosen.landmarks
        if twin is not None:
            lm_work = _fuse(
                lm_work, twin.detect_for_video(np.ascontiguousarray(frame.rgb[:, ::-1]), ms), frame.rgb
            )
        hips_work = lm_work[_HIPS, :2].mean(axis=0)
        last_hips, last_height = hips_work, _height(lm_work)
        lm = lm_work.copy()
        lm[:, :2] /= frame.scale
        keep = keep_mask is not None and keep_mask(frame, lm)
        crop = _crop(chosen.mask, lm_work) if keep_masks else None
        yield TrackedFrame(frame, lm, crop, chosen.mask if keep else None, len(people))


def _crop(mask: np.ndarray, lm: np.ndarray) -> MaskCrop | None:
    """The mask inside the landmarks' box grown by a third of the person's height on every side (the
    silhouette reaches past the joints: hair, back, buttocks, feet)."""
    if mask.size <= 1:
        return None
    h, w = mask.shape
    margin = _height(lm) / 3.0
    x0, y0 = (int(max(0, np.floor(lm[:, i].min() - margin))) for i in (0, 1))
    x1 = int(min(w, np.ceil(lm[:, 0].max() + margin)))
    y1 = int(min(h, np.ceil(lm[:, 1].max() + margin)))
    if x1 <= x0 or y1 <= y0:
        return None
    quantised = cv2.convertScaleAbs(mask[y0:y1, x0:x1], alpha=255.0)  # rounded, saturated to 0..255
    return MaskCrop((x0, y0), quantised.shape, zlib.compress(quantised.tobytes(), 1))


def _fuse(lm: np.ndarray, mirrored: list[PoseDetection], rgb: np.ndarray) -> np.ndarray:
    """The mean of `lm` and the mirrored pass's detection of the same person (nearest hips, mapped
    back into the frame with left and right swapped); `lm` alone when that pass found nobody near."""
    width = rgb.shape[1]
    candidates = [mirror_landmarks(d.landmarks, width) for d in mirrored]
    if not candidates:
        return lm
    hips = lm[_HIPS, :2].mean(axis=0)
    best = min(candidates, key=lambda c: float(np.hypot(*(c[_HIPS, :2].mean(axis=0) - hips))))
    if float(np.hypot(*(best[_HIPS, :2].mean(axis=0) - hips))) > _MAX_JUMP_FRAC * max(_height(lm), 1.0):
        return lm
    fused = lm.copy()
    fused[:, :3] = (lm[:, :3] + best[:, :3]) / 2
    fused[:, 3:] = np.minimum(lm[:, 3:], best[:, 3:])
    return fused


def _height(lm: np.ndarray) -> float:
    return float(lm[:, 1].max() - lm[:, 1].min())


def _choose(
    people: list[PoseDetection], last_hips: np.ndarray | None, reach_height: float
) -> PoseDetection | None:
    """The subject among `people`: the tallest at first, then the one nearest the last hips, within
    `_MAX_JUMP_FRAC` of `reach_height` (the subject's height, times the frames since it was seen)."""
    if not people:
        return None
    if last_hips is None:
        return max(people, key=lambda p: _height(p.landmarks))
    distances = [float(np.hypot(*(p.landmarks[_HIPS, :2].mean(axis=0) - last_hips))) for p in people]
    best = int(np.argmin(distances))
    if distances[best] > _MAX_JUMP_FRAC * max(reach_height, 1.0):
        return None
    return people[best]
