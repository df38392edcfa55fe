"""The subject's landmarks and silhouette: find the people, choose the subject, refine, fuse.

1. **Find**: the model runs on the whole working image (and, for wide photos, on overlapping square
   tiles, because its person detector letterboxes the frame to 224 px and misses people who fill only a
   small part of a landscape photo). The subject is the largest person whose head and feet are inside
   the frame.
2. **Refine**: a square crop around the subject, resized to a fixed side, is analysed twice: as is and
   mirrored. The fixed crop makes the result nearly independent of the photo's resolution and framing.
3. **Fuse**: the mirror pass is flipped back (x and the left/right labels) and averaged with the
   direct pass. Posture does not change when a photo is mirrored but one pass of the model does (about
   1° median); the fused result is symmetric and the landmark noise is averaged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .intake import Photo
from .landmarks import INDEX, mirror_landmarks
from .model import PoseDetection, PoseModel

_HEAD = [INDEX[n] for n in ("nose", "left_ear", "right_ear")]
_FEET = [INDEX[n] for n in ("left_ankle", "right_ankle", "left_heel", "right_heel")]
_TRUNK = [INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]

CROP_SIDE_PX = 640  # refine passes see the subject at this fixed size
CROP_MARGIN = 1.3  # crop side as a multiple of the subject's landmark extent
WIDE_ASPECT = 1.4  # wider photos are also searched tile by tile


@dataclass(frozen=True)
class Subject:
    """The person analysed.

    `landmarks` (33, 5): x, y in full-size upright-photo pixels, z, visibility, presence.
    `mask`: soft silhouette (float32 0..1) of the refine crop. A mask pixel (i, j) covers full-size
    pixels `mask_origin + (j, i) / mask_scale` onward.
    `n_people`: persons found; `fused`: True when the mirror pass found the subject and was averaged.
    """

    landmarks: np.ndarray
    mask: np.ndarray
    mask_origin: tuple[float, float]
    mask_scale: float
    n_people: int
    fused: bool
    passes: int


def find_subject(model: PoseModel, photo: Photo, *, fuse_mirror: bool = True) -> Subject | None:
    """Detect people in `photo`, choose the subject, refine and fuse; None if nobody is found."""
    rgb = photo.rgb
    height, width = rgb.shape[:2]
    people, passes = _find_people(model, rgb)
    # Candidates in order of preference; a candidate the refine pass cannot confirm (a spurious
    # skeleton across background clutter) gives way to the next.
    for candidate in rank_candidates(people, width, height):
        refined, n = _refine(model, rgb, candidate.detection, fuse_mirror)
        passes += n
        if refined is None:
            continue
        landmarks, mask, box, scale, fused = refined
        full = landmarks.copy()
        full[:, :2] /= photo.scale
        return Subject(
            landmarks=full,
            mask=np.ascontiguousarray(mask, dtype=np.float32),
            mask_origin=(box[0] / photo.scale, box[1] / photo.scale),
            mask_scale=scale * photo.scale,
            n_people=len(people),
            fused=fused,
            passes=passes,
        )
    return None


@dataclass(frozen=True)
class _Candidate:
    detection: PoseDetection
    support: int  # passes (whole frame, tiles) that found this person


def _refine(
    model: PoseModel, rgb: np.ndarray, subject: PoseDetection, fuse_mirror: bool
) -> tuple[tuple[np.ndarray, np.ndarray, tuple[int, int], float, bool] | None, int]:
    """Direct and mirrored passes on a fixed-size crop around `subject`, fused; None if not confirmed."""
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = _crop_box(subject, width, height)
    s = CROP_SIDE_PX / max(x1 - x0, y1 - y0)
    size = (max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s)))
    crop = cv2.resize(rgb[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    sx, sy = size[0] / (x1 - x0), size[1] / (y1 - y0)  # exact scales after rounding

    def to_working(lm: np.ndarray) -> np.ndarray:
        out = lm.copy()
        out[:, 0] = x0 + lm[:, 0] / sx
        out[:, 1] = y0 + lm[:, 1] / sy
        return out

    direct = [PoseDetection(to_working(d.landmarks), d.mask) for d in model.detect(crop)]
    target = _match(subject, direct)
    if target is None:
        return None, 1
    if not fuse_mirror:
        return (target.landmarks, target.mask, (x0, y0), sx, False), 1
    mirrored = [
        PoseDetection(to_working(mirror_landmarks(d.landmarks, size[0])), d.mask[:, ::-1])
        for d in model.detect(np.ascontiguousarray(crop[:, ::-1]))
    ]
    twin = _match(target, mirrored)
    if twin is None:
        return (target.landmarks, target.mask, (x0, y0), sx, False), 2
    landmarks = (target.landmarks + twin.landmarks) / 2.0
    return (landmarks, (target.mask + twin.mask) / 2.0, (x0, y0), sx, True), 2


def _find_people(model: PoseModel, rgb: np.ndarray) -> tuple[list[_Candidate], int]:
    """Distinct people in the working image: a whole-frame pass, plus square tiles for wide photos."""
    height, width = rgb.shape[:2]
    people = list(model.detect(rgb))
    passes = 1
    if width > WIDE_ASPECT * height:
        n = math.ceil((width - height) / (height / 2)) + 1
        for x0 in np.linspace(0, width - height, n).round().astype(int):
            tile = np.ascontiguousarray(rgb[:, x0 : x0 + height])
            for d in model.detect(tile):
                lm = d.landmarks.copy()
                lm[:, 0] += x0
                if _inside(
                    lm, x0, x0 + height, height
                ):  # a person cut by the tile edge is seen whole elsewhere
                    people.append(PoseDetection(lm, d.mask))
            passes += 1
    return _cluster(people), passes


def rank_candidates(people: list[_Candidate], width: float, height: float) -> list[_Candidate]:
    """People in order of preference: head and feet inside the frame, found by more than one pass
    (tiles overlap, so a real person is usually found twice, a spurious skeleton once), then tallest."""

    def key(c: _Candidate) -> tuple[bool, int, float]:
        lm = c.detection.landmarks
        return (_inside(lm, 0, width, height), min(c.support, 2), float(lm[:, 1].max() - lm[:, 1].min()))

    return sorted(people, key=key, reverse=True)


def _inside(lm: np.ndarray, x_min: float, x_max: float, height: float) -> bool:
    pts = lm[_HEAD + _FEET, :2]
    return bool(
        np.all((pts[:, 0] >= x_min) & (pts[:, 0] <= x_max) & (pts[:, 1] >= 0) & (pts[:, 1] <= height))
    )


def _cluster(detections: list[PoseDetection]) -> list[_Candidate]:
    """Group detections of the same person (trunk centres within a quarter of their height)."""
    groups: list[list[PoseDetection]] = []
    for d in detections:
        for g in groups:
            if _match(g[0], [d]) is not None:
                g.append(d)
                break
        else:
            groups.append([d])
    # Representative: the most visible detection of the group.
    return [_Candidate(max(g, key=lambda d: float(d.landmarks[:, 3].mean())), len(g)) for g in groups]


def _crop_box(subject: PoseDetection, width: int, height: int) -> tuple[int, int, int, int]:
    """Square box around the subject's landmarks with a margin, clipped to the image."""
    xy = subject.landmarks[:, :2]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    centre = (lo + hi) / 2
    side = CROP_MARGIN * float(max(hi - lo))
    x0 = int(max(0, math.floor(centre[0] - side / 2)))
    y0 = int(max(0, math.floor(centre[1] - side / 2)))
    x1 = int(min(width, math.ceil(centre[0] + side / 2)))
    y1 = int(min(height, math.ceil(centre[1] + side / 2)))
    return x0, y0, x1, y1


def _match(target: PoseDetection, candidates: list[PoseDetection]) -> PoseDetection | None:
    """The candidate describing the same person: nearest trunk centre, within a fifth of its height."""
    if not candidates:
        return None
    centre = target.landmarks[_TRUNK, :2].mean(axis=0)
    extent = float(target.landmarks[:, 1].max() - target.landmarks[:, 1].min())
    dists = [float(np.hypot(*(c.landmarks[_TRUNK, :2].mean(axis=0) - centre))) for c in candidates]
    best = int(np.argmin(dists))
    return candidates[best] if dists[best] < 0.2 * max(extent, 1.0) else None
