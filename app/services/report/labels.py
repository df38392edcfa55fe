"""The page's words in Python, for the PDF report: a mirror of app/static/js/labels.js (and of the date
and number formats of app/static/js/dom.js and the noise bands' words of views/subject/trends.js), so
that the report names, signs and rounds every number exactly as the page does.

The server has no JavaScript engine, hence a mirror; `tests/api/test_report.py` loads those modules
with node and checks that every table here equals the page's and that every function gives the
page's text for the same inputs. Change labels.js first, then this file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

MINUS = "\u2212"
NARROW_NBSP = "\u202f"
EM_DASH = "\u2014"


@dataclass(frozen=True)
class MeasureMeta:
    label: str
    unit: str
    decimals: int
    hint: str
    signed: bool = False
    estimate: bool = False


# labels.js MEASURES, in its order.
MEASURES: dict[str, MeasureMeta] = {
    "overall_score": MeasureMeta("Overall score", "", 0, "0–100, higher is closer to the usual ranges"),
    "pelvic_tilt_deg": MeasureMeta(
        "Pelvic tilt",
        "°",
        1,
        "+ = tilted forward (anterior), from the back outline",
        signed=True,
        estimate=True,
    ),
    "lumbar_lordosis_deg": MeasureMeta(
        "Lumbar curve", "°", 1, "depth of the lower-back hollow; larger = deeper", estimate=True
    ),
    "lumbar_lordosis_index": MeasureMeta(
        "Lumbar curve index", "", 1, "hollow depth as a share of its length (×100)", estimate=True
    ),
    "shank_angle_deg": MeasureMeta("Shin angle", "°", 1, "+ = knee ahead of the ankle", signed=True),
    "knee_angle_deg": MeasureMeta(
        "Knee angle", "°", 1, "0 = straight, + = bent, − = locked back", signed=True
    ),
    "knee_over_foot_pct": MeasureMeta(
        "Knee over foot", "%", 0, "knee ahead of the ankle, in % of foot length", signed=True
    ),
    "lunge_tibia_deg": MeasureMeta(
        "Lunge shin angle", "°", 1, "knee-to-wall lunge; below 36.5° counts as restricted"
    ),
    "heel_lift": MeasureMeta("Heel lift", "", 0, "the heel must stay down in the lunge"),
    "trunk_lean_deg": MeasureMeta("Trunk lean", "°", 1, "+ = shoulder ahead of the hip", signed=True),
    "head_forward_deg": MeasureMeta(
        "Head forward", "°", 1, "+ = ear ahead of the shoulder (not a CVA)", signed=True
    ),
    "body_line_deg": MeasureMeta("Body line", "°", 1, "+ = shoulder ahead of the ankle", signed=True),
    "hip_angle_deg": MeasureMeta("Hip angle", "°", 1, "+ = trunk inclined forward of the thigh", signed=True),
    "plumb_ear_pct": MeasureMeta("Ear to plumb line", "%", 1, "% of height; + = in front", signed=True),
    "plumb_shoulder_pct": MeasureMeta(
        "Shoulder to plumb line", "%", 1, "% of height; + = in front", signed=True
    ),
    "plumb_hip_pct": MeasureMeta("Hip to plumb line", "%", 1, "% of height; + = in front", signed=True),
    "plumb_knee_pct": MeasureMeta("Knee to plumb line", "%", 1, "% of height; + = in front", signed=True),
}

# labels.js MOVEMENT_MEASURES (movement tests, posture.analyze_clip), in its order.
MOVEMENT_MEASURES: dict[str, MeasureMeta] = {
    "squat_depth_pct": MeasureMeta(
        "Squat depth", "%", 0, "hip drop from standing to the bottom, % of standing hip height"
    ),
    "squat_hip_below_knee_pct": MeasureMeta(
        "Hip below knee",
        "%",
        0,
        "hip height minus knee height at the bottom, % of standing hip height; + = hip below the knee",
        signed=True,
    ),
    "squat_shin_peak_deg": MeasureMeta(
        "Peak shin angle",
        "°",
        1,
        "shin forward of vertical at the deepest point: a proxy for ankle dorsiflexion",
    ),
    "squat_heel_lift_pct": MeasureMeta("Heel lift", "%", 0, "heel rise at depth, % of foot length"),
    "squat_trunk_lean_deg": MeasureMeta("Trunk lean", "°", 1, "trunk forward of vertical at depth"),
    "squat_trunk_shin_diff_deg": MeasureMeta(
        "Trunk − shin",
        "°",
        1,
        "trunk lean minus shin angle at depth; + = the trunk leans more than the shin",
        signed=True,
    ),
    "squat_knee_past_toe_pct": MeasureMeta(
        "Knee past toes", "%", 0, "+ = knee ahead of the toes at depth, % of foot length", signed=True
    ),
    "squat_pelvic_change_deg": MeasureMeta(
        "Pelvic change",
        "°",
        1,
        "pelvic estimate at the bottom minus standing; − = a tuck at depth",
        signed=True,
        estimate=True,
    ),
    "lunge_shin_peak_deg": MeasureMeta(
        "Peak shin angle", "°", 1, "front shin from vertical with the heel down: the knee-to-wall reading"
    ),
    "lunge_shin_peak_left_deg": MeasureMeta("Peak shin angle, left", "°", 1, "left leg in front"),
    "lunge_shin_peak_right_deg": MeasureMeta("Peak shin angle, right", "°", 1, "right leg in front"),
    "lunge_asymmetry_deg": MeasureMeta(
        "Left–right difference", "°", 1, "between the two sides' peak shin angles"
    ),
    "lunge_heel_lift_pct": MeasureMeta("Heel lift", "%", 0, "front heel rise, % of foot length"),
}

# labels.js MOVEMENT_TESTS.
MOVEMENT_TESTS: dict[str, dict[str, str]] = {
    "squat": {"label": "Squat", "headline": "squat_shin_peak_deg"},
    "lunge": {"label": "Knee-to-wall lunge", "headline": "lunge_shin_peak_deg"},
}

# labels.js MEASURE_GROUPS: the order of the page's measure tables.
MEASURE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Pelvis and lower back", ("pelvic_tilt_deg", "lumbar_lordosis_deg", "lumbar_lordosis_index")),
    (
        "Ankle and knee",
        ("shank_angle_deg", "knee_angle_deg", "knee_over_foot_pct", "lunge_tibia_deg", "heel_lift"),
    ),
    ("Standing alignment", ("trunk_lean_deg", "head_forward_deg", "body_line_deg", "hip_angle_deg")),
    (
        "Plumb line (ankle vertical)",
        ("plumb_ear_pct", "plumb_shoulder_pct", "plumb_hip_pct", "plumb_knee_pct"),
    ),
)

# labels.js KEY_TRENDS: the trend charts the page shows first.
KEY_TRENDS: tuple[str, ...] = (
    "pelvic_tilt_deg",
    "lumbar_lordosis_deg",
    "shank_angle_deg",
    "knee_angle_deg",
    "lunge_tibia_deg",
    "trunk_lean_deg",
    "head_forward_deg",
    "body_line_deg",
)

# labels.js AREAS, their labels (the overall score's like-for-like words name them).
AREAS: dict[str, str] = {
    "pelvic_tilt": "Pelvic tilt",
    "lumbar_curve": "Lumbar curve",
    "ankle_knee": "Ankle and knee",
    "alignment": "Alignment",
}

# labels.js BANDS.
BANDS: dict[str, str] = {"good": "Good", "mild": "Mild", "marked": "Marked"}

# labels.js WARNINGS.
WARNINGS: dict[str, str] = {
    "multiple_people": "More than one person is in the photo; the most prominent one was measured.",
    "mirror_pass_disagrees": (
        "The model's passes on the photo and its mirror image disagreed: read this photo's numbers with care."
    ),
    "facing_override_disagrees": "The facing you chose disagrees with the direction the model detected.",
    "facing_uncertain": (
        "The facing direction was uncertain: if the numbers look odd, upload again with the facing set."
    ),
    "camera_level_unknown": (
        "The camera's tilt could not be read from the photo: keep the phone level, or enter its roll when "
        "you upload."
    ),
    "camera_level_disagrees": (
        "The camera roll you entered disagrees with the tilt read from the photo: check the phone's level."
    ),
    "clip_truncated": (
        "The clip could not be decoded to its end (damaged or cut short); "
        "the frames before the break were analysed."
    ),
    "rotation_ignored": (
        "The clip's rotation metadata is not a quarter turn; "
        "it was ignored and the frames analysed as stored."
    ),
    "not_standing_still": (
        "The person is not standing still on both feet (mid-stride or on one foot): pelvis, lumbar curve and "
        "alignment are measured but not scored. Stand still, weight on both feet, feet side by side."
    ),
    "frames_failed": (
        "Some frames of the clip could not be measured (listed with the result); the others were."
    ),
    "heel_lifted": (
        "The front heel left the floor in some frames: those frames do not count for the lunge's peak shin "
        "angle."
    ),
    "reps_not_the_test": (
        "Some dips of the hip did not have the knee-to-wall shape (front foot in place, knee driven forward "
        "over it): they were left out of the reps."
    ),
    "measure_implausible": (
        "A number is outside what this test can give: it is shown, but not scored and no finding is drawn "
        "from it."
    ),
    "mode_differs": "One photo is standing and the other a lunge: most measures cannot be compared.",
    "rules_version_differs": (
        "The two photos were scored with different rules versions: scores may differ for that reason."
    ),
    "model_differs": (
        "The two photos were analysed with different pose models: differences may come from the model."
    ),
    "mixed_versions": (
        "These photos were analysed by different versions of the method: re-analyse the history (posture "
        "history reanalyze) before reading differences as change."
    ),
}

# The order of the page's difference table (views/compare.js): the overall score, then the groups.
TABLE_ORDER: tuple[str, ...] = ("overall_score", *(name for _, names in MEASURE_GROUPS for name in names))

# dom.js's Intl formats ("en-GB", UTC): ICU's English short month names, September included.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec")
_MEDICAL = re.compile("medical|diagnos", re.IGNORECASE)


def _fixed(value: float, decimals: int) -> str:
    """JavaScript's `value.toFixed(decimals)` for value ≥ 0: the exact binary value, ties up (Python's
    own formatting rounds ties to even, which differs on values such as 2.5 or 0.125)."""
    quantum = Decimal(1).scaleb(-decimals)
    return format(Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP), "f")


def _js_round(value: float) -> int:
    """JavaScript's Math.round: halves towards +∞."""
    return math.floor(value + 0.5)


