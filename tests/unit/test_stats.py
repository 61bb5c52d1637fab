"""The statistics module (SPEC §12) against hand-computed values."""

import math

import numpy as np
import pytest

from distillrl.core.stats import (
    aggregates,
    episode_interval,
    fmt,
    paired_difference,
    probability_of_improvement,
    t_interval,
    t_interval_from_moments,
    verdict,
)

T975 = {2: 4.302652729911275, 4: 2.7764451051977987, 9: 2.2621571627409915}  # Student t, 97.5 %, by dof


def test_t_interval_by_hand():
    r = t_interval([1.0, 2.0, 3.0])  # mean 2, sd 1, n 3
    assert r["mean"] == 2 and r["n"] == 3
    assert r["hi"] - 2 == pytest.approx(T975[2] / math.sqrt(3))
    r = t_interval([10, 12, 9, 11, 13])  # mean 11, sd √2.5
    assert r["lo"] == pytest.approx(11 - T975[4] * math.sqrt(2.5 / 5))
    assert t_interval([5.0])["n"] == 1 and math.isnan(t_interval([5.0])["lo"])
    assert t_interval([1.0, float("nan"), 3.0])["n"] == 2  # non-finite scores are dropped, and n says so


def test_t_interval_from_moments_matches_the_scores():
    x = np.array([10, 12, 9, 11, 13], float)
    full = t_interval(x)
    for ddof in (0, 1):
        r = t_interval_from_moments(x.mean(), x.std(ddof=ddof), len(x), ddof=ddof)
        assert r["n"] == 5 and r["lo"] == pytest.approx(full["lo"]) and r["hi"] == pytest.approx(full["hi"])
    assert math.isnan(t_interval_from_moments(3.0, 0.0, 1)["lo"])


def test_paired_difference_pairs_by_seed():
    d = paired_difference({1: 5.0, 2: 7.0, 3: 6.0, 4: 100.0}, {1: 4.0, 2: 5.0, 3: 6.0})
    assert d["seeds"] == [1, 2, 3] and d["mean"] == pytest.approx(1.0)  # diffs 1, 2, 0
    assert d["hi"] - 1.0 == pytest.approx(T975[2] * 1.0 / math.sqrt(3))
    with pytest.raises(ValueError, match="equal lengths"):
        paired_difference([1.0, 2.0], [1.0])


def test_verdicts_need_the_whole_interval():
    # 79.98 is not "≥ 80", and an interval that straddles the target is inconclusive
    assert verdict({"mean": 79.98, "lo": 79.9, "hi": 80.06}, 80) == "inconclusive"
    assert verdict({"mean": 79.98, "lo": 79.9, "hi": 79.99}, 80) == "not met"
    assert verdict({"mean": 112, "lo": 100.5, "hi": 123}, 110) == "inconclusive"
    assert verdict({"mean": 112, "lo": 110.0, "hi": 123}, 110) == "met"
    assert verdict({"mean": 3, "lo": 1, "hi": 5}) == "better" and verdict({"mean": -3, "lo": -5, "hi": -1}) == "worse"
    assert verdict({"mean": 3, "lo": 1, "hi": 5}, higher_is_better=False) == "worse"
    assert verdict({"mean": 0.5, "lo": 0.3, "hi": 0.45}, 0.5, higher_is_better=False) == "met"
    assert verdict({"mean": 5.0, "lo": math.nan, "hi": math.nan, "n": 1}, 1.0) == "inconclusive"


def test_episode_intervals_say_what_they_cover():
    e = episode_interval([1.0, 2.0, 3.0])
    assert e["mean"] == 2 and "episodes" in e["kind"] and "not over seeds" in e["kind"]
    assert fmt(t_interval([1.0, 2.0, 3.0]), 2) == "2.00 [-0.48, 4.48] (n=3)"
    assert fmt(t_interval([4.0])) == "4.0 (n=1, no interval)"
    assert fmt(t_interval([1.0, 2.0, 3.0]), 0, "%", show_n=False) == "2% [-0, 4]"


def test_rliable_aggregates_on_known_cases():
    pytest.importorskip("rliable")
    # every run scores 2 on both tasks: every aggregate is 2 and its bootstrap interval is [2, 2]
    agg = aggregates({"flat": np.full((5, 2), 2.0), "one run": np.ones((1, 2))}, reps=200)
    assert set(agg) == {"flat"}  # a bootstrap over one run is no interval: left out
    for name in ("iqm", "mean", "median"):
        assert agg["flat"][name] == (2.0, 2.0, 2.0)
    assert agg["flat"]["optimality_gap"] == (0.0, 0.0, 0.0) and agg["flat"]["runs"] == 5
    # IQM of 1..8 (one task): the middle half 3, 4, 5, 6 → 4.5; the interval holds it
    iqm = aggregates({"x": np.arange(1.0, 9.0)}, reps=500)["x"]["iqm"]
    assert iqm[0] == pytest.approx(4.5) and iqm[1] <= 4.5 <= iqm[2]
    # the same seed, the same interval
    assert aggregates({"x": np.arange(1.0, 9.0)}, reps=500, seed=3) == aggregates({"x": np.arange(1.0, 9.0)}, reps=500,
                                                                                  seed=3)
    # optimality gap below threshold 1: mean of (1 − x)⁺ = (0.5 + 0 + 0.25) / 3
    assert aggregates({"g": [0.5, 1.5, 0.75]}, reps=100)["g"]["optimality_gap"][0] == pytest.approx(0.25)


def test_probability_of_improvement():
    pytest.importorskip("rliable")
    assert probability_of_improvement([3.0, 4.0, 5.0], [1.0, 2.0, 2.5], reps=200) == (1.0, 1.0, 1.0)
    p, lo, hi = probability_of_improvement([3.0, 4.0, 5.0], [3.0, 4.0, 5.0], reps=200)
    assert p == pytest.approx(0.5) and lo < 0.5 < hi  # identical methods: a coin flip
