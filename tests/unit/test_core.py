"""The core contracts: one learner for every algorithm, live hyper-parameters, own randomness,
time-major rollouts, and extra loss terms accepted where they work and refused where not."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from distillrl.algos import TrainConfig, make_trainer
from distillrl.algos.distill_config import DistillConfig
from distillrl.algos.distill import DistillTrainer
from distillrl.config import field_domains, field_docs
from distillrl.core.data import Rollout
from distillrl.errors import ConfigError
from distillrl.algos.kickstart import KickstartConfig, KickstartOptions
from distillrl.models.nets import NetConfig
from distillrl.teachers.base import CallableTeacher
from distillrl.core.terms import LossTerm
from distillrl.algos.base import RunConfig

CP = "gym:CartPole-v1"


def _teacher():
    def fn(obs):
        right = (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.float32)
        return np.stack([1 - right, right], -1) * 4.0
    return CallableTeacher(fn, (4,), 2, outputs="logits", name="fixed")


def _qteacher():
    return CallableTeacher(lambda o: np.stack([o[:, 2], -o[:, 2]], -1).astype(np.float32), (4,), 2, outputs="q")


def make(kind: str, seed: int = 1):
    """A small trainer of every kind (and the frames one iteration takes)."""
    if kind in ("ppo", "a2c"):
        cfg = TrainConfig(env=CP, algo=kind, steps=100_000, seed=seed, net=NetConfig(hidden=(16,)))
        cfg.ppo.num_envs, cfg.ppo.num_steps, cfg.ppo.num_minibatches = 2, 32, 2
        cfg.ppo.anneal_lr = False
        return make_trainer(cfg), 64
    if kind == "dqn":
        cfg = TrainConfig(env=CP, algo="dqn", steps=100_000, seed=seed, net=NetConfig(hidden=(16,)))
        cfg.dqn.learning_starts, cfg.dqn.log_every, cfg.dqn.buffer_size = 64, 64, 1000
        return make_trainer(cfg), 64
    if kind == "pqn":
        cfg = TrainConfig(env=CP, algo="pqn", steps=100_000, seed=seed, net=NetConfig(hidden=(16,)))
        cfg.pqn.num_envs, cfg.pqn.num_steps, cfg.pqn.num_minibatches = 2, 32, 2
        cfg.pqn.anneal_lr = False
        return make_trainer(cfg), 64
    source = kind.split("-")[1]
    cfg = DistillConfig(env=CP, steps=100_000, seed=seed, source=source, num_envs=2, rollout_steps=16,
                        net=NetConfig(hidden=(16,)))
    return DistillTrainer(cfg, teacher=_teacher()), 32


KINDS = ["ppo", "a2c", "dqn", "pqn", "distill-student", "distill-teacher", "distill-eer"]


def _strip(rows):
    return [{k: v for k, v in r.items() if k != "charts/sps"} for r in rows]


@pytest.mark.parametrize("kind", ["ppo", "dqn", "pqn", "distill-student"])
def test_two_interleaved_trainers_equal_two_lone_trainers(kind):
    a, f = make(kind, seed=3)
    b, _ = make(kind, seed=4)
    rows_a, rows_b = [], []
    for _ in range(4):
        rows_a += a.advance(f)
        torch.rand(5)  # the user's own use of the global generators must not matter either
        np.random.rand(5)
        rows_b += b.advance(f)
    lone_a, _ = make(kind, seed=3)
    lone_b, _ = make(kind, seed=4)
    ra = lone_a.advance(4 * f)
    rb = lone_b.advance(4 * f)
    assert _strip(rows_a) == _strip(ra) and _strip(rows_b) == _strip(rb)
    assert _strip(ra) != _strip(rb)


def test_library_never_touches_global_generators():
    t0, n0 = torch.get_rng_state(), np.random.get_state()[1].copy()
    tr, f = make("ppo")
    tr.advance(2 * f)
    tr.load_state_dict(tr.state_dict())
    assert torch.equal(t0, torch.get_rng_state()) and np.array_equal(n0, np.random.get_state()[1])


class Spy(LossTerm):
    """Records every call and adds a zero-valued term."""

    name = "spy"

    def __init__(self):
        self.calls = 0
        self.rollouts = []

    def on_rollout(self, ro):
        self.rollouts.append(ro.shape)

    def __call__(self, out, mb):
        self.calls += 1
        return {"loss_spy": (out.logits * 0).sum()}

    def weights(self, trainer):
        return {"loss_spy": 0.5}


@pytest.mark.parametrize("kind", KINDS)
def test_a_spy_loss_term_is_called_by_every_learner(kind):
    tr, f = make(kind)
    spy = Spy()
    tr.add_loss(spy)
    tr.advance(3 * f)
    assert spy.calls > 0 and spy.calls == tr.updates
    assert tr.learner.last_weights["loss_spy"] == 0.5
    if tr.on_policy:  # the hook before the estimator sees the time-major rollout
        assert spy.rollouts and all(s == tr.collector.num_steps and n == tr.envs.num_envs for s, n in spy.rollouts)


def test_terms_are_refused_where_they_cannot_work():
    class NeedsValue(Spy):
        name = "needs_value"
        requires = frozenset({"logits", "value"})

    class Intrinsic(Spy):
        name = "intrinsic"
        changes_rewards = True

    for kind in ("dqn", "distill-student"):
        tr, _ = make(kind)
        with pytest.raises(ConfigError, match="needs the agent's value output"):
            tr.add_loss(NeedsValue())
        with pytest.raises(ConfigError, match="changes rewards"):
            tr.add_loss(Intrinsic())
    tr, _ = make("ppo")
    tr.add_loss(NeedsValue())
    tr.add_loss(Intrinsic())
    with pytest.raises(ConfigError, match="already added"):
        tr.add_loss(Intrinsic())


@pytest.mark.parametrize("kind", KINDS)
def test_set_hparams_takes_effect_in_the_next_update(kind):
    tr, f = make(kind)
    spy = Spy()
    tr.add_loss(spy)
    tr.advance(f)
    assert "lr" in tr.hp.names()
    seen = []
    step = tr.learner.step

    def recording_step(terms, weights, lr, max_grad_norm=0.0):
        seen.append((lr, dict(weights), max_grad_norm))
        return step(terms, weights, lr, max_grad_norm)

    tr.learner.step = recording_step
    tr.set_hparams(lr=0.123, max_grad_norm=7.0)
    extra = {"ent_coef": 0.3} if kind in ("ppo", "a2c") else {}
    tr.set_hparams(**extra)
    tr.advance(f)
    assert seen, "no update happened"
    lr, weights, norm = seen[0]
    assert lr == 0.123 and norm == 7.0
    assert all(g["lr"] == 0.123 for g in tr.learner.opt.param_groups)  # the optimizer's own lr
    if extra:
        assert weights["loss_entropy"] == 0.3
    # state_dict carries them: a copy of the trainer has the new settings in effect
    other, _ = make(kind, seed=9)
    other.add_loss(Spy())
    other.load_state_dict(tr.state_dict())
    assert other.hp.as_dict() == tr.hp.as_dict()
    with pytest.raises(ConfigError, match="unknown hyper-parameter"):
        tr.set_hparams(nope=1.0)
    with pytest.raises(ConfigError, match="must be > 0"):
        tr.set_hparams(lr=0.0)


def test_kickstart_lambda_is_shared_and_live():
    from distillrl.algos.kickstart import make_kickstart_trainer

    cfg = KickstartConfig(env=CP, steps=100_000, schedule="constant", lambda0=1.0)
    cfg.ppo.num_envs, cfg.ppo.num_steps = 2, 32
    tr = make_kickstart_trainer(cfg, teachers=[_teacher(), _teacher()])
    tr.advance(64)
    tr.set_hparams(lambda_shared=0.5, lambda_1=3.0)
    tr.advance(64)
    w = tr.learner.last_weights
    assert w["loss_ks0"] == 0.5 and w["loss_ks1"] == 1.5  # one λ_shared for both terms


def test_rollouts_are_time_major_until_the_learner():
    tr, _ = make("ppo")
    ro = tr.collect_rollout()
    assert isinstance(ro, Rollout)
    T, N = 32, 2
    assert ro.shape == (T, N) and ro.obs.shape == (T, N, 4) and ro.logits.shape == (T, N, 2)
    for f in ("actions", "logp", "values", "rewards", "done", "terminated", "trunc_value", "task_id"):
        assert getattr(ro, f).shape == (T, N), f
    assert ro.last_obs.shape == (N, 4) and ro.last_value.shape == (N,)
    with pytest.raises(RuntimeError, match="estimator"):
        ro.flatten()


def _config_classes():
    from distillrl.algos import DQNConfig, PPOConfig
    from distillrl.algos.dt import DTConfig, DTNetConfig
    from distillrl.algos.offline_distill import OfflineDistillConfig

    return [RunConfig, TrainConfig, PPOConfig, DQNConfig, NetConfig, DistillConfig, KickstartOptions, KickstartConfig,
            DTConfig, DTNetConfig, OfflineDistillConfig]


@pytest.mark.parametrize("cls", _config_classes(), ids=lambda c: c.__name__)
def test_every_numeric_option_states_its_domain(cls):
    import typing

    hints = typing.get_type_hints(cls)
    doms, docs = field_domains(cls), field_docs(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
        inner = args[0]
        if typing.get_origin(inner) in (list, tuple):
            inner = typing.get_args(inner)[0]
        if inner in (int, float):
            assert f.name in doms, f"{cls.__name__}.{f.name} has no domain in its docstring ({docs.get(f.name)!r})"
            default = getattr(cls(), f.name)
            for v in (default if isinstance(default, (list, tuple)) else [default]):
                assert v is None or v in doms[f.name], f"default of {cls.__name__}.{f.name} is outside its domain"


def test_domains_are_checked_in_the_config_layer():
    from distillrl.config import validate

    for bad in ({"steps": 0}, {"seed": -1}, {"ppo": {"lr": 0.0}}, {"ppo": {"gamma": 1.5}}, {"dqn": {"tau": 0.0}},
                {"net": {"width": -1.0}}, {"max_episode_steps": 0}, {"algo": "sac"}):
        from distillrl.config import from_dict

        with pytest.raises(ConfigError):
            validate(from_dict(TrainConfig, bad))
    with pytest.raises(ConfigError, match="divisible"):
        cfg = TrainConfig()
        cfg.ppo.num_minibatches = 3
        validate(cfg)
    for bad in (dict(tau=0.0), dict(tau=-1.0), dict(student_size=5.0), dict(eer_gamma=1.0),
                dict(source="eer", loss="nll")):
        with pytest.raises(ConfigError):
            validate(DistillConfig(teacher="t", env=CP, **bad))
    assert math.isclose(validate(DistillConfig(teacher="t", env=CP, tau=0.5)).tau, 0.5)
