"""The camera's level (roll) read from the photo itself.

**Sign**: the same as posture's `camera_roll_deg` (see `geometry`): `roll_deg` > 0 means true verticals
appear turned clockwise on screen by that angle (their upper ends lean to image-right). Passing the
estimate as `camera_roll_deg` levels the photo.

**Cues**, strongest first:

1. **Background verticals** (door frames, wall corners, window and mirror edges): near-vertical line
   segments (OpenCV's line segment detector) outside the dilated person mask. Under camera pitch the
   verticals converge, so the vertical *vanishing point* is fitted (RANSAC over segment pairs, then a
   robust fit of the angle between each segment and the direction from its midpoint to the point).
   Parallel lines are the simpler model; a converging fan must earn its extra parameter with clearly
   more support over more separate structures.
   The roll is the direction from the image centre (taken as the principal point) to that point: it is
   exact for any pitch and yaw, as both leave the vertical vanishing point on the image's roll axis.
2. **Background horizontals** (skirting boards, the wall–floor edge, shelves): they are level in the
   image only when parallel to the image plane, so they count when their own vanishing point is far
   (the segments are parallel in the image), only from two separate structures on, and mainly to
   confirm the verticals: a weaker cue that disagrees barely moves a stronger one (in real rooms the
   horizontals recede under yaw and pitch and tell another roll).
3. **The floor under the feet**: the line through the heels and toes. The foot's landmarks are neither
   exactly on the floor nor at one height, so it is the weakest cue: it confirms a weak background
   estimate and is never applied alone with the default parameters.

**Confidence** (0..1) grows with the support (total inlier length), the number of separate structures
(a single leaning pole or door edge is not enough), the fit's precision, and shrinks with a rival family
of segments agreeing on another roll (clutter, a leaning object), a strong pitch, and disagreeing cues.
Below `LevelParams.min_confidence` the estimate is not to be applied: `roll_deg` is None and `source`
"none" (the raw best guess stays in `cues`). A wrong correction is worse than none.

The body's own outline leans with the posture, so everything near the person mask is dropped; so is
anything along the image border (a padded or rotated frame edge would be a free straight line).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import cv2
import numpy as np
from scipy.optimize import least_squares

Source = Literal["background", "floor", "none"]


@dataclass(frozen=True)
class LevelParams:
    """Thresholds of the level estimate, with why."""

    # Working size. Real rooms need it: at 640 px their door and window edges come out shorter and
    # blurred, and half as many real-room photos were levelled (benchmarks/camera_level_rooms.py); finer
    # still only adds texture segments and time (LSD is most of the cost).
    max_side_px: int = 960
    # Segments shorter than this share of the long side are mostly texture (foliage, fabric, tiles).
    min_length_frac: float = 0.035
    # The person mask is grown by this share of the long side: the soft model mask under-covers hair,
    # loose clothing and the shadow line along the body's outline.
    mask_dilate_frac: float = 0.03
    # Segments within this share of the long side of the frame edge, running along it, are dropped.
    border_frac: float = 0.015
    # Candidate verticals lean at most this much in the image (roll plus perspective convergence).
    vertical_window_deg: float = 22.0
    # Candidate horizontals; wider would admit receding lines of side walls and the floor.
    horizontal_window_deg: float = 12.0
    # Rolls beyond this are not estimated (a hand-held phone is rarely off by more).
    max_roll_deg: float = 15.0
    # A segment agrees with a vanishing point when its angle to the direction to it is under this.
    inlier_deg: float = 0.8
    ransac_iterations: int = 300
    # A converging family (finite vanishing point) must have this many times the support of the best
    # parallel one to be chosen (see `_fit_family`).
    converging_gain: float = 1.25
    # ... when it spans this many separate structures; with one fewer it needs `converging_gain_few`, and
    # with fewer still it is never chosen: two structures fit any fan exactly, and a fan through leaning
    # objects on both sides of the picture (trees) must not pass for pitch.
    fan_min_structures: int = 4
    converging_gain_few: float = 1.6
    # RANSAC draws are seeded: the same photo always gives the same answer.
    seed: int = 0
    # Assumed focal length in long sides (a phone's main camera: 26 mm equivalent ≈ 0.72); used only to
    # turn the vanishing point's distance into a pitch angle for the confidence.
    focal_long_sides: float = 0.75
    # Pitch within `pitch_ok_deg` costs nothing; at `pitch_bad_deg` the confidence is halved (lens
    # distortion and an off-centre principal point start to tilt the estimate). A phone held at chest
    # height and tilted down to frame the feet, as in the real rooms measured, is at 15–25°.
    pitch_ok_deg: float = 20.0
    pitch_bad_deg: float = 40.0
    # Support: total inlier length in long sides for a confidence factor of 1 − 1/e. Real rooms have
    # many short verticals (window bars, cabinet edges) where drawn rooms have a few long ones.
    support_long_sides: float = 0.5
    # Separate structures: inlier lines whose crossings of the centre row are this share of the width
    # apart count as different objects. One structure caps the confidence (a lone leaning pole).
    structure_gap_frac: float = 0.04
    single_structure_cap: float = 0.35
    two_structure_cap: float = 0.7
    # The fit's standard error of the roll at which the precision factor is 1/e.
    precision_deg: float = 0.6
    # A rival family (another roll, ≥ this apart) scales the confidence by 1 − its support / the best's;
    # so does the other model (fan or parallel) when it gives another roll. Closer than this, real
    # rooms' lines (blinds, furniture, lens distortion) scatter by that much around the true roll.
    rival_sep_deg: float = 2.5
    # Lines that the other model (fan or parallel) explains at the same roll are not a rival: in a room
    # seen from above the verticals on both sides converge, and the parallel fit leaves one side out.
    convergence_is_no_rival: bool = True
    # Horizontals count fully only when their vanishing point is at least this many long sides away
    # (yaw under ~3°: the lines are close to parallel to the image plane). Under yaw ψ and pitch φ the
    # direction to a finite horizontal vanishing point is off the horizon by about tan φ · tan ψ.
    horizontal_far_long_sides: float = 15.0
    # A horizontal-only estimate is capped here: a single wall–floor edge may recede unseen.
    horizontal_alone_cap: float = 0.45
    # Horizontals from fewer separate structures neither confirm nor contradict (one skirting board).
    horizontal_min_structures: int = 2
    # Cues agreeing within `agree_deg` strengthen each other; apart by `disagree_deg` or more, the
    # stronger one loses `conflict_cost` times the weaker one's confidence (a share of its own).
    agree_deg: float = 1.0
    disagree_deg: float = 2.5
    conflict_cost: float = 0.7
    # Disagreeing cues are weighted by confidence to this power (2 when they agree): the stronger wins.
    conflict_power: float = 8.0
    # Feet: fitted line must be within this of horizontal and span this share of the long side; its error
    # is a few degrees (landmark heights differ, one heel may be lifted).
    feet_window_deg: float = 12.0
    feet_min_span_frac: float = 0.03
    feet_sigma_deg: float = 2.5
    floor_alone_cap: float = 0.3
    # An agreeing floor closes this share (times its confidence) of the gap to full confidence.
    floor_confirm: float = 0.3
    # A floor further than twice its noise from the background scales the confidence by this.
    floor_disagree_factor: float = 0.92
    # Below this the estimate is not applied.
    min_confidence: float = 0.5


DEFAULT_PARAMS = LevelParams()


@dataclass(frozen=True)
class LevelEstimate:
    """The camera's roll as read from the photo.

    `roll_deg`: degrees, the sign of `camera_roll_deg` (verticals appear turned clockwise when > 0);
    None when the estimate is not confident enough to apply (then `source` is "none").
    `confidence`: 0..1 of the best guess, also when it is not applied.
    `segments`: (n, 4) x1, y1, x2, y2 in pixels of the `rgb` passed: the segments that support the
    estimate (vertical and horizontal inliers), for the overlay.
    `cues`: the separate cues' rolls and confidences and the estimated pitch, for diagnostics.
    """

    roll_deg: float | None
    source: Source
    confidence: float
    segments: np.ndarray
    n_vertical: int
    n_horizontal: int
    cues: dict[str, float | str | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """The analysis object's `camera_level` shape."""
        return {
            "roll_deg": None if self.roll_deg is None else round(self.roll_deg, 2),
            "source": self.source,
            "confidence": round(self.confidence, 2),
        }


