"""`MovementAnalysis.withheld`: the numbers outside what a test can give (`[movement.plausible]`) that the
result shows but does not score. The library names them (a synthetic knee-to-wall lunge whose shin peaks
below 0°, tests/synthetic_clip.py with the fake video model), every serialised form carries them (JSON,
the `.clips.csv` row, the CLI's --json), a result stored before the field existed still loads, and a
movement trend never takes its line from a withheld value (a Hypothesis property).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posture import ClipOptions, analyze_clip
from posture.movement.result import MovementAnalysis
from posture.movement.rows import CLIP_CSV_COLUMNS, flatten_clip

from .synthetic_clip import FakeVideoModel, Movement, write_clip

# The front shin leans back standing and travels forward by 20° (the test's shape) to about −5°.
IMPLAUSIBLE_LUNGE = Movement(
    lunge=True, shin_start_deg=-25.0, shin_peak_deg=-5.0, thigh_peak_deg=30.0, trunk_peak_deg=5.0, reps=3
)
PLAUSIBLE_LUNGE = Movement(lunge=True, shin_peak_deg=40.0, thigh_peak_deg=30.0, trunk_peak_deg=5.0, reps=3)


@pytest.fixture(scope="module")
def implausible(tmp_path_factory: pytest.TempPathFactory) -> MovementAnalysis:
    path = write_clip(tmp_path_factory.mktemp("withheld") / "lunge.mp4", IMPLAUSIBLE_LUNGE)
    return analyze_clip(path, ClipOptions(test="lunge", level="off"), model=FakeVideoModel(IMPLAUSIBLE_LUNGE))


def test_an_implausible_headline_is_shown_named_in_withheld_and_not_scored(implausible: MovementAnalysis):
    assert implausible.ok, implausible.error
    peak = implausible.measures["lunge_shin_peak_deg"]
    assert peak is not None and -8.0 < peak < 0.0, implausible.measures
    assert "lunge_shin_peak_deg" in implausible.withheld
    assert not set(implausible.withheld) & set(implausible.scores)
    assert "measure_implausible" in implausible.warnings
    # Every withheld name is a measure the result shows (the page marks it beside its number).
    assert set(implausible.withheld) <= set(implausible.measures)


def test_a_plausible_lunge_withholds_nothing(tmp_path: Path):
    path = write_clip(tmp_path / "lunge.mp4", PLAUSIBLE_LUNGE)
    result = analyze_clip(path, ClipOptions(test="lunge", level="off"), model=FakeVideoModel(PLAUSIBLE_LUNGE))
    assert result.ok and result.withheld == [] and "lunge_shin_peak_deg" in result.scores
    assert result.to_dict()["withheld"] == []


def test_withheld_is_serialised_as_the_result_is(implausible: MovementAnalysis):
    document = implausible.to_dict()
    assert document["withheld"] == implausible.withheld
    assert MovementAnalysis.model_validate(json.loads(json.dumps(document))) == implausible.model_copy(
        update={"deepest_png": None}
    )
    # The CSV row: its own column, last, `;`-joined.
    assert CLIP_CSV_COLUMNS[-1] == "withheld"
    row = flatten_clip(implausible, sha256=None, subject=None)
    assert tuple(row) == CLIP_CSV_COLUMNS
    assert row["withheld"].split(";") == implausible.withheld
    out = io.StringIO()
    csv.DictWriter(out, CLIP_CSV_COLUMNS).writerow(row)
    assert out.getvalue().rstrip().endswith(row["withheld"])


def test_a_result_stored_before_withheld_existed_loads_with_none(implausible: MovementAnalysis):
    document = implausible.to_dict()
    del document["withheld"]
    older = MovementAnalysis.model_validate(document)
    assert older.withheld == [] and older.measures == implausible.measures
    assert flatten_clip(older, sha256=None, subject=None)["withheld"] is None


def test_the_cli_json_names_what_was_withheld(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """`posture analyze clip.mp4 --test lunge --json` prints the result's `to_dict()`, `withheld` with it
    (the CLI's analysis given the fake video model of the clip: the real model sees no person in it)."""
    import posture.movement
    from posture.cli import main

    real = posture.movement.analyze_clip

    def with_fake_model(path, options=None, **kwargs):  # type: ignore[no-untyped-def]
        return real(path, options, model=FakeVideoModel(IMPLAUSIBLE_LUNGE), **kwargs)

    monkeypatch.setattr(posture.movement, "analyze_clip", with_fake_model)
    path = write_clip(tmp_path / "lunge.mp4", IMPLAUSIBLE_LUNGE)
    assert main(["analyze", str(path), "--test", "lunge", "--camera-roll", "off", "--json"]) == 0
    document = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert document["status"] == "ok" and "lunge_shin_peak_deg" in document["withheld"]


# --- a trend never fits a withheld value --------------------------------------------------------------


@st.composite
def histories(draw) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Movement times (datetime64, sorted), shown values of two measures (NaN = missing), which are
    withheld, and other values for the withheld cells."""
    n = draw(st.integers(1, 30))
    gaps = draw(st.lists(st.sampled_from([0.0, 0.1, 1.0, 3.0, 7.0, 30.0]), min_size=n, max_size=n))
    days = np.cumsum(gaps)
    times = np.datetime64("2026-01-01T08:00", "us") + (days * 86_400e6).astype("timedelta64[us]")
    value = st.one_of(st.floats(-90, 90, allow_nan=False), st.just(float("nan")))
    shown = np.array(draw(st.lists(st.lists(value, min_size=2, max_size=2), min_size=n, max_size=n)))
    withheld = np.array(
        draw(st.lists(st.lists(st.booleans(), min_size=2, max_size=2), min_size=n, max_size=n))
    )
    other = np.array(draw(st.lists(st.lists(value, min_size=2, max_size=2), min_size=n, max_size=n)))
    return times, shown, withheld, other


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_a_trend_s_fitted_values_never_come_from_withheld_points(history) -> None:
    from app.services.movements import scored_trend_table

    times, shown, withheld, other = history
    names = ["lunge_shin_peak_deg", "lunge_heel_lift_pct"]
    noise = {"lunge_shin_peak_deg": 1.5}
    table = scored_trend_table(times, shown, withheld, noise, names)
    # Whatever the withheld cells hold, the fit, the counts and the latest are the same...
    changed = scored_trend_table(times, np.where(withheld, other, shown), withheld, noise, names)
    for k, name in enumerate(names):
        entry, again = table[name], changed[name]
        fitted = {key: v for key, v in entry.items() if key != "values"}
        assert fitted == {key: v for key, v in again.items() if key != "values"}
        # ...the values are shown as they are, each flagged...
        np.testing.assert_array_equal(np.asarray(entry["values"], dtype=float), shown[:, k])
        assert entry["withheld"] == withheld[:, k].tolist()
        # ...and the line's ends and the latest lie among the scored values.
        scored = shown[:, k][~withheld[:, k] & np.isfinite(shown[:, k])]
        assert entry["n"] == len(scored)
        if entry["fit_start"] is not None:
            lo, hi = scored.min() - 0.01, scored.max() + 0.01
            assert lo <= entry["fit_start"] <= hi and lo <= entry["fit_end"] <= hi
        if entry["latest"] is not None:
            assert not withheld[entry["latest_index"], k]
            assert entry["latest"] == shown[entry["latest_index"], k]
