"""Scores, bands and findings follow the rules file."""

from __future__ import annotations

import pytest

from posture.measures import Measurement
from posture.rules import load_rules
from posture.scoring import score_all, score_value


def test_score_is_100_inside_good_and_falls_linearly():
    good, mild = (-4.0, 6.0), (-8.0, 12.0)
    assert score_value(0.0, good, mild).score == 100
    edge = score_value(12.0, good, mild)
    assert edge.score == pytest.approx(70.0) and edge.band == "mild" and edge.direction == "high"
    beyond = score_value(18.0, good, mild)
    assert beyond.score == pytest.approx(40.0) and beyond.band == "marked"
    assert score_value(-100.0, good, mild).score == 0.0
    assert score_value(-6.0, good, mild).direction == "low"


def _standing(**values: float) -> dict[str, Measurement]:
    base = {
        "pelvic_tilt_deg": 5.0,
        "lumbar_lordosis_deg": 40.0,
        "shank_angle_deg": 1.0,
        "knee_angle_deg": 2.0,
        "body_line_deg": 1.0,
        "trunk_lean_deg": 0.0,
        "head_forward_deg": 10.0,
    }
    base.update(values)
    return {k: Measurement(v, 1.0) for k, v in base.items()}


def test_good_posture_scores_100_with_only_the_disclaimer_finding():
    result = score_all(_standing())
    assert result.scores == {
        "pelvic_tilt": 100,
        "lumbar_curve": 100,
        "ankle_knee": 100,
        "alignment": 100,
        "overall": 100,
    }
    assert set(result.bands.values()) == {"good"}
    assert result.findings[-1] == load_rules()["findings"]["disclaimer"]
    assert len(result.findings) == 2


def test_an_area_outside_its_range_gets_a_band_and_an_association_finding():
    result = score_all(_standing(lumbar_lordosis_deg=80.0, shank_angle_deg=-6.0))
    assert result.bands["lumbar_curve"] == "marked" and result.bands["ankle_knee"] == "mild"
    assert result.scores["overall"] < 100
    text = " ".join(result.findings).lower()
    assert "80°" in text and "dorsiflexion" in text
    for word in ("causes", "diagnos"):  # associations only; the disclaimer alone names diagnosis
        assert text.count(word) == (1 if word == "diagnos" else 0)


def test_missing_measures_leave_their_area_unscored():
    measures = _standing()
    measures["pelvic_tilt_deg"] = Measurement.missing("back_not_visible")
    result = score_all(measures)
    assert "pelvic_tilt" not in result.scores and "overall" in result.scores


def test_lunge_mode_scores_dorsiflexion_only():
    restricted = score_all({"lunge_tibia_deg": Measurement(30.0, 1.0)}, mode="lunge")
    assert set(restricted.scores) == {"ankle_knee", "overall"}
    assert restricted.bands["ankle_knee"] == "mild"
    assert "36.5" in restricted.findings[0]
    assert score_all({"lunge_tibia_deg": Measurement(40.0, 1.0)}, mode="lunge").scores["ankle_knee"] == 100


def test_every_scored_measure_has_a_source_and_a_noise_level():
    rules = load_rules()
    for mode in rules["scores"].values():
        for area in mode.values():
            for name, rule in area.items():
                assert rule["source"] and rule["good"][0] <= rule["good"][1]
                assert name in rules["noise"]
