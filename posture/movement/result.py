"""The result type of a movement clip: `MovementAnalysis`, serialised by the CLI, batch and API alike.

Field names are the public contract (docs/measures.md, "Movement tests"; docs/api.md for the API's
form of it); `to_dict()` is the JSON form (the deepest frame's PNG is left out of it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..facing import Facing
from ..landmarks import Side
from ..result import Band, CameraLevel, ErrorInfo, Status, Versions

Test = Literal["squat", "lunge"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ClipInfoOut(_Frozen):
    width: int | None = Field(None, description="Upright frame width in pixels (rotation applied).")
    height: int | None = Field(None, description="Upright frame height in pixels.")
    fps: float | None = Field(None, description="The clip's frame rate (a burst: its stated rate).")
    duration_s: float | None = None
    rotation_deg: int = Field(
        0, description="Rotation applied from the container (0, 90, 180 or 270), degrees clockwise."
    )
    frames_total: int | None = None
    frames_sampled: int = 0
    sample_fps: float | None = Field(None, description="Frames analysed per second of clip.")
    frames_read: int | None = Field(
        None, description="Frames decoded; fewer than `frames_total` when decoding stopped early."
    )
    rotation_ignored_deg: float | None = Field(
        None, description="A rotation the container asked for that is not a quarter turn (not applied)."
    )


class Rep(_Frozen):
    index: int
    start_s: float
    bottom_s: float
    end_s: float
    peak_s: float | None = Field(
        None,
        description="Time of the frame the rep's quoted shin peak (`squat_shin_peak_deg` or "
        "`lunge_shin_peak_deg`) is centred on: the lunge's with the heel down; null when there is none.",
    )
    side: Side | None = Field(None, description="Lunge: the front leg; squat: null.")
    measures: dict[str, float | None] = Field(default_factory=dict)
    heel_lifted_frames: list[int] = Field(
        default_factory=list,
        description="Lunge: sampled frames left out of the peak because the heel was up.",
    )


class FailedFrame(_Frozen):
    index: int = Field(description="Sampled frame number (0-based).")
    time_s: float
    reason: str = Field(description="`no_person`, `out_of_frame` or `low_visibility`.")


class DeepestFrame(_Frozen):
    index: int
    time_s: float


class MovementAnalysis(_Frozen):
    """Everything known about one movement clip. Angles in degrees, canonical frame (facing +x)."""

    source: str | None = None
    status: Status
    error: ErrorInfo | None = None
    test: Test = "squat"
    facing: Facing | None = None
    side: Side | None = Field(None, description="Body side nearer the camera (measured in the squat).")
    versions: Versions
    warnings: list[str] = Field(default_factory=list)
    clip: ClipInfoOut = Field(default_factory=ClipInfoOut)
    camera_roll_deg: float = Field(0.0, description="The roll removed before measuring (degrees).")
    camera_level: CameraLevel = Field(default_factory=CameraLevel)
    reps: list[Rep] = Field(default_factory=list)
    measures: dict[str, float | None] = Field(default_factory=dict, description="Median over reps.")
    noise: dict[str, float] = Field(default_factory=dict, description="Noise band per measure (rules).")
    noise_source: dict[str, str] = Field(default_factory=dict)
    scores: dict[str, int] = Field(default_factory=dict)
    bands: dict[str, Band] = Field(default_factory=dict)
    findings: list[str] = Field(default_factory=list)
    withheld: list[str] = Field(
        default_factory=list,
        description="Measures outside what the test can give (rules.toml `[movement.plausible]`, and a "
        "difference with such a side): shown in `measures`, neither scored nor given a finding, and left "
        "out of trends (`measure_implausible`).",
    )
    failed_frames: list[FailedFrame] = Field(default_factory=list)
    series: dict[str, list[float | None]] = Field(default_factory=dict)
    deepest_frame: DeepestFrame | None = None
    deepest_png: bytes | None = Field(None, exclude=True, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")
