"""Quality gate: refuse photos the measures cannot be trusted on, each with a stable code; and the
stance check: an accepted photo of a person mid-stride or on one foot is measured but warned
(`not_standing_still`), and its standing scores are withheld.

Thresholds come from the rules file (`[quality]`, `[stance]`); the order of the checks decides which
reason a photo gets when several apply: the most fundamental first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ErrorCode, PostureError
from .facing import FacingDecision
from .landmarks import INDEX, side_index
from .rules import load_rules

_HEAD = ("nose", "left_ear", "right_ear")


def view_ratio(landmarks: np.ndarray) -> float:
    """Mean horizontal left–right span of shoulders and hips, over torso length (≈0 in a pure profile)."""

    def p(name: str) -> np.ndarray:
        return landmarks[INDEX[name], :2]

    shoulder_mid = (p("left_shoulder") + p("right_shoulder")) / 2
    hip_mid = (p("left_hip") + p("right_hip")) / 2
    torso = max(float(np.hypot(*(shoulder_mid - hip_mid))), 1e-6)
    spans = abs(p("left_shoulder")[0] - p("right_shoulder")[0]) + abs(p("left_hip")[0] - p("right_hip")[0])
    return float(spans / 2 / torso)


def check(
    landmarks: np.ndarray,
    contour: np.ndarray | None,
    facing: FacingDecision,
    width: int,
    height: int,
) -> None:
    """Raise `PostureError` if the photo fails the gate. Coordinates are full-size photo pixels."""
    q = load_rules()["quality"]
    side = facing.near_side
    feet = [side_index(part, s) for part in ("ankle", "heel", "foot_index") for s in ("left", "right")]
    head = [INDEX[n] for n in _HEAD]
    top = float(contour[:, 1].min()) if contour is not None else float(landmarks[head, 1].min())
    bottom = float(max(landmarks[feet, 1].max(), contour[:, 1].max() if contour is not None else 0.0))
    person_h = max(bottom - top, 1.0)
    margin = q["frame_margin_frac"] * person_h

    def outside(idx: list[int]) -> bool:
        pts = landmarks[idx, :2]
        return bool(
            np.any(
                (pts[:, 0] < -margin)
                | (pts[:, 0] > width + margin)
                | (pts[:, 1] < -margin)
                | (pts[:, 1] > height + margin)
            )
        )

    near_feet = [side_index(part, side) for part in ("ankle", "heel", "foot_index")]
    head_cut = outside(head) or (contour is not None and top <= 0.5)
    feet_cut = outside(near_feet) or float(landmarks[near_feet, 1].max()) >= height - 0.5
    if head_cut or feet_cut:
        part = "head" if head_cut else "feet"
        raise PostureError(
            ErrorCode.BODY_CROPPED,
            f"The {part} {'is' if part == 'head' else 'are'} outside the photo: the whole body, "
            "from the top of the head to the feet, must be in the frame.",
        )
    if person_h < q["min_person_height_px"]:
        raise PostureError(
            ErrorCode.TOO_SMALL,
            f"The person is only about {person_h:.0f} pixels tall; at least "
            f"{q['min_person_height_px']} are needed. Step closer or use a higher resolution.",
        )
    ratio = view_ratio(landmarks)
    if ratio > q["max_view_ratio"]:
        raise PostureError(
            ErrorCode.NOT_SIDE_VIEW,
            "The person does not stand side-on to the camera (shoulders and hips are seen across, "
            f"ratio {ratio:.2f} > {q['max_view_ratio']}). Turn 90° so the camera sees one side.",
        )
    chain = [side_index(part, side) for part in ("ear", "shoulder", "hip", "knee", "ankle")]
    visibility = float(landmarks[chain, 3].mean())
    weakest = float(landmarks[chain, 3].min())
    if visibility < q["min_chain_visibility"] or weakest < q["min_landmark_visibility"]:
        raise PostureError(
            ErrorCode.LOW_VISIBILITY,
            f"Parts of the body are hidden or unclear (visibility {visibility:.2f}). Wear tight "
            "clothing, keep arms from covering the body, and use an even, uncluttered background.",
        )


@dataclass(frozen=True)
class Stance:
    """How the person stands, from canonical landmarks (roll removed, facing +x; see `geometry`).

    `stride_leg_share`: how far apart the two ankles are along the facing (walking) direction, over the
    leg length (hip→knee→ankle, mean of both legs). `lift_leg_share`: how far the lowest point (heel or
    toe) of one foot is above that of the other, over the same length. `still` is False when either
    passes its limit in `rules.toml [stance]`: the person is mid-stride or on one foot, not standing.
    """

    stride_leg_share: float
    lift_leg_share: float
    still: bool


def stance(canonical: np.ndarray) -> Stance:
    """Whether the person stands still on both feet: `canonical` (33, ≥2) landmarks in the canonical
    frame (pixels, y down, facing +x)."""
    q = load_rules()["stance"]

    def p(name: str) -> np.ndarray:
        return canonical[INDEX[name], :2].astype(np.float64)

    legs = [
        float(np.hypot(*(p(f"{s}_hip") - p(f"{s}_knee"))) + np.hypot(*(p(f"{s}_knee") - p(f"{s}_ankle"))))
        for s in ("left", "right")
    ]
    leg = max(float(np.mean(legs)), 1e-6)
    stride = abs(float(p("left_ankle")[0] - p("right_ankle")[0])) / leg
    # Image y grows downward: a foot's lowest point is its larger y.
    lowest = [max(p(f"{s}_heel")[1], p(f"{s}_foot_index")[1]) for s in ("left", "right")]
    lift = abs(lowest[0] - lowest[1]) / leg
    still = stride <= q["max_stride_leg_share"] and lift <= q["max_foot_lift_leg_share"]
    return Stance(stride_leg_share=stride, lift_leg_share=lift, still=bool(still))
