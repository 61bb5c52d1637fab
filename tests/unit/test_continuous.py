"""Continuous actions: the diagonal Gaussian (and the squashed one) against hand values, the
losses through it, observation / reward normalisation, and the agent's Gaussian head."""

import math

import numpy as np
import pytest
import torch

from distillrl.core import losses as L
from distillrl.core.distributions import DiagGaussian, SquashedGaussian, dist_for_space
from distillrl.core.reward_scale import RewardScaler
from distillrl.envs.make import EnvInfo
from distillrl.errors import ConfigError
from distillrl.models.agent import Agent
from distillrl.models.fastpolicy import NumpyPolicy, TorchPolicy, agent_weights
from distillrl.models.nets import NetConfig
from distillrl.models.normalize import RunningNorm

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)  # 0.918939


def params(mu, std):
    mu, std = torch.tensor([mu], dtype=torch.float64), torch.tensor([std], dtype=torch.float64)
    return torch.cat([mu, std.log()], -1)


def test_gaussian_against_hand_values():
    t = params([0.0], [1.0])  # teacher N(0, 1)
    s = params([1.0], [2.0])  # student N(1, 4)
    # KL(N(0,1) ‖ N(1,4)) = log 2 + (1 + 1)/8 − 1/2
    assert L.kl(s, t, 1.0, dist=DiagGaussian).item() == pytest.approx(math.log(2) + 0.25 - 0.5, abs=1e-9)
    # reverse: KL(N(1,4) ‖ N(0,1)) = log(1/2) + (4 + 1)/2 − 1/2
    assert L.reverse_kl(s, t, dist=DiagGaussian).item() == pytest.approx(-math.log(2) + 2.5 - 0.5, abs=1e-9)
    # cross-entropy H(T, S) = H(T) + KL(T ‖ S) = (1/2 + ½ log 2π) + KL
    ce = 0.5 + HALF_LOG_2PI + math.log(2) + 0.25 - 0.5
    assert L.cross_entropy(s, t, dist=DiagGaussian).item() == pytest.approx(ce, abs=1e-9)
    # NLL of the teacher's action (its mean 0) under N(1, 4): ½·(1/2)² + log 2 + ½ log 2π
    assert L.nll(s, t, dist=DiagGaussian).item() == pytest.approx(0.125 + math.log(2) + HALF_LOG_2PI, abs=1e-9)
    # MSE on means, summed over dims
    two_s, two_t = params([1.0, 1.0], [1.0, 1.0]), params([0.0, 3.0], [5.0, 5.0])
    assert L.action_mse(two_s, two_t, dist=DiagGaussian).item() == pytest.approx(5.0)
    # identical distributions: zero KL both ways
    assert L.kl(t, t, 1.0, dist=DiagGaussian).item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="continuous"):
        L.action_mse(torch.zeros(1, 3), torch.zeros(1, 3))


def test_gaussian_log_prob_entropy_and_temperature():
    d = DiagGaussian(params([0.5, -1.0], [2.0, 0.5]))
    a = torch.tensor([[1.5, -1.0]], dtype=torch.float64)
    # dim 1: z = 0.5 → −0.125 − log 2 − ½log2π; dim 2: z = 0 → −log 0.5 − ½log2π
    want = (-0.125 - math.log(2) - HALF_LOG_2PI) + (math.log(2) - HALF_LOG_2PI)
    assert d.log_prob(a).item() == pytest.approx(want, abs=1e-9)
    assert d.entropy().item() == pytest.approx(2 * (0.5 + HALF_LOG_2PI) + math.log(2) + math.log(0.5), abs=1e-9)
    hot = DiagGaussian.from_teacher(params([0.5], [1.0]), tau=3.0)  # τ scales σ
    assert hot.std.item() == pytest.approx(3.0)
    assert torch.equal(d.mode(), d.mean)


