"""PBT decisions as pure functions (no Ray): t-test, truncation, explore, priors, sweep expansion."""

import math

import numpy as np
import pytest
from scipy import stats

from distillrl.errors import ConfigError
from distillrl.scale.population import PBTConfig, Prior, expand_sweep, explore, initial_values, parse_grid, parse_seeds, pbt_config_from_dict, point_tag, truncation, welch_better


def test_welch_matches_the_formula_by_hand():
    a = [10.0, 12.0, 11.0, 13.0, 9.0, 12.0, 11.0, 10.0, 12.0, 11.0]
    b = [8.0, 11.0, 9.0, 10.0, 12.0, 7.0, 9.0, 10.0, 8.0, 9.0]
    ma, mb = sum(a) / 10, sum(b) / 10
    va = sum((x - ma) ** 2 for x in a) / 9
    vb = sum((x - mb) ** 2 for x in b) / 9
    se2 = va / 10 + vb / 10
    t = (ma - mb) / math.sqrt(se2)
    df = se2 ** 2 / ((va / 10) ** 2 / 9 + (vb / 10) ** 2 / 9)  # Welch–Satterthwaite
    p_hand = 2 * stats.t.sf(abs(t), df)
    better, p = welch_better(a, b, 0.05)
    assert p == pytest.approx(p_hand, rel=1e-9)
    assert better == (p_hand < 0.05) and better  # 11.1 vs 9.3 with these spreads: p ≈ 0.006
    # the same pair at a stricter level is not "significantly" better
    assert welch_better(a, b, 0.001) == (False, pytest.approx(p_hand))


def test_welch_never_copies_a_worse_or_unknown_member():
    hi, lo = [5, 6, 7, 6, 5], [1, 2, 1, 2, 1]
    assert welch_better(lo, hi)[0] is False            # lower mean: never, whatever p
    assert welch_better([3.0], hi) == (False, pytest.approx(math.nan, nan_ok=True))  # too few returns
    assert welch_better([], []) [0] is False
    close = welch_better([5, 6, 5, 6, 5], [5, 5, 6, 5, 6])  # overlapping: not significant
    assert close[0] is False
    assert welch_better([2, 2, 2], [1, 1, 1]) == (True, 0.0)  # no spread on either side


def test_truncation_bottom_and_top():
    scores = {"a": 1.0, "b": 5.0, "c": 3.0, "d": 4.0, "e": 2.0}
    assert truncation(scores, 0.2) == (["a"], ["b"])
    assert truncation(scores, 0.4) == (["a", "e"], ["d", "b"])
    assert truncation({"x": 1.0, "y": 2.0}, 0.5) == (["x"], ["y"])
    assert truncation({"x": 1.0, "y": 2.0, "z": 3.0}, 0.5) == (["x"], ["z"])  # never overlapping
    assert truncation({"x": 1.0}, 0.2) == ([], [])


def test_explore_perturbs_by_the_factors_and_clips_into_the_prior():
    priors = {"lr": Prior(1e-4, 1e-2, log=True), "lam": Prior(0.0, 1.0)}
    rng = np.random.default_rng(0)
    for _ in range(50):
        new, ops = explore({"lr": 1e-3, "lam": 0.9}, priors, rng, (0.8, 1.2), 0.0)
        assert new["lr"] in (pytest.approx(8e-4), pytest.approx(1.2e-3))
        assert new["lam"] in (pytest.approx(0.72), 1.0)  # 0.9 × 1.2 = 1.08 is clipped to the prior's max
        if new["lam"] == 1.0:
            assert ops["lam"] == "* 1.2 (clipped)"
    for _ in range(50):  # always resample: inside the prior, and log priors stay positive
        new, ops = explore({"lr": 1e-3, "lam": 0.9}, priors, rng, (0.8, 1.2), 1.0)
        assert 1e-4 <= new["lr"] <= 1e-2 and 0.0 <= new["lam"] <= 1.0 and set(ops.values()) == {"resample"}


def test_explore_is_reproducible_from_the_generator():
    priors = {"a": Prior(0, 10), "b": Prior(0.1, 10, log=True)}
    one = explore({"a": 1.0, "b": 1.0}, priors, np.random.default_rng(3), resample_probability=0.5)
    two = explore({"a": 1.0, "b": 1.0}, priors, np.random.default_rng(3), resample_probability=0.5)
    assert one == two


def test_initial_values_from_priors():
    priors = {"lr": Prior(1e-4, 1e-2, log=True), "lam": Prior(0.2, 0.4)}
    v = initial_values(priors, 6, seed=1)
    assert v == initial_values(priors, 6, seed=1) and v != initial_values(priors, 6, seed=2)
    assert all(1e-4 <= m["lr"] <= 1e-2 and 0.2 <= m["lam"] <= 0.4 for m in v)
    assert len({m["lr"] for m in v}) == 6


def test_log_prior_is_log_uniform():
    x = np.log10([Prior(1e-4, 1.0, log=True).sample(np.random.default_rng(i)) for i in range(4000)])
    assert abs(np.mean(x) + 2.0) < 0.1 and abs(np.mean(x < -3) - 0.25) < 0.03