def signed(value: float, decimals: int) -> str:
    """dom.js `signed`: a real minus sign and an explicit plus; no sign on a value that rounds to 0."""
    text = _fixed(abs(value), decimals)
    if float(text) == 0:
        return text
    return (MINUS if value < 0 else "+") + text


def plain(value: float, decimals: int) -> str:
    text = _fixed(abs(value), decimals)
    return (MINUS if value < 0 and float(text) != 0 else "") + text


def _meta(name: str) -> MeasureMeta | None:
    """A photo measure's words, else a movement measure's (their names never collide)."""
    return MEASURES.get(name) or MOVEMENT_MEASURES.get(name)


def measure_label(name: str) -> str:
    meta = _meta(name)
    return meta.label if meta else name


def _unit_text(meta: MeasureMeta) -> str:
    return NARROW_NBSP + "%" if meta.unit == "%" else meta.unit


_UNKNOWN = MeasureMeta("", "", 1, "")


def format_measure(name: str, value: float | None) -> str:
    """labels.js `formatMeasure`: "+10.7°", "43.9°", "+38 %", "heel down"."""
    if value is None:
        return EM_DASH
    meta = _meta(name) or _UNKNOWN
    if name == "heel_lift":
        return "heel lifted" if value else "heel down"
    number = signed(value, meta.decimals) if meta.signed else plain(value, meta.decimals)
    return number + _unit_text(meta)


