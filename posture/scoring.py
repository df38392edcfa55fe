"""Scores 0–100, bands and findings from the measures, by the rules file.

Per measure: 100 inside the `good` range, linearly down to 70 at the edge of the `mild` range and to
40 one mild-width further out (never below 0). An area scores as its worst measure; `overall` is the
weighted mean of the areas that could be scored, and its band follows from that score. An area outside
its good range gets the finding of its worst measure and direction, which names that measure's value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .measures import Measurement
from .result import Band
from .rules import load_rules

AREAS: tuple[str, ...] = ("pelvic_tilt", "lumbar_curve", "ankle_knee", "alignment")


@dataclass(frozen=True)
class MeasureScore:
    score: float
    band: Band
    direction: Literal["high", "low"] | None  # which side of the good range, None inside it


@dataclass(frozen=True)
class Scores:
    scores: dict[str, int]
    bands: dict[str, Band]
    findings: list[str]


def score_value(value: float, good: tuple[float, float], mild: tuple[float, float]) -> MeasureScore:
    """Score one value against its `good` and `mild` ranges."""
    lo, hi = good
    if lo <= value <= hi:
        return MeasureScore(100.0, "good", None)
    if value > hi:
        excess, width, direction = value - hi, max(mild[1] - hi, 1e-9), "high"
    else:
        excess, width, direction = lo - value, max(lo - mild[0], 1e-9), "low"
    score = max(0.0, 100.0 - 30.0 * excess / width)
    band: Band = "mild" if excess <= width else "marked"
    return MeasureScore(score, band, direction)  # type: ignore[arg-type]


def score_all(
    measures: dict[str, Measurement], mode: str = "standing", *, not_standing: bool = False
) -> Scores:
    """Area scores, bands, `overall` and the findings text for one photo's measures.

    `not_standing`: the person is mid-stride or on one foot (`quality.stance`): the areas of
    `rules.toml [stance] withheld_areas` and the overall score are not given, and the findings say why.
    """
    rules = load_rules()
    table = rules["scores"][mode]
    withheld = set(rules["stance"]["withheld_areas"]) if not_standing else set()
    scores: dict[str, int] = {}
    bands: dict[str, Band] = {}
    findings: list[str] = [rules["findings"]["not_standing_still"]] if not_standing else []
    weighted, weights = 0.0, 0.0
    for area, per_measure in table.items():
        if area in withheld:
            continue
        worst: tuple[MeasureScore, str, float] | None = None
        for name, rule in per_measure.items():
            m = measures.get(name)
            if m is None or m.value is None:
                continue
            s = score_value(m.value, tuple(rule["good"]), tuple(rule["mild"]))
            if worst is None or s.score < worst[0].score:
                worst = (s, name, m.value)
        if worst is None:
            continue
        result, name, value = worst
        scores[area] = round(result.score)
        bands[area] = result.band
        weight = float(rules["overall"].get(area, 1.0))
        weighted += weight * result.score
        weights += weight
        if result.direction is not None:
            findings.append(finding_text(mode, name, result.direction, value))
    if weights and not withheld:
        overall = weighted / weights
        scores["overall"] = round(overall)
        bands["overall"] = overall_band(overall)
    if not findings and scores:
        findings.append(rules["findings"]["all_good"])
    findings.append(rules["findings"]["disclaimer"])
    return Scores(scores, bands, findings)


def overall_band(overall: float) -> Band:
    """The band of an overall score, by `rules.toml [overall_band]` (photos and movement tests)."""
    cut = load_rules()["overall_band"]
    return "good" if overall >= cut["good_from"] else "mild" if overall >= cut["mild_from"] else "marked"


def finding_text(mode: str, measure: str, direction: Literal["high", "low"], value: float) -> str:
    """The findings sentence for one measure outside its good range, naming its value.

    Every scored measure has a sentence for both directions (checked by the rules tests), so a
    missing one is a broken rules file, not a photo without findings."""
    return load_rules()["findings"][mode][measure][direction].format(value=value)
