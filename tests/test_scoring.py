"""Scores, bands and findings follow the rules file."""

from __future__ import annotations

import re

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
    assert result.findings == [load_rules()["findings"]["all_good"], load_rules()["findings"]["disclaimer"]]


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


def _templates() -> list[tuple[str, str, str]]:
    """(mode, measure, direction) of every scored measure, both sides of its good range."""
    rules = load_rules()
    return [
        (mode, name, direction)
        for mode, areas in rules["scores"].items()
        for area in areas.values()
        for name in area
        for direction in ("high", "low")
    ]


def test_every_scored_measure_has_a_finding_for_each_direction_naming_its_value():
    rules = load_rules()
    for mode, areas in rules["scores"].items():
        scored = {name for area in areas.values() for name in area}
        assert set(rules["findings"][mode]) == scored, mode  # no measure without text, no stale text
    for mode, name, direction in _templates():
        entry = rules["findings"][mode][name]
        template = entry[direction]
        # The measure's label right before its value: the sentence says which number it quotes.
        assert template.count("{value") == 1, (name, direction)
        named = re.search(re.escape(entry["label"]) + r" \(?\{value", template, re.IGNORECASE)
        assert named, (name, direction)
        text = template.lower()
        assert not re.search(r"\bcause|diagnos", text), (name, direction)  # associations, not causes
        if name in ("pelvic_tilt_deg", "lumbar_lordosis_deg"):  # silhouette estimates, called so
            assert "estimate" in text, name


def _outside(rule: dict, direction: str) -> float:
    """A distinctive value beyond the mild range on one side (a fraction that rounds away from .5)."""
    lo, hi = rule["good"]
    if direction == "high":
        return hi + 1.37 * max(rule["mild"][1] - hi, 5.0) + 0.21
    return lo - 1.37 * max(lo - rule["mild"][0], 5.0) - 0.21


@pytest.mark.parametrize(("mode", "name", "direction"), _templates())
def test_each_finding_shows_its_own_measure_and_value(mode, name, direction):
    rules = load_rules()
    rule = next(area[name] for area in rules["scores"][mode].values() if name in area)
    value = _outside(rule, direction)
    measures = _standing() if mode == "standing" else {}
    measures[name] = Measurement(value, 1.0)
    result = score_all(measures, mode=mode)
    assert len(result.findings) == 2 and result.findings[-1] == rules["findings"]["disclaimer"]
    sentence = result.findings[0]
    entry = rules["findings"][mode][name]
    assert sentence == entry[direction].format(value=value)
    shown = re.search(re.escape(entry["label"]) + r" \(?([-+]?\d+)°", sentence, re.IGNORECASE)
    assert shown and int(shown[1]) == round(value), sentence
    for other, other_entry in rules["findings"][mode].items():  # no other measure quoted with a number
        if other != name:
            assert not re.search(re.escape(other_entry["label"]) + r" \(?[-+]?\d", sentence, re.IGNORECASE)


def test_the_finding_names_the_measure_that_scored_worst_in_its_area():
    # Seen on a real photo: the knee flexed +13.8° scores worse than the shin at +7.6°, so the
    # ankle-knee finding is the knee's, quoting 14°, not a shin sentence.
    rules = load_rules()["scores"]["standing"]["ankle_knee"]
    knee, shin = (rules[n] for n in ("knee_angle_deg", "shank_angle_deg"))
    knee_score = score_value(13.8, tuple(knee["good"]), tuple(knee["mild"])).score
    assert knee_score < score_value(7.6, tuple(shin["good"]), tuple(shin["mild"])).score
    bent = score_all(_standing(knee_angle_deg=13.8, shank_angle_deg=7.6))
    assert bent.scores["ankle_knee"] == round(knee_score)
    assert "knee angle +14°" in bent.findings[0] and "shin angle" not in bent.findings[0]
    forward = score_all(_standing(knee_angle_deg=10.5, shank_angle_deg=11.0))
    assert "shin angle +11°" in forward.findings[0] and "knee angle" not in forward.findings[0]
    assert len(bent.findings) == len(forward.findings) == 2  # one sentence per area, plus the disclaimer
