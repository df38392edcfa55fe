"""The statistics of visits and of the personal noise band (posture.trends), against their definitions
and a simulation."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from posture import trends as stats


def test_median_sd_factors_match_a_simulation_of_normal_retakes():
    """The table is exact (order-statistic integrals); a simulation of 400,000 medians per n agrees
    within its own sampling error (the SD of an SD estimate over N draws is about SD / √(2N))."""
    rng = np.random.default_rng(7)
    draws = 400_000
    for n in range(1, 13):
        simulated = float(np.median(rng.standard_normal((draws, n)), axis=1).std())
        expected = stats.median_sd_factor(n)
        assert simulated == pytest.approx(expected, abs=4 * expected / math.sqrt(2 * draws)), n
    # Beyond the table, the large-n limit √(π / 2n) lies above the exact value, within 6 %: the band
    # errs wide, never narrow.
    for n in (13, 14, 20):
        simulated = float(np.median(rng.standard_normal((draws // 4, n)), axis=1).std())
        assert simulated < stats.median_sd_factor(n) < 1.06 * simulated, n
    assert stats.median_sd_factor(40) == pytest.approx(math.sqrt(math.pi / 80))
    with pytest.raises(ValueError):
        stats.median_sd_factor(0)


def test_mdc95_of_single_shots_and_of_medians():
    assert stats.mdc95(1.0) == pytest.approx(1.96 * math.sqrt(2))
    assert stats.mdc95(2.0, 3, 3) == pytest.approx(1.96 * 2.0 * math.sqrt(2) * 0.6698)
    assert stats.mdc95(2.0, 1, 3) == pytest.approx(1.96 * 2.0 * math.hypot(1.0, 0.6698))
    # The band it gives holds 95 % of the differences of medians of pure retake noise.
    rng = np.random.default_rng(3)
    a = np.median(rng.normal(0, 1.5, (200_000, 3)), axis=1)
    b = np.median(rng.normal(0, 1.5, (200_000, 3)), axis=1)
    assert np.mean(np.abs(b - a) < stats.mdc95(1.5, 3, 3)) == pytest.approx(0.95, abs=0.004)


def test_group_medians_spreads_and_counts_match_the_definition():
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 40, 300)
    values = rng.normal(0, 3, (300, 4))
    values[rng.random((300, 4)) < 0.2] = np.nan
    values[groups == 5, 2] = np.nan  # a group where one measure is never measured
    summary = stats.summarize_groups(values, groups, 41)  # group 40 has no shots at all
    for g in range(41):
        for k in range(4):
            present = [v for v in values[groups == g, k] if np.isfinite(v)]
            assert summary.count[g, k] == len(present)
            if present:
                assert summary.median[g, k] == pytest.approx(statistics.median(present))
            else:
                assert np.isnan(summary.median[g, k])
            if len(present) >= 2:
                assert summary.spread[g, k] == pytest.approx(max(present) - min(present))
            else:
                assert np.isnan(summary.spread[g, k])


def test_pooled_within_visit_sd_matches_the_definition_and_recovers_the_true_sd():
    rng = np.random.default_rng(2)
    sizes = rng.integers(1, 5, 60)  # visits of 1 to 4 shots; single shots carry no retake information
    groups = np.repeat(np.arange(60), sizes)
    truth = rng.normal(10, 5, 60)[groups]  # the person changes between visits, not within
    values = np.column_stack([truth + rng.normal(0, 1.3, len(groups)), np.full(len(groups), np.nan)])
    noise = stats.personal_noise(values, groups, 60)
    squares = dof = 0.0
    for g in range(60):
        x = values[groups == g, 0]
        if len(x) >= 2:
            squares += float(((x - x.mean()) ** 2).sum())
            dof += len(x) - 1
    assert noise.sd[0] == pytest.approx(math.sqrt(squares / dof))
    assert noise.visits[0] == int((sizes >= 2).sum())
    assert noise.sd[0] == pytest.approx(1.3, rel=0.15)  # the between-visit change does not leak in
    assert np.isnan(noise.sd[1]) and noise.visits[1] == 0


def test_the_band_is_the_larger_of_personal_and_rules_and_says_which():
    name = "trunk_lean_deg"
    k = stats.TRACKED.index(name)
    floors = {name: 2.0}
    sd = np.full(len(stats.TRACKED), np.nan)
    visits = np.zeros(len(stats.TRACKED), dtype=np.int64)
    sd[k], visits[k] = 1.5, 4
    personal = stats.PersonalNoise(sd, visits)
    wide = stats.noise_band(name, personal, 1, 1, floors, min_visits=3)
    assert wide == stats.NoiseBand(round(stats.mdc95(1.5), 2), "personal", 4)
    sd[k] = 0.5  # steadier than the software: the floor applies, and says how many visits were seen
    assert stats.noise_band(name, personal, 1, 1, floors, min_visits=3) == stats.NoiseBand(2.0, "rules", 4)
    sd[k] = 1.5
    assert stats.noise_band(name, personal, 1, 1, floors, min_visits=5).source == "rules"  # too few visits
    assert stats.noise_band(name, None, 3, 3, floors, min_visits=3) == stats.NoiseBand(2.0, "rules", 0)


def test_visit_starts_follow_the_gap_rule():
    t0 = np.datetime64("2026-01-01T09:00:00", "us")
    minutes = np.array([0, 10, 40, 71, 72, 200])
    times = t0 + minutes * np.timedelta64(60_000_000, "us")
    starts = stats.visit_starts(times, stats.visit_rules().gap)
    assert starts.tolist() == [True, False, False, True, False, True]  # 30 min joins, 31 min does not
    assert stats.visit_rules().gap == np.timedelta64(30 * 60_000_000, "us")


@pytest.mark.parametrize("label", ["", "  ", "x" * 65, "a\nb", "a\tb", "\x00", "\ud800"])
def test_visit_labels_are_1_to_64_printable_characters(label):
    with pytest.raises(ValueError):
        stats.visit_label(label)


def test_visit_labels_are_stripped():
    assert stats.visit_label("  morning  ") == "morning"
    assert stats.visit_label("ü" * 64) == "ü" * 64


def test_central_shot_is_nearest_the_medians_in_noise_units():
    values = np.full((3, len(stats.TRACKED)), 5.0)
    k = stats.TRACKED.index("trunk_lean_deg")
    values[:, k] = [1.0, 2.0, 6.0]
    median = np.median(values, axis=0)
    assert stats.central_shot(values, median, stats.noise_levels()) == 1


def test_method_key_and_mixed_versions():
    assert stats.method_key({"rules": "2026.1", "model_sha256": "ab"}) == "2026.1|ab"
    assert stats.method_key(None) == "|"
    assert stats.versions_warnings(["a|x", "a|x"]) == []
    assert stats.versions_warnings(["a|x", "b|x"]) == ["mixed_versions"]
