"""IMPALA (V-trace, actors, replacement, resume) and recurrent agents."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from distillrl.algos import TrainConfig, make_trainer
from distillrl.algos.impala import ImpalaConfig
from distillrl.config import ConfigError, validate
from distillrl.models.nets import NetConfig
from distillrl.core.returns import gae, vtrace


# --------------------------------------------------------------------------- V-trace


def test_vtrace_hand_computed():
    """T = 3, one env, an episode end after step 1; γ = 0.9, ρ̄ = 1, c̄ = 0.5.

    ratios π/μ = (2, 0.5, 1) → ρ = (1, 0.5, 1), c = (0.5, 0.5, 0.5).
    V = (1, 2, 3), V(x_3) = 4, r = (1, 1, 1), done = (0, 1, 0).
    δ_2 = 1·(1 + 0.9·4 − 3) = 1.6                      → v_2 = 3 + 1.6 = 4.6
    δ_1 = 0.5·(1 + 0 − 2) = −0.5 (episode ends: no bootstrap, no trace) → v_1 = 2 − 0.5 = 1.5
    δ_0 = 1·(1 + 0.9·2 − 1) = 1.8; v_0 = 1 + 1.8 + 0.9·0.5·(1.5 − 2) = 2.575
    pg_adv_s = ρ_s (r_s + γ_s v_{s+1} − V_s): (1 + 0.9·1.5 − 1, 0.5·(1 − 2), 1 + 0.9·4 − 3) = (1.35, −0.5, 1.6)
    """
    mu = torch.log(torch.tensor([[0.25], [0.5], [0.4]]))
    pi = torch.log(torch.tensor([[0.5], [0.25], [0.4]]))
    vs, adv, rho = vtrace(mu, pi, torch.ones(3, 1), torch.tensor([[1.0], [2.0], [3.0]]),
                          torch.tensor([[0.0], [1.0], [0.0]]), torch.tensor([4.0]), 0.9, rho_bar=1.0, c_bar=0.5)
    assert torch.allclose(rho[:, 0], torch.tensor([1.0, 0.5, 1.0]))
    assert torch.allclose(vs[:, 0], torch.tensor([2.575, 1.5, 4.6]), atol=1e-6)
    assert torch.allclose(adv[:, 0], torch.tensor([1.35, -0.5, 1.6]), atol=1e-6)


def test_vtrace_on_policy_is_the_n_step_return():
    """π = μ, ρ̄ = c̄ = 1: v_s = GAE(λ = 1) + V, the bootstrapped n-step return, and the policy
    gradient advantage is the one-step TD error on v."""
    g = torch.Generator().manual_seed(0)
    T, n = 7, 4
    logp = torch.log(torch.rand(T, n, generator=g))
    r, v = torch.randn(T, n, generator=g), torch.randn(T, n, generator=g)
    d = (torch.rand(T, n, generator=g) < 0.2).float()
    last = torch.randn(n, generator=g)
    vs, adv, rho = vtrace(logp, logp, r, v, d, last, 0.97)
    assert torch.allclose(rho, torch.ones(T, n))
    assert torch.allclose(vs, gae(r, v, d, last, 0.97, 1.0) + v, atol=1e-5)
    vs_next = torch.cat([vs[1:], last[None]])
    assert torch.allclose(adv, r + 0.97 * (1 - d) * vs_next - v, atol=1e-5)


def test_vtrace_truncation_acts():
    """Off-policy: ρ is min(ρ̄, π/μ) and a smaller ρ̄ shrinks the targets' corrections."""
    g = torch.Generator().manual_seed(1)
    T, n = 6, 3
    mu, pi = torch.log(torch.rand(T, n, generator=g)), torch.log(torch.rand(T, n, generator=g))
    r, v = torch.randn(T, n, generator=g), torch.randn(T, n, generator=g)
    d, last = torch.zeros(T, n), torch.randn(n, generator=g)
    ratio = (pi - mu).exp()
    _, _, rho = vtrace(mu, pi, r, v, d, last, 0.99, rho_bar=0.7, c_bar=0.7)
    assert torch.allclose(rho, ratio.clamp(max=0.7))
    assert (ratio > 0.7).any() and (ratio < 0.7).any()
    vs_small, _, _ = vtrace(mu, pi, r, v, d, last, 0.99, rho_bar=1e-6, c_bar=1e-6)
    assert torch.allclose(vs_small, v, atol=1e-4)  # no correction at all: the targets are V itself


# --------------------------------------------------------------------------- the learner


