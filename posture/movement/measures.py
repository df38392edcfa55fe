"""The movement measures: per frame (series), per rep, and the clip's headline numbers.

All geometry is in the canonical frame (`posture.geometry`: camera roll removed, person facing +x,
y down), so a shin or trunk angle is against true vertical and + means forward (the upper end ahead).
Lengths are made scale-free: heights as % of the standing hip height above the floor, foot positions as
% of foot length (heel to toe landmark, median over the clip).

Squat, per rep (start = the top before it, bottom = its deepest frame):
- `squat_depth_pct`: hip drop top → bottom, % of standing hip height (+ = lower).
- `squat_hip_below_knee_pct`: hip height minus knee height at the bottom, % of standing hip height
  (> 0: the hip went below the knee, as in a deep squat).
- `squat_shin_peak_deg`: the near shin's largest forward inclination (ankle → knee) in the rep: the
  dorsiflexion proxy. "Largest" is robust: the mean of the smoothed angle over the peak frame and its
  two neighbours, so one frame's landmark jitter does not set it.
- `squat_heel_lift_pct`: the near heel's rise over its own toe at the bottom, beyond the standing frames'
  (the rep's tops), % of foot length. Against the foot, not the image: a camera that drifts moves heel
  and toe alike, and a flat foot keeps its heel-over-toe height however the shin tilts.
- `squat_trunk_lean_deg`: hip → shoulder inclination at the bottom (+ = forward).
- `squat_trunk_shin_diff_deg`: trunk lean minus shin angle at the bottom (0 = parallel; + = the trunk
  leans more than the shin).
- `squat_knee_past_toe_pct`: knee ahead of the toe landmark at the bottom, % of foot length.
- `squat_pelvic_change_deg`: the silhouette pelvic tilt estimate (`posture.measures.pelvis`) at the
  bottom minus at the tops (negative = a posterior "tuck" at depth).
Legs are the tracked legs of `posture.movement.legs` (by geometry and continuity, not by label).
Lunge, per rep: the front leg is the one whose ankle is further forward at the bottom.
- `lunge_shin_peak_deg`: the front shin's largest forward inclination (robust, as the squat's) among the
  frames with its heel down; frames with the heel lifted are left out and flagged.
- `lunge_heel_lift_pct`: the front heel's largest rise over its own toe in the rep beyond the flat foot
  (its heel-over-toe height at the lower of the rep's two tops), % of foot length.
A lunge rep has the knee-to-wall shape (`lunge_shape`) when its front foot stays put and its front shin
travels forward over it; a walk's step, a forward lunge (the front foot steps out and back) and a split
squat (the shin stays near vertical) do not.
Clip headline: the median over reps; for the lunge also per side, their difference, and the headline
`lunge_shin_peak_deg` is the more restricted (lower) side's when both are filmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..landmarks import Side, side_index
from ..measures.base import build_body
from ..measures.lumbar import usable_hollow
from ..measures.pelvis import measure_pelvis
from .reps import RepSpan

SQUAT_MEASURE_NAMES: tuple[str, ...] = (
    "squat_depth_pct",
    "squat_hip_below_knee_pct",
    "squat_shin_peak_deg",
    "squat_heel_lift_pct",
    "squat_trunk_lean_deg",
    "squat_trunk_shin_diff_deg",
    "squat_knee_past_toe_pct",
    "squat_pelvic_change_deg",
)
LUNGE_REP_MEASURE_NAMES: tuple[str, ...] = ("lunge_shin_peak_deg", "lunge_heel_lift_pct")
LUNGE_MEASURE_NAMES: tuple[str, ...] = (
    "lunge_shin_peak_deg",
    "lunge_shin_peak_left_deg",
    "lunge_shin_peak_right_deg",
    "lunge_asymmetry_deg",
    "lunge_heel_lift_pct",
)
MOVEMENT_MEASURE_NAMES: tuple[str, ...] = (*SQUAT_MEASURE_NAMES, *LUNGE_MEASURE_NAMES)
# The per-frame curves of `MovementAnalysis.series` (beside `time_s`).
SERIES_NAMES: tuple[str, ...] = (
    "hip_height_pct",
    "shin_deg",
    "trunk_lean_deg",
    "heel_rise_pct",
    "knee_past_toe_pct",
)

_SIDES: tuple[Side, Side] = ("left", "right")


def _incl(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Inclination vs vertical of lower→upper for (n, 2) arrays; + when `upper` is forward (+x)."""
    d = upper - lower
    return np.degrees(np.arctan2(d[:, 0], -d[:, 1]))


