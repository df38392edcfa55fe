"""The subject's landmarks and silhouette: find the people, choose the subject, refine, fuse.

1. **Find**: the model runs on the whole working image (and, for wide photos, on overlapping square
   tiles, because its person detector letterboxes the frame to 224 px and misses people who fill only a
   small part of a landscape photo; the tiles are skipped when the whole frame shows one tall person).
   The subject is the largest person whose head and feet are inside the frame.
2. **Refine**: square crops around the subject, resized to a fixed side, are analysed as is and
   mirrored. The fixed crop makes the result nearly independent of the photo's resolution and framing;
   crops of slightly different zoom average out the model's sensitivity to the exact crop; and the crops
   are snapped to a coarse grid of the photo, so that a copy of the photo (re-encoded, resized,
   mirrored) whose search pass moved by a pixel or two gets exactly the same crops.
3. **Fuse**: the mirror passes are flipped back (x and the left/right labels) and averaged with the
   direct passes. Posture does not change when a photo is mirrored but one pass of the model does
   (about 1° median); the fused result is symmetric and the landmark noise is averaged.

Which passes are made is a `PassConfig` (`PASSES` is the default); docs/accuracy.md compares them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

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
# A wide photo's tiles are skipped (when the configuration allows it) if the whole-frame pass finds one
# person only, head and feet inside, at least this fraction of the frame tall: the tiles exist for the
# people the letterboxed whole frame misses, and a person this tall is not one of them.
TALL_FRACTION = 0.33


@dataclass(frozen=True)
class View:
    """One refine pass: a fixed-size crop around the subject, given to the model as is or mirrored.

    `zoom` is the crop's side as a multiple of the normal one (> 1: the subject appears smaller);
    `shift_x`, `shift_y` move the crop's centre by these fractions of the normal side (+x right, +y down).
    """

    zoom: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    mirrored: bool = False

    def mirror_image(self) -> View:
        """The pass that sees, in a mirrored copy of the photo, exactly the pixels this one sees."""
        return View(self.zoom, -self.shift_x, self.shift_y, not self.mirrored)


def both(zoom: float = 1.0, shift_x: float = 0.0, shift_y: float = 0.0) -> tuple[View, View]:
    """A crop as is and the same crop mirrored."""
    return View(zoom, shift_x, shift_y), View(zoom, shift_x, shift_y, True)


def pair(zoom: float = 1.0, shift_x: float = 0.0, shift_y: float = 0.0) -> tuple[View, View]:
    """A crop shifted one way as is, and the crop shifted the other way mirrored: two different crops
    whose pair is still mirror-symmetric (a mirrored photo runs the same two passes, swapped)."""
    return View(zoom, shift_x, shift_y), View(zoom, -shift_x, shift_y, True)


@dataclass(frozen=True)
class PassConfig:
    """Which model passes `find_subject` makes, and how it fuses them.

    `place`: passes on crops around the search pass' person whose fused landmarks place the refine crops
    (the search pass' own box moves by several pixels when a photo is re-encoded); empty: the search
    pass places them. `reuse_place`: fuse the placing passes with the refine passes instead of using
    them for placement only. `weights`: plain mean of the passes' landmarks, or weighted by each
    landmark's visibility. `mask_passes`: the silhouette is the mean mask of the first n fused passes
    (0: of all). A configuration whose `place` and `refine` are each `mirror_symmetric` gives a mirrored
    photo the mirror image of its result, up to resampling.
    """

    refine: tuple[View, ...]
    place: tuple[View, ...] = ()
    reuse_place: bool = False
    search_side_px: int = 640  # the search passes see at most this many pixels on the long side
    tiles: Literal["always", "when_needed"] = "always"
    weights: Literal["mean", "visibility"] = "mean"
    mask_passes: int = 0
    blur_px: float = 0.0  # Gaussian sigma (crop pixels) applied to each crop before the model
    grid: float = 0.0  # snap the crops' centre (steps of the side) and side (log steps) to this grid
    grid_side: float = 0.0  # a coarser log step for the side (0: `grid`)

    @property
    def mirror_symmetric(self) -> bool:
        return all({v.mirror_image() for v in views} == set(views) for views in (self.place, self.refine))


# The pipeline of 2026-12-01: 15 passes on a portrait photo (1 search, 2 placing, 6 views × 2).
PASSES_15 = PassConfig(
    refine=(
        *both(1.0),
        *both(1.12),
        *both(0.92),
        *both(1.0, 0.03, -0.03),
        *both(1.0, -0.03, -0.03),
        *both(1.06, 0.0, 0.04),
    ),
    place=both(1.0),
)
# The default since 2026-12-02: 7 passes on a photo where the whole-frame search finds one tall person
# (1 search, 3 zooms × direct and mirrored), the crops' centre snapped to steps of 5 % of their side and
# their side to steps of 10 % (the extent of the search pass' landmarks is its least steady part), so
# that a copy gets the same crops as the original. docs/accuracy.md has the candidates' figures.
PASSES_7 = PassConfig(
    refine=(*both(1.0), *both(1.12), *both(0.92)), tiles="when_needed", grid=0.05, grid_side=0.1
)
PASSES = PASSES_7


@dataclass(frozen=True)
class Subject:
    """The person analysed.

    `landmarks` (33, 5): x, y in full-size upright-photo pixels, z, visibility, presence.
    `mask`: soft silhouette (float32 0..1) of the refine crop. A mask pixel (i, j) covers full-size
    pixels `mask_origin + (j, i) / mask_scale` onward.
    `n_people`: persons found; `fused`: True when every refine pass found the subject and was averaged;
    `passes`: model passes made.
    """

    landmarks: np.ndarray
    mask: np.ndarray
    mask_origin: tuple[float, float]
    mask_scale: float
    n_people: int
    fused: bool
    passes: int


def find_subject(
    model: PoseModel, photo: Photo, *, fuse_mirror: bool = True, passes: PassConfig | None = None
) -> Subject | None:
    """Detect people in `photo`, choose the subject, refine and fuse; None if nobody is found.

    `passes` defaults to the module's `PASSES` (read at each call, so a benchmark can swap it);
    `fuse_mirror=False` makes one direct refine pass only.
    """
    config = passes or PASSES
    rgb = photo.rgb
    height, width = rgb.shape[:2]
    people, n_passes = _find_people(model, rgb, config)
    refine = config.refine if fuse_mirror else (next(v for v in config.refine if not v.mirrored),)
    # Candidates in order of preference; a candidate the refine pass cannot confirm (a spurious
    # skeleton across background clutter) gives way to the next.
    for candidate in rank_candidates(people, width, height):
        placement = candidate.detection
        fused: list[_Pass] = []
        if config.place and fuse_mirror:
            placing, n, agreed = _run(
                model, rgb, placement, config.place, config.blur_px, config.grid, config.grid_side
            )
            n_passes += n
            if not placing:
                continue
            placement = PoseDetection(_fuse_landmarks(placing, config.weights), placement.mask)
            if config.reuse_place:
                fused += placing
        refined, n, agreed = _run(
            model, rgb, placement, refine, config.blur_px, config.grid, config.grid_side
        )
        n_passes += n
        if not refined:
            continue
        fused += refined
        centre0, k0 = _crop_frame(placement.landmarks, rgb.shape, config.grid, config.grid_side)
        mask = _fuse_masks(fused[: config.mask_passes or None], centre0, k0)
        full = _fuse_landmarks(fused, config.weights)
        full[:, :2] /= photo.scale
        origin = centre0 - CROP_SIDE_PX / (2 * k0)
        return Subject(
            landmarks=full,
            mask=np.ascontiguousarray(mask, dtype=np.float32),
            mask_origin=(float(origin[0]) / photo.scale, float(origin[1]) / photo.scale),
            mask_scale=k0 * photo.scale,
            n_people=len(people),
            fused=agreed,
            passes=n_passes,
        )
    if not people:
        return None
    # Nobody could be confirmed on a close crop (typically a person too small to refine): report the
    # search pass' best guess without a silhouette, so the quality gate can say what is wrong.
    best = rank_candidates(people, width, height)[0].detection
    full = best.landmarks.copy()
    full[:, :2] /= photo.scale
    return Subject(full, np.zeros((1, 1), np.float32), (0.0, 0.0), 1.0, len(people), False, n_passes)


@dataclass(frozen=True)
class _Candidate:
    detection: PoseDetection
    support: int  # passes (whole frame, tiles) that found this person


@dataclass(frozen=True)
class _Pass:
    landmarks: np.ndarray  # (33, 5), working pixels
    mask: np.ndarray  # the pass' own crop frame (CROP_SIDE_PX square)
    centre: np.ndarray  # the crop's centre, working pixels
    k: float  # crop pixels per working pixel


def _crop_frame(
    landmarks: np.ndarray, shape: tuple[int, ...], grid: float = 0.0, grid_side: float = 0.0
) -> tuple[np.ndarray, float]:
    """Centre (working px) and scale (crop px per working px) of the normal crop around `landmarks`.

    With a `grid`, the side snaps to steps of `grid` in log scale relative to the image height and the
    centre to steps of `grid` × side from the image centre (symmetric, so a mirrored photo snaps to the
    mirror image): a copy whose landmarks moved by a pixel or two then gets exactly the same crop.
    """
    xy = landmarks[:, :2]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    centre, side = (lo + hi) / 2, CROP_MARGIN * float(max(hi - lo))
    if grid > 0:
        height, width = shape[:2]
        step = grid_side or grid
        side = height * math.exp(step * round(math.log(side / height) / step))
        mid = np.array([width / 2, height / 2])
        centre = mid + grid * side * np.round((centre - mid) / (grid * side))
    return centre, CROP_SIDE_PX / side


def _run(
    model: PoseModel,
    rgb: np.ndarray,
    placement: PoseDetection,
    views: tuple[View, ...],
    blur_px: float = 0.0,
    grid: float = 0.0,
    grid_side: float = 0.0,
) -> tuple[list[_Pass], int, bool]:
    """One model pass per view on crops placed around `placement`'s landmarks.

    Returns the passes that found the subject, the number of passes made and whether all found it;
    no pass at all when the first does not find the subject (nothing to confirm it by).
    """
    size = CROP_SIDE_PX
    centre0, k0 = _crop_frame(placement.landmarks, rgb.shape, grid, grid_side)
    side0 = size / k0
    found: list[_Pass] = []
    reference = placement
    crops: dict[tuple[float, float, float], tuple[np.ndarray, np.ndarray, float]] = {}
    n = 0
    for view in views:
        geometry = (view.zoom, view.shift_x, view.shift_y)
        if geometry not in crops:  # a view's direct and mirrored passes share one crop
            centre = centre0 + side0 * np.array([view.shift_x, view.shift_y])
            k = k0 / view.zoom
            # Continuous coordinates (pixel edges at integers) → OpenCV's pixel-centre indices.
            warp = np.array(
                [
                    [k, 0, k * (0.5 - centre[0]) + size / 2 - 0.5],
                    [0, k, k * (0.5 - centre[1]) + size / 2 - 0.5],
                ]
            )
            crop = cv2.warpAffine(
                rgb, warp, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            if blur_px > 0:
                crop = cv2.GaussianBlur(crop, (0, 0), blur_px)
            crops[geometry] = (crop, centre, k)
        crop, centre, k = crops[geometry]
        image = np.ascontiguousarray(crop[:, ::-1]) if view.mirrored else crop
        detections = []
        for d in model.detect(image):
            lm = mirror_landmarks(d.landmarks, size) if view.mirrored else d.landmarks.copy()
            lm[:, :2] = (lm[:, :2] - size / 2) / k + centre
            detections.append(PoseDetection(lm, d.mask[:, ::-1] if view.mirrored else d.mask))
        n += 1
        match = _match(reference, detections)
        if match is None:
            if not found:
                return [], n, False
            continue
        if not found:
            reference = match
        found.append(_Pass(match.landmarks, match.mask, centre, k))
    return found, n, len(found) == len(views)


def _fuse_landmarks(passes: list[_Pass], weights: str) -> np.ndarray:
    """The passes' landmarks averaged: plainly, or x, y, z weighted by each landmark's visibility."""
    stack = np.stack([p.landmarks for p in passes])
    fused = stack.mean(axis=0)
    if weights == "visibility":
        w = np.clip(stack[:, :, 3:4], 1e-3, None)
        fused[:, :3] = (stack[:, :, :3] * w).sum(axis=0) / w.sum(axis=0)
    return fused


def _fuse_masks(passes: list[_Pass], centre0: np.ndarray, k0: float) -> np.ndarray:
    """The passes' masks, each mapped into the frame of the normal crop at (`centre0`, `k0`), averaged."""
    size = CROP_SIDE_PX
    total = np.zeros((size, size), np.float32)
    for p in passes:
        r = k0 / p.k
        # This pass' mask pixels → the base frame's (both in OpenCV's pixel-centre indices).
        to_base = np.array(
            [
                [r, 0, r * (0.5 - size / 2) + k0 * (p.centre[0] - centre0[0]) + size / 2 - 0.5],
                [0, r, r * (0.5 - size / 2) + k0 * (p.centre[1] - centre0[1]) + size / 2 - 0.5],
            ]
        )
        mask = np.ascontiguousarray(p.mask, dtype=np.float32)
        total += cv2.warpAffine(mask, to_base, (size, size), flags=cv2.INTER_LINEAR, borderValue=0.0)
    return total / len(passes)


def _find_people(model: PoseModel, rgb: np.ndarray, config: PassConfig) -> tuple[list[_Candidate], int]:
    """Distinct people in the working image: a whole-frame pass, plus square tiles for wide photos.

    Only the landmarks of these passes are used (to place the refine crops), so each pass runs on a
    copy no larger than `config.search_side_px`: the model letterboxes to 224 px anyway, and a smaller
    input saves the conversion and the full-size mask it would otherwise return.
    """
    height, width = rgb.shape[:2]
    windows = [(0, width)]
    if width > WIDE_ASPECT * height:
        n = math.ceil((width - height) / (height / 2)) + 1
        windows += [(int(x0), int(x0) + height) for x0 in np.linspace(0, width - height, n).round()]
    people: list[PoseDetection] = []
    passes = 0
    for x0, x1 in windows:
        if passes == 1 and config.tiles == "when_needed" and _one_tall_person(people, width, height):
            break
        window = rgb[:, x0:x1]
        f = min(1.0, config.search_side_px / max(window.shape[:2]))
        if f < 1.0:
            size = (max(1, round(window.shape[1] * f)), max(1, round(window.shape[0] * f)))
            window = cv2.resize(window, size, interpolation=cv2.INTER_AREA)
            fx, fy = size[0] / (x1 - x0), size[1] / height
        else:
            fx = fy = 1.0
        passes += 1
        for d in model.detect(np.ascontiguousarray(window)):
            lm = d.landmarks.copy()
            lm[:, 0] = x0 + lm[:, 0] / fx
            lm[:, 1] = lm[:, 1] / fy
            # In a tile, a person cut by the tile's edge is seen whole in a neighbouring tile.
            if (x0, x1) == (0, width) or _inside(lm, x0, x1, height):
                people.append(PoseDetection(lm, d.mask))
    return _cluster(people), passes


def _one_tall_person(people: list[PoseDetection], width: int, height: int) -> bool:
    if len(people) != 1:
        return False
    lm = people[0].landmarks
    return _inside(lm, 0, width, height) and float(lm[:, 1].max() - lm[:, 1].min()) >= TALL_FRACTION * height


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