def impala_cfg(**kw) -> TrainConfig:
    base = dict(env="gym:CartPole-v1", algo="impala", steps=4000, seed=3, actors=0, eval_episodes=0,
                impala=ImpalaConfig(num_envs=4, num_steps=16, log_every=1000))
    base.update(kw)
    return TrainConfig(**base)


def test_impala_in_process_is_reproducible_and_learns_from_stale_weights():
    a, b = make_trainer(impala_cfg()), make_trainer(impala_cfg())
    try:
        rows = a.advance(3000)
        b.advance(3000)
        for (k, x), y in zip(a.agent.state_dict().items(), b.agent.state_dict().values()):
            assert torch.equal(x, y), k
        assert rows[-1]["impala/policy_lag"] == 0 and rows[-1]["impala/rho_mean"] == pytest.approx(1.0)
        assert math.isfinite(rows[-1]["losses/value_loss"])
        # a rollout acted by weights one update old: importance weights ≠ 1, and ρ̄ truncates them
        ro = a.pool.next()["rollout"]
        a.learn(ro, 1e-2)
        out, _ = a._forward(ro)
        T, n = ro.shape
        target = torch.log_softmax(out.logits.detach(), -1).gather(-1, ro.actions.reshape(-1, 1)).view(T, n)
        ratio = (target - ro.logp).exp()
        assert not torch.allclose(ratio, torch.ones_like(ratio))
        rho_bar = float(ratio.median())
        _, _, rho = vtrace(ro.logp, target, ro.rewards, out.value.detach().view(T, n), ro.done,
                           torch.zeros(n), 0.99, rho_bar=rho_bar)
        assert float(rho.max()) == pytest.approx(rho_bar) and (ratio > rho_bar).any()
    finally:
        a.close()
        b.close()


def test_impala_checkpoint_resume(tmp_path):
    a = make_trainer(impala_cfg())
    a.advance(2000)
    state = a.state_dict()
    b = make_trainer(impala_cfg())
    b.load_state_dict(state)
    assert b.frames == a.frames and b.updates == a.updates
    for x, y in zip(a.agent.state_dict().values(), b.agent.state_dict().values()):
        assert torch.equal(x, y)
    rows = b.advance(1000)
    assert b.frames > a.frames and rows[-1]["frames"] == b.frames
    a.close()
    b.close()


def test_impala_config_rules():
    with pytest.raises(ConfigError, match="--impala.num-steps must be ≥ 1"):
        validate(impala_cfg(impala=ImpalaConfig(num_steps=0)))
    with pytest.raises(ConfigError, match="--actors must be ≥ 0"):
        validate(impala_cfg(actors=-1))
    with pytest.raises(ConfigError, match="--address places actors"):
        validate(impala_cfg(address="127.0.0.1:1"))
    with pytest.raises(ConfigError, match="recurrent students of a task set"):
        validate(impala_cfg(env="minatar:breakout,minatar:asterix", net=NetConfig(lstm=8)))
    with pytest.raises(ConfigError, match="whole environments"):
        validate(TrainConfig(env="gym:CartPole-v1", net=NetConfig(lstm=8),
                             ppo=__import__("distillrl").algos.PPOConfig(num_envs=6, num_minibatches=4)))


@pytest.mark.slow
def test_ray_actors_lag_replacement_and_fixed_order(ray_local):
    """Two Ray actors: stale weights (lag ≥ 1, ratios ≠ 1); an actor killed mid-run is replaced
    and the learner carries on; the fixed order makes two runs with one seed identical."""
    import ray

    cfg = impala_cfg(actors=2, steps=20_000, impala=ImpalaConfig(num_envs=4, num_steps=16, log_every=1500,
                                                                  actor_cpus=0.5))
    a = make_trainer(cfg)
    try:
        rows = a.advance(3000)
        assert rows[-1]["impala/policy_lag"] >= 1 and rows[-1]["impala/rho_mean"] != 1.0
        assert a.pool.nodes and sum(a.pool.nodes.values()) == 2
        ray.kill(a.pool.actors[0])
        rows = a.advance(3000)
        assert rows[-1]["impala/actor_restarts"] == 1
        assert all(math.isfinite(r["losses/pg_loss"]) for r in rows)
        assert a.state_dict()["algo_state"]["actor_restarts"] == 1
    finally:
        a.close()
    b, c = make_trainer(cfg), make_trainer(cfg)
    try:
        b.advance(2000)
        c.advance(2000)
        for x, y in zip(b.agent.state_dict().values(), c.agent.state_dict().values()):
            assert torch.equal(x, y)
    finally:
        b.close()
        c.close()


# --------------------------------------------------------------------------- recurrent agents


