"""How to analyse a movement clip: `ClipOptions`, the one options type every way in passes along."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..errors import ErrorCode, PostureError
from ..facing import Facing
from ..options import FACINGS, LEVEL_MODES, MAX_CAMERA_ROLL_DEG, ROLL_SOURCES, LevelMode, RollSource

Test = Literal["squat", "lunge"]
TESTS: tuple[Test, ...] = ("squat", "lunge")
MIN_SAMPLE_FPS = 2.0
MAX_SAMPLE_FPS = 60.0


@dataclass(frozen=True)
class ClipOptions:
    """`test`: a bodyweight squat or a knee-to-wall lunge filmed side on. `facing`: override the detected
    direction. `camera_roll_deg`: the phone's roll when known (sign as `posture.geometry.to_canonical`);
    without one, `level="auto"` reads it from a standing frame (`posture.level`), `"off"` trusts the
    frame. `sample_fps`: frames analysed per second of clip (all frames when the clip has fewer); for a
    burst of photos, the rate they were taken at. `overlay`: also draw the deepest frame's PNG.
    `camera_roll_source`: who read `camera_roll_deg` (`given` or the phone's sensor, `device`), as in
    `posture.options.AnalysisOptions`. `mirror_pass`: also run the model on each frame mirrored and
    average the two (as the photo pipeline does): about twice the time, a third to a half less
    frame-to-frame noise between copies of a clip (docs/accuracy.md)."""

    test: Test = "squat"
    facing: Facing | None = None
    camera_roll_deg: float | None = None
    camera_roll_source: RollSource = "given"
    sample_fps: float = 15.0
    overlay: bool = False
    level: LevelMode = "auto"
    mirror_pass: bool = False

    def check(self) -> None:
        """Raise `PostureError(invalid_option)` for a value outside the contract."""
        if self.test not in TESTS:
            raise PostureError(
                ErrorCode.INVALID_OPTION, f"test must be 'squat' or 'lunge', not {self.test!r}."
            )
        if self.facing not in (None, *FACINGS):
            raise PostureError(
                ErrorCode.INVALID_OPTION, f"facing must be 'left' or 'right', not {self.facing!r}."
            )
        if self.level not in LEVEL_MODES:
            raise PostureError(
                ErrorCode.INVALID_OPTION, f"level must be 'auto' or 'off', not {self.level!r}."
            )
        if self.camera_roll_deg is not None and not _finite_within(self.camera_roll_deg, MAX_CAMERA_ROLL_DEG):
            raise PostureError(
                ErrorCode.INVALID_OPTION,
                f"camera_roll_deg must be a number between −{MAX_CAMERA_ROLL_DEG:.0f} and "
                f"{MAX_CAMERA_ROLL_DEG:.0f}.",
            )
        if self.camera_roll_source not in ROLL_SOURCES or (
            self.camera_roll_source == "device" and self.camera_roll_deg is None
        ):
            raise PostureError(
                ErrorCode.INVALID_OPTION,
                "camera_roll_source must be 'given' or 'device', and 'device' needs camera_roll_deg.",
            )
        if not _finite_within(self.sample_fps, MAX_SAMPLE_FPS) or float(self.sample_fps) < MIN_SAMPLE_FPS:
            raise PostureError(
                ErrorCode.INVALID_OPTION,
                f"sample_fps must be a number from {MIN_SAMPLE_FPS:.0f} to {MAX_SAMPLE_FPS:.0f}.",
            )

    @property
    def safe_test(self) -> Test:
        """The test to record on a result, even a rejected one with an invalid test."""
        return self.test if self.test in TESTS else "squat"


def _finite_within(value: object, limit: float) -> bool:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return math.isfinite(v) and abs(v) <= limit