@dataclass
class Frames:
    """Canonical per-frame geometry of the sampled frames (NaN where a frame failed).

    `lm` is (n, 33, 4) canonical landmarks; the named arrays are (n,) series derived from them.
    """

    lm: np.ndarray
    side: Side
    series: dict[str, np.ndarray] = field(default_factory=dict)

    def p(self, part: str, side: Side | None = None) -> np.ndarray:
        return self.lm[:, side_index(part, side or self.side), :2]


def frame_series(lm: np.ndarray, side: Side) -> Frames:
    """The raw per-frame series (before smoothing) from (n, 33, 4) canonical landmarks."""
    f = Frames(lm=lm, side=side)
    s = f.series
    hips = (f.p("hip", "left") + f.p("hip", "right")) / 2
    s["hip_y"] = hips[:, 1]
    s["knee_x"], s["knee_y"] = f.p("knee")[:, 0], f.p("knee")[:, 1]
    s["toe_x"] = f.p("foot_index")[:, 0]
    s["heel_y"] = f.p("heel")[:, 1]
    s["heel_over_toe"] = f.p("foot_index")[:, 1] - f.p("heel")[:, 1]  # y down: + = heel above toe
    s["floor_y"] = np.max(np.stack([f.p(p)[:, 1] for p in ("heel", "foot_index", "ankle")]), axis=0)
    s["shin_deg"] = _incl(f.p("ankle"), f.p("knee"))
    s["trunk_lean_deg"] = _incl(f.p("hip"), f.p("shoulder"))  # the near side, as the photo's trunk lean
    s["foot_len"] = np.hypot(*(f.p("foot_index") - f.p("heel")).T)
    for sd in _SIDES:
        heel, toe = f.p("heel", sd), f.p("foot_index", sd)
        s[f"shin_{sd}_deg"] = _incl(f.p("ankle", sd), f.p("knee", sd))
        s[f"ankle_{sd}_x"] = f.p("ankle", sd)[:, 0]
        s[f"knee_{sd}_x"] = f.p("knee", sd)[:, 0]
        s[f"toe_{sd}_x"] = toe[:, 0]
        s[f"heel_{sd}_y"] = heel[:, 1]
        s[f"heel_over_toe_{sd}"] = toe[:, 1] - heel[:, 1]
        s[f"foot_len_{sd}"] = np.hypot(*(toe - heel).T)
    return f


def pelvic_estimate(lm: np.ndarray, contour: np.ndarray | None, side: Side) -> float | None:
    """The photo pipeline's silhouette pelvic tilt estimate for one canonical frame, or None."""
    if contour is None or not np.isfinite(lm[:, :2]).all():
        return None
    body = build_body(lm, contour, side)
    value = measure_pelvis(body, usable_hollow(body)).values["pelvic_tilt_deg"].value
    return None if value is None else float(value)


@dataclass(frozen=True)
class RepMeasures:
    span: RepSpan
    side: Side | None  # lunge: the front leg
    values: dict[str, float | None]
    key_frame: int  # the deepest frame (squat) or the peak frame (lunge)
    heel_lifted_frames: tuple[int, ...] = ()
    # The frame the quoted shin peak is centred on (`robust_peak`'s), None when there is none: the
    # squat's deepest frame and the lunge's bottom are usually elsewhere.
    peak_frame: int | None = None