def lstm_trainer(algo="ppo", **kw):
    from distillrl.algos import PPOConfig

    cfg = TrainConfig(env="gym:CartPole-v1?keep=0+2", algo=algo, steps=5000, seed=2, eval_episodes=0, actors=0,
                      net=NetConfig(lstm=16), ppo=PPOConfig(num_envs=4, num_steps=32, num_minibatches=2),
                      impala=ImpalaConfig(num_envs=4, num_steps=16, log_every=500), **kw)
    return make_trainer(cfg)


def test_lstm_state_resets_at_episode_ends_and_rollouts_replay_it():
    """The acting state is zero where an episode starts; re-running the agent over a rollout
    from ``state0`` with its ``starts`` reproduces the logits the actor acted on — so the
    state was carried step to step and reset exactly at episode boundaries."""
    tr = lstm_trainer()
    try:
        ro = tr.collect_rollout()
        assert ro.done.sum() > 0, "the rollout should cross episode ends"
        assert torch.equal(ro.starts[1:], ro.done[:-1]) and bool((ro.starts[0] == 1).all())
        ended = ro.done[-1].bool().numpy()
        assert np.all(tr.policy.h[ended] == 0) and np.all(tr.policy.h[~ended] != 0)
        with torch.no_grad():
            out = tr.agent.forward_seq(ro.obs, ro.task_id, ro.state0, ro.starts)
        assert torch.allclose(out.logits, ro.logits.reshape(-1, ro.logits.shape[-1]), atol=1e-5)
        # and the state differs from a feed-forward reading (it matters): zero state everywhere differs
        with torch.no_grad():
            flat = tr.agent(ro.obs.reshape(-1, 2))
        assert not torch.allclose(flat.logits, out.logits, atol=1e-5)
    finally:
        tr.close()


def test_lstm_ppo_minibatches_keep_sequences_whole():
    tr = lstm_trainer()
    try:
        ro = tr.collect_rollout()
        from distillrl.core.gae import estimate_gae

        estimate_gae(ro, 0.99, 0.95)
        batch = ro.flatten()
        seen = []
        for mb, out in tr._minibatches(ro, batch):
            cols = [int(i) for i in range(ro.shape[1]) if torch.equal(mb.obs[0], ro.obs[0, i])]
            assert len(mb) == ro.shape[0] * 2 and out.logits.shape[0] == len(mb)
            k = len(mb) // ro.shape[0]
            seq = mb.obs.view(ro.shape[0], k, -1)
            for j in range(k):  # each column of the minibatch is one env's whole rollout, in time order
                match = [i for i in range(ro.shape[1]) if torch.equal(seq[:, j], ro.obs[:, i])]
                assert match
                seen += match[:1]
            assert cols
        assert sorted(seen) == list(range(ro.shape[1]))
        rows = tr.advance(500)
        assert math.isfinite(rows[-1]["losses/pg_loss"])
    finally:
        tr.close()


def test_lstm_survives_checkpoint_resume():
    for algo in ("ppo", "impala"):
        a = lstm_trainer(algo)
        a.advance(600)
        b = lstm_trainer(algo)
        b.load_state_dict(a.state_dict())
        x = torch.randn(3, 2)
        st = a.agent.initial_state(3)
        st = (st[0] + 0.3, st[1] - 0.2)
        with torch.no_grad():
            oa, ob = a.agent(x, state=st), b.agent(x, state=st)
        assert torch.equal(oa.logits, ob.logits) and torch.equal(oa.state[0], ob.state[0])
        assert np.all(b.policy.h == 0)  # environments restart on resume: so does the acting state
        b.advance(600)
        a.close()
        b.close()


def test_numpy_lstm_mirror_matches_torch():
    from distillrl.envs.make import env_info
    from distillrl.models.fastpolicy import NumpyPolicy
    from distillrl.models.agent import Agent

    for spec in ("minatar:breakout", "gym:CartPole-v1"):
        info = env_info(spec)
        agent = Agent(info, NetConfig(lstm=12), generator=torch.Generator().manual_seed(0))
        pol = NumpyPolicy(agent)
        rng = np.random.default_rng(0)
        obs = (rng.random((4, 5) + info.obs_shape) > 0.5).astype(np.float32)
        pol.reset(np.ones(5, bool))
        state = agent.initial_state(5)
        for t in range(4):
            logits, value = pol(obs[t])
            with torch.no_grad():
                out = agent(torch.from_numpy(obs[t]), state=state)
            state = out.state
            assert np.allclose(logits, out.logits.numpy(), atol=1e-5)
            assert np.allclose(value, out.value.numpy(), atol=1e-5)
            assert np.allclose(pol.h, state[0].numpy(), atol=1e-5)


