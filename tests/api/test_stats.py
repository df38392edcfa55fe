"""The trend and compare arithmetic."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from posture import trends as stats


def _brute_force(days, values):
    slopes = [
        (values[j] - values[i]) / (days[j] - days[i])
        for i, j in itertools.combinations(range(len(days)), 2)
        if days[j] > days[i] and np.isfinite(values[i]) and np.isfinite(values[j])
    ]
    return float(np.median(slopes)) if slopes else float("nan")


def test_theil_sen_matches_the_definition():
    rng = np.random.default_rng(1)
    days = np.sort(rng.uniform(0, 300, 40))
    values = rng.normal(0, 3, (40, 3)) + days[:, None] * np.array([0.1, -0.05, 0.0])
    values[5, 1] = np.nan
    got = stats.theil_sen(days, values)
    for k in range(3):
        assert got[k] == pytest.approx(_brute_force(days, values[:, k]))


def test_theil_sen_ignores_outliers_and_ties():
    days = np.array([0.0, 0.0, 10.0, 20.0, 30.0, 40.0])  # two photos on one day
    values = np.array([[0.0], [0.5], [1.0], [2.0], [30.0], [4.0]])  # one wild value
    assert stats.theil_sen(days, values)[0] == pytest.approx(0.1, abs=0.01)


def test_theil_sen_needs_two_distinct_times():
    assert np.isnan(stats.theil_sen(np.array([0.0]), np.array([[1.0]]))[0])
    assert np.isnan(stats.theil_sen(np.array([5.0, 5.0]), np.array([[1.0], [2.0]]))[0])
    assert np.isnan(stats.theil_sen(np.array([0.0, 1.0]), np.array([[1.0], [np.nan]]))[0])


def test_sampled_pairs_stay_close_to_the_exact_slope_for_long_histories():
    rng = np.random.default_rng(2)
    n = 600  # 179,700 pairs: above MAX_PAIRS, so sampled
    days = np.sort(rng.uniform(0, 2000, n))
    values = (0.02 * days + rng.normal(0, 2, n))[:, None]
    exact = _brute_force(days, values[:, 0])
    assert stats.theil_sen(days, values)[0] == pytest.approx(exact, abs=0.002)
    assert stats.theil_sen(days, values)[0] == stats.theil_sen(days, values)[0]  # deterministic


def test_difference_and_noise():
    assert stats.difference(10.0, 12.0, 4.0) == (2.0, True)
    assert stats.difference(10.0, 14.0, 4.0) == (4.0, False)  # at the MDC is a change
    assert stats.difference(None, 1.0, 4.0) == (None, None)
    assert stats.difference(1.0, 2.0, None) == (1.0, None)


def test_every_tracked_measure_has_a_noise_level():
    assert set(stats.TRACKED) <= set(stats.noise_levels())


def test_tracked_values_takes_numbers_only():
    values = stats.tracked_values({"pelvic_tilt_deg": 3, "knee_angle_deg": None}, {"overall": 80})
    assert values["pelvic_tilt_deg"] == 3.0 and values["knee_angle_deg"] is None
    assert values[stats.OVERALL] == 80.0
    assert stats.tracked_values({"pelvic_tilt_deg": True}, {})["pelvic_tilt_deg"] is None


def test_versioned_cache_serves_only_the_current_version_and_stays_bounded():
    from app.services.cache import VersionedCache

    cache = VersionedCache(max_bytes=10)
    cache.put("a", 1, b"aaaa")
    assert cache.get("a", 1) == b"aaaa"
    assert cache.get("a", 2) is None  # the data changed since
    cache.put("b", 1, b"bbbb")
    cache.get("a", 1)  # a is now the most recently used
    cache.put("c", 1, b"cccc")  # 12 bytes > 10: the least recently used (b) goes
    assert cache.get("b", 1) is None and cache.get("a", 1) == b"aaaa" and cache.get("c", 1) == b"cccc"
    cache.put("big", 1, b"x" * 11)  # larger than the whole cache: not kept
    assert cache.get("big", 1) is None and len(cache) == 2
