"""The overlay's note says where the drawing's vertical came from, for every `camera_level.source`."""

import pytest

from posture.overlay import _level_note
from posture.result import Analysis, CameraLevel, Versions


def _result(source: str, roll: float, warnings: list[str] | None = None) -> Analysis:
    return Analysis(
        status="ok",
        versions=Versions(package="0", model_sha256=None, rules="0"),
        camera_roll_deg=roll,
        camera_level=CameraLevel(roll_deg=roll if source != "none" else None, source=source, confidence=1.0),
        warnings=warnings or [],
    )


@pytest.mark.parametrize(
    ("source", "roll", "warnings", "expected"),
    [
        ("given", 1.5, [], "camera roll +1.5° as given"),
        ("device", -0.4, [], "camera roll -0.4° from the phone's sensor"),
        ("background", 2.0, [], "camera roll +2.0° read from 7 room lines"),
        ("none", 0.0, ["camera_level_unknown"], "no reference found"),
        ("none", 0.0, [], "the photo's frame is taken as upright"),
    ],
)
def test_the_level_note_names_its_source(source, roll, warnings, expected):
    assert expected in _level_note(_result(source, roll, warnings), 7)