def test_recurrent_teacher_carries_its_state_across_rollouts():
    """A recurrent teacher labels each rollout as a sequence, continuing from where the same
    actor's previous rollout left it: two rollouts labelled in turn equal one long sequence."""
    from distillrl.terms.kickstart import KickstartTerm
    from distillrl.models.agent import Agent
    from distillrl.core.schedules import LambdaSchedule
    from distillrl.teachers.base import AgentTeacher

    student = lstm_trainer()
    try:
        t_agent = Agent(student.info, NetConfig(lstm=8), generator=torch.Generator().manual_seed(5))
        teacher = AgentTeacher(t_agent, "lstm-teacher")
        assert teacher.recurrent
        term = KickstartTerm(teacher, LambdaSchedule("constant"))
        r1, r2 = student.collect_rollout(), student.collect_rollout()
        term.on_rollout(r1)
        term.on_rollout(r2)
        obs, starts = torch.cat([r1.obs, r2.obs]), torch.cat([r1.starts, r2.starts])
        with torch.no_grad():
            full = t_agent.forward_seq(obs, torch.zeros(obs.shape[:2], dtype=torch.long), t_agent.initial_state(4),
                                       starts)
        p = torch.softmax(full.logits, -1).view(obs.shape[0], 4, -1)
        assert torch.allclose(r2.extras["p_ks0"], p[r1.shape[0]:], atol=1e-6)
        assert torch.allclose(r1.extras["p_ks0"], p[: r1.shape[0]], atol=1e-6)
    finally:
        student.close()


@pytest.mark.slow
def test_cli_impala_train_kickstart_and_recurrent_teacher(cli, tmp_path):
    """Through the CLI: an LSTM PPO teacher, an IMPALA run on two Ray actors, and an IMPALA
    student kickstarted by the recurrent teacher (in-process actor); a bad option is one line."""
    env = "gym:CartPole-v1?keep=0+2"
    t = tmp_path / "teacher"
    cli("train", "--env", env, "--net.lstm", "16", "--steps", "3000", "--run-dir", t, "--no-progress",
        "--eval-episodes", "2", check=True)
    r = tmp_path / "impala"
    cli("train", "--env", "gym:CartPole-v1", "--algo", "impala", "--actors", "2", "--impala.actor-cpus", "0.5",
        "--steps", "6000", "--impala.log-every", "2000", "--run-dir", r, "--no-progress", "--eval-episodes", "2",
        check=True)
    import csv
    import json

    rows = list(csv.DictReader(open(r / "metrics.csv")))
    assert float(rows[-1]["frames"]) >= 6000 and float(rows[-1]["impala/policy_lag"]) >= 1
    assert json.loads((r / "summary.json").read_text())["episodes"] == 2
    k = tmp_path / "ks"
    cli("kickstart", "--env", env, "--algo", "impala", "--actors", "0", "--net.lstm", "16", "--teacher", t,
        "--steps", "3000", "--impala.log-every", "1000", "--run-dir", k, "--no-progress", "--eval-episodes", "2",
        check=True)
    rows = list(csv.DictReader(open(k / "metrics.csv")))
    assert "losses/ks0_loss" in rows[-1] and float(rows[-1]["losses/ks0_loss"]) > 0
    bad = cli("train", "--env", "gym:CartPole-v1", "--algo", "impala", "--impala.rho-bar", "0", "--run-dir",
              tmp_path / "bad")
    assert bad.returncode != 0 and bad.stderr.strip().count("\n") == 0 and "--impala.rho-bar must be > 0" in bad.stderr


def test_recurrent_evaluation_carries_state_per_slot():
    """``evaluate`` with a recurrent agent plays each episode with the state carried from step
    to step and reset at the episode's start: the same returns as playing the episodes one by
    one by hand (greedy), however the slots interleave."""
    import gymnasium as gym  # noqa: F401

    from distillrl.envs.make import make_env_fn
    from distillrl.acting.evaluate import evaluate
    from distillrl.acting.policies import logits_fn

    tr = lstm_trainer()
    try:
        tr.advance(1000)
        got, _ = evaluate(logits_fn(tr.policy), tr.cfg.env, 6, seed=50, num_envs=3)
        pol = logits_fn(tr.policy)
        want = []
        for ep in range(6):
            env = make_env_fn(tr.cfg.env)()
            obs, _ = env.reset(seed=50 + ep)
            pol.reset(np.ones(1, bool))
            total, done = 0.0, False
            while not done:
                a = int(pol(obs[None], np.array([0])).argmax())
                obs, r, te, trn, _ = env.step(a)
                total += r
                done = te or trn
            want.append(total)
        assert got.tolist() == want
        assert np.all(tr.policy.h is not None)  # the training policy's own state was not touched
    finally:
        tr.close()
