"""The shared parts alone: Learner, HParams, ReplayBuffer, Collector."""

import numpy as np
import pytest
import torch
from torch import nn

from distillrl.errors import ConfigError
from distillrl.core.hparams import HParams
from distillrl.core.learner import Learner, weighted_sum
from distillrl.core.replay import ReplayBuffer


def test_weighted_sum_hand_value_and_missing_weight():
    terms = {"loss_a": torch.tensor(2.0), "loss_b": torch.tensor(3.0), "diag": torch.tensor(100.0)}
    assert weighted_sum(terms, {"loss_a": 0.5, "loss_b": 2.0}).item() == 7.0  # diagnostics are not summed
    with pytest.raises(KeyError, match="loss_b"):
        weighted_sum(terms, {"loss_a": 1.0})


def test_learner_step_lr_hooks_and_clipping():
    m = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        m.weight.fill_(1.0)
    learner = Learner(m, "adam", lr=0.1)
    seen = []

    def hook(params):  # e.g. gradient surgery: sees (and may edit) the gradients before clipping
        seen.append(params[0].grad.clone())
        params[0].grad.mul_(0.0)

    learner.add_grad_hook(hook)
    x = torch.tensor([[1.0, 2.0]])
    learner.step({"loss_y": m(x).sum()}, {"loss_y": 1.0}, lr=0.05)
    assert torch.allclose(seen[0], torch.tensor([[1.0, 2.0]]))
    assert learner.opt.param_groups[0]["lr"] == 0.05
    assert torch.allclose(m.weight, torch.ones(1, 2))  # the hook zeroed the gradient
    learner.grad_hooks.clear()
    sgd = Learner(m, "rmsprop", lr=0.01)
    sgd.step({"loss_y": 1000 * m(x).sum()}, {"loss_y": 1.0}, lr=0.01, max_grad_norm=1.0)
    assert sgd.steps == 1


def test_hparams_domains_and_state():
    hp = HParams()
    hp.declare("lr", 1e-3, "> 0")
    hp.declare("gamma", 0.99, "[0, 1]")
    hp.set(lr=2e-3)
    assert hp["lr"] == 2e-3
    for bad in ({"lr": 0.0}, {"gamma": 1.5}, {"lr": float("nan")}, {"lr": "x"}, {"nope": 1.0}):
        with pytest.raises(ConfigError):
            hp.set(**bad)
    with pytest.raises(ConfigError):
        hp.set(lr=5e-3, gamma=2.0)  # all or nothing
    assert hp["lr"] == 2e-3
    other = HParams()
    other.declare("lr", 1.0, "> 0")
    other.declare("gamma", 0.5, "[0, 1]")
    other.load_state_dict(hp.state_dict())
    assert other.as_dict() == hp.as_dict()
    with pytest.raises(ConfigError):
        hp.declare("eps", -1.0, "≥ 0")


def test_replay_buffer_wraps_and_samples_per_task():
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(4, {"x": ((2,), np.float32), "a": ((), np.int64)}, n_tasks=2)
    xs = np.arange(12, dtype=np.float32).reshape(6, 2)
    buf.add(task_id=np.array([0, 1, 0, 1, 0, 0]), x=xs, a=np.arange(6))
    assert buf.sizes == [4, 2] and len(buf) == 6
    s = buf.sample(200, rng, task=1)
    assert set(s["a"].tolist()) == {1, 3} and (s["task_id"] == 1).all()
    s = buf.sample(400, rng)
    assert set(s["task_id"].tolist()) == {0, 1}
    for a, t, x in zip(s["a"].tolist(), s["task_id"].tolist(), s["x"].tolist()):
        assert x == xs[a].tolist() and t == (1 if a in (1, 3) else 0)
    # task 0 held 4 samples in a capacity of 4: a, then wrap-around overwrote index 0
    buf.add(task_id=np.array([0]), x=np.full((1, 2), 99, np.float32), a=np.array([99]))
    assert 0 not in buf.sample(500, rng, task=0)["a"].tolist()
    clone = ReplayBuffer(4, {"x": ((2,), np.float32), "a": ((), np.int64)}, n_tasks=2)
    clone.load_state_dict(buf.state_dict())
    assert clone.sizes == buf.sizes and clone.pos == buf.pos
    assert np.array_equal(clone.data[0]["x"], buf.data[0]["x"])


def test_dqn_replay_keeps_task_ids():
    from distillrl.algos import TrainConfig, make_trainer
    from distillrl.models.nets import NetConfig

    cfg = TrainConfig(env="gym:CartPole-v1,gym:CartPole-v0", algo="dqn", steps=10_000, net=NetConfig(hidden=(8,)))
    cfg.dqn.num_envs, cfg.dqn.learning_starts, cfg.dqn.log_every = 2, 10**6, 10**6
    tr = make_trainer(cfg)
    tr.advance(200)
    assert tr.buffer.sizes == [100, 100]
    assert set(tr.buffer.sample(64, np.random.default_rng(0))["task_id"].tolist()) == {0, 1}


def test_metrics_log_widens_for_metrics_that_start_later(tmp_path):
    from distillrl.runs.rundir import MetricsLog, read_metrics

    log = MetricsLog(tmp_path, tensorboard=False)
    log.write([{"frames": 1, "a": 1.0}])
    log.write([{"frames": 2, "a": 2.0, "b": 5.0}])
    rows = read_metrics(tmp_path)
    assert [r["b"] for r in rows][1] == 5.0 and np.isnan(rows[0]["b"])


def test_loading_an_agent_leaves_the_global_generator_alone():
    from distillrl.teachers.load import load_teacher

    state = torch.get_rng_state()
    load_teacher("minatar-breakout-5m")
    assert torch.equal(state, torch.get_rng_state())
