"""Kickstarting inside Stable-Baselines3's own training (``pip install distillrl[sb3]``).

    from distillrl.sb3 import KickstartPPO
    model = KickstartPPO("MlpPolicy", "CartPole-v1", teachers=["teacher.zip"], schedule="linear",
                         decay_frames=100_000)
    model.learn(200_000)

:class:`KickstartPPO`, :class:`KickstartA2C` and :class:`KickstartDQN` are SB3's PPO, A2C and DQN
with the kickstarting term of Schmitt et al. (SPEC §4) added to their loss:

    L = L_SB3 + Σ_k λ_k(t) · H(π_Tk(·|s) ‖ π_S(·|s)),   λ_k(t) = λ0 · λ'_k · f(t)

on the same minibatches SB3 trains on (for DQN, QDagger's form: π = softmax(Q/τ) on both sides).
The teachers are anything ``--teacher`` takes (SB3 ``.zip``, a hub-layout folder, a zoo name, a
run directory, a CleanRL state dict with ``teacher_arch``, a :class:`~distillrl.teachers.base.Teacher`
or a callable), loaded without unpickling; the schedule and its options are
:class:`distillrl.algos.kickstart.KickstartOptions` (same names, same domains, checked the same
way) and the term is :func:`distillrl.core.losses.cross_entropy`.

**How the term reaches SB3's loss without a copy of SB3's ``train()``.** SB3 builds its loss
inside ``train()`` from what the policy returns (``evaluate_actions``'s log-probabilities; DQN:
the Q-network's output) and calls ``loss.backward()`` then clips the gradient norm. The policy
call is wrapped: it computes the term on the minibatch's observations from the same forward
pass and returns its usual output through :class:`_AddToLoss`, an identity in the forward pass
whose backward also sends a gradient of 1 into the term. The gradient SB3 then clips and applies
is that of ``loss + term``, exactly as if the term had been added to the loss; SB3's
callbacks, logger, ``save``/``load``, ``evaluate_policy`` and everything else are untouched.
λ and the term's value go to SB3's logger (``kickstart/lambda``, ``kickstart/loss``).

Saving keeps the options and the teachers' sources (not the teachers): a loaded model reloads
its teachers when it next trains (a teacher given as an object must be given again with
:meth:`set_teachers`); ``evaluate_policy`` and ``predict`` never need them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

try:
    from stable_baselines3 import A2C, DQN, PPO
    from stable_baselines3.common.vec_env import VecTransposeImage, unwrap_vec_wrapper
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError("distillrl.sb3 needs Stable-Baselines3: pip install 'distillrl[sb3]'") from e

from distillrl.algos.kickstart import KickstartOptions
from distillrl.config import from_dict, to_dict, validate
from distillrl.core import losses as L
from distillrl.core.distributions import Categorical, DiagGaussian
from distillrl.envs.make import EnvInfo
from distillrl.errors import ConfigError
from distillrl.teachers.base import Teacher
from distillrl.teachers.load import load_teacher

__all__ = ["KickstartPPO", "KickstartA2C", "KickstartDQN", "KICKSTART_KEYS"]

KICKSTART_KEYS = tuple(f.name for f in dataclasses.fields(KickstartOptions) if f.name not in ("teacher", "teacher_task"))
"""the keyword arguments the SB3 classes take besides ``teachers`` (KickstartOptions' names)"""


class _AddToLoss(torch.autograd.Function):
    """``carrier`` unchanged in the forward pass; in the backward pass the gradient of whatever
    used ``carrier`` flows on, and ``term`` (a scalar) receives a gradient of 1 — so the parameters
    get ∇(loss + term). Valid because SB3 uses the carrier in exactly one loss per backward."""

    @staticmethod
    def forward(ctx, carrier: torch.Tensor, term: torch.Tensor) -> torch.Tensor:
        return carrier.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, torch.ones((), dtype=grad.dtype, device=grad.device)


def _env_info(env, name: str) -> EnvInfo:
    """An :class:`EnvInfo` for an SB3 VecEnv (the teachers' fit is checked against it). An image
    transposed by SB3 (``VecTransposeImage``) is described as the env gives it (channels last),
    which is what the teachers see."""
    import gymnasium as gym

    obs, act = env.observation_space, env.action_space
    if isinstance(obs, gym.spaces.Dict) or not isinstance(obs, gym.spaces.Box):
        raise ConfigError(f"kickstarting in SB3 supports Box observations, not {type(obs).__name__}")
    shape = tuple(obs.shape)
    if unwrap_vec_wrapper(env, VecTransposeImage) is not None:
        shape = shape[1:] + shape[:1]
    layout = "flat" if len(shape) == 1 else "hwc"
    if isinstance(act, gym.spaces.Discrete):
        return EnvInfo(name, shape, layout, 1.0, int(act.n))
    if isinstance(act, gym.spaces.Box) and len(act.shape) == 1:
        return EnvInfo(name, shape, layout, 1.0, int(act.shape[0]),
                       action_low=tuple(float(x) for x in act.low), action_high=tuple(float(x) for x in act.high))
    raise ConfigError(f"kickstarting in SB3 supports Discrete and 1-D Box actions, not {act}")


def _env_name(env) -> str:
    try:
        return str(env.get_attr("spec", [0])[0].id)
    except Exception:  # noqa: BLE001 - a VecEnv whose envs have no spec
        return "the SB3 env"


class _Kickstart:
    """What the three SB3 classes share: options, teachers, λ, the term and the logging."""

    _ks_opts: KickstartOptions
    _ks_sources: list

    def _ks_init(self, teachers: Sequence[Any] | Any, options: dict) -> None:
        if isinstance(teachers, (str, Teacher)) or callable(teachers):
            teachers = [teachers]
        opts = validate(from_dict(KickstartOptions, options), "kickstart")
        if not teachers:
            raise ConfigError("kickstarting needs at least one teacher (teachers=[...])")
        if opts.teacher_weight and len(opts.teacher_weight) != len(teachers):
            raise ConfigError(f"{len(teachers)} teachers but {len(opts.teacher_weight)} teacher_weight values")
        if opts.schedule == "performance" and opts.g_teacher is None:
            raise ConfigError("schedule='performance' in SB3 needs the teachers' score: g_teacher=... "
                              "(and g_random=..., default 0)")
        self._ks_opts = opts
        self._ks_sources = list(teachers)
        self.kickstart_config = {"teachers": [s if isinstance(s, str) else None for s in teachers],
                                 **{k: v for k, v in to_dict(opts).items() if k in KICKSTART_KEYS}}
        """saved with the model (JSON): the options and the teachers' sources (None: an object)"""
        self._ks_teachers: list[Teacher] | None = None
        self._ks_values: list[float] = []
        self._ks_lambda = math.nan

    # ------------------------------------------------------------------ teachers
    def set_teachers(self, teachers: Sequence[Any]) -> None:
        """Give (again) the teachers, e.g. objects after :meth:`load`; same number as before."""
        if len(teachers) != len(self.kickstart_config["teachers"]):
            raise ConfigError(f"this model was kickstarted by {len(self.kickstart_config['teachers'])} teachers, "
                              f"got {len(teachers)}")
        self._ks_sources, self._ks_teachers = list(teachers), None

    def _ks_restore(self) -> None:
        """After SB3's ``load``: the options from the saved config, the teachers from their sources."""
        cfg = dict(getattr(self, "kickstart_config", None) or {})
        sources = cfg.pop("teachers", [])
        self._ks_opts = validate(from_dict(KickstartOptions, cfg), "kickstart")
        self._ks_sources = list(sources)
        self._ks_teachers, self._ks_values, self._ks_lambda = None, [], math.nan

    def teachers(self) -> list[Teacher]:
        """The loaded teachers (loaded and checked against the env on first use)."""
        if self._ks_teachers is None:
            if any(s is None for s in self._ks_sources):
                raise ConfigError("a teacher of this model was an object, which is not saved: give the teachers "
                                  "again with model.set_teachers([...]) before training")
            env = self.get_env()
            if env is None:
                raise ConfigError("the teachers are checked against the model's env: give one (model.set_env(env))")
            info = _env_info(env, _env_name(env))
            o = self._ks_opts
            self._ks_teachers = [load_teacher(s, info, o.teacher_arch, o.tau,
                                              obs_groups=o.teacher_obs_groups or None) for s in self._ks_sources]
            dist = DiagGaussian if info.continuous else Categorical
            for t in self._ks_teachers:
                if t.dist is not dist and not (t.kind == "q" and dist is Categorical):
                    raise ConfigError(f"teacher {t.name} has a {t.dist.name} policy, the student a {dist.name} one")
        return self._ks_teachers

    def _ks_weight(self) -> float:
        o = self._ks_opts
        g_s = math.nan
        if o.schedule == "performance" and len(self.ep_info_buffer) > 0:
            recent = list(self.ep_info_buffer)[-o.score_episodes:]
            g_s = float(np.mean([e["r"] for e in recent]))
        sched = o.make_schedule(o.g_teacher if o.g_teacher is not None else math.nan, o.g_random or 0.0)
        return o.lambda0 * sched(self.num_timesteps, g_s)

    # ------------------------------------------------------------------ the term
    def _teacher_obs(self, obs: torch.Tensor) -> torch.Tensor | np.ndarray:
        """The minibatch's observations as the env gave them (SB3 may have normalised or
        transposed them), on the CPU where the teachers live."""
        x = obs.detach().float().cpu()
        env = self.get_env()
        if env is not None and unwrap_vec_wrapper(env, VecTransposeImage) is not None and x.ndim == 4:
            x = x.permute(0, 2, 3, 1)
        vn = self.get_vec_normalize_env()
        if vn is not None and vn.norm_obs:
            return np.asarray(vn.unnormalize_obs(x.numpy()), np.float32)
        return x

    def _ks_term(self, obs: torch.Tensor, student: torch.Tensor, dist) -> torch.Tensor | None:
        """λ(t)·Σ_k λ'_k H(π_Tk ‖ π_S) on one minibatch; ``student`` are the student's
        distribution parameters [B, P] (on its device); None when λ = 0."""
        if not self._ks_lambda > 0:
            return None
        x = self._teacher_obs(obs)
        weights = self._ks_opts.teacher_weight or [1.0] * len(self.teachers())
        total, raw = 0.0, 0.0
        for w, t in zip(weights, self.teachers()):
            with torch.no_grad():
                target = t.distribution(x).target().to(student.device)
            ce = L.cross_entropy(student, target, dist=dist)
            total = total + w * ce
            raw += float(ce.detach())
        self._ks_values.append(raw)
        return self._ks_lambda * total

    def _ks_before_train(self) -> None:
        self.teachers()  # load (and check) before the first minibatch
        self._ks_lambda = self._ks_weight()
        self._ks_values = []

    def _ks_after_train(self) -> None:
        self.logger.record("kickstart/lambda", self._ks_lambda)
        if self._ks_values:
            self.logger.record("kickstart/loss", float(np.mean(self._ks_values)))

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_ks_opts", "_ks_sources", "_ks_teachers", "_ks_values",
                "_ks_lambda"]

    def _setup_model(self) -> None:
        super()._setup_model()
        if not hasattr(self, "_ks_opts"):  # SB3's load: __init__ did not see the options
            self._ks_restore()
        self._ks_wrap()

    def train(self, *args, **kwargs) -> None:
        self._ks_before_train()
        super().train(*args, **kwargs)
        self._ks_after_train()


