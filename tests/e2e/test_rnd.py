"""Random network distillation: statistics, the non-episodic intrinsic stream, two value heads."""

import numpy as np
import pytest
import torch

from distillrl.algos import TrainConfig, make_trainer
from distillrl.core.checkpoint import load, save
from distillrl.errors import ConfigError
from distillrl.core.returns import gae
from distillrl.terms.rnd import RNDTerm, forward_filter, normalize_obs, prediction_error

MG = "minigrid:MiniGrid-DoorKey-5x5-v0?view=agent"


def _cfg(env="gym:CartPole-v1", algo="ppo", **kw):
    cfg = TrainConfig(env=env, algo=algo, steps=10_000, rnd=True, **kw)
    cfg.ppo.num_envs, cfg.ppo.num_steps, cfg.ppo.num_minibatches = 4, 16, 2
    cfg.intrinsic.warmup_frames = 64
    return cfg


def _rnd(tr) -> RNDTerm:
    return next(t for t in tr.extra_losses if t.name == "rnd")


def test_forward_filter_hand_values():
    r = np.array([[1.0, 2.0], [3.0, 4.0]])
    out, carry = forward_filter(r, np.array([0.0, 1.0]), 0.5)
    # R_0 = 0.5·carry + r_0 ; R_1 = 0.5·R_0 + r_1
    np.testing.assert_allclose(out, [[1.0, 2.5], [3.5, 5.25]])
    np.testing.assert_allclose(carry, [3.5, 5.25])


def test_normalize_obs_and_clip_hand_values():
    obs = torch.tensor([[0.0, 10.0, 4.0]])
    x = normalize_obs(obs, np.array([1.0, 0.0, 2.0]), np.array([4.0, 1.0, 1.0]), clip=5.0)
    torch.testing.assert_close(x, torch.tensor([[-0.5, 5.0, 2.0]]))  # (0−1)/2, 10 clipped to 5, (4−2)/1
    assert prediction_error(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]])).item() == 5.0


def test_two_value_heads_and_the_extrinsic_gamma():
    tr = make_trainer(_cfg())
    assert tr.agent.v_int is not None and "value_int" in tr.outputs()
    assert tr.hp["gamma"] == 0.999  # γ_ext replaces the learner's γ
    out = tr.agent(torch.zeros(3, 4))
    assert out.value.shape == out.value_int.shape == (3,)
    # without --rnd: no second head, and the agent's weights are exactly those of the same seed before
    cfg = _cfg()
    cfg.rnd = False
    plain = make_trainer(cfg)
    assert plain.agent.v_int is None and plain.hp["gamma"] == cfg.ppo.gamma
    from distillrl.models.agent import Agent

    ref = Agent(plain.info, cfg.net, value_head=True, generator=torch.Generator().manual_seed(cfg.seed))
    assert all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), plain.agent.state_dict().values()))
    # and the RND agent's shared weights are drawn the same way (its extra head comes last)
    shared = {k: v for k, v in tr.agent.state_dict().items() if not k.startswith("v_int")}
    assert all(torch.equal(shared[k], v) for k, v in ref.state_dict().items())


