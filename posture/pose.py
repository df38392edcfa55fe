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
# Refine views: (zoom, shift x, shift y as fractions of the crop side); each runs direct and mirrored.
# Averaging views whose crops differ slightly cancels most of the model's sensitivity to the exact
# crop (docs/accuracy.md has the figures).
RECENTRE = True  # place the final crops from a first fused view rather than from the search pass
REFINE_VIEWS: tuple[tuple[float, float, float], ...] = (
    (1.0, 0.0, 0.0),
    (1.12, 0.0, 0.0),
    (0.92, 0.0, 0.0),
    (1.0, 0.03, -0.03),
    (1.0, -0.03, -0.03),
    (1.06, 0.0, 0.04),
)
WIDE_ASPECT = 1.4  # wider photos are also searched tile by tile
SEARCH_SIDE_PX = 640  # the search passes see at most this many pixels on the long side


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
        detection = candidate.detection
        if RECENTRE and fuse_mirror:
            # One fused view first: its landmarks place the final crops far more steadily than the
            # coarse search pass (whose box moves by several pixels when the photo is re-encoded).
            first, n = _refine(model, rgb, detection, True, views=REFINE_VIEWS[:1])
            passes += n
            if first is None:
                continue
            detection = PoseDetection(first[0], detection.mask)
        refined, n = _refine(model, rgb, detection, fuse_mirror)
        passes += n
        if refined is None:
            continue
        landmarks, mask, origin, scale, fused = refined
        full = landmarks.copy()
        full[:, :2] /= photo.scale
        return Subject(
            landmarks=full,
            mask=np.ascontiguousarray(mask, dtype=np.float32),
            mask_origin=(origin[0] / photo.scale, origin[1] / photo.scale),
            mask_scale=scale * photo.scale,
            n_people=len(people),
            fused=fused,
            passes=passes,
        )
    if not people:
        return None
    # Nobody could be confirmed on a close crop (typically a person too small to refine): report the
    # search pass' best guess without a silhouette, so the quality gate can say what is wrong.
    best = rank_candidates(people, width, height)[0].detection
    full = best.landmarks.copy()
    full[:, :2] /= photo.scale
    return Subject(full, np.zeros((1, 1), np.float32), (0.0, 0.0), 1.0, len(people), False, passes)


@dataclass(frozen=True)
class _Candidate:
    detection: PoseDetection
    support: int  # passes (whole frame, tiles) that found this person


def _refine(
    model: PoseModel,
    rgb: np.ndarray,
    subject: PoseDetection,
    fuse_mirror: bool,
    views: tuple[tuple[float, float, float], ...] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray, tuple[float, float], float, bool] | None, int]:
    """Passes on fixed-size crops around `subject` (each view direct and mirrored), averaged.

    Returns landmarks in working pixels, the mean mask in the frame of the first view, that frame's
    origin (working pixels) and scale (mask px per working px), and whether every pass agreed.
    None when the first pass does not find the subject.
    """
    xy = subject.landmarks[:, :2]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    centre0 = (lo + hi) / 2
    side0 = CROP_MARGIN * float(max(hi - lo))
    size = CROP_SIDE_PX
    k0 = size / side0
    landmarks: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    passes, agreed = 0, True
    reference = subject
    views = views or REFINE_VIEWS
    for zoom, shift_x, shift_y in views if fuse_mirror else views[:1]:
        centre = centre0 + side0 * np.array([shift_x, shift_y])
        k = k0 / zoom
        # Continuous coordinates (pixel edges at integers) → OpenCV's pixel-centre indices.
        warp = np.array(
            [[k, 0, k * (0.5 - centre[0]) + size / 2 - 0.5], [0, k, k * (0.5 - centre[1]) + size / 2 - 0.5]]
        )
        crop = cv2.warpAffine(
            rgb, warp, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        # This view's mask pixels → the first view's mask frame.
        r = k0 / k
        to_base = np.array(
            [
                [r, 0, r * (0.5 - size / 2) + k0 * (centre[0] - centre0[0]) + size / 2 - 0.5],
                [0, r, r * (0.5 - size / 2) + k0 * (centre[1] - centre0[1]) + size / 2 - 0.5],
            ]
        )
        for mirrored in (False, True) if fuse_mirror else (False,):
            image = np.ascontiguousarray(crop[:, ::-1]) if mirrored else crop
            found = []
            for d in model.detect(image):
                lm = mirror_landmarks(d.landmarks, size) if mirrored else d.landmarks.copy()
                lm[:, :2] = (lm[:, :2] - size / 2) / k + centre
                found.append(PoseDetection(lm, d.mask[:, ::-1] if mirrored else d.mask))
            passes += 1
            match = _match(reference, found)
            if match is None:
                if not landmarks:
                    return None, passes
                agreed = False
                continue
            reference = match if not landmarks else reference
            landmarks.append(match.landmarks)
            mask = np.ascontiguousarray(match.mask)
            if r != 1.0 or centre is not centre0:
                mask = cv2.warpAffine(mask, to_base, (size, size), flags=cv2.INTER_LINEAR, borderValue=0.0)
            masks.append(mask)
    origin = (float(centre0[0] - size / (2 * k0)), float(centre0[1] - size / (2 * k0)))
    return (np.mean(landmarks, axis=0), np.mean(masks, axis=0), origin, k0, agreed), passes


def _find_people(model: PoseModel, rgb: np.ndarray) -> tuple[list[_Candidate], int]:
    """Distinct people in the working image: a whole-frame pass, plus square tiles for wide photos.

    Only the landmarks of these passes are used (to place the refine crops), so each pass runs on a
    copy no larger than `SEARCH_SIDE_PX`: the model letterboxes to 224 px anyway, and a smaller input
    saves the conversion and the full-size mask it would otherwise return.
    """
    height, width = rgb.shape[:2]
    windows = [(0, width)]
    if width > WIDE_ASPECT * height:
        n = math.ceil((width - height) / (height / 2)) + 1
        windows += [(int(x0), int(x0) + height) for x0 in np.linspace(0, width - height, n).round()]
    people: list[PoseDetection] = []
    for x0, x1 in windows:
        window = rgb[:, x0:x1]
        f = min(1.0, SEARCH_SIDE_PX / max(window.shape[:2]))
        if f < 1.0:
            size = (max(1, round(window.shape[1] * f)), max(1, round(window.shape[0] * f)))
            window = cv2.resize(window, size, interpolation=cv2.INTER_AREA)
            fx, fy = size[0] / (x1 - x0), size[1] / height
        else:
            fx = fy = 1.0
        for d in model.detect(np.ascontiguousarray(window)):
            lm = d.landmarks.copy()
            lm[:, 0] = x0 + lm[:, 0] / fx
            lm[:, 1] = lm[:, 1] / fy
            # In a tile, a person cut by the tile's edge is seen whole in a neighbouring tile.
            if (x0, x1) == (0, width) or _inside(lm, x0, x1, height):
                people.append(PoseDetection(lm, d.mask))
    return _cluster(people), len(windows)


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