class _ActorCriticKickstart(_Kickstart):
    """PPO and A2C: the term rides on ``evaluate_actions``'s log-probabilities."""

    def _ks_wrap(self) -> None:
        policy = self.policy

        def evaluate_actions(obs, actions):
            # SB3's ActorCriticPolicy.evaluate_actions, composed from the policy's own pieces so that
            # the student's distribution of this very forward pass is at hand for the term.
            features = policy.extract_features(obs)
            if policy.share_features_extractor:
                latent_pi, latent_vf = policy.mlp_extractor(features)
            else:
                latent_pi = policy.mlp_extractor.forward_actor(features[0])
                latent_vf = policy.mlp_extractor.forward_critic(features[1])
            distribution = policy._get_action_dist_from_latent(latent_pi)
            log_prob = distribution.log_prob(actions)
            values = policy.value_net(latent_vf)
            entropy = distribution.entropy()
            if torch.is_grad_enabled():
                d = distribution.distribution
                if isinstance(d, torch.distributions.Categorical):
                    term = self._ks_term(obs, d.logits, Categorical)
                else:  # SB3's DiagGaussianDistribution: Normal(mean, std)
                    term = self._ks_term(obs, torch.cat([d.mean, d.stddev.log()], -1), DiagGaussian)
                if term is not None:
                    log_prob = _AddToLoss.apply(log_prob, term)
            return values, log_prob, entropy

        policy.evaluate_actions = evaluate_actions