@pytest.mark.parametrize("data, message", [
    ({"population": 1}, "population must be ≥ 2"),
    ({"population": 0}, "population must be ≥ 2"),
    ({"priors": {"lr": {"min": 1e-2, "max": 1e-4}}}, "priors.lr: prior min 0.01 > max 0.0001"),
    ({"priors": {"lr": {"min": 0.0, "max": 1.0, "log": True}}}, "log prior needs min > 0"),
    ({"priors": {}}, "at least one tuned hyper-parameter"),
    ({"pbt": {"pvalue": 1.5}}, "pvalue must be (0, 1)"),
    ({"pbt": {"selection": "best"}}, "selection"),
    ({"pbt": {"factors": [0.8, -1]}}, "factors must be > 0"),
    ({"command": "dance"}, "command"),
    ({"populaton": 4}, "unknown config key 'populaton'"),
])
def test_bad_experiment_configs_are_one_line_errors(data, message):
    base = {"command": "train", "population": 4, "priors": {"lr": {"min": 1e-4, "max": 1e-3}}}
    with pytest.raises(ConfigError) as e:
        pbt_config_from_dict({**base, **data})
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_good_experiment_config():
    cfg = pbt_config_from_dict({"command": "kickstart", "population": 4, "config": {"env": "minatar:breakout"},
                                "pbt": {"interval": 25000, "selection": "truncation"},
                                "priors": {"lambda_0": {"min": 0.01, "max": 1, "log": True}}})
    assert isinstance(cfg, PBTConfig) and cfg.pbt.interval == 25000 and cfg.priors["lambda_0"].log


def test_seeds_and_grids_expand_as_documented():
    assert parse_seeds("1-5") == [1, 2, 3, 4, 5]
    assert parse_seeds("1,3,7") == [1, 3, 7]
    assert parse_seeds("1-3,10") == [1, 2, 3, 10]
    for bad in ("5-1", "a", "1,1", "-3", ""):
        with pytest.raises(ConfigError):
            parse_seeds(bad)
    grid = parse_grid(["ppo.lr=1e-3,5e-4", "--schedule=linear,constant"])
    assert grid == {"ppo.lr": ["1e-3", "5e-4"], "schedule": ["linear", "constant"]}
    pts = expand_sweep([1, 2], grid)
    assert len(pts) == 8
    assert pts[0] == {"ppo.lr": "1e-3", "schedule": "linear", "seed": "1"}
    assert pts[1] == {"ppo.lr": "1e-3", "schedule": "linear", "seed": "2"}   # seeds fastest
    assert pts[2] == {"ppo.lr": "1e-3", "schedule": "constant", "seed": "1"}  # then the last key
    assert expand_sweep([4], {}) == [{"seed": "4"}]
    assert point_tag(pts[3]) == "ppo.lr-1e-3_schedule-constant_s2"
    for bad in (["lr"], ["lr="], ["=1"], ["seed=1,2"], ["a=1", "a=2"]):
        with pytest.raises(ConfigError):
            parse_grid(bad)


def test_the_shipped_example_experiment_is_valid():
    from pathlib import Path

    from distillrl.config import load_yaml

    cfg = pbt_config_from_dict(load_yaml(Path(__file__).resolve().parents[2] / "examples/pbt_breakout.yaml"))
    assert cfg.command == "kickstart" and set(cfg.priors) >= {"lr", "lambda_shared", "lambda_0"}


def test_the_multi_task_example_tunes_one_lambda_per_game():
    """Per-task λ_k under PBT: the example's priors name lambda_0..lambda_4, and a kickstart
    trainer on minatar:all with the zoo's teachers declares exactly those (checked by pbt.resolve
    before Ray starts)."""
    from pathlib import Path

    from distillrl.config import load_yaml
    from distillrl.scale.pbt import resolve

    cfg = pbt_config_from_dict(load_yaml(Path(__file__).resolve().parents[2] / "examples/pbt_minatar_all.yaml"))
    base, defaults = resolve(cfg)
    assert {f"lambda_{k}" for k in range(5)} <= set(defaults) and base.env == "minatar:all"


def test_population_summary_counts_members_that_evaluated_no_episodes_as_finished(tmp_path):
    """eval_episodes 0: every member finishes with no evaluation score; the population is finished
    (the command exits 0), none is scored, and no best member is named."""
    import json
    from types import SimpleNamespace

    from distillrl.scale.pbt import _summarize
    from distillrl.scale.pbt_member import member_dir

    cfg = pbt_config_from_dict({"command": "kickstart", "population": 2, "config": {"env": "gym:CartPole-v1"},
                                "priors": {"lr": {"min": 1e-4, "max": 1e-3}}})
    for i in range(2):
        d = member_dir(tmp_path, i)
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps({"member": i, "steps": 1000, "hparams": {"lr": 1e-4}}))
    s = _summarize(cfg, tmp_path, [SimpleNamespace(error=None)] * 2, 1.0, {"cpus": 2}, 1.0, 2)
    assert s["members_finished"] == 2 and s["members_scored"] == 0 and s["best_member"] is None
    (member_dir(tmp_path, 1) / "summary.json").unlink()
    s = _summarize(cfg, tmp_path, [SimpleNamespace(error=None)] * 2, 1.0, {"cpus": 2}, 1.0, 2)
    assert s["members_finished"] == 1


def test_best_member_is_chosen_on_selection_episodes_where_members_played_them():
    from distillrl.scale.population import best_member

    # evaluation scores alone: the highest finite one (a member without a summary cannot win)
    assert best_member({0: {"score": 3.0}, 1: {"score": 5.0}, 2: {}}) == (1, False)
    # with selection scores the evaluation score does not count
    both = {0: {"score": 3.0, "select_score": 9.0}, 1: {"score": 5.0, "select_score": 2.0}}
    assert best_member(both) == (0, True)
    # a member killed before its selection episodes is not chosen; no finite score: none
    assert best_member({0: {"score": 8.0}, 1: {"score": 1.0, "select_score": 1.0}}) == (1, True)
    assert best_member({0: {"score": float("nan")}, 1: {}}) == (None, False)