def test_warmup_statistics_match_the_random_steps_by_hand():
    cfg = _cfg(MG)
    tr = make_trainer(cfg)
    term = _rnd(tr)
    term.warmup()
    # replay the same random steps by hand
    envs = tr.taskset.make_vec(16, None)
    rng = np.random.default_rng(cfg.seed + 7_777_779)
    obs, _ = envs.reset(seed=cfg.seed + 7_777_780)
    seen = [obs.copy()]
    while len(seen) * 16 < 64:
        obs, *_ = envs.step(rng.integers(0, tr.info.n_actions, 16))
        seen.append(obs.copy())
    allobs = np.concatenate(seen).astype(np.float64)
    np.testing.assert_allclose(term.obs_rms.mean, allobs.mean(0), rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(term.obs_rms.var, allobs.var(0), rtol=1e-3, atol=1e-3)
    assert term.obs_rms.count == pytest.approx(64, abs=1e-3)


def test_intrinsic_reward_is_divided_by_the_std_of_the_discounted_intrinsic_return():
    tr = make_trainer(_cfg())
    term = _rnd(tr)
    ro = tr.collect_rollout()
    T, n = ro.shape
    nxt = torch.cat([ro.obs[1:], ro.last_obs[None]], 0).reshape(T * n, -1)
    term.warmup()
    # what on_rollout will do, by hand: stats first, then raw errors, forward filter, std
    from gymnasium.wrappers.utils import RunningMeanStd

    obs_rms = RunningMeanStd(shape=(4,))
    obs_rms.mean, obs_rms.var, obs_rms.count = term.obs_rms.mean.copy(), term.obs_rms.var.copy(), term.obs_rms.count
    obs_rms.update(nxt.numpy().astype(np.float64))
    x = normalize_obs(nxt, obs_rms.mean, obs_rms.var, 5.0)
    with torch.no_grad():
        raw = ((term.predictor(x) - term.target(x)) ** 2).sum(-1).view(T, n).double().numpy()
    rets = np.zeros((T, n))
    acc = np.zeros(n)
    for t in range(T):  # R_t = γ_int R_{t−1} + r_t, no resets at episode ends
        acc = 0.99 * acc + raw[t]
        rets[t] = acc
    count = 1e-4  # RunningMeanStd's prior count, mean 0, var 1
    mean = rets.mean() * T * n / (T * n + count)
    var = (1.0 * count + rets.var() * T * n + (rets.mean() ** 2) * count * T * n / (count + T * n)) / (count + T * n)
    term.on_rollout(ro)
    np.testing.assert_allclose(term.ret_rms.mean, mean, rtol=1e-6)
    np.testing.assert_allclose(ro.extras["rnd_reward"].numpy(), raw / np.sqrt(var), rtol=1e-4)


def test_moving_window_return_norm_divides_by_the_first_rollouts_own_std():
    cfg = _cfg()
    cfg.intrinsic.return_norm = "ema"
    tr = make_trainer(cfg)
    term = _rnd(tr)
    ro = tr.collect_rollout()
    term.on_rollout(ro)
    T, n = ro.shape
    nxt = torch.cat([ro.obs[1:], ro.last_obs[None]], 0).reshape(T * n, -1)
    x = normalize_obs(nxt, term.obs_rms.mean, term.obs_rms.var, 5.0)
    with torch.no_grad():
        raw = ((term.predictor(x) - term.target(x)) ** 2).sum(-1).view(T, n).double().numpy()
    rets, _ = forward_filter(raw, np.zeros(n), 0.99)
    # one update of the bias-corrected moving statistics: exactly this rollout's mean and variance
    np.testing.assert_allclose(term.ret_rms.var, rets.var(), rtol=1e-6)
    np.testing.assert_allclose(ro.extras["rnd_reward"].numpy(), raw / rets.std(), rtol=1e-4)


def test_intrinsic_stream_ignores_episode_ends_and_uses_its_own_gamma():
    tr = make_trainer(_cfg())
    term = _rnd(tr)
    ro = tr.collect_rollout()
    T, n = ro.shape
    ro.done[3] = 1.0  # an episode end in every env: the extrinsic stream stops there, the intrinsic does not
    term.on_rollout(ro)
    from distillrl.core.gae import estimate_gae

    estimate_gae(ro, tr.hp["gamma"], tr.hp["gae_lambda"])
    ext = ro.advantages.clone()
    v_int, last_int = term._values
    term.on_advantages(ro)
    r = ro.extras["rnd_reward"]
    want_int = gae(r, v_int, torch.zeros(T, n), last_int, 0.99, tr.hp["gae_lambda"])
    episodic = gae(r, v_int, ro.done, last_int, 0.99, tr.hp["gae_lambda"])
    assert not torch.allclose(want_int, episodic)
    torch.testing.assert_close(ro.advantages, 2.0 * ext + 1.0 * want_int)
    torch.testing.assert_close(ro.extras["rnd_return"], want_int + v_int)
    # the term's own γ_int (not the learner's γ) discounts the intrinsic stream
    term.c.gamma_int = 0.5
    ro.advantages = ext.clone()
    term.on_advantages(ro)
    half = gae(r, v_int, torch.zeros(T, n), last_int, 0.5, tr.hp["gae_lambda"])
    torch.testing.assert_close(ro.extras["rnd_return"], half + v_int)
    assert not torch.allclose(half, want_int)


def test_both_heads_and_the_predictor_learn_and_the_run_resumes_exactly(tmp_path):
    tr = make_trainer(_cfg())
    term = _rnd(tr)
    w_pred = [p.detach().clone() for p in term.predictor.parameters()]
    w_tgt = [p.detach().clone() for p in term.target.parameters()]
    vint = tr.agent.v_int.weight.detach().clone()
    rows = tr.advance(128)
    assert all(not torch.equal(a, b) for a, b in zip(w_pred, term.predictor.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(w_tgt, term.target.parameters()))  # the target is fixed
    assert not torch.equal(vint, tr.agent.v_int.weight)
    assert {"losses/rnd_loss", "losses/value_int_loss", "rnd/intrinsic_reward"} <= set(rows[-1])
    save(tmp_path / "c.safetensors", tr.state_dict())
    a = tr.advance(128)
    tr2 = make_trainer(_cfg())
    tr2.load_state_dict(load(tmp_path / "c.safetensors")[0])
    tr.load_state_dict(load(tmp_path / "c.safetensors")[0])
    b1, b2 = tr.advance(128), tr2.advance(128)
    for k in ("losses/rnd_loss", "losses/value_int_loss", "rnd/intrinsic_reward", "losses/pg_loss"):
        assert b1[-1][k] == b2[-1][k]
    assert a[-1]["frames"] == b1[-1]["frames"] == b2[-1]["frames"]


def test_predictor_loss_falls_on_a_fixed_batch():
    tr = make_trainer(_cfg())
    term = _rnd(tr)
    term.c.update_proportion = 1.0
    x = torch.randn(64, 4)
    opt = torch.optim.Adam(term.predictor.parameters(), lr=1e-3)
    losses = []
    for _ in range(50):
        from distillrl.core.data import Batch

        mb = Batch(obs=torch.zeros(64, 4), actions=torch.zeros(64, dtype=torch.long),
                   task_id=torch.zeros(64, dtype=torch.long), extras={"rnd_obs": x, "rnd_return": torch.zeros(64)})
        loss = term(tr.agent(mb.obs), mb)["loss_rnd"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


def test_rnd_with_impala_in_process():
    cfg = _cfg(algo="impala", actors=0)
    cfg.impala.num_envs, cfg.impala.num_steps, cfg.impala.log_every = 4, 16, 64
    tr = make_trainer(cfg)
    rows = tr.advance(128)
    assert np.isfinite(rows[-1]["losses/value_int_loss"]) and rows[-1]["rnd/intrinsic_reward"] > 0
    tr.close()


def test_rnd_refused_where_it_cannot_work():
    with pytest.raises(ConfigError, match="--rnd needs an on-policy learner"):
        make_trainer(_cfg(algo="dqn"))
    with pytest.raises(ConfigError, match="update-proportion"):
        cfg = _cfg()
        cfg.intrinsic.update_proportion = 0.0
        make_trainer(cfg)


def test_rnd_cli_train_and_kickstart(cli, tmp_path):
    p = cli("train", "--env", "gym:CartPole-v1", "--rnd", "--steps", "512", "--ppo.num-envs", "4",
            "--ppo.num-steps", "32", "--intrinsic.warmup-frames", "64", "--run-dir", tmp_path / "t", "--no-progress",
            "--eval-episodes", "1", check=True)
    assert p.returncode == 0
    p = cli("kickstart", "--env", "gym:CartPole-v1", "--teacher", "cartpole", "--rnd", "--steps", "512",
            "--ppo.num-envs", "4", "--ppo.num-steps", "32", "--run-dir", tmp_path / "k", "--no-progress",
            "--eval-episodes", "1", check=True)
    import csv

    rows = list(csv.DictReader(open(tmp_path / "k" / "metrics.csv")))
    assert "losses/ks0_loss" in rows[-1] and "losses/rnd_loss" in rows[-1]
    # MiniGrid evaluations report the success rate (sampled, MiniGrid's usual protocol)
    import json

    e = cli("eval", "minigrid-doorkey-8x8", "--episodes", "3", "--stochastic", "--json", check=True)
    assert json.loads(e.stdout.strip().splitlines()[-1])["success_rate"] == 1.0
    p = cli("train", "--env", "gym:CartPole-v1", "--rnd", "--intrinsic.gamma-int", "1.5", "--run-dir",
            tmp_path / "bad", "--no-progress")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "gamma-int" in p.stderr
