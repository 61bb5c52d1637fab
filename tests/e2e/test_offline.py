"""Minari datasets from our teachers: written and read back with Minari's own loader."""

import json
import re

import numpy as np

import pytest

from distillrl.envs.make import make_env_fn
from distillrl.errors import ConfigError
from distillrl.acting.policies import teacher_fn
from distillrl.datasets.writer import load_dataset, write_dataset
from distillrl.teachers.load import load_teacher


def test_dataset_written_and_read_back_identically(tmp_path):
    s = write_dataset("minatar-breakout", None, 2, "distillrl/breakout-eps-v0", tmp_path, epsilon=0.2, seed=3)
    ds = load_dataset("distillrl/breakout-eps-v0", tmp_path)
    assert ds.total_episodes == 2 and ds.total_steps == s["steps"]
    # replay the same episodes by hand: same reset seeds, the same ε-greedy draws
    t = load_teacher("minatar-breakout", None)
    f = teacher_fn(t)
    rng = np.random.default_rng(3)
    env = make_env_fn("minatar:breakout")()
    for i, ep in enumerate(ds.iterate_episodes()):
        obs, _ = env.reset(seed=3 + i)
        o, a_s, r_s, lg = [obs], [], [], []
        done = False
        while not done:
            logits = f(np.asarray(obs)[None])[0]
            lg.append(logits)
            a = int(np.argmax(logits))
            if rng.random() < 0.2:
                a = int(rng.integers(env.action_space.n))
            obs, r, term, trunc, _ = env.step(a)
            o.append(obs), a_s.append(a), r_s.append(r)
            done = term or trunc
        lg.append(f(np.asarray(obs)[None])[0])
        np.testing.assert_array_equal(ep.observations, np.stack(o))
        np.testing.assert_array_equal(ep.actions, a_s)
        np.testing.assert_allclose(ep.rewards, r_s)
        assert ep.terminations[-1] == term and ep.truncations[-1] == trunc and not ep.terminations[:-1].any()
        np.testing.assert_allclose(ep.infos["teacher_logits"], np.stack(lg), rtol=1e-6)
        assert ep.infos["teacher_logits"].shape == (len(a_s) + 1, env.action_space.n)
    assert s["mean_return"] == pytest.approx(np.mean(s["returns"]))


def test_minari_loads_it_by_itself(tmp_path, monkeypatch):
    write_dataset("cartpole", None, 1, "distillrl/cp-v0", tmp_path, seed=0)
    import minari

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    ds = minari.load_dataset("distillrl/cp-v0")
    ep = next(ds.iterate_episodes())
    assert ep.observations.shape == (501, 4) and ep.rewards.sum() == 500.0  # the zoo's CartPole teacher


@pytest.mark.parametrize("bad, says", [
    ("distillrl/breakout-eps0.1-v0", "contains '.'"),  # the namespace is fine: the '.' is the problem
    ("breakout", "must end in -v<version>"),
    ("a/breakout-v0", "namespace 'a' must have at least two characters"),
    ("ns/-v0", "name before -v<version> is empty"),
])
def test_dataset_ids_are_minaris_with_the_exact_problem_named(bad, says):
    from minari.dataset.minari_dataset import parse_dataset_id

    from distillrl.datasets.writer import check_dataset_id

    with pytest.raises(ConfigError, match=re.escape(says)):
        check_dataset_id(bad)
    with pytest.raises((ValueError, TypeError)):  # Minari refuses it too (with a TypeError when -v is missing)
        parse_dataset_id(bad)
    for good in ("distillrl/breakout-eps0_1-v0", "breakout-v3", "ab/cd/e-v0"):
        check_dataset_id(good)
        parse_dataset_id(good)


def test_dataset_bad_inputs(tmp_path, cli):
    with pytest.raises(ConfigError, match="--epsilon"):
        write_dataset("cartpole", None, 1, "distillrl/x-v0", tmp_path, epsilon=1.5)
    with pytest.raises(ConfigError, match="contains ' '"):
        write_dataset("cartpole", None, 1, "bad id-v0", tmp_path)
    write_dataset("cartpole", None, 1, "distillrl/x-v0", tmp_path)
    with pytest.raises(ConfigError, match="already exists"):
        write_dataset("cartpole", None, 1, "distillrl/x-v0", tmp_path)
    p = cli("dataset", "--teacher", "cartpole", "--episodes", "0", "--root", tmp_path)
    assert p.returncode == 2 and "--episodes must be ≥ 1" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = cli("dataset", "--teacher", "cartpole", "--episodes", "2", "--epsilon", "0.5", "--root", tmp_path / "d",
            "--json", "--no-progress", check=True)
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert s["episodes"] == 2 and s["dataset"] == "distillrl/own-cartpole-eps0_5-v0"
    assert load_dataset(s["dataset"], tmp_path / "d").total_episodes == 2


def test_minari_datasets_path_is_honoured_and_root_overrides_it(tmp_path, cli, monkeypatch):
    home = tmp_path / "minari-home"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(home))
    p = cli("dataset", "--teacher", "cartpole", "--episodes", "2", "--name", "distillrl/cp-v0", "--json",
            "--no-progress", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (home / "distillrl" / "cp-v0").is_dir() and not (tmp_path / "runs").exists()
    import minari  # Minari's own loader finds what `distillrl dataset` wrote

    assert minari.load_dataset("distillrl/cp-v0").total_episodes == 2
    p = cli("dataset", "--teacher", "cartpole", "--episodes", "1", "--name", "distillrl/cp-v0", "--root",
            tmp_path / "elsewhere", "--json", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "elsewhere" / "distillrl" / "cp-v0").is_dir()
    # a DT run with no --dataset-root reads from MINARI_DATASETS_PATH and records the folder it used
    p = cli("train", "--algo", "dt", "--dataset", "distillrl/cp-v0", "--steps", "4", "--eval-episodes", "0",
            "--run-dir", tmp_path / "dt", "--json", "--no-progress", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert f"dataset_root: {home}" in (tmp_path / "dt" / "config.yaml").read_text()
    assert not (tmp_path / "runs").exists()
