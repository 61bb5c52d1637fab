"""Gymnasium's NumPy-vectorised CartPole behind the per-env path's semantics (distillrl.envs.vector):
the same seeds give the same trajectories, bit for bit, and a trainer gives the same metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from distillrl.envs import vector
from distillrl.envs.make import FastVectorEnv, make_vec
from distillrl.envs.vector import CartPoleVector


def _steps(env, actions):
    out = []
    for a in actions:
        obs, rew, term, trunc, info = env.step(a)
        rows = info.get("_final_obs")
        out.append((obs.copy(), rew.copy(), term.copy(), trunc.copy(),
                    None if rows is None else (rows.copy(), info["final_obs"][rows].copy(),
                                               info["episode_return"][rows].copy(),
                                               info["episode_length"][rows].copy())))
    return out


@pytest.mark.parametrize("max_steps", [None, 40])  # 40: truncations at every few episodes
def test_vectorised_cartpole_gives_the_per_env_trajectories(max_steps):
    n = vector.MIN_ENVS + 4
    fast = make_vec("gym:CartPole-v1", n, max_steps)
    slow = make_vec("gym:CartPole-v1", n, max_steps, vectorised=False)
    assert isinstance(fast, CartPoleVector) and isinstance(slow, FastVectorEnv)
    o1, _ = fast.reset(seed=7)
    o2, _ = slow.reset(seed=7)
    assert o1.dtype == o2.dtype and np.array_equal(o1, o2)
    acts = np.random.default_rng(0).integers(0, 2, (1500, n))
    a, b = _steps(fast, acts), _steps(slow, acts)
    ends = truncs = 0
    for t, (x, y) in enumerate(zip(a, b)):
        for u, v in zip(x[:4], y[:4]):
            assert u.dtype == v.dtype and np.array_equal(u, v), t
        assert (x[4] is None) == (y[4] is None), t
        if x[4] is not None:
            for u, v in zip(x[4], y[4]):
                assert np.array_equal(u, v), t
            ends += int(x[4][0].sum())
            truncs += int((x[3] & ~x[2]).sum())
    assert ends > 100 and (max_steps is None or truncs > 10)
    # a later reset without a seed continues each copy's own stream on both paths
    assert np.array_equal(fast.reset()[0], slow.reset()[0])


def test_make_vec_uses_the_numpy_path_only_where_it_is_cheaper_and_plain():
    assert isinstance(make_vec("gym:CartPole-v1", vector.MIN_ENVS), CartPoleVector)
    assert isinstance(make_vec("gym:CartPole-v1", vector.MIN_ENVS - 1), FastVectorEnv)
    assert isinstance(make_vec("gym:CartPole-v1?keep=0+2", vector.MIN_ENVS), FastVectorEnv)  # an option: per env
    assert isinstance(make_vec("gym:Acrobot-v1", vector.MIN_ENVS), FastVectorEnv)  # no vector entry point
    env = make_vec("gym:CartPole-v0", vector.MIN_ENVS)  # CartPole-v0: its own 200-step limit
    obs, _ = env.reset(seed=0)
    lengths = []
    for _ in range(400):  # a balancing controller: push toward the way the pole falls
        obs, *_, info = env.step((obs[:, 2] + obs[:, 3] > 0).astype(np.int64))
        if info:
            lengths += list(info["episode_length"][info["_final_obs"]])
    assert max(lengths) == 200


def test_ppo_on_the_vectorised_path_gives_the_same_metrics(monkeypatch):
    from distillrl.algos import PPOConfig, TrainConfig, make_trainer

    def run():
        cfg = TrainConfig(env="gym:CartPole-v1", steps=3 * 16 * 32, seed=3,
                          ppo=PPOConfig(num_envs=16, num_steps=32, num_minibatches=4, update_epochs=2))
        tr = make_trainer(cfg)
        kind = type(tr.envs).__name__
        return kind, tr.advance(cfg.steps)

    k1, fast = run()
    monkeypatch.setattr(vector, "MIN_ENVS", 10**9)
    k2, slow = run()
    assert (k1, k2) == ("CartPoleVector", "FastVectorEnv")
    assert len(fast) == len(slow) == 3
    for r1, r2 in zip(fast, slow):
        for k, v in r1.items():
            if k == "charts/sps":
                continue
            assert (math.isnan(v) and math.isnan(r2[k])) or v == r2[k], k


@pytest.mark.parametrize("spec,max_steps", [("gym:CartPole-v1", 30), ("minatar:breakout", None),
                                            ("minatar:breakout", 8)])
def test_stepping_past_the_bookkeeping_wrappers_changes_nothing(spec, max_steps):
    """FastVectorEnv steps the bare env where gym.make added only OrderEnforcing and TimeLimit,
    keeping the time limit itself: the same trajectories as stepping the whole wrapper stack."""
    lean = make_vec(spec, 4, max_steps, vectorised=False)
    full = make_vec(spec, 4, max_steps, vectorised=False)
    assert any(s is not e for s, e in zip(lean._stepped, lean.envs))  # the lean path is taken
    full._stepped = list(full.envs)
    full._limit = [0] * full.num_envs
    o1, _ = lean.reset(seed=5)
    o2, _ = full.reset(seed=5)
    assert np.array_equal(o1, o2)
    n_act = lean.single_action_space.n
    acts = np.random.default_rng(1).integers(0, n_act, (600, 4))
    a, b = _steps(lean, acts), _steps(full, acts)
    truncs = 0
    for t, (x, y) in enumerate(zip(a, b)):
        for u, v in zip(x[:4], y[:4]):
            assert np.array_equal(u, v), t
        assert (x[4] is None) == (y[4] is None), t
        if x[4] is not None:
            for u, v in zip(x[4], y[4]):
                assert np.array_equal(u, v), t
        truncs += int(x[3].sum())
    if max_steps is not None:
        assert truncs > 0


def test_minatar_import_defers_its_renderer_dependencies():
    """MinAtar imports matplotlib.pyplot and seaborn for rendering only; making a MinAtar env leaves
    them unimported, rendering still works through the stand-ins (and gives what the real
    seaborn palette gives), and later imports elsewhere get the real modules."""
    import subprocess
    import sys

    code = """
import sys
from distillrl.envs.make import make_vec
env = make_vec("minatar:breakout", 2)
env.reset(seed=0)
print(sorted(m for m in ("seaborn", "matplotlib.pyplot", "scipy.stats") if m in sys.modules))
import gymnasium as gym, numpy as np
e = gym.make("MinAtar/Breakout-v1", render_mode="rgb_array", disable_env_checker=True)
e.reset(seed=0)
img = e.render()
import seaborn as sns
print(type(sys.modules["seaborn"]).__name__)
state = e.unwrapped.game.state()
pal = np.array([(0, 0, 0)] + list(sns.color_palette("cubehelix", state.shape[2])))
ref = pal[np.amax(state * np.arange(1, state.shape[2] + 1), 2)]
print(img.shape, bool(np.allclose(img, ref)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "module"
    assert out[2] == "(10, 10, 3) True"
