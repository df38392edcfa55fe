"""Scores, bands and findings of a movement test, by the `[movement.scores]` and `[movement.findings]`
rules, scored as the photo's measures are (`posture.scoring.score_value`).

Each scored headline number gets a score 0–100 and a band under its own name; `overall` is their mean.
A number outside its good range gets its finding sentence, which names its value in a sentence of its
own. A number outside what the test can give at all (`[movement.plausible]`, e.g. a negative peak shin
angle in a lunge) is withheld: neither scored nor given its finding, with a sentence that says why.
The noise band of every number comes from `[movement.noise]`, with its source.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..result import Band
from ..rules import load_rules
from ..scoring import overall_band, score_value


@dataclass(frozen=True)
class MovementScores:
    scores: dict[str, int]
    bands: dict[str, Band]
    findings: list[str]
    withheld: list[str]  # measures outside their plausible range: shown, not scored, no finding


def score_movement(test: str, measures: dict[str, float | None]) -> MovementScores:
    rules = load_rules()["movement"]
    scores: dict[str, int] = {}
    bands: dict[str, Band] = {}
    findings: list[str] = []
    raw: list[float] = []
    withheld: list[str] = []
    plausible = rules.get("plausible", {})
    for name, value in measures.items():
        bounds = plausible.get(name)
        if value is not None and bounds is not None and not (bounds[0] <= value <= bounds[1]):
            withheld.append(name)
    findings.extend(_implausible_sentences(rules, test, measures, withheld))
    if set(_SIDE_OF_HEADLINE) & set(withheld):
        withheld.append("lunge_asymmetry_deg")  # a difference with an implausible side says nothing
    for name, rule in rules["scores"][test].items():
        value = measures.get(name)
        if value is None or name in withheld:
            continue
        result = score_value(value, tuple(rule["good"]), tuple(rule["mild"]))
        scores[name] = round(result.score)
        bands[name] = result.band
        raw.append(result.score)
        if result.direction is not None:
            findings.append(rules["findings"][test][name][result.direction].format(value=value))
    if raw:
        overall = sum(raw) / len(raw)
        scores["overall"] = round(overall)
        bands["overall"] = overall_band(overall)
        if not findings:
            findings.append(rules["findings"]["all_good"])
    findings.append(rules["findings"]["disclaimer"])
    return MovementScores(scores, bands, findings, withheld)


def plausible_label(rules: dict, test: str, name: str) -> str:
    """The measure's name in a sentence: its finding's label, else its `[movement.labels]` entry."""
    label = rules["findings"].get(test, {}).get(name, {}).get("label") or rules["labels"].get(name)
    return str(label or name.replace("_", " "))


# The lunge's headline is one side's value (the lower): said once, with its side named.
_SIDE_OF_HEADLINE = {"lunge_shin_peak_left_deg": "left", "lunge_shin_peak_right_deg": "right"}


def _implausible_sentences(
    rules: dict, test: str, measures: dict[str, float | None], withheld: list[str]
) -> list[str]:
    """One sentence per withheld value: a side whose value is the withheld headline's is named in the
    headline's sentence rather than repeated in a sentence of its own."""
    plausible = rules["plausible"]
    template = rules["findings"]["implausible"]
    headline = "lunge_shin_peak_deg"
    sides = [
        side
        for name, side in _SIDE_OF_HEADLINE.items()
        if headline in withheld and name in withheld and measures.get(name) == measures.get(headline)
    ]
    out = []
    for name in withheld:
        if _SIDE_OF_HEADLINE.get(name) in sides:
            continue
        label = plausible_label(rules, test, name)
        if name == headline and sides:
            label = rules["findings"]["of_side"].format(label=label, side=" and ".join(sides))
        low, high = plausible[name]
        out.append(template.format(label=label, value=measures[name], low=low, high=high))
    return out


def noise_bands(names: tuple[str, ...]) -> tuple[dict[str, float], dict[str, str]]:
    """The noise band of each of `names` and where it comes from."""
    rules = load_rules()["movement"]
    sources = rules["noise_sources"]
    noise = {n: float(rules["noise"][n]) for n in names if n in rules["noise"]}
    return noise, {n: sources.get(n, sources["default"]) for n in noise}
