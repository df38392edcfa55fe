"""The result type: one `Analysis` that the CLI, the API, the CSV export and the page all serialise.

Field names here are the public contract; `Analysis.to_dict()` is the JSON form.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .facing import Facing
from .landmarks import Side

Status = Literal["ok", "rejected"]
Mode = Literal["standing", "lunge"]
Band = Literal["good", "mild", "marked"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorInfo(_Frozen):
    code: str = Field(description="Stable machine-readable reason, e.g. `not_side_view`.")
    message: str = Field(description="Human explanation and what to do about it.")


class ImageInfo(_Frozen):
    width: int | None = Field(None, description="Upright photo width in pixels (EXIF orientation applied).")
    height: int | None = Field(None, description="Upright photo height in pixels.")
    taken_at: datetime | None = Field(None, description="EXIF capture time, when the photo has one.")


class LandmarkPoint(_Frozen):
    x: float = Field(description="Pixels from the left edge of the upright photo.")
    y: float = Field(description="Pixels from the top edge of the upright photo.")
    visibility: float = Field(description="Model's visibility estimate, 0..1.")


class CameraLevel(_Frozen):
    """The camera's roll and where it came from (see `posture.level` for the sign)."""

    roll_deg: float | None = Field(
        None, description="The camera's roll in degrees (given or estimated); null when unknown."
    )
    source: Literal["given", "device", "background", "floor", "none"] = Field(
        "none",
        description="`given` by the user; `device`: read by the phone's orientation sensor at the shot; "
        "read from the room's lines (`background`) or the feet's floor contact (`floor`); `none`: unknown "
        "or turned off, nothing applied.",
    )
    confidence: float = Field(
        0.0, description="0..1: how sure the estimate is (1 for a given or device roll)."
    )
    applied_roll_deg: float | None = Field(
        None,
        description="The roll removed before measuring: the analysis's `camera_roll_deg`. It differs from "
        "`roll_deg` only for an estimate (`background`, `floor`) whose confidence is below the rules' "
        "`full_confidence`: such an estimate is applied in part (`applied_share`), so that two copies of "
        "one photo whose confidences straddle a threshold get nearly the same correction. Null in "
        "analyses made before it was recorded.",
    )
    applied_share: float | None = Field(
        None,
        description="0..1: the share of `roll_deg` applied (`applied_roll_deg` = share × `roll_deg`): 1 for "
        "a given or device roll and a confident estimate, (confidence − min) / (full − min) between the "
        "rules' `min_confidence` and `full_confidence`, 0 when nothing is applied. Null in older analyses.",
    )


class Versions(_Frozen):
    package: str
    model_sha256: str | None
    rules: str


class Analysis(_Frozen):
    """Everything known about one photo. Angles in degrees, canonical frame (person facing +x)."""

    source: str | None = Field(None, description="File name or label of the photo.")
    status: Status
    error: ErrorInfo | None = None
    facing: Facing | None = Field(None, description="Direction the person faces in the photo.")
    side: Side | None = Field(None, description="Body side nearer the camera (measured).")
    image: ImageInfo = Field(default_factory=ImageInfo)
    landmarks: dict[str, LandmarkPoint] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    versions: Versions
    mode: Mode = "standing"
    camera_roll_deg: float = Field(0.0, description="The roll actually removed before measuring (degrees).")
    camera_level: CameraLevel = Field(default_factory=CameraLevel)
    measures: dict[str, float | None] = Field(default_factory=dict)
    confidence: dict[str, float] = Field(default_factory=dict)
    not_measured: dict[str, str] = Field(default_factory=dict)
    scores: dict[str, int] = Field(default_factory=dict)
    bands: dict[str, Band] = Field(default_factory=dict)
    findings: list[str] = Field(default_factory=list)
    overlay_png: bytes | None = Field(None, exclude=True, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        """The JSON-ready form (datetimes as ISO 8601 strings)."""
        return self.model_dump(mode="json")
