"""PQN: Q(λ) returns by hand, LayerNorm mirrored in NumPy, the learner's contracts (resume,
ε schedule, config rules), and a PQN Q-teacher distilled with each of Rusu's losses through the CLI."""

import json

import numpy as np
import pytest
import torch

from distillrl.algos import TrainConfig, make_trainer
from distillrl.errors import ConfigError
from distillrl.envs.make import env_info
from distillrl.models.fastpolicy import NumpyPolicy, make_fast_policy
from distillrl.models.agent import Agent
from distillrl.models.nets import NetConfig
from distillrl.core.returns import q_lambda

CP = "gym:CartPole-v1"


def test_q_lambda_by_hand():
    # T=3, one env, no episode end; q_next = max_a Q(x_{t+1}) = [1, 2, 4]; γ = 0.5, λ = 0.5.
    r = torch.tensor([[1.0], [0.0], [2.0]])
    qn = torch.tensor([[1.0], [2.0], [4.0]])
    g = q_lambda(r, qn, torch.zeros(3, 1), gamma=0.5, lam=0.5)
    g2 = 2 + 0.5 * 4  # = 4 (bootstrapped from Q(x_T) with both weights)
    g1 = 0 + 0.5 * (0.5 * 2 + 0.5 * g2)  # = 1.5
    g0 = 1 + 0.5 * (0.5 * 1 + 0.5 * g1)  # = 1.625
    assert g[:, 0].tolist() == pytest.approx([g0, g1, g2])


def test_q_lambda_limits_and_episode_end():
    r = torch.tensor([[1.0, 1.0], [3.0, 1.0]])
    qn = torch.tensor([[10.0, 5.0], [7.0, 5.0]])
    d = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    one_step = q_lambda(r, qn, d, gamma=0.9, lam=0.0)
    np.testing.assert_allclose(one_step.numpy(), [[1.0, 1 + 0.9 * 5], [3 + 0.9 * 7, 1 + 0.9 * 5]], rtol=1e-6)
    mc = q_lambda(r, qn, d, gamma=0.9, lam=1.0)  # env 0 ends after t=0: nothing crosses it
    np.testing.assert_allclose(mc.numpy(), [[1.0, 1 + 0.9 * (1 + 0.9 * 5)], [3 + 0.9 * 7, 1 + 0.9 * 5]], rtol=1e-6)


@pytest.mark.parametrize("env,net", [("minatar:breakout", NetConfig(norm="layer")),
                                     (CP, NetConfig(norm="layer", hidden=(32, 16), shared=True, activation="relu"))])
def test_layer_norm_agents_are_mirrored_in_numpy(env, net):
    info = env_info(env)
    agent = Agent(info, net, value_head=False, q_head=True, policy_head=False, generator=torch.Generator().manual_seed(0))
    assert any(isinstance(m, torch.nn.LayerNorm) for m in agent.modules())
    with torch.no_grad():  # non-trivial affine parameters
        for m in agent.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(1))
                m.bias.uniform_(-0.3, 0.3, generator=torch.Generator().manual_seed(2))
    pol = make_fast_policy(agent, "numpy")
    assert isinstance(pol, NumpyPolicy)
    rng = np.random.default_rng(0)
    obs = (rng.random((7,) + info.obs_shape) > 0.7).astype(np.float32) if env != CP else \
        rng.normal(size=(7, 4)).astype(np.float32)
    with torch.no_grad():
        want = agent(torch.from_numpy(obs)).q.numpy()
    np.testing.assert_allclose(pol.q_values(obs), want, rtol=1e-4, atol=1e-5)


def test_norm_is_refused_on_trunks_without_it():
    info = env_info("minatar:breakout")
    with pytest.raises(ConfigError, match="norm"):
        Agent(info, NetConfig(arch="nature", norm="layer"))


def _cfg(seed=1, steps=4096):
    cfg = TrainConfig(env=CP, algo="pqn", steps=steps, seed=seed, net=NetConfig(hidden=(32,)))
    cfg.pqn.num_envs, cfg.pqn.num_steps, cfg.pqn.num_minibatches = 8, 16, 4
    return cfg


