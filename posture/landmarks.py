"""MediaPipe's 33 pose landmarks: names, left/right pairing and the one-sided chain we measure.

MediaPipe's "ear" is not the tragus, its "shoulder" and "hip" are joint centres (not acromion or
greater trochanter), and it has no ASIS, PSIS, C7 or spine points: the measures built on these are
estimates, and say so.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Side = Literal["left", "right"]

NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear",
    "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
    "left_pinky", "right_pinky",
    "left_index", "right_index",
    "left_thumb", "right_thumb",
    "left_hip", "right_hip",
    "left_knee", "right_knee",
    "left_ankle", "right_ankle",
    "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)  # fmt: skip
INDEX: dict[str, int] = {name: i for i, name in enumerate(NAMES)}


def _mirror_name(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    if name == "mouth_left":
        return "mouth_right"
    if name == "mouth_right":
        return "mouth_left"
    return name


# Index permutation that swaps every left landmark with its right twin (for mirrored images).
SWAP_LEFT_RIGHT: np.ndarray = np.array([INDEX[_mirror_name(n)] for n in NAMES])

# Landmarks of the measured chain, one per side (ear to toes).
CHAIN = ("ear", "shoulder", "elbow", "wrist", "index", "hip", "knee", "ankle", "heel", "foot_index")


def side_index(part: str, side: Side) -> int:
    """Index of `part` (e.g. "knee") on `side`."""
    return INDEX[f"{side}_{part}"]


def mirror_landmarks(landmarks: np.ndarray, width: float) -> np.ndarray:
    """Landmarks of a horizontally flipped image, expressed for the original image.

    Flips x about the image width and swaps left/right labels, so the result describes the same body
    parts as a detection on the unflipped image. Works on arrays with x in column 0.
    """
    out = landmarks[SWAP_LEFT_RIGHT].copy()
    out[:, 0] = width - out[:, 0]
    return out
