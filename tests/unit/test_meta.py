"""ES meta-learning with DPG adaptation: the estimator, ranks, the DPG step, task families, settings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from distillrl.algos.adapt import AdaptSettings, dpg_step, get_flat, pg_gradient, rollout, set_flat
from distillrl.algos.meta import (
    MetaConfig,
    MetaTrainer,
    es_gradient,
    eval_ks,
    noise,
    prepare_meta,
    rank_normalise,
)
from distillrl.config import validate
from distillrl.envs.families import FAMILIES, family
from distillrl.envs.make import EnvError, gym_id, make_env_fn
from distillrl.errors import ConfigError
from distillrl.models.ddpg import Actor

pytest.importorskip("evotorch")


def test_antithetic_estimator_recovers_a_quadratics_gradient():
    # F(θ) = −‖θ − c‖²: F(θ+σε) − F(θ−σε) = 2σ ε·∇F exactly, so g → E[εεᵀ]∇F = ∇F = −2(θ − c)
    c = torch.tensor([1.0, -2.0, 0.5, 3.0, 0.0])
    theta = torch.tensor([0.5, 0.0, 0.0, 1.0, 1.0])
    sigma, seeds = 0.1, list(range(4000))
    fit = []
    for d in seeds:
        e = noise(d, 5)
        fit += [-((theta + sigma * e - c) ** 2).sum(), -((theta - sigma * e - c) ** 2).sum()]
    g = es_gradient(theta, sigma, seeds, torch.stack(fit), ranking="raw")
    true = -2 * (theta - c)
    assert torch.nn.functional.cosine_similarity(g, true, 0) > 0.99
    assert (g - true).norm() / true.norm() < 0.1
    # centred ranks keep the direction (ascent), only the scale changes
    gr = es_gradient(theta, sigma, seeds, torch.stack(fit))
    assert torch.nn.functional.cosine_similarity(gr, true, 0) > 0.9


def test_one_direction_by_hand():
    theta, sigma = torch.zeros(3), 0.5
    e = noise(7, 3)
    g = es_gradient(theta, sigma, [7], torch.tensor([3.0, 1.0]), ranking="raw")
    # 1/(2·1·σ) (F+ − F−) ε
    assert torch.allclose(g, (3.0 - 1.0) / (2 * sigma) * e, atol=1e-5)


def test_noise_is_a_function_of_its_seed():
    assert torch.equal(noise(5, 10), noise(5, 10))
    assert not torch.equal(noise(5, 10), noise(6, 10))


def test_rank_normalisation_is_centred_and_even():
    r = rank_normalise([10.0, -5.0, 3.0, 100.0])
    assert torch.allclose(r, torch.tensor([1 / 6, -0.5, -1 / 6, 0.5]), atol=1e-6)
    r = rank_normalise([2.0, 1.0])
    assert torch.allclose(r, torch.tensor([0.5, -0.5]))


class Linear(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, s):
        return s @ self.w.T


def test_dpg_step_matches_the_hand_computed_gradient():
    # μ(s) = W s, Q(s, a) = −‖a − c‖²: ∇_a Q = −2(Ws − c), ∇_W = mean_s ∇_a Q sᵀ
    w0 = [[0.5, -1.0], [2.0, 0.0]]
    actor = Linear(w0)
    c = torch.tensor([1.0, -1.0])
    obs = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])

    def critic(s, a):
        return -((a - c) ** 2).sum(-1)

    W = torch.tensor(w0)
    grad_a = -2 * (obs @ W.T - c)  # [B, 2]
    expect = (grad_a[:, :, None] * obs[:, None, :]).mean(0)
    g = dpg_step(actor, critic, obs, lr=0.1)
    assert torch.allclose(g, expect.reshape(-1), atol=1e-6)
    assert torch.allclose(actor.w.detach(), W + 0.1 * expect, atol=1e-6)


def test_dpg_step_clips_the_gradient_norm():
    actor = Linear([[0.0, 0.0], [0.0, 0.0]])
    obs = torch.tensor([[10.0, 10.0]])
    dpg_step(actor, lambda s, a: (a * 100).sum(-1), obs, lr=1.0, max_grad_norm=1.0)
    assert abs(float(actor.w.detach().norm()) - 1.0) < 1e-5


def test_set_flat_copies():
    a = Actor(2, 2, [-1, -1], [1, 1], hidden=4)
    flat = torch.zeros(get_flat(a).numel())
    set_flat(a, flat)
    with torch.no_grad():
        next(a.parameters()).add_(1.0)
    assert float(flat.abs().sum()) == 0.0  # the caller's vector is untouched


def test_pg_gradient_points_to_better_actions():
    # one state, reward = the action's first coordinate: the gradient raises μ's output there
    torch.manual_seed(0)
    a = Actor(1, 1, [-1], [1], hidden=4)
    env = make_env_fn("meta:point-nav?task=0.5/0")()
    batch = rollout(env, Actor(2, 2, [-0.1, -0.1], [0.1, 0.1], 4), 2, 0.5, seed=0)
    assert batch.frames == 200 and batch.obs.shape == (200, 2) and len(batch.episode_returns) == 2
    obs = torch.zeros(64, 1)
    act = torch.randn(64, 1).clamp(-1, 1)
    fake = dataclasses.replace(batch, obs=obs, act=act, ret=act[:, 0])
    g = pg_gradient(a, fake, noise=0.5)
    before = float(a(obs[:1]).detach())
    set_flat(a, get_flat(a) + 0.01 * g / g.norm())
    assert float(a(obs[:1]).detach()) > before


def test_families_sample_reproducibly_and_hold_out_test_tasks():
    f = family("point-nav")
    tr, te = f.pools(50, 10, seed=0)
    tr2, te2 = f.pools(50, 10, seed=0)
    assert np.array_equal(tr, tr2) and np.array_equal(te, te2)
    assert tr.shape == (50, 2) and te.shape == (10, 2)
    assert not ({tuple(t) for t in tr} & {tuple(t) for t in te})
    assert (np.abs(tr) <= 0.5).all()
    assert not np.array_equal(f.pools(50, 10, seed=1)[0], tr)
    hv = family("halfcheetah-vel").pools(20, 5)
    assert ((hv[0] >= 0) & (hv[0] <= 2)).all() and f.held_out
    d = family("halfcheetah-dir")
    assert not d.held_out and sorted(d.pools(5, 5)[0][:, 0]) == [-1.0, 1.0]
    assert set(FAMILIES) == {"point-nav", "halfcheetah-vel", "halfcheetah-dir", "ant-dir"}


def test_family_envs_from_specs():
    assert gym_id("meta:point-nav") == "distillrl.envs.families:distillrl/PointNav-v0"
    env = make_env_fn("meta:point-nav?task=0.3/-0.4")()
    env.reset(seed=0)
    _, r, *_ = env.step(np.array([0.1, 0.0], np.float32))
    assert r == pytest.approx(-np.hypot(0.2, 0.4))
    with pytest.raises(EnvError, match="takes tasks of 2"):
        gym_id("meta:point-nav?task=0.3")
    with pytest.raises(EnvError, match="unknown task family"):
        gym_id("meta:nope")
    with pytest.raises(ConfigError, match="tasks are -1, 1"):
        family("halfcheetah-dir").parse_task("0.5")


@pytest.mark.parametrize("bad, match", [
    (dict(family="nope"), "unknown task family"),
    (dict(k=0), "--k must be ≥ 1"),
    (dict(sigma=0.0), "--sigma must be > 0"),
    (dict(population=7), "must be even"),
    (dict(eval_k="1,x"), "--eval-k takes integers"),
    (dict(eval_k="0,2"), "must be ≥ 1"),
    (dict(explore_noise=0.0), "--explore-noise"),
])
def test_bad_settings_are_one_clear_error(bad, match):
    with pytest.raises(ConfigError, match=match):
        validate(MetaConfig(**bad))


def test_fomaml_takes_any_population():
    validate(MetaConfig(method="fomaml", population=7))  # no antithetic pairs there


def test_eval_ks():
    assert eval_ks(MetaConfig(k=3)) == [3]
    assert eval_ks(MetaConfig(eval_k="1,3,5")) == [1, 3, 5]


def test_live_hparams_round_population_and_k():
    tr = MetaTrainer(prepare_meta(MetaConfig(steps=1, population=4, tasks_per_gen=1, eval_every=0, hidden=8)))
    try:
        assert set(tr.hp.names()) == {"lr", "sigma", "inner_lr", "population", "k"}
        tr.set_hparams(population=7.0, k=2.6, sigma=0.1)
        assert tr._population() == 8 and tr._settings().k == 3
        rows = tr.step()
        assert rows[0]["meta/population"] == 8 and rows[0]["hparams/sigma"] == 0.1
        assert tr.frames == 8 * (200 + 100)  # each member: a 2-episode batch and a fitness episode
        with pytest.raises(ConfigError):
            tr.set_hparams(sigma=0.0)
    finally:
        tr.close()


def test_state_dict_round_trip_continues_identically():
    cfg = prepare_meta(MetaConfig(steps=1, population=4, tasks_per_gen=1, eval_every=0, hidden=8))
    a = MetaTrainer(cfg)
    a.step()
    st = a.state_dict()
    b = MetaTrainer(cfg)
    b.load_state_dict(st)
    ra, rb = a.step(), b.step()
    assert ra[0]["meta/fitness_mean"] == rb[0]["meta/fitness_mean"]
    assert torch.equal(a.center, b.center)
    a.close()
    b.close()


def test_adapt_settings_come_from_the_config():
    s = MetaConfig(k=4, inner_lr=0.2, critic_steps=7).settings()
    assert isinstance(s, AdaptSettings) and (s.k, s.inner_lr, s.critic_steps) == (4, 0.2, 7)