def _ks_start(model: _Kickstart, teachers, kwargs: dict) -> None:
    """Take the kickstart options out of ``kwargs`` (the rest is SB3's). SB3's ``load`` builds the
    model with ``_init_setup_model=False`` and no options: they come from the saved config then."""
    options = {k: kwargs.pop(k) for k in list(kwargs) if k in KICKSTART_KEYS}
    if kwargs.get("_init_setup_model", True) or teachers or options:
        model._ks_init(teachers, options)


class KickstartPPO(_ActorCriticKickstart, PPO):
    """SB3's PPO plus the kickstarting term. ``teachers``: a list of teacher sources; the other
    kickstart options (``schedule``, ``lambda0``, ``decay_frames``, ``teacher_weight``, ``tau``, …)
    as keyword arguments, everything else goes to :class:`stable_baselines3.PPO`."""

    def __init__(self, policy, env, teachers: Sequence[Any] = (), **kwargs):
        _ks_start(self, teachers, kwargs)
        super().__init__(policy, env, **kwargs)


class KickstartA2C(_ActorCriticKickstart, A2C):
    """SB3's A2C plus the kickstarting term (options as :class:`KickstartPPO`)."""

    def __init__(self, policy, env, teachers: Sequence[Any] = (), **kwargs):
        _ks_start(self, teachers, kwargs)
        super().__init__(policy, env, **kwargs)


class KickstartDQN(_Kickstart, DQN):
    """SB3's DQN plus QDagger's distillation term: H(softmax(Q_T/τ) ‖ softmax(Q_S/τ)) (a policy
    teacher: its own distribution against softmax(Q_S/τ)); τ = ``tau`` (default 0.01 for
    Q-teachers, 1 for policy teachers, as ``--tau``)."""

    def __init__(self, policy, env, teachers: Sequence[Any] = (), **kwargs):
        _ks_start(self, teachers, kwargs)
        super().__init__(policy, env, **kwargs)

    def _ks_wrap(self) -> None:
        q_net = self.q_net
        forward = q_net.forward

        def wrapped(obs, *a, **k):
            q = forward(obs, *a, **k)
            if torch.is_grad_enabled() and q.requires_grad:
                t0 = self.teachers()[0]
                tau = self._ks_opts.tau or (t0.tau if t0.tau else (0.01 if t0.kind == "q" else 1.0))
                term = self._ks_term(obs, q / tau, Categorical)
                if term is not None:
                    q = _AddToLoss.apply(q, term)
            return q

        q_net.forward = wrapped