def _f(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _nanmax_at(values: np.ndarray, idx: np.ndarray) -> tuple[float, int | None]:
    v = values[idx]
    if not np.isfinite(v).any():
        return float("nan"), None
    k = int(np.nanargmax(v))
    return float(v[k]), int(idx[k])


def robust_peak(values: np.ndarray, idx: np.ndarray) -> tuple[float, int | None]:
    """The peak of `values` over the frames `idx`: the mean of the largest and its neighbours among
    `idx` (three frames where they exist), and the frame of the largest."""
    _, at = _nanmax_at(values, idx)
    if at is None:
        return float("nan"), None
    k = int(np.searchsorted(idx, at))
    near = idx[max(0, k - 1) : k + 2]
    near = near[np.abs(near - at) <= 1]  # neighbours in time, not across a left-out frame
    return float(np.nanmean(values[near])), at


def squat_rep(
    s: dict[str, np.ndarray], rep: RepSpan, foot_len: float, pelvic: dict[int, float | None]
) -> RepMeasures:
    """The squat measures of one rep from the smoothed series `s` (pelvic: estimate per frame index)."""
    a, b, e = rep.start, rep.bottom, rep.end
    hip_h = s["floor_y"] - s["hip_y"]
    height = float(np.nanmean([hip_h[a], hip_h[e]]))  # standing hip height above the floor
    v: dict[str, float | None] = dict.fromkeys(SQUAT_MEASURE_NAMES)
    if height > 0:
        v["squat_depth_pct"] = _f(100.0 * (height - hip_h[b]) / height)
        v["squat_hip_below_knee_pct"] = _f(100.0 * (s["hip_y"][b] - s["knee_y"][b]) / height)
    peak, peak_at = robust_peak(s["shin_deg"], np.arange(a, e + 1))
    v["squat_shin_peak_deg"] = _f(peak)
    if foot_len > 0:
        hot = s["heel_over_toe"]
        v["squat_heel_lift_pct"] = _f(100.0 * (hot[b] - float(np.nanmean([hot[a], hot[e]]))) / foot_len)
        v["squat_knee_past_toe_pct"] = _f(100.0 * (s["knee_x"][b] - s["toe_x"][b]) / foot_len)
    v["squat_trunk_lean_deg"] = _f(s["trunk_lean_deg"][b])
    v["squat_trunk_shin_diff_deg"] = _f(s["trunk_lean_deg"][b] - s["shin_deg"][b])
    tops = [pelvic.get(a), pelvic.get(e)]
    tops_known = [t for t in tops if t is not None]
    bottom = pelvic.get(b)
    if bottom is not None and tops_known:
        v["squat_pelvic_change_deg"] = float(bottom - np.mean(tops_known))
    return RepMeasures(rep, None, v, b, peak_frame=peak_at)


def front_side(s: dict[str, np.ndarray], frame: int) -> Side:
    """The leg whose ankle is further forward (+x) at `frame`."""
    return "left" if s["ankle_left_x"][frame] >= s["ankle_right_x"][frame] else "right"


def heel_rise_pct(hot: np.ndarray, rep: RepSpan, foot_len: float) -> np.ndarray:
    """The heel's rise over its toe beyond the flat foot, % of foot length, for every frame. The flat
    foot is the lower of the rep's two tops (standing, the foot down): not the rep's lowest value,
    which a foot with its toes up (a heel strike) would set."""
    tops = hot[[rep.start, rep.end]]
    if foot_len <= 0 or not np.isfinite(tops).any():
        return np.full(len(hot), np.nan)
    return 100.0 * (hot - float(np.nanmin(tops))) / foot_len


@dataclass(frozen=True)
class LungeShape:
    """How one lunge rep moved: the front ankle's travel (% of foot length) and the front shin's
    forward travel from the rep's start to its peak (degrees)."""

    foot_travel_pct: float
    shin_travel_deg: float

    def is_knee_to_wall(self, max_foot_travel_pct: float, min_shin_travel_deg: float) -> bool:
        return bool(
            self.foot_travel_pct <= max_foot_travel_pct and self.shin_travel_deg >= min_shin_travel_deg
        )


def lunge_shape(s: dict[str, np.ndarray], rep: RepSpan, foot_len: float) -> LungeShape:
    side = front_side(s, rep.bottom)
    idx = np.arange(rep.start, rep.end + 1)
    ankle = s[f"ankle_{side}_x"][idx]
    shin = s[f"shin_{side}_deg"][idx]
    travel = float(np.nanmax(ankle) - np.nanmin(ankle)) if np.isfinite(ankle).any() else float("nan")
    start = float(np.nanmin(shin[: max(1, len(shin) // 4)])) if np.isfinite(shin).any() else float("nan")
    peak = float(np.nanmax(shin)) if np.isfinite(shin).any() else float("nan")
    return LungeShape(100.0 * travel / foot_len if foot_len > 0 else float("nan"), peak - start)


def lunge_rep(s: dict[str, np.ndarray], rep: RepSpan, foot_len: float, heel_lift_pct: float) -> RepMeasures:
    """The lunge measures of one rep: the front shin's peak with the heel down, and the heel's rise."""
    side = front_side(s, rep.bottom)
    idx = np.arange(rep.start, rep.end + 1)
    rise = heel_rise_pct(s[f"heel_over_toe_{side}"], rep, foot_len)
    lifted = rise > heel_lift_pct
    down = idx[~lifted[idx]]
    peak, at = robust_peak(s[f"shin_{side}_deg"], down) if len(down) else (float("nan"), None)
    values = {
        "lunge_shin_peak_deg": _f(peak),
        "lunge_heel_lift_pct": _f(float(np.nanmax(rise[idx]))) if np.isfinite(rise[idx]).any() else None,
    }
    flagged = tuple(int(i) for i in idx[lifted[idx]])
    return RepMeasures(rep, side, values, at if at is not None else rep.bottom, flagged, at)


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.median(known)) if known else None


def headline(test: str, reps: Sequence[RepMeasures]) -> dict[str, float | None]:
    """The clip's numbers: medians over reps (lunge: per side too)."""
    if test == "squat":
        return {name: _median([r.values[name] for r in reps]) for name in SQUAT_MEASURE_NAMES}
    per_side = {sd: _median([r.values["lunge_shin_peak_deg"] for r in reps if r.side == sd]) for sd in _SIDES}
    known = [v for v in per_side.values() if v is not None]
    both = len(known) == 2
    return {
        "lunge_shin_peak_deg": min(known) if known else None,
        "lunge_shin_peak_left_deg": per_side["left"],
        "lunge_shin_peak_right_deg": per_side["right"],
        "lunge_asymmetry_deg": abs(known[0] - known[1]) if both else None,
        "lunge_heel_lift_pct": _median([r.values["lunge_heel_lift_pct"] for r in reps]),
    }


def display_series(
    s: dict[str, np.ndarray], test: str, standing_height: float, foot_len: float
) -> dict[str, np.ndarray]:
    """The curves shown beside the clip (`SERIES_NAMES`), from the smoothed series; `standing_height`
    is the hip's height above the floor at the tops of the reps (pixels)."""
    hip_h = s["floor_y"] - s["hip_y"]
    hip = 100.0 * hip_h / standing_height if standing_height > 0 else np.full(len(hip_h), np.nan)
    if test == "lunge":  # the leg in front at each frame
        front_left = s["ankle_left_x"] >= s["ankle_right_x"]
        shin = np.where(front_left, s["shin_left_deg"], s["shin_right_deg"])
        hot = np.where(front_left, s["heel_over_toe_left"], s["heel_over_toe_right"])
        knee_ahead = np.where(
            front_left, s["knee_left_x"] - s["toe_left_x"], s["knee_right_x"] - s["toe_right_x"]
        )
    else:
        shin, hot, knee_ahead = s["shin_deg"], s["heel_over_toe"], s["knee_x"] - s["toe_x"]
    # The heel's rise over its toe beyond the flat foot: the clip's median (a test's foot is down most
    # of the time; the lowest values would be a toe lifted, not a flat foot).
    flat = float(np.nanmedian(hot)) if np.isfinite(hot).any() else float("nan")
    scale = 100.0 / foot_len if foot_len > 0 else float("nan")
    return {
        "hip_height_pct": hip,
        "shin_deg": shin,
        "trunk_lean_deg": s["trunk_lean_deg"],
        "heel_rise_pct": (hot - flat) * scale,
        "knee_past_toe_pct": knee_ahead * scale,
    }