@dataclass(frozen=True)
class _Family:
    """A fitted family of segments sharing a vanishing point."""

    roll_deg: float
    confidence: float
    inliers: np.ndarray  # indices into the family's candidate segments
    kappa: float  # inverse distance of the vanishing point from the centre, in 1 / long sides
    sigma_deg: float
    support: float  # inlier length in long sides
    structures: int
    rival: float
    fan: bool  # converging (κ fitted) rather than parallel


@dataclass(frozen=True)
class LineSegments:
    """The photo's straight edges, found at the working scale (`LevelParams.max_side_px`).

    `segments` (n, 4): x0, y0, x1, y1 in working pixels; `shape`: the working image's (h, w); `scale`:
    working pixels per photo pixel. They depend on the pixels alone, not on the person, so the
    analysis finds them while the pose model runs (`posture.analysis`).
    """

    segments: np.ndarray
    shape: tuple[int, int]
    scale: float


def detect_line_segments(rgb: np.ndarray, params: LevelParams = DEFAULT_PARAMS) -> LineSegments:
    """Straight edges of an (H, W, 3) uint8 photo, for `estimate_camera_level`."""
    height, width = rgb.shape[:2]
    k = min(1.0, params.max_side_px / max(height, width))
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    if k < 1.0:
        grey = cv2.resize(grey, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    h, w = grey.shape
    return LineSegments(_detect(grey, params), (h, w), k)


def estimate_camera_level(
    rgb: np.ndarray,
    person_mask: np.ndarray | None = None,
    feet_px: np.ndarray | None = None,
    *,
    params: LevelParams = DEFAULT_PARAMS,
    lines: LineSegments | None = None,
) -> LevelEstimate:
    """Estimate the camera roll of an upright photo.

    `rgb`: (H, W, 3) uint8. `person_mask`: any size with the photo's aspect, > 0.5 (or True) on the
    person; None when unknown. `feet_px`: (k, 2) heel and toe points in `rgb` pixels, or None.
    `lines`: this photo's `detect_line_segments(rgb, params)`, when already found.
    """
    lines = lines if lines is not None else detect_line_segments(rgb, params)
    (h, w), k = lines.shape, lines.scale
    long_side = float(max(h, w))
    segs = _drop_near_person(lines.segments, person_mask, (h, w), params)
    segs = _drop_border(segs, (h, w), params)

    # Centred coordinates in long sides: the vanishing point fit is scale-free.
    centre = np.array([w / 2.0, h / 2.0, w / 2.0, h / 2.0])
    norm = (segs - centre) / long_side
    dx, dy = norm[:, 2] - norm[:, 0], norm[:, 3] - norm[:, 1]
    length = np.hypot(dx, dy)
    keep = length >= params.min_length_frac
    norm, length, dx, dy = norm[keep], length[keep], dx[keep], dy[keep]
    tilt_v = np.degrees(np.arctan2(np.abs(dx), np.abs(dy)))  # 0 = vertical
    vert = tilt_v <= params.vertical_window_deg
    horiz = (90.0 - tilt_v) <= params.horizontal_window_deg

    rng = np.random.default_rng(params.seed)
    vfam = _fit_family(norm[vert], length[vert], w / long_side, "vertical", params, rng)
    hfam = _fit_family(norm[horiz], length[horiz], w / long_side, "horizontal", params, rng)
    feet = _feet_cue(feet_px, k, long_side, params)

    roll, conf, source = _combine(vfam, hfam, feet, params)
    used = []
    if vfam is not None:
        used.append(norm[vert][vfam.inliers])
    if hfam is not None and hfam.confidence > 0:
        used.append(norm[horiz][hfam.inliers])
    used_px = (np.concatenate(used) * long_side + centre) / k if used else np.zeros((0, 4))
    pitch = None if vfam is None else _pitch_deg(vfam.kappa, params)
    cues: dict[str, float | str | None] = {
        "vertical_roll_deg": None if vfam is None else vfam.roll_deg,
        "vertical_confidence": 0.0 if vfam is None else vfam.confidence,
        "horizontal_roll_deg": None if hfam is None else hfam.roll_deg,
        "horizontal_confidence": 0.0 if hfam is None else hfam.confidence,
        "floor_roll_deg": None if feet is None else feet[0],
        "floor_confidence": 0.0 if feet is None else feet[1],
        "pitch_deg": pitch,
        "best_roll_deg": roll,
        "best_source": None if roll is None else source,
    }
    applied = roll is not None and conf >= params.min_confidence
    return LevelEstimate(
        roll_deg=float(roll) if applied else None,
        source=source if applied else "none",
        confidence=float(np.clip(conf, 0.0, 1.0)),
        segments=used_px.astype(np.float32),
        n_vertical=0 if vfam is None else len(vfam.inliers),
        n_horizontal=0 if hfam is None else len(hfam.inliers),
        cues=cues,
    )


def mask_in_frame(
    mask: np.ndarray, origin: tuple[float, float], mask_scale: float, width: int, height: int, scale: float
) -> np.ndarray:
    """Place a crop mask (as `pose.Subject` gives it) into a (height, width) frame.

    Mask pixel (i, j) covers full-size pixels from `origin + (j, i) / mask_scale`; the frame has `scale`
    frame pixels per full-size pixel (`Photo.scale` for the working image). Pixel centres sit at
    half-integer continuous positions in both.
    """
    s = scale / mask_scale
    # frame index X ↔ continuous X + 0.5 = scale·(origin + (j + 0.5) / mask_scale)
    tx = scale * origin[0] + 0.5 * s - 0.5
    ty = scale * origin[1] + 0.5 * s - 0.5
    m = np.array([[s, 0.0, tx], [0.0, s, ty]])
    return cv2.warpAffine(
        mask.astype(np.float32), m, (width, height), flags=cv2.INTER_LINEAR, borderValue=0.0
    )


def _detect(grey: np.ndarray, params: LevelParams) -> np.ndarray:
    """Line segments (n, 4) in working pixels."""
    if hasattr(cv2, "createLineSegmentDetector"):
        lines = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD).detect(grey)[0]
    else:  # builds without LSD: edges and a probabilistic Hough transform
        edges = cv2.Canny(grey, 50, 150)
        min_len = params.min_length_frac * max(grey.shape)
        lines = cv2.HoughLinesP(edges, 1, np.pi / 720, 40, minLineLength=min_len, maxLineGap=3)
    if lines is None:
        return np.zeros((0, 4))
    return lines.reshape(-1, 4).astype(np.float64)


