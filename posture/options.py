"""How to analyse a photo: the one options type every way in (library, CLI, batch, API) passes along.

`AnalysisOptions` travels unchanged from the caller to the worker that runs `analyze()`, so a new
option is added here and in `analyze()`, not threaded through every signature in between.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from .errors import ErrorCode, PostureError
from .facing import Facing
from .result import Mode

LevelMode = Literal["auto", "off"]
RollSource = Literal["given", "device"]

MODES: tuple[Mode, ...] = ("standing", "lunge")
LEVEL_MODES: tuple[LevelMode, ...] = ("auto", "off")
ROLL_SOURCES: tuple[RollSource, ...] = ("given", "device")
FACINGS: tuple[Facing, ...] = ("left", "right")
MAX_CAMERA_ROLL_DEG = 45.0


@dataclass(frozen=True)
class AnalysisOptions:
    """`facing`: override the detected facing direction (None: detect it). `mode`: a standing photo or
    a knee-to-wall lunge. `camera_roll_deg`: the camera's roll when known (from the phone's level),
    removed before measuring; sign as in `posture.geometry.to_canonical`. Without one, `level="auto"`
    reads the roll from the photo (`posture.level`) and applies it when confident; `level="off"` trusts
    the frame's vertical. `camera_roll_source`: who read `camera_roll_deg`: `given` (typed in, a level app)
    or `device` (the phone's orientation sensor at the instant of the shot, sent by the capture page);
    both are applied alike and recorded as `camera_level.source`. `overlay`: also draw the annotated PNG
    (`Analysis.overlay_png`)."""

    facing: Facing | None = None
    mode: Mode = "standing"
    camera_roll_deg: float | None = None
    level: LevelMode = "auto"
    overlay: bool = False
    camera_roll_source: RollSource = "given"

    def check(self) -> None:
        """Raise `PostureError(invalid_option)` for a value outside the contract."""
        if self.facing not in (None, *FACINGS):
            raise PostureError(
                ErrorCode.INVALID_OPTION, f"facing must be 'left' or 'right', not {self.facing!r}."
            )
        if self.mode not in MODES:
            raise PostureError(
                ErrorCode.INVALID_OPTION, f"mode must be 'standing' or 'lunge', not {self.mode!r}."
            )
        if self.level not in LEVEL_MODES:
            raise PostureError(
                ErrorCode.INVALID_OPTION, f"level must be 'auto' or 'off', not {self.level!r}."
            )
        if self.camera_roll_deg is not None and not _valid_roll(self.camera_roll_deg):
            raise PostureError(
                ErrorCode.INVALID_OPTION,
                f"camera_roll_deg must be a number between −{MAX_CAMERA_ROLL_DEG:.0f} and "
                f"{MAX_CAMERA_ROLL_DEG:.0f}.",
            )
        if self.camera_roll_source not in ROLL_SOURCES:
            raise PostureError(
                ErrorCode.INVALID_OPTION,
                f"camera_roll_source must be 'given' or 'device', not {self.camera_roll_source!r}.",
            )
        if self.camera_roll_source == "device" and self.camera_roll_deg is None:
            raise PostureError(
                ErrorCode.INVALID_OPTION,
                "camera_roll_source 'device' needs the roll the device read (camera_roll_deg).",
            )

    @property
    def safe_mode(self) -> Mode:
        """The mode to record on a result, even a rejected one with an invalid mode."""
        return self.mode if self.mode in MODES else "standing"

    @property
    def applied_roll_deg(self) -> float:
        """The roll to remove: the given one when valid, else 0."""
        roll = self.camera_roll_deg
        return float(roll) if roll is not None and _valid_roll(roll) else 0.0


def _valid_roll(value: object) -> bool:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return math.isfinite(v) and abs(v) <= MAX_CAMERA_ROLL_DEG


def camera_roll_options(value: float | str | None, source: str = "given") -> dict[str, object]:
    """`AnalysisOptions` / `ClipOptions` fields for a camera roll as the CLI, the batch manifest and
    the run's option give it: a number of degrees, 'off' (trust the frame), or None (read it from the
    photo); `source`: who read the number ('given' or 'device')."""
    if value == "off":
        return {"level": "off"}
    if value is None:
        return {"camera_roll_deg": None}
    return {"camera_roll_deg": value, "camera_roll_source": source}