def test_gaussian_numpy_side_matches_torch():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.normal(size=(5, 3)), rng.normal(size=(5, 3)) * 0.3], 1).astype(np.float32)
    a = rng.normal(size=(5, 3)).astype(np.float32)
    got = DiagGaussian.np_log_prob(p, a)
    want = DiagGaussian(torch.from_numpy(p)).log_prob(torch.from_numpy(a)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    noise = DiagGaussian.np_noise(rng, (5, 6))
    assert noise.shape == (5, 3)
    np.testing.assert_allclose(DiagGaussian.np_sample(p, noise=noise), p[:, :3] + np.exp(p[:, 3:]) * noise, rtol=1e-6)
    np.testing.assert_array_equal(DiagGaussian.np_mode(p), p[:, :3])


def test_squashed_gaussian_log_prob_correction():
    # u ~ N(0, 1), a = tanh(u) on [−1, 1]: log π(a) = log N(u) − log(1 − tanh² u); u = 0.5
    d = SquashedGaussian(params([0.0], [1.0]).float(), [-1.0], [1.0])
    a = torch.tanh(torch.tensor([[0.5]]))
    want = (-0.125 - HALF_LOG_2PI) - math.log(1 - math.tanh(0.5) ** 2)
    assert d.log_prob(a).item() == pytest.approx(want, abs=1e-4)
    assert d.log_prob_pre_squash(torch.tensor([[0.5]])).item() == pytest.approx(want, abs=1e-5)
    # rescaled to [−2, 2]: a = 2·tanh(u), the Jacobian gains log 2
    d2 = SquashedGaussian(params([0.0], [1.0]).float(), [-2.0], [2.0])
    assert d2.log_prob(2 * a).item() == pytest.approx(want - math.log(2), abs=1e-4)
    # the density integrates to 1 over the bounds
    xs = torch.linspace(-2 + 1e-4, 2 - 1e-4, 40_001, dtype=torch.float64)[:, None]
    assert float(d2.log_prob(xs).exp().sum() * (xs[1] - xs[0])) == pytest.approx(1.0, abs=3e-3)
    g = d2.as_gaussian()  # the Gaussian a student is distilled towards: mean 2·tanh(0), σ = 2·1·1
    assert g.mean.item() == pytest.approx(0.0, abs=1e-6) and g.std.item() == pytest.approx(2.0, rel=1e-5)


def test_dist_for_space_picks_the_gaussian_for_boxes():
    from gymnasium import spaces
    assert dist_for_space(spaces.Box(-1, 1, (3,))) is DiagGaussian
    assert DiagGaussian.param_size(spaces.Box(-1, 1, (3,))) == 6
    with pytest.raises(ConfigError, match="no action distribution"):
        dist_for_space(spaces.Box(-1, 1, (2, 2)))


def test_running_norm_merges_batches_exactly():
    rng = np.random.default_rng(1)
    xs = [rng.normal(3.0, 2.0, size=(n, 4)) for n in (7, 50, 1)]
    rn = RunningNorm((4,))
    for x in xs:
        rn.update(x)
    allx = np.concatenate(xs)
    # SB3's RunningMeanStd starts from count ε = 1e-4 with mean 0, var 1: the same merge by hand
    c0, n = 1e-4, len(allx)
    mean = allx.mean(0) * n / (c0 + n)
    m2 = 1.0 * c0 + allx.var(0) * n + allx.mean(0) ** 2 * c0 * n / (c0 + n)
    np.testing.assert_allclose(rn.mean.numpy(), mean, rtol=1e-9)
    np.testing.assert_allclose(rn.var.numpy(), m2 / (c0 + n), rtol=1e-9)
    y = rn(torch.from_numpy(allx).float())
    assert float(y.abs().max()) <= rn.clip


def test_reward_scaler_by_hand():
    rs = RewardScaler(1, gamma=0.5, clip=10.0)
    out = rs.scale(np.array([[1.0], [1.0], [2.0]]), np.array([[0.0], [1.0], [0.0]]))
    # returns G: 1, 1.5 (episode ends after it), then 2; variance merged from count ε = 1e-4
    c, m, v = 1e-4, 0.0, 1.0
    want = []
    for g, r in ((1.0, 1.0), (1.5, 1.0), (2.0, 2.0)):
        tot = c + 1
        d = g - m
        v = (v * c + d * d * c / tot) / tot
        m += d / tot
        c = tot
        want.append(r / math.sqrt(v + 1e-8))
    np.testing.assert_allclose(out[:, 0], np.clip(want, -10, 10), rtol=1e-6)


def test_reward_scaler_keeps_statistics_per_task():
    """Two tasks (envs 0, 2 → task 0; env 1 → task 1) with rewards 100× apart: each task's
    rewards are divided by its own return std, computed by hand as above per task."""
    rs = RewardScaler(3, gamma=0.5, clip=1e9, groups=np.array([0, 1, 0]))
    r = np.array([[1.0, 100.0, 3.0], [2.0, 200.0, 1.0]])
    out = rs.scale(r, np.zeros_like(r))
    def by_hand(cols):
        c, m, v, want = 1e-4, 0.0, 1.0, []
        g = np.zeros(len(cols))
        for t in range(2):
            g = 0.5 * g + r[t, cols]
            n, bm, bv = len(cols), g.mean(), g.var()
            tot = c + n
            d = bm - m
            v = (v * c + bv * n + d * d * c * n / tot) / tot
            m += d * n / tot
            c = tot
            want.append(r[t, cols] / math.sqrt(v + 1e-8))
        return np.array(want)
    np.testing.assert_allclose(out[:, [0, 2]], by_hand([0, 2]), rtol=1e-6)
    np.testing.assert_allclose(out[:, [1]], by_hand([1]), rtol=1e-6)
    assert abs(out[1, 1]) < 10 * abs(out[1, [0, 2]]).max()  # after one step no longer 100× apart
    # a one-group checkpoint of before (scalars) loads into a one-group scaler
    one = RewardScaler(1, 0.9)
    one.load_state_dict({"ret": [0.5], "mean": 0.1, "var": 2.0, "count": 7.0})
    assert one.var.tolist() == [2.0]
    with pytest.raises(ValueError, match="groups"):
        rs.load_state_dict(one.state_dict())


def _info():
    return EnvInfo("gym:Pendulum-v1", (3,), "flat", 1.0, 2, action_low=(-2.0, -1.0), action_high=(2.0, 1.0))


def test_agent_gaussian_head_and_numpy_mirror_with_obs_norm():
    agent = Agent(_info(), NetConfig(obs_norm=True, log_std_init=-0.5), generator=torch.Generator().manual_seed(0))
    assert agent.dist is DiagGaussian and agent.head_size == 4
    agent.update_obs_norm(torch.randn(64, 3) * 5 + 2)
    obs = (np.random.default_rng(0).normal(size=(6, 3)) * 5).astype(np.float32)
    with torch.no_grad():
        out = agent(torch.from_numpy(obs))
    assert out.logits.shape == (6, 4)
    np.testing.assert_allclose(out.logits[:, 2:].numpy(), -0.5)
    for pol in (NumpyPolicy(agent), TorchPolicy(agent)):
        logits, value = pol(obs)
        np.testing.assert_allclose(logits, out.logits.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(value, out.value.numpy(), rtol=1e-4, atol=1e-5)
    # the statistics travel with the weights and the checkpoint
    assert "obs_norm.mean" in agent_weights(agent) and "obs_norm.mean" in agent.state_dict()
    clone = Agent.from_spec(agent.spec())
    clone.load_state_dict(agent.state_dict())
    assert clone.info.action_low == (-2.0, -1.0) and clone.info.action_high == (2.0, 1.0)
    with torch.no_grad():
        assert torch.equal(clone(torch.from_numpy(obs)).logits, out.logits)


def test_q_heads_need_discrete_actions():
    with pytest.raises(ConfigError, match="discrete actions"):
        Agent(_info(), NetConfig(), q_head=True)


def test_observation_group_options():
    from distillrl.envs.make import env_info, make_env_fn, parse_indices
    from distillrl.errors import EnvError

    assert parse_indices("0-2+5").tolist() == [0, 1, 2, 5]
    info = env_info("gym:Pendulum-v1?group.angle=0-1&group.vel=2")
    assert dict(info.groups) == {"angle": (2,), "vel": (1,)} and info.continuous
    info = env_info("gym:CartPole-v1?group.pos=0+2")  # unlisted indices form a group `rest`
    assert dict(info.groups) == {"pos": (2,), "rest": (2,)}
    env = make_env_fn("gym:CartPole-v1?group.pos=0+2")()
    raw = make_env_fn("gym:CartPole-v1")()
    o, _ = env.reset(seed=3)
    r, _ = raw.reset(seed=3)
    np.testing.assert_array_equal(o, np.concatenate([r[[0, 2]], r[[1, 3]]]))
    for bad, words in (("gym:CartPole-v1?group.pos=0+9", "out of range"), ("gym:CartPole-v1?group.a=0&group.b=0", "two groups"),
                       ("gym:CartPole-v1?group.a=x", "indices"), ("gym:CartPole-v1?group.1a=0", "identifier")):
        with pytest.raises(EnvError, match=words):
            env_info(bad)


def test_minigrid_both_views_are_two_groups():
    pytest.importorskip("minigrid")
    from distillrl.envs.make import env_info

    info = env_info("minigrid:MiniGrid-DoorKey-5x5-v0?view=both")
    assert dict(info.groups) == {"agent": (7, 7, 3), "full": (5, 5, 3)}


def test_cleanrl_ppo_continuous_state_dict_teacher_with_its_obs_statistics(tmp_path):
    """CleanRL's ppo_continuous_action Agent (actor_mean 0/2/4, actor_logstd), saved as CleanRL
    saves it, with its NormalizeObservation statistics in obs_rms.npz beside it."""
    from torch import nn

    from distillrl.envs.make import env_info
    from distillrl.errors import TeacherError
    from distillrl.teachers.load import load_teacher

    torch.manual_seed(0)
    actor = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
    sd = {f"actor_mean.{k}": v for k, v in actor.state_dict().items()}
    sd["actor_logstd"] = torch.full((1, 1), -0.7)
    sd["critic.0.weight"] = torch.zeros(8, 3)
    torch.save(sd, tmp_path / "agent.cleanrl_model")
    mean, var = np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0, 3.0])
    np.savez(tmp_path / "obs_rms.npz", mean=mean, var=var, clip_obs=10.0)
    t = load_teacher(str(tmp_path / "agent.cleanrl_model"), env_info("gym:Pendulum-v1"), arch="cleanrl-ppo-continuous")
    obs = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    x = torch.from_numpy(((obs - mean) / np.sqrt(var + 1e-8)).astype(np.float32))
    out = t.outputs(obs)
    with torch.no_grad():
        np.testing.assert_allclose(out[:, :1].numpy(), actor(x).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[:, 1:].numpy(), -0.7)
    assert t.describe_actions() == "1-dimensional continuous actions in [-2, 2]"
    with pytest.raises(TeacherError, match="continuous actions but gym:CartPole-v1 has 2 discrete"):
        load_teacher(str(tmp_path / "agent.cleanrl_model"), env_info("gym:CartPole-v1"), arch="cleanrl-ppo-continuous")