def _drop_near_person(
    segs: np.ndarray, mask: np.ndarray | None, shape: tuple[int, int], params: LevelParams
) -> np.ndarray:
    """Drop segments any part of which lies on or near the person."""
    if mask is None or not len(segs):
        return segs
    h, w = shape
    m = cv2.resize(np.asarray(mask, dtype=np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
    if not m.any():
        return segs
    r = max(1, round(params.mask_dilate_frac * max(h, w)))
    # Grown by a disc of radius r: the distance to the mask (linear time, where a disc-shaped dilation
    # costs r² per pixel).
    grown = cv2.distanceTransform((~m).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= r + 0.5
    t = np.linspace(0.0, 1.0, 9)
    xs = segs[:, None, 0] + t * (segs[:, None, 2] - segs[:, None, 0])
    ys = segs[:, None, 1] + t * (segs[:, None, 3] - segs[:, None, 1])
    xi = np.clip(np.round(xs).astype(int), 0, w - 1)
    yi = np.clip(np.round(ys).astype(int), 0, h - 1)
    return segs[~grown[yi, xi].any(axis=1)]


def _drop_border(segs: np.ndarray, shape: tuple[int, int], params: LevelParams) -> np.ndarray:
    """Drop segments running along the frame edge (both ends within the margin of the same edge)."""
    if not len(segs):
        return segs
    h, w = shape
    b = max(2.0, params.border_frac * max(h, w))
    x, y = segs[:, [0, 2]], segs[:, [1, 3]]
    along = (
        (x < b).all(axis=1) | (x > w - 1 - b).all(axis=1) | (y < b).all(axis=1) | (y > h - 1 - b).all(axis=1)
    )
    return segs[~along]


def _directions(norm: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Midpoints and unit directions, oriented up (vertical) or right (horizontal)."""
    mid = 0.5 * (norm[:, :2] + norm[:, 2:])
    d = norm[:, 2:] - norm[:, :2]
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    flip = d[:, 1] > 0 if kind == "vertical" else d[:, 0] < 0
    d[flip] *= -1.0
    return mid, d


def _vp_dir(roll_rad: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Unit direction of the family at roll ρ: up turned clockwise (vertical), right turned clockwise."""
    if kind == "vertical":
        return np.sin(roll_rad), -np.cos(roll_rad)
    return np.cos(roll_rad), np.sin(roll_rad)


def _residual_rad(
    roll_rad: np.ndarray, kappa: np.ndarray, mid: np.ndarray, d: np.ndarray, kind: str
) -> np.ndarray:
    """Angle between each segment and the direction from its midpoint to the vanishing point.

    The vanishing point is (ux, uy, κ) in homogeneous centred coordinates, (ux, uy) the family's
    direction at roll ρ: κ = 0 is a point at infinity (parallel lines), κ > 0 a point on the family's
    positive side at distance 1/κ. Broadcasts hypotheses (…, 1) against segments (n,).
    """
    ux, uy = _vp_dir(roll_rad, kind)
    tx = ux - kappa * mid[:, 0]
    ty = uy - kappa * mid[:, 1]
    cross = d[:, 0] * ty - d[:, 1] * tx
    dot = d[:, 0] * tx + d[:, 1] * ty
    # A line has no orientation: fold to (−90°, 90°].
    return np.arctan(cross / np.where(np.abs(dot) < 1e-12, 1e-12, dot))


def _fit_family(
    norm: np.ndarray,
    length: np.ndarray,
    width_ls: float,
    kind: str,
    params: LevelParams,
    rng: np.random.Generator,
) -> _Family | None:
    """RANSAC then a robust fit of one family's vanishing point; None when there is too little."""
    n = len(norm)
    if n < 2:
        return None
    mid, d = _directions(norm, kind)
    roll_h, kappa_h = _hypotheses(norm, d, length, kind, params, rng)
    if not len(roll_h):
        return None
    thr = np.radians(params.inlier_deg)
    res = np.abs(_residual_rad(roll_h[:, None], kappa_h[:, None], mid, d, kind))
    support = ((res < thr) * length).sum(axis=1)
    # Two models: parallel lines (no pitch, κ = 0) and a converging fan. Parallel is the simpler one; the
    # fan is chosen only with clearly more support, else leaning objects on both sides of the picture
    # (trees, a leaning board) pass for convergence.
    parallel = kappa_h == 0.0
    best_fan = int(np.argmax(support))
    best_par = int(np.flatnonzero(parallel)[np.argmax(support[parallel])])
    fits = {
        "parallel": _refine(roll_h[best_par], None, res[best_par] < 3 * thr, mid, d, length, kind, thr),
        "fan": _refine(
            roll_h[best_fan], kappa_h[best_fan], res[best_fan] < 3 * thr, mid, d, length, kind, thr
        ),
    }
    sup = {k: float(length[f[2]].sum()) if f else 0.0 for k, f in fits.items()}
    fan_ok = False
    if fits["fan"] is not None:
        n_fan = _count_structures(mid[fits["fan"][2]], d[fits["fan"][2]], kind, width_ls, params)
        gain = params.converging_gain if n_fan >= params.fan_min_structures else params.converging_gain_few
        fan_ok = n_fan >= params.fan_min_structures - 1 and sup["fan"] > gain * sup["parallel"]
    chosen = "fan" if fan_ok or fits["parallel"] is None else "parallel"
    fit = fits[chosen]
    if fit is None:
        return None
    roll, kappa, inliers, sigma = fit
    if len(inliers) < 2:
        return None
    # The other model, where it tells another roll, explains some lines this one leaves: a leaning object
    # may pass for convergence (or a local cluster for parallel lines). What only it explains counts.
    other = fits["parallel" if chosen == "fan" else "fan"]
    ambiguity = 0.0
    if other is not None and abs(other[0] - roll) >= np.radians(params.rival_sep_deg):
        only_other = np.setdiff1d(other[2], inliers)
        ambiguity = min(1.0, float(length[only_other].sum()) / sup[chosen])
    # A rival: the best hypothesis at another roll, counting only segments this fit leaves.
    res_all = np.abs(_residual_rad(np.array(roll), np.array(kappa), mid, d, kind))
    free = res_all >= thr
    if (
        params.convergence_is_no_rival
        and other is not None
        and abs(other[0] - roll) < np.radians(params.rival_sep_deg)
    ):
        # The other model tells the same roll: the lines it adds are this family's verticals seen under
        # a convergence (a phone looking down) or without one, not a rival leaning object.
        free[other[2]] = False
    other_roll = np.abs(roll_h - roll) >= np.radians(params.rival_sep_deg)
    rival_support = ((res[other_roll] < thr) * length * free).sum(axis=1)
    rival = float(rival_support.max() / sup[chosen]) if len(rival_support) else 0.0
    fam = _Family(
        roll_deg=float(np.degrees(roll)),
        confidence=0.0,
        inliers=inliers,
        kappa=kappa,
        sigma_deg=sigma,
        support=sup[chosen],
        structures=_count_structures(mid[inliers], d[inliers], kind, width_ls, params),
        rival=1.0 - (1.0 - rival) * (1.0 - ambiguity),
        fan=chosen == "fan",
    )
    return replace(fam, confidence=_family_confidence(fam, kind, params))


def _hypotheses(
    norm: np.ndarray,
    d: np.ndarray,
    length: np.ndarray,
    kind: str,
    params: LevelParams,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(ρ, κ) hypotheses: where two segments' lines meet (pairs drawn by length), plus each segment on
    its own as a point at infinity (κ = 0): parallel families are common and exact."""
    n = len(norm)
    p = length / length.sum()
    m = params.ransac_iterations
    i, j = rng.choice(n, size=m, p=p), rng.choice(n, size=m, p=p)
    ones = np.ones(n)
    lines = np.cross(np.c_[norm[:, :2], ones], np.c_[norm[:, 2:], ones])
    vp = np.cross(lines[i], lines[j])
    ux, uy = vp[:, 0], vp[:, 1]
    # The line from the centre through the point, folded to the family's side (up, or right).
    roll = np.arctan2(ux, -uy) if kind == "vertical" else np.arctan2(uy, ux)
    roll = np.where(np.abs(roll) > np.pi / 2, roll - np.sign(roll) * np.pi, roll)
    dirx, diry = _vp_dir(roll, kind)
    along = ux * dirx + uy * diry  # (ux, uy) = along · direction, so κ = w / along
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = vp[:, 2] / along
    ok = (i != j) & np.isfinite(kappa) & (np.abs(along) > 1e-12)
    single = np.arctan2(d[:, 0], -d[:, 1]) if kind == "vertical" else np.arctan2(d[:, 1], d[:, 0])
    roll = np.concatenate([roll[ok], single])
    kappa = np.concatenate([kappa[ok], np.zeros(n)])
    keep = np.abs(roll) <= np.radians(params.max_roll_deg)
    return roll[keep], kappa[keep]


def _refine(
    roll0: float,
    kappa0: float | None,
    near: np.ndarray,
    mid: np.ndarray,
    d: np.ndarray,
    length: np.ndarray,
    kind: str,
    thr: float,
) -> tuple[float, float, np.ndarray, float] | None:
    """Robust least-squares fit of ρ (and κ unless `kappa0` is None) on the segments `near` the
    hypothesis, weighted by length: (ρ rad, κ, inlier indices, standard error of ρ in degrees)."""
    if near.sum() < 2:
        return None
    free_kappa = kappa0 is not None
    sw = np.sqrt(length[near] / length[near].mean())

    def fun(x: np.ndarray) -> np.ndarray:
        kappa = x[1] if free_kappa else 0.0
        return sw * _residual_rad(np.array(x[0]), np.array(kappa), mid[near], d[near], kind)

    x0 = [roll0, kappa0] if free_kappa else [roll0]
    scale = [0.01, 0.1] if free_kappa else [0.01]
    fit = least_squares(fun, x0=x0, loss="soft_l1", f_scale=thr / 2, x_scale=scale)
    roll, kappa = float(fit.x[0]), float(fit.x[1]) if free_kappa else 0.0
    res = np.abs(_residual_rad(np.array(roll), np.array(kappa), mid, d, kind))
    inliers = np.flatnonzero(res < thr)
    if len(inliers) < 2:
        return None
    # Standard error of ρ from the fit's Jacobian, scaled by the inliers' length-weighted residual spread.
    w = length[inliers]
    s2 = max(float((w * res[inliers] ** 2).sum() / w.sum()), np.radians(0.05) ** 2)
    try:
        cov = np.linalg.inv(fit.jac.T @ fit.jac) * s2
        sigma = float(np.degrees(np.sqrt(max(cov[0, 0], 0.0))))
    except np.linalg.LinAlgError:
        sigma = 90.0
    return roll, kappa, inliers, sigma


def _count_structures(mid: np.ndarray, d: np.ndarray, kind: str, width_ls: float, params: LevelParams) -> int:
    """Clusters of inlier lines by where they cross the image's centre row (vertical) or column."""
    if kind == "vertical":
        pos = mid[:, 0] - mid[:, 1] * d[:, 0] / d[:, 1]
    else:
        pos = mid[:, 1] - mid[:, 0] * d[:, 1] / d[:, 0]
    pos = np.sort(pos)
    gap = params.structure_gap_frac * (width_ls if kind == "vertical" else 1.0)
    return int(1 + (np.diff(pos) > gap).sum())


def _pitch_deg(kappa: float, params: LevelParams) -> float:
    """Pitch implied by the vertical vanishing point's distance 1/|κ| (long sides) and the focal guess."""
    return float(np.degrees(np.arctan(params.focal_long_sides * abs(kappa))))


def _family_confidence(f: _Family, kind: str, params: LevelParams) -> float:
    c = 1.0 - np.exp(-f.support / params.support_long_sides)
    c *= np.exp(-((f.sigma_deg / params.precision_deg) ** 2))
    c *= max(0.0, 1.0 - f.rival)
    # A fan has one parameter more than parallel lines: any two structures fit one exactly, so one
    # structure fewer is confirmed.
    confirmed = f.structures - (1 if f.fan else 0)
    if kind == "vertical":
        pitch = _pitch_deg(f.kappa, params)
        if pitch > params.pitch_ok_deg:
            span = params.pitch_bad_deg - params.pitch_ok_deg
            c *= max(0.0, 1.0 - 0.5 * (pitch - params.pitch_ok_deg) / span)
    else:
        # Converging horizontals recede: only nearly parallel ones are level in the image.
        dist = 1.0 / max(abs(f.kappa), 1e-9)
        c *= float(np.clip(dist / params.horizontal_far_long_sides, 0.0, 1.0)) ** 2
        if confirmed < 3:
            c = min(c, params.horizontal_alone_cap)
    if confirmed <= 1:
        c = min(c, params.single_structure_cap)
    elif confirmed == 2:
        c = min(c, params.two_structure_cap)
    return float(c)


def _feet_cue(
    feet_px: np.ndarray | None, k: float, long_side: float, params: LevelParams
) -> tuple[float, float] | None:
    """Roll from the total-least-squares line through the heels and toes, with a small confidence."""
    if feet_px is None:
        return None
    p = np.asarray(feet_px, dtype=np.float64).reshape(-1, 2) * k
    p = p[np.isfinite(p).all(axis=1)]
    if len(p) < 2 or np.ptp(p[:, 0]) < params.feet_min_span_frac * long_side:
        return None
    centred = p - p.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    dx, dy = vt[0]
    if dx < 0:
        dx, dy = -dx, -dy
    roll = float(np.degrees(np.arctan2(dy, dx)))
    if abs(roll) > params.feet_window_deg:
        return None
    return roll, params.floor_alone_cap


def _combine(
    vfam: _Family | None, hfam: _Family | None, feet: tuple[float, float] | None, params: LevelParams
) -> tuple[float | None, float, Source]:
    """One roll, confidence and source from the cues."""
    cues: list[tuple[float, float, Source]] = []
    if vfam is not None and vfam.confidence > 0:
        cues.append((vfam.roll_deg, vfam.confidence, "background"))
    if hfam is not None and hfam.confidence > 0 and hfam.structures >= params.horizontal_min_structures:
        cues.append((hfam.roll_deg, hfam.confidence, "background"))
    if not cues and feet is None:
        return None, 0.0, "none"
    if not cues:
        return feet[0], feet[1], "floor"
    roll, conf, source = cues[0]
    for other_roll, other_conf, _ in cues[1:]:
        roll, conf = _merge(roll, conf, other_roll, other_conf, params)
    if feet is not None:
        gap = abs(feet[0] - roll)
        if gap <= params.feet_sigma_deg:
            # The floor agrees within its own noise: it confirms, without moving a strong estimate much.
            conf = 1.0 - (1.0 - conf) * (1.0 - params.floor_confirm * feet[1])
        elif gap > 2 * params.feet_sigma_deg:
            # Only a mild warning: the feet disagree for many reasons of their own (a lifted heel, a
            # camera turned off the walking line).
            conf *= params.floor_disagree_factor
    return roll, conf, source


def _merge(r1: float, c1: float, r2: float, c2: float, params: LevelParams) -> tuple[float, float]:
    """Merge two background cues: the roll is their mean weighted by confidence to a power, 2 for
    agreeing cues rising to `conflict_power` for disagreeing ones (continuous, so near-equal cues
    cannot flip the answer from one to the other, yet a weaker cue that disagrees barely moves the
    stronger one: in real rooms the horizontals recede under yaw and pitch and tell another roll);
    agreeing cues strengthen each other, disagreeing ones weaken the stronger one in proportion to the
    weaker one's confidence and the gap."""
    gap = abs(r1 - r2)
    conflict = float(np.clip((gap - params.agree_deg) / (params.disagree_deg - params.agree_deg), 0.0, 1.0))
    power = 2.0 + (params.conflict_power - 2.0) * conflict
    w1, w2 = max(c1, 1e-9) ** power, max(c2, 1e-9) ** power
    roll = (w1 * r1 + w2 * r2) / (w1 + w2)
    if gap <= params.agree_deg:
        return roll, 1.0 - (1.0 - max(c1, c2)) * (1.0 - 0.6 * min(c1, c2))
    return roll, max(c1, c2) * (1.0 - params.conflict_cost * conflict * min(c1, c2))


def inscribed_size(width: int, height: int, angle_deg: float) -> tuple[int, int]:
    """The largest upright rectangle (width, height), centred, inside a frame turned by `angle_deg`.

    Its corners touch all four sides of the turned frame: w'·cos + h'·sin = width and
    w'·sin + h'·cos = height. Rounded down, so no pixel of the padding is inside.
    """
    c, s = abs(np.cos(np.radians(angle_deg))), abs(np.sin(np.radians(angle_deg)))
    det = c * c - s * s
    w_in, h_in = (width * c - height * s) / det, (height * c - width * s) / det
    if det <= 0 or w_in <= 0 or h_in <= 0:
        raise ValueError(f"a {width}×{height} frame turned by {angle_deg}° leaves no upright rectangle")
    return int(np.floor(w_in)) - 1, int(np.floor(h_in)) - 1


def rotate_inscribed(rgb: np.ndarray, clockwise_deg: float) -> np.ndarray:
    """The photo turned clockwise on screen by `clockwise_deg` about its centre, cropped to the upright
    rectangle inside it: what a camera rolled by `clockwise_deg` more would have taken (the estimated
    roll grows by `clockwise_deg`), with no padding edge left as a free straight line."""
    h, w = rgb.shape[:2]
    # OpenCV turns counter-clockwise on screen for positive angles.
    m = cv2.getRotationMatrix2D((w / 2.0 - 0.5, h / 2.0 - 0.5), -clockwise_deg, 1.0)
    turned = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    cw, ch = inscribed_size(w, h, clockwise_deg)
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return np.ascontiguousarray(turned[y0 : y0 + ch, x0 : x0 + cw])


# --- which roll an analysis applies -------------------------------------------------------------------


@dataclass(frozen=True)
class LevelDecision:
    """The roll to remove before measuring, the `camera_level` to report, the warnings to add and the
    segments (full-size photo pixels) to draw as the level reference."""

    applied_roll_deg: float
    level: dict[str, object]
    warnings: tuple[str, ...]
    segments_px: np.ndarray


def decide_level(
    given_roll_deg: float | None,
    mode: Literal["auto", "off"],
    estimate: LevelEstimate | None,
    *,
    min_confidence: float,
    full_confidence: float,
    disagree_deg: float,
    segments_scale: float = 1.0,
    given_source: Literal["given", "device"] = "given",
) -> LevelDecision:
    """The contract of `camera_level` (docs/measures.md).

    A given roll wins (`source` is `given_source`: `given` by the user or read by the `device`'s
    orientation sensor; both are applied alike); a confident estimate more than `disagree_deg` away
    from it adds `camera_level_disagrees`. Without one, an estimate of confidence c ≥ `min_confidence`
    is applied in the share w = (c − min) / (full − min), capped at 1: in full from `full_confidence`
    on. The ramp is there so that two copies of one photo whose confidences straddle a threshold (a mirrored
    or resized copy) get nearly the same correction instead of all or nothing. Below `min_confidence`
    nothing is applied and `camera_level_unknown` is added. The reported level carries the roll applied
    (`applied_roll_deg`, the analysis's `camera_roll_deg`) and its share of the estimate
    (`applied_share`), so the estimate and the correction are never two unexplained answers.
    `mode="off"` trusts the frame's vertical:
    nothing applied, no warning. `segments_scale` turns the estimate's segments into full-size pixels
    (1 / `Photo.scale`)."""
    none = np.zeros((0, 4), np.float32)
    confident = (
        estimate is not None and estimate.roll_deg is not None and estimate.confidence >= min_confidence
    )
    segments = estimate.segments * segments_scale if confident and estimate is not None else none
    if given_roll_deg is not None:
        warnings: tuple[str, ...] = ()
        if confident and abs(estimate.roll_deg - given_roll_deg) > disagree_deg:  # type: ignore[union-attr,operator]
            warnings = ("camera_level_disagrees",)
        level = {"roll_deg": round(given_roll_deg, 2), "source": given_source, "confidence": 1.0}
        return LevelDecision(given_roll_deg, _applied(level, given_roll_deg, 1.0), warnings, segments)
    if mode == "off":
        level = {"roll_deg": None, "source": "none", "confidence": 0.0}
        return LevelDecision(0.0, _applied(level, 0.0, 0.0), (), none)
    if confident and estimate is not None:
        share = min(1.0, (estimate.confidence - min_confidence) / max(full_confidence - min_confidence, 1e-9))
        applied = share * float(estimate.roll_deg)  # type: ignore[arg-type]
        return LevelDecision(applied, _applied(estimate.to_dict(), applied, share), (), segments)
    confidence = 0.0 if estimate is None else round(estimate.confidence, 2)
    level = {"roll_deg": None, "source": "none", "confidence": confidence}
    return LevelDecision(0.0, _applied(level, 0.0, 0.0), ("camera_level_unknown",), none)


def _applied(level: dict[str, object], applied_roll_deg: float, share: float) -> dict[str, object]:
    """The `camera_level` object with the roll actually removed and its share of the estimate: one
    answer for the level, and the reason when the two differ (a partial correction)."""
    return {**level, "applied_roll_deg": round(applied_roll_deg, 2), "applied_share": round(share, 2)}