def test_pqn_uses_layer_norm_by_default_and_decays_epsilon():
    tr = make_trainer(_cfg())
    assert tr.agent.cfg.norm == "layer" and tr.agent.q is not None and tr.agent.pi is None
    eps = [r["charts/epsilon"] for r in tr.advance(4096)]
    assert eps[0] == 1.0 and eps[-1] == pytest.approx(0.05)  # decayed over the first 10% of the run
    assert all(a >= b for a, b in zip(eps, eps[1:]))
    off = _cfg()
    off.net.norm = "none"
    assert not any(isinstance(m, torch.nn.LayerNorm) for m in make_trainer(off).agent.modules())


def test_pqn_resume_continues_identically():
    a = make_trainer(_cfg(seed=3))
    a.advance(256)
    state = a.state_dict()
    b, c = make_trainer(_cfg(seed=3)), make_trainer(_cfg(seed=3))
    b.load_state_dict(state)
    c.load_state_dict(state)
    for x in (b, c):
        assert all(torch.equal(p, q) for p, q in zip(x.agent.parameters(), a.agent.parameters()))
    rows_b, rows_c = b.advance(512), c.advance(512)
    assert [r["losses/td_loss"] for r in rows_b] == [r["losses/td_loss"] for r in rows_c]
    assert rows_b[-1]["frames"] == 256 + 512 and rows_b[-1]["charts/epsilon"] < 1.0


def test_pqn_config_rules():
    cfg = _cfg()
    cfg.pqn.num_minibatches = 7
    with pytest.raises(ConfigError, match="divisible"):
        make_trainer(cfg)
    cfg = _cfg()
    cfg.pqn.eps_decay = 0.0
    with pytest.raises(ConfigError, match="eps"):
        make_trainer(cfg)


def test_pqn_learns_cartpole():
    cfg = TrainConfig(env=CP, algo="pqn", steps=60_000, seed=1, net=NetConfig(hidden=(64, 64), activation="relu"))
    cfg.pqn.num_envs, cfg.pqn.num_steps, cfg.pqn.num_minibatches = 16, 32, 4
    tr = make_trainer(cfg)
    rows = tr.advance(60_000)
    early = np.nanmean([r["charts/episode_return"] for r in rows[:5]])
    late = rows[-1]["charts/return_recent"]
    assert early < 25 and late > 1.5 * early  # random play lasts ~22 steps; PQN is slow on CartPole (MinAtar: BENCHMARKS)


def test_q_teacher_distilled_with_each_loss_through_the_cli(cli, tmp_path):
    teacher = tmp_path / "qteacher"
    cli("train", "--env", CP, "--algo", "pqn", "--steps", "8192", "--pqn.num-envs", "16", "--pqn.num-steps", "16",
        "--pqn.num-minibatches", "4", "--net.hidden", "32", "--eval-episodes", "0", "--run-dir", teacher, check=True)
    for loss, tau in [("nll", None), ("mse", None), ("kl", "0.01"), ("kl", "0.1"), ("kl", "1")]:
        rd = tmp_path / f"s-{loss}-{tau}"
        args = ["distill", "--env", CP, "--teacher", teacher, "--loss", loss, "--source", "teacher", "--steps", "2048",
                "--eval-episodes", "2", "--run-dir", rd]
        if tau:
            args += ["--tau", tau]
        cli(*args, check=True)
        summary = json.loads((rd / "summary.json").read_text())
        assert summary["loss"] == loss and summary["teacher_kind"] == "q"
        assert summary["tau"] == pytest.approx(float(tau) if tau else 0.01)  # Rusu's default for Q-teachers
    p = cli("train", "--env", CP, "--algo", "pqn", "--pqn.q-lambda", "1.5", "--run-dir", tmp_path / "bad")
    assert p.returncode != 0 and "q-lambda" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_distill_lr_anneals_to_zero_over_the_run():
    from distillrl.algos.distill_config import DistillConfig
    from distillrl.algos.distill import DistillTrainer
    from distillrl.teachers.base import CallableTeacher

    teacher = CallableTeacher(lambda o: np.stack([o[:, 2], -o[:, 2]], -1).astype(np.float32), (4,), 2, outputs="q")
    cfg = DistillConfig(env=CP, steps=2048, seed=0, num_envs=4, rollout_steps=16, anneal_lr=True, lr=1e-3,
                        net=NetConfig(hidden=(8,)))
    rows = DistillTrainer(cfg, teacher=teacher).advance(2048)
    lrs = [r["charts/learning_rate"] for r in rows]
    assert lrs[0] == pytest.approx(1e-3) and all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] < 1e-3 * 64 / 2048 + 1e-12