def test_random_baseline_is_uniform_in_the_bounds_and_seeded():
    from distillrl.acting.evaluate import evaluate_random

    r1, l1 = evaluate_random("gym:Pendulum-v1", 2, seed=5)
    r2, _ = evaluate_random("gym:Pendulum-v1", 2, seed=5)
    np.testing.assert_array_equal(r1, r2)
    assert (l1 == 200).all() and (r1 < -500).all()  # a random pendulum hangs and spins


def test_ppo_on_a_box_saves_resumes_and_applies_its_normalisation():
    """Observation statistics and the reward scaler's state are part of the trainer's state: a
    trainer restored from it holds exactly the same statistics, acts with them (NumPy mirror =
    torch agent) and carries on; two runs from one seed are identical."""
    from distillrl.algos import TrainConfig, make_trainer
    from distillrl.algos.ppo import PPOConfig

    def make(seed=0):
        cfg = TrainConfig(env="gym:Pendulum-v1", algo="ppo", steps=10_000, seed=seed,
                          net=NetConfig(hidden=(16,), obs_norm=True),
                          ppo=PPOConfig(num_envs=2, num_steps=64, num_minibatches=2, update_epochs=2,
                                        norm_reward=True))
        return make_trainer(cfg)

    a, b = make(), make()
    a.advance(256)
    b.advance(256)
    for (k, x), (_, y) in zip(a.agent.state_dict().items(), b.agent.state_dict().items()):
        assert torch.equal(x, y), k  # same seed, same result
    assert float(a.agent.obs_norm.count) > 256 and not torch.allclose(a.agent.obs_norm.mean, torch.zeros(3, dtype=torch.float64))
    state = a.state_dict()
    c = make(seed=1)
    c.load_state_dict(state)
    for k in ("mean", "var", "count"):
        assert torch.equal(getattr(c.agent.obs_norm, k), getattr(a.agent.obs_norm, k))
    assert c.reward_scaler.state_dict() == a.reward_scaler.state_dict()
    obs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32) * 4
    with torch.no_grad():
        want = c.agent(torch.from_numpy(obs)).logits.numpy()
    np.testing.assert_allclose(c.policy(obs)[0], want, rtol=1e-4, atol=1e-5)  # the acting copy applies them
    rows = c.advance(128)
    assert rows and float(c.agent.obs_norm.count) > float(a.agent.obs_norm.count)
