"""Semantics of the learners and the error boundary, each pinned by a case that once went wrong:
the EER cost, A2C's single epoch, MSE on Q-values, one-line errors for bad input."""

import copy

import numpy as np
import pytest
import torch

from distillrl.algos import TrainConfig, make_trainer
from distillrl.algos.distill_config import LOSSES, DistillConfig
from distillrl.algos.distill import DistillTrainer
from distillrl.errors import ConfigError
from distillrl.models.agent import AgentOutput
from distillrl.models.nets import NetConfig
from distillrl.teachers.base import AgentTeacher, CallableTeacher

CP = "gym:CartPole-v1"


def test_eer_cost_is_the_divergence_not_the_cross_entropy():
    """At a perfect match the per-step cost is 0 — the cross-entropy would still charge H(π_T)."""
    logits = torch.tensor([[0.3, -0.2], [1.0, 0.0]])
    out = AgentOutput(logits, None, None)
    for name in ("kl", "cross_entropy", "reverse_kl"):
        assert LOSSES[name].cost(out, logits, 1.0).abs().max().item() < 1e-6, name
    assert LOSSES["cross_entropy"].fn(out, logits, 1.0).min().item() > 0.5  # the loss itself is H(π_T‖π_S)


def test_eer_rewards_vanish_when_the_student_matches_its_teacher():
    cfg = DistillConfig(env=CP, steps=10_000, source="eer", loss="cross_entropy", num_envs=2, rollout_steps=16,
                        net=NetConfig(hidden=(16,)))
    probe = DistillTrainer(cfg, teacher=CallableTeacher(lambda o: np.zeros((len(o), 2)), (4,), 2))
    twin = copy.deepcopy(probe.agent)
    twin.v = None  # the teacher is the student's own policy
    tr = DistillTrainer(cfg, teacher=AgentTeacher(twin, "twin"))
    tr.agent.load_state_dict(probe.agent.state_dict())
    tr.sync_policy()
    tr._beta = 0.0
    ro = tr.collector.collect(tr._act, tr.np_rng, tr.policy.value)
    batch = tr._eer_batch(ro, tr._labels(ro))
    assert ro.rewards.abs().max().item() < 1e-5  # old EER: −H(π_T) ≈ −0.69 on every step
    assert batch.advantages.shape == (32,)


def test_a2c_is_one_epoch_one_minibatch_whatever_the_settings():
    cfg = TrainConfig(env=CP, algo="a2c", steps=10_000, net=NetConfig(hidden=(16,)))
    cfg.ppo.num_envs, cfg.ppo.num_steps, cfg.ppo.update_epochs, cfg.ppo.num_minibatches = 4, 5, 4, 4
    tr = make_trainer(cfg)
    rows = tr.advance(20)
    assert tr.updates == 1 and "losses/approx_kl" not in rows[-1]


def test_mse_regresses_the_q_values_of_a_q_head():
    qt = CallableTeacher(lambda o: np.stack([o[:, 2] * 10, -o[:, 2] * 10 + 1], -1).astype(np.float32), (4,), 2,
                         outputs="q")
    cfg = DistillConfig(env=CP, steps=6000, source="teacher", loss="mse", lr=3e-3, seed=0, updates_per_round=8,
                        net=NetConfig(hidden=(32,)))
    tr = DistillTrainer(cfg, teacher=qt)
    assert tr.agent.q is not None and tr.agent.pi is None  # a Q student, acting greedily on its q
    rows = tr.advance(6000)
    obs = tr.buffer.sample(500, np.random.default_rng(0))["obs"].numpy()  # states of the teacher's data
    with torch.no_grad():
        q = tr.agent(torch.from_numpy(obs)).q.numpy()
    err = np.abs(q - qt.outputs(obs).numpy()).mean()
    assert err < 0.1 and rows[-1]["losses/distill_loss"] < rows[0]["losses/distill_loss"]
    # a policy teacher cannot be Q-regressed; its logits can, by the explicitly named loss
    pt = CallableTeacher(lambda o: np.zeros((len(o), 2), np.float32), (4,), 2)
    with pytest.raises(ConfigError, match="mse_logits"):
        DistillTrainer(DistillConfig(env=CP, loss="mse"), teacher=pt)
    assert DistillTrainer(DistillConfig(env=CP, loss="mse_logits"), teacher=pt).agent.pi is not None


def test_project_errors_are_one_line_and_bugs_keep_their_traceback(tmp_path, capsys):
    import argparse

    from distillrl.cli import run_cmds as cli

    ns = argparse.Namespace(run_dir=str(tmp_path / "r"), resume=False, config=None, no_progress=True, json=False)

    def config_error(cfg):
        raise ConfigError("bad value")

    def bug(cfg):
        raise RuntimeError("a real bug")

    from distillrl.runs.kinds import Kind

    def k(factory):
        return Kind("train", lambda: TrainConfig, None, lambda c: c, factory, lambda t, c: {})

    with pytest.raises(SystemExit) as e:
        cli._train_like(ns, k(config_error))
    assert e.value.code == 2 and capsys.readouterr().err.strip() == "distillrl train: error: bad value"
    with pytest.raises(RuntimeError, match="a real bug"):  # not disguised as a user error
        cli._train_like(ns, k(bug))
