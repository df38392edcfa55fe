"""Which way the person faces, from several independent cues.

Each cue votes in −1..+1 (+ = facing image-right); the weighted mean decides and its magnitude is the
confidence. Cues: nose ahead of the ears, toes ahead of the heels, the near side's landmarks nearer the
camera (MediaPipe's relative depth z) and more visible. A person facing image-right shows the camera
their right side; facing image-left, their left side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .landmarks import INDEX, Side

Facing = Literal["left", "right"]

_WEIGHTS = {"head": 1.0, "feet": 1.0, "depth": 0.5, "visibility": 0.5}


@dataclass(frozen=True)
class FacingDecision:
    facing: Facing
    confidence: float
    votes: dict[str, float]
    votes_score: float
    overridden: bool = False

    @property
    def near_side(self) -> Side:
        """The body side turned towards the camera (its one-sided landmarks are the ones measured)."""
        return "right" if self.facing == "right" else "left"


def detect_facing(landmarks: np.ndarray, override: Facing | None = None) -> FacingDecision:
    """Decide the facing side from (33, ≥4) landmarks (x, y, z, visibility) in image pixels."""
    lm = landmarks

    def pt(name: str) -> np.ndarray:
        return lm[INDEX[name]]

    torso = float(
        np.hypot(
            *(
                (pt("left_shoulder")[:2] + pt("right_shoulder")[:2]) / 2
                - (pt("left_hip")[:2] + pt("right_hip")[:2]) / 2
            )
        )
    )
    unit = max(torso, 1e-6) * 0.05  # 5 % of torso length counts as a full vote

    ears_x = (pt("left_ear")[0] + pt("right_ear")[0]) / 2
    toes_x = (pt("left_foot_index")[0] + pt("right_foot_index")[0]) / 2
    heels_x = (pt("left_heel")[0] + pt("right_heel")[0]) / 2
    left_parts = [INDEX[f"left_{p}"] for p in ("shoulder", "hip", "knee", "ankle", "ear")]
    right_parts = [INDEX[f"right_{p}"] for p in ("shoulder", "hip", "knee", "ankle", "ear")]
    z_gap = float(lm[right_parts, 2].mean() - lm[left_parts, 2].mean())  # > 0: left side nearer
    vis_gap = float(lm[right_parts, 3].mean() - lm[left_parts, 3].mean())  # > 0: right side more visible

    votes = {
        "head": float(np.clip((pt("nose")[0] - ears_x) / unit, -1, 1)),
        "feet": float(np.clip((toes_x - heels_x) / unit, -1, 1)),
        "depth": float(np.clip(-z_gap / 0.1, -1, 1)),
        "visibility": float(np.clip(vis_gap / 0.1, -1, 1)),
    }
    score = sum(_WEIGHTS[k] * v for k, v in votes.items()) / sum(_WEIGHTS.values())
    detected: Facing = "right" if score >= 0 else "left"
    if override is not None:
        return FacingDecision(override, abs(score), votes, score, overridden=True)
    return FacingDecision(detected, abs(score), votes, score)
