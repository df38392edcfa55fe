"""A stride is not a stance: a photo of a person mid-stride or on one foot is measured but warned
(`not_standing_still`), and its pelvis, lumbar and alignment scores (and the overall) are withheld.

Judged on real frames of a walking woman (sample_images/, sports2d demo): the mid-stance frames (feet
together) are not warned, the 26 double-support frames of the repeatability set (legs apart) all are.
Figures per frame: `benchmarks/standing_still.py`, docs/accuracy.md ("Standing still").
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import posture
from posture.landmarks import INDEX
from posture.measures import Measurement
from posture.quality import stance
from posture.rules import load_rules
from posture.scoring import score_all

from .conftest import REPEATABILITY_SAMPLES

WITHHELD = ("pelvic_tilt", "lumbar_curve", "alignment")
RULES = load_rules()["stance"]


def _legs(stride: float, lift: float = 0.0) -> np.ndarray:
    """Canonical landmarks (33, 2) of legs 2 × 100 px long (hip→knee→ankle): the ankles `stride` leg
    lengths apart along x, the left foot's sole `lift` leg lengths above the right one's."""
    lm = np.zeros((33, 2))
    leg = 200.0
    for side, dx, up in (("left", -stride / 2, lift), ("right", stride / 2, 0.0)):
        ankle = np.array([dx * leg, 400.0 - up * leg])
        hip = np.array([0.0, ankle[1] - np.sqrt(leg**2 - (dx * leg) ** 2)]) if abs(dx) < 1 else np.zeros(2)
        lm[INDEX[f"{side}_hip"]] = hip
        lm[INDEX[f"{side}_knee"]] = (hip + ankle) / 2
        lm[INDEX[f"{side}_ankle"]] = ankle
        lm[INDEX[f"{side}_heel"]] = ankle + np.array([-10.0, 12.0])
        lm[INDEX[f"{side}_foot_index"]] = ankle + np.array([40.0, 14.0])
    return lm


@pytest.mark.parametrize(
    ("stride", "lift", "still"), [(0.0, 0.0, True), (0.2, 0.05, True), (0.5, 0.0, False), (0.05, 0.2, False)]
)
def test_stance_on_drawn_legs(stride, lift, still):
    s = stance(_legs(stride, lift))
    assert s.stride_leg_share == pytest.approx(stride, abs=1e-6)
    assert s.lift_leg_share == pytest.approx(lift, abs=1e-6)
    assert s.still is still


@settings(max_examples=60, deadline=None)
@given(
    stride=st.floats(0.0, 0.9),
    lift=st.floats(0.0, 0.3),
    scale=st.floats(0.2, 8.0),
    shift=st.tuples(st.floats(-2000, 2000), st.floats(-2000, 2000)),
)
def test_stance_does_not_depend_on_photo_size_position_or_mirroring(stride, lift, scale, shift):
    """A resized, shifted or mirrored copy of a photo is told the same (shares of the leg length)."""
    lm = _legs(stride, lift)
    base = stance(lm)
    moved = stance(lm * scale + np.array(shift))
    mirrored = lm.copy()
    mirrored[:, 0] *= -1
    for other in (moved, stance(mirrored)):
        assert other.stride_leg_share == pytest.approx(base.stride_leg_share, rel=1e-6, abs=1e-9)
        assert other.lift_leg_share == pytest.approx(base.lift_leg_share, rel=1e-6, abs=1e-9)
    assert base.still == (
        base.stride_leg_share <= RULES["max_stride_leg_share"]
        and base.lift_leg_share <= RULES["max_foot_lift_leg_share"]
    )


def _measures() -> dict[str, Measurement]:
    values = {
        "pelvic_tilt_deg": 25.0,
        "lumbar_lordosis_deg": 40.0,
        "shank_angle_deg": 1.0,
        "knee_angle_deg": 2.0,
        "body_line_deg": 1.0,
        "trunk_lean_deg": 0.0,
        "head_forward_deg": 10.0,
    }
    return {k: Measurement(v, 1.0) for k, v in values.items()}


def test_not_standing_withholds_the_standing_areas_and_the_overall():
    rules = load_rules()
    full = score_all(_measures())
    stride = score_all(_measures(), not_standing=True)
    assert set(WITHHELD) <= set(full.scores) and "overall" in full.scores
    assert set(stride.scores) == {"ankle_knee"} and set(stride.bands) == {"ankle_knee"}
    assert stride.scores["ankle_knee"] == full.scores["ankle_knee"]
    # The high pelvic tilt's finding is gone with its score; the reason is said instead of "all good".
    assert stride.findings == [rules["findings"]["not_standing_still"], rules["findings"]["disclaimer"]]
    assert not any("pelvic" in f for f in stride.findings[1:])


def test_a_lunge_is_never_told_to_stand_still(model):
    result = posture.analyze(REPEATABILITY_SAMPLES[0], model=model, mode="lunge")
    assert result.ok and "not_standing_still" not in result.warnings


@pytest.mark.parametrize("path", REPEATABILITY_SAMPLES, ids=lambda p: p.name)
def test_every_double_support_frame_is_told_it_is_mid_stride(model, path):
    """The repeatability set (legs apart, both feet down) is mid-stride: warned, measured, not scored."""
    result = posture.analyze(path, model=model)
    assert result.ok, result.error
    assert "not_standing_still" in result.warnings
    assert not set(result.scores) & {*WITHHELD, "overall"}
    assert result.measures["shank_angle_deg"] is not None  # still measured, for the record
    assert result.findings[0] == load_rules()["findings"]["not_standing_still"]


@pytest.mark.parametrize("name", ["walk_side_f0110.jpg", "walk_side_f0128.jpg", "walk_side_crop_f0128.jpg"])
def test_feet_together_is_not_warned(side_results, name):
    result = side_results[name]
    assert "not_standing_still" not in result.warnings
    assert "overall" in result.scores and "alignment" in result.scores


def test_the_page_knows_which_areas_a_stride_withholds():
    from .test_catalogue import _labels

    assert _labels()["NOT_STANDING_AREAS"] == RULES["withheld_areas"]
