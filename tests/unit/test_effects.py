"""Tang et al.'s attribution (distillrl analyze effects) on hand-computed values."""

import math

import pytest

from distillrl.errors import RunDirError
from distillrl.report.effects import attribute, variant_of


def scores(rows):
    """rows: {seed: (hard, universe, domain, instance_removed, full)}"""
    names = ("hard", "universe", "domain", "instance_removed", "full")
    return {v: {s: r[i] for s, r in rows.items()} for i, v in enumerate(names)}


def test_effects_per_seed_with_t_intervals_and_shares():
    res = attribute(scores({1: (40, 42, 45, 20, 80), 2: (30, 31, 36, 25, 70), 3: (50, 50, 52, 30, 90)}))
    # gains 40, 40, 40; universe 2, 1, 0; domain 3, 5, 2; instance 60, 45, 60; rest -25, -11, -22
    e = res["effects"]
    assert res["n"] == 3 and e["gain"]["mean"] == 40
    assert e["universe"]["mean"] == pytest.approx(1.0)
    # t(0.975, 2) = 4.3027; sd of (2, 1, 0) = 1 → half-width 4.3027 / √3 = 2.4841
    assert e["universe"]["hi"] - e["universe"]["mean"] == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    assert e["domain"]["mean"] == pytest.approx(10 / 3) and e["instance"]["mean"] == pytest.approx(55)
    assert e["rest"]["mean"] == pytest.approx(-58 / 3)
    # the gain's interval is [40, 40]: shares of its mean
    assert e["instance"]["share"] == pytest.approx(55 / 40) and e["universe"]["share"] == pytest.approx(1 / 40)
    assert res["warnings"] == []


def test_one_seed_warns_and_shows_no_shares_or_intervals():
    res = attribute(scores({7: (40, 42, 45, 20, 80)}))
    assert res["n"] == 1 and math.isnan(res["effects"]["gain"]["lo"])
    assert all(res["effects"][k]["share"] is None for k in ("universe", "domain", "instance", "rest"))
    assert "only 1 seed" in res["warnings"][0]


def test_a_gain_that_may_be_zero_gets_no_shares():
    res = attribute(scores({1: (40, 40, 40, 40, 45), 2: (40, 40, 40, 40, 35), 3: (40, 40, 40, 40, 41)}))
    assert res["effects"]["instance"]["share"] is None and "not distinguishable from 0" in res["warnings"][0]


def test_incomplete_seeds_are_left_out_and_missing_targets_refused():
    s = scores({1: (40, 42, 45, 20, 80), 2: (30, 31, 36, 25, 70), 3: (50, 50, 52, 30, 90)})
    s["hard"][4] = 10.0
    res = attribute(s)
    assert res["seeds"] == [1, 2, 3] and any("left out" in w and "4" in w for w in res["warnings"])
    del s["domain"]
    with pytest.raises(RunDirError, match="missing: domain"):
        attribute(s)


def test_variant_of_a_run_config():
    assert variant_of({"loss": "nll", "kd_control": "none"}) == "hard"
    assert variant_of({"loss": "kl", "kd_control": "instance"}) == "instance_removed"
    assert variant_of({"loss": "cross_entropy"}) == "full"
    assert variant_of({"loss": "mse", "kd_control": "none"}) is None
