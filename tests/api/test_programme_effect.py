"""Invariants of the programme before/after (app/services/programmes.compare_sides), property-based:

- nothing is judged unless each side has at least `min_visits` visits on as many separate UTC days;
- the difference is the since median minus the before median, so moving every visit since the start by
  c moves it by c, and adding retakes on a day already there cannot make a side "enough";
- judged, it is beyond the noise exactly when |difference| ≥ noise;
- the slope of each side is the library's trend over that side's visits alone.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.services.programmes import compare_sides, slope_per_30d

START = np.datetime64("2026-03-16T00:00:00", "us")
HOUR = np.timedelta64(3600 * 10**6, "us")

visit = st.tuples(st.integers(-24 * 120, 24 * 120), st.floats(-60, 60, allow_nan=False))
visits = st.lists(visit, min_size=0, max_size=25)


def _arrays(points: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    points = sorted(points)
    times = np.array([START + h * HOUR for h, _ in points], dtype="datetime64[us]")
    return times, np.array([v for _, v in points], dtype=float)


@settings(max_examples=300, deadline=None)
@given(visits, st.floats(0.5, 20), st.integers(1, 4))
def test_judged_only_with_enough_days_and_then_by_the_band(points, noise, min_visits):
    times, values = _arrays(points)
    before, since, difference, enough, beyond = compare_sides(times, values, START, None, noise, min_visits)
    days_before = len(set(times[times < START].astype("datetime64[D]").tolist()))
    days_since = len(set(times[times >= START].astype("datetime64[D]").tolist()))
    assert (before.days, since.days) == (days_before, days_since)
    assert enough == (min(days_before, days_since) >= min_visits)
    if not enough:
        assert beyond is None
    else:
        assert difference is not None and beyond == (abs(difference) >= noise)
    if before.visits and since.visits:
        expected = np.median(values[times >= START]) - np.median(values[times < START])
        assert abs(difference - expected) <= 0.011  # medians and difference rounded to 0.01


@settings(max_examples=200, deadline=None)
@given(visits, st.floats(-30, 30, allow_nan=False))
def test_moving_the_since_visits_moves_the_difference_by_as_much(points, shift):
    times, values = _arrays(points)
    _, _, difference, _, _ = compare_sides(times, values, START, None, 4.0, 2)
    moved = np.where(times >= START, values + shift, values)
    _, _, moved_difference, _, _ = compare_sides(times, moved, START, None, 4.0, 2)
    if difference is None:
        assert moved_difference is None
    else:
        assert abs(moved_difference - (difference + shift)) <= 0.021


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 23), st.lists(st.floats(-40, 40, allow_nan=False), min_size=1, max_size=12))
def test_retakes_on_one_day_never_make_a_side_enough(hour, retakes):
    # One day before the start holds every retake; the since side has plenty of days.
    day = START - 5 * 24 * HOUR + hour * HOUR
    times = np.array(
        [day + i * np.timedelta64(60 * 10**6, "us") for i in range(len(retakes))]
        + [START + d * 24 * HOUR for d in range(5)],
        dtype="datetime64[us]",
    )
    values = np.array([*retakes, 1.0, 2.0, 3.0, 4.0, 5.0])
    before, since, _, enough, beyond = compare_sides(times, values, START, None, 1.0, 2)
    assert before.visits == len(retakes) and before.days == 1 and since.days == 5
    assert enough is False and beyond is None


def test_the_end_day_closes_the_since_side_and_missing_values_are_left_out():
    times = np.array([START + d * 24 * HOUR for d in (-9, -2, 1, 3, 20)], dtype="datetime64[us]")
    values = np.array([1.0, np.nan, 5.0, 7.0, 100.0])
    end = START + 10 * 24 * HOUR
    before, since, difference, enough, _ = compare_sides(times, values, START, end, 1.0, 2)
    assert (before.visits, since.visits) == (1, 2) and difference == 5.0 and not enough
    assert since.slope_per_30d == slope_per_30d(times[2:4], values[2:4])
    assert abs(since.slope_per_30d - 30.0) < 1e-6  # +2 over 2 days