def format_change(name: str, value: float | None) -> str:
    """labels.js `formatChange`: "+0.4°", "−6 points"."""
    if value is None:
        return EM_DASH
    meta = _meta(name) or _UNKNOWN
    if name == "overall_score":
        n = _js_round(value)
        return f"{signed(n, 0)} {'point' if abs(n) == 1 else 'points'}"
    return signed(value, max(meta.decimals, 1)) + _unit_text(meta)


def format_noise(name: str, noise: float | None) -> str:
    """labels.js `formatNoise`: "±4°", "±8 points"."""
    if noise is None:
        return ""
    meta = _meta(name) or _UNKNOWN
    number = str(int(noise)) if float(noise).is_integer() else _fixed(noise, 1)  # noise is never negative
    if name == "overall_score":
        return f"\u00b1{number} points"
    return f"\u00b1{number}{_unit_text(meta)}"


def format_date(value: datetime) -> str:
    """dom.js `formatDate` (UTC): "5 Sept 2025"."""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def format_day_month(value: datetime) -> str:
    return f"{value.day} {_MONTHS[value.month - 1]}"


def format_month_year(value: datetime) -> str:
    return f"{_MONTHS[value.month - 1]} {value.year}"


def format_duration(days: float) -> str:
    """dom.js `formatDuration`: "the same day", "12 days", "9 weeks", "7 months"."""
    d = _js_round(abs(days))
    if d == 0:
        return "the same day"
    if d == 1:
        return "1 day"
    if d < 60:
        return f"{d} days"
    if d < 182:
        return f"{_js_round(d / 7)} weeks"
    return f"{_js_round(d / 30.44)} months"


def band_source(source: str | None, visits: int, *, short: bool = False) -> str:
    """views/subject/trends.js `bandSource`: where a noise band comes from, in the page's words."""
    if source == "personal":
        return f"personal band from {visits} {'visit' if visits == 1 else 'visits'}"
    if short:
        return "software floor from the rules"
    if visits >= 3:
        return f"software floor from the rules (the personal band from {visits} visits is narrower)"
    return "software floor from the rules (a personal band needs 3 visits of 2 or more shots)"


def split_disclaimer(findings: list[str], default: str) -> tuple[list[str], str]:
    """The findings and the disclaimer apart, as the page's findings block does: the library ends the
    findings with its not-medical-advice sentence; `default` stands in when an older result lacks it."""
    items = list(findings)
    if items and _MEDICAL.search(items[-1]):
        return items[:-1], items[-1]
    return items, default
