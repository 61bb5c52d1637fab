"""Action distributions: the one object through which heads, losses, teachers and acting read a policy.

A policy head outputs the *parameters* of a distribution over actions (for :class:`Categorical`,
logits [B, A]). Everything that needs the policy as a distribution — sampling, greedy actions,
log-probabilities, entropies, the distillation divergences, a teacher's tempered targets —
asks an :class:`ActionDistribution` built from those parameters instead of calling softmax on
them. The class is chosen once, from the action space (:func:`dist_for_space`), and the head's
output size comes from it (:meth:`ActionDistribution.param_size`).

Each class has a torch side (a batch of distributions: ``sample``, ``mode``, ``log_prob``,
``entropy``, ``kl``, ``cross_entropy``) and a NumPy side for the acting mirror
(:mod:`distillrl.models.fastpolicy`): class methods ``np_mode``, ``np_sample``, ``np_noise``,
``np_log_prob`` on parameter arrays, so acting never builds torch objects.

**Adding a distribution** (e.g. a diagonal Gaussian for ``Box`` actions): subclass
:class:`ActionDistribution`, implement every abstract method (the parameters would be
``[mean | log std]``, ``param_size`` twice the action dimension, ``from_teacher`` scaling the
std by the temperature, ``target`` the parameters themselves), decorate it with
:func:`register` — and :func:`dist_for_space` hands it to the heads, losses and teachers.

Teachers: :meth:`ActionDistribution.from_teacher` reads a teacher's raw outputs at a temperature
τ (a Q-teacher's Q-values are a Categorical's logits at a small τ); a teacher's distribution
travels from collection to learning as :meth:`ActionDistribution.target` (a plain tensor that
minibatches index) and is rebuilt with :meth:`ActionDistribution.from_target`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from distillrl.errors import ConfigError


class ActionDistribution(ABC):
    """A batch of action distributions (torch), plus the NumPy acting counterpart as class methods.

    Built as ``cls(params, temperature=1.0)`` from a head's parameters [B, P] (what
    ``Agent.distribution`` does)."""

    name: str = "base"

    # ---- the space and the head
    @classmethod
    @abstractmethod
    def supports(cls, space: Any) -> bool:
        """Whether this distribution describes actions of ``space`` (a Gymnasium space)."""

    @classmethod
    @abstractmethod
    def param_size(cls, space: Any) -> int:
        """Number of head outputs (distribution parameters) per state for ``space``."""

    # ---- construction
    @classmethod
    @abstractmethod
    def from_teacher(cls, outputs: torch.Tensor, tau: float = 1.0) -> ActionDistribution:
        """A teacher's distribution from its raw outputs [B, P] at temperature ``tau`` (> 0)."""

    @abstractmethod
    def target(self) -> torch.Tensor:
        """This distribution as one tensor [B, ·], to be stored (rollout extras, replay) and
        rebuilt by :meth:`from_target` — how a teacher's target travels to the learner."""

    @classmethod
    @abstractmethod
    def from_target(cls, target: torch.Tensor, eps: float = 1e-8) -> ActionDistribution:
        """The inverse of :meth:`target`; ``eps``: the floor at which a stored probability's log
        is taken (distributions without one ignore it)."""

    # ---- torch side
    @abstractmethod
    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One action per row."""

    @abstractmethod
    def mode(self) -> torch.Tensor:
        """The most probable action per row (greedy acting)."""

    @abstractmethod
    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """log π(a) [B]."""

    @abstractmethod
    def entropy(self) -> torch.Tensor:
        """H(π) [B]."""

    @abstractmethod
    def kl(self, other: ActionDistribution) -> torch.Tensor:
        """KL(self ‖ other) [B]."""

    @abstractmethod
    def cross_entropy(self, other: ActionDistribution) -> torch.Tensor:
        """H(self, other) = −E_self[log other] [B] (the kickstarting term, self the teacher)."""

    # ---- NumPy side (the acting mirror)
    @classmethod
    @abstractmethod
    def np_mode(cls, params: np.ndarray) -> np.ndarray:
        """Greedy actions from parameters [..., P]."""

    @classmethod
    @abstractmethod
    def np_noise(cls, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Sampling noise for parameters of ``shape``, drawn in one call (a rollout at a time)."""

    @classmethod
    @abstractmethod
    def np_sample(cls, params: np.ndarray, rng: np.random.Generator | None = None,
                  noise: np.ndarray | None = None) -> np.ndarray:
        """Sampled actions from parameters [..., P]: with noise from :meth:`np_noise` when
        given, else drawn from ``rng`` now."""

    @classmethod
    @abstractmethod
    def np_log_prob(cls, params: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """log π(a) (float32) from parameters [..., P] and actions [...]."""


DISTRIBUTIONS: list[type[ActionDistribution]] = []
"""Every registered distribution, in the order :func:`dist_for_space` tries them."""


def register(cls: type[ActionDistribution]) -> type[ActionDistribution]:
    """Class decorator: make a distribution available to :func:`dist_for_space`."""
    DISTRIBUTIONS.append(cls)
    return cls


def dist_for_space(space: Any) -> type[ActionDistribution]:
    """The distribution class for an action space; a one-line :class:`ConfigError` when none fits."""
    for cls in DISTRIBUTIONS:
        if cls.supports(space):
            return cls
    known = ", ".join(f"{c.name} ({c.__doc__.split(':', 1)[0].strip()})" for c in DISTRIBUTIONS)
    raise ConfigError(f"no action distribution for the action space {space}: supported are {known}")


def param_size(space: Any) -> int:
    """Head outputs per state for ``space`` (of the distribution :func:`dist_for_space` picks)."""
    return dist_for_space(space).param_size(space)


@register
class Categorical(ActionDistribution):
    """Discrete actions: π = softmax(logits / T) over ``Discrete(n)``.

    Built from ``logits`` [B, A] (a head, a policy teacher; a Q-teacher's Q-values) at a
    temperature T, or from ``probs`` [B, A] (a stored target; rows of zeros mean "no target"
    and contribute 0 to :meth:`cross_entropy`). The log-probabilities of a probability-built
    distribution are ``log(max(p, eps))``.
    """

    name = "categorical"

    def __init__(self, logits: torch.Tensor | None = None, probs: torch.Tensor | None = None,
                 temperature: float = 1.0, eps: float = 1e-8):
        if (logits is None) == (probs is None):
            raise ValueError("Categorical takes logits or probs (exactly one)")
        if not temperature > 0:
            raise ValueError("tau must be > 0")
        if logits is not None and temperature != 1.0:
            logits = logits / temperature
        if probs is not None and temperature != 1.0:
            probs = probs ** (1.0 / temperature)
            probs = probs / probs.sum(-1, keepdim=True).clamp_min(1e-30)
        self._logits, self._probs, self.eps = logits, probs, eps

    # ---- space and head
    @classmethod
    def supports(cls, space: Any) -> bool:
        return isinstance(space, spaces.Discrete)

    @classmethod
    def param_size(cls, space: Any) -> int:
        return int(space.n)

    # ---- construction
    @classmethod
    def from_teacher(cls, outputs: torch.Tensor, tau: float = 1.0) -> Categorical:
        """softmax(outputs / τ): τ = 1 for a policy teacher's logits, small (0.01) for Q-values;
        τ → 0 gives the argmax one-hot."""
        return cls(logits=outputs, temperature=tau)

    def target(self) -> torch.Tensor:
        return self.probs

    @classmethod
    def from_target(cls, target: torch.Tensor, eps: float = 1e-8) -> Categorical:
        return cls(probs=target, eps=eps)

    # ---- derived tensors (computed once)
    @cached_property
    def logits(self) -> torch.Tensor:
        """The (tempered) logits; log-probabilities for a probability-built distribution."""
        return self._logits if self._logits is not None else self.log_probs

    @cached_property
    def log_probs(self) -> torch.Tensor:
        """log π [B, A]: log_softmax of the logits, or log(max(p, eps))."""
        if self._logits is not None:
            return torch.log_softmax(self._logits, -1)
        return torch.log(self._probs.clamp_min(self.eps))

    @cached_property
    def probs(self) -> torch.Tensor:
        """π [B, A]: softmax of the logits, or the probabilities given."""
        return self._probs if self._probs is not None else torch.softmax(self._logits, -1)

    def _weights(self) -> torch.Tensor:
        """The probabilities expectations are taken with: exp(log π) (consistent with
        :attr:`log_probs` to the last bit) for logits, the given probabilities otherwise."""
        return self._probs if self._probs is not None else self.log_probs.exp()

    # ---- torch side
    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.multinomial(self.probs, 1, generator=generator).squeeze(-1)

    def mode(self) -> torch.Tensor:
        return (self._logits if self._logits is not None else self._probs).argmax(-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return self.log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        return -(self._weights() * self.log_probs).sum(-1)

    def kl(self, other: ActionDistribution) -> torch.Tensor:
        """Σ_a p_a (log p_a − log q_a); actions with p_a = 0 contribute exactly 0."""
        other = _same_kind(self, other)
        log_p = self.log_probs
        p = self._weights()
        return torch.where(p > 0, p * (log_p - other.log_probs), torch.zeros_like(p)).sum(-1)

    def cross_entropy(self, other: ActionDistribution) -> torch.Tensor:
        other = _same_kind(self, other)
        return -(self.probs * other.log_probs).sum(-1)

    # ---- NumPy side
    @classmethod
    def np_mode(cls, params: np.ndarray) -> np.ndarray:
        return np.asarray(params).argmax(-1)

    @classmethod
    def np_noise(cls, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Gumbel(0, 1) noise: argmax(logits + noise) samples softmax(logits)."""
        u = rng.random(shape, dtype=np.float32)
        np.clip(u, 1e-20, 1.0, out=u)
        return -np.log(-np.log(u))

    @classmethod
    def np_sample(cls, params: np.ndarray, rng: np.random.Generator | None = None,
                  noise: np.ndarray | None = None) -> np.ndarray:
        """Gumbel-max sampling."""
        if noise is not None:
            return (params + noise).argmax(-1)
        u = rng.random(params.shape, dtype=np.float32)
        np.clip(u, 1e-20, 1.0, out=u)
        return np.argmax(params - np.log(-np.log(u)), -1)

    @classmethod
    def np_log_prob(cls, params: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """log_softmax(params)[a]."""
        m = params.max(-1, keepdims=True)
        logz = m[..., 0] + np.log(np.exp(params - m).sum(-1))
        return (np.take_along_axis(params, actions[..., None], -1)[..., 0] - logz).astype(np.float32)

    @classmethod
    def np_probs(cls, params: np.ndarray) -> np.ndarray:
        """softmax(params) [..., A]."""
        z = params - params.max(-1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(-1, keepdims=True)
        return p


LOG_2PI = float(np.log(2.0 * np.pi))
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
"""the range log σ is clamped to when a distribution is built (SAC's, and SB3's, bounds): a head
whose log σ runs away cannot give NaN log-probabilities"""


def box_dim(space: Any) -> int:
    return int(np.prod(space.shape))


@register
class DiagGaussian(ActionDistribution):
    """Continuous actions: π = N(μ, diag σ²) over a 1-D ``Box``.

    Parameters [B, 2D] = ``[μ | log σ]`` (the agent's head gives μ from the state and log σ as a
    state-independent parameter, as CleanRL's ``ppo_continuous_action.py``; a teacher may give
    both from the state). A temperature T scales σ (T·σ). Actions are the *unclipped* samples:
    the environment clips them to its bounds (:class:`distillrl.envs.make.FastVectorEnv`), and
    log-probabilities are of what was sampled, as in CleanRL and SB3. KL and cross-entropy are
    analytic (``../shared/SPEC.md`` §10)."""

    name = "gaussian"

    def __init__(self, params: torch.Tensor, temperature: float = 1.0, eps: float = 1e-8):
        if not temperature > 0:
            raise ValueError("tau must be > 0")
        d = params.shape[-1] // 2
        if params.shape[-1] != 2 * d:
            raise ValueError(f"a diagonal Gaussian takes [mean | log std] parameters, got {params.shape[-1]} columns")
        self.params = params
        self.mean = params[..., :d]
        log_std = params[..., d:].clamp(LOG_STD_MIN, LOG_STD_MAX)
        self.log_std = log_std + float(np.log(temperature)) if temperature != 1.0 else log_std
        self.eps = eps

    # ---- space and head
    @classmethod
    def supports(cls, space: Any) -> bool:
        return isinstance(space, spaces.Box) and len(space.shape) == 1 and np.issubdtype(space.dtype, np.floating)

    @classmethod
    def param_size(cls, space: Any) -> int:
        return 2 * box_dim(space)

    # ---- construction
    @classmethod
    def from_teacher(cls, outputs: torch.Tensor, tau: float = 1.0) -> DiagGaussian:
        """A teacher's ``[μ | log σ]`` with σ scaled by τ."""
        return cls(outputs, temperature=tau)

    def target(self) -> torch.Tensor:
        return torch.cat([self.mean, self.log_std], -1)

    @classmethod
    def from_target(cls, target: torch.Tensor, eps: float = 1e-8) -> DiagGaussian:
        return cls(target)

    @cached_property
    def std(self) -> torch.Tensor:
        return self.log_std.exp()

    # ---- torch side
    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(self.mean.shape, generator=generator, dtype=self.mean.dtype)
        return self.mean + self.std * noise

    def mode(self) -> torch.Tensor:
        return self.mean

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """Σ_i log N(a_i; μ_i, σ_i²)."""
        z = (actions - self.mean) / self.std
        return (-0.5 * z * z - self.log_std - 0.5 * LOG_2PI).sum(-1)

    def entropy(self) -> torch.Tensor:
        return (0.5 + 0.5 * LOG_2PI + self.log_std).sum(-1)

    def kl(self, other: ActionDistribution) -> torch.Tensor:
        """Σ_i [log(σ_o,i/σ_i) + (σ_i² + (μ_i − μ_o,i)²)/(2σ_o,i²) − ½]."""
        other = _same_kind(self, other)
        var, var_o = self.std ** 2, other.std ** 2
        return (other.log_std - self.log_std + (var + (self.mean - other.mean) ** 2) / (2 * var_o) - 0.5).sum(-1)

    def cross_entropy(self, other: ActionDistribution) -> torch.Tensor:
        """H(self, other) = H(self) + KL(self ‖ other) = Σ_i [log σ_o,i + ½log 2π + (σ_i² + (μ_i − μ_o,i)²)/(2σ_o,i²)]."""
        other = _same_kind(self, other)
        var, var_o = self.std ** 2, other.std ** 2
        return (other.log_std + 0.5 * LOG_2PI + (var + (self.mean - other.mean) ** 2) / (2 * var_o)).sum(-1)

    # ---- NumPy side
    @staticmethod
    def _np_split(params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = params.shape[-1] // 2
        return params[..., :d], np.clip(params[..., d:], LOG_STD_MIN, LOG_STD_MAX)

    @classmethod
    def np_mode(cls, params: np.ndarray) -> np.ndarray:
        return cls._np_split(np.asarray(params))[0]

    @classmethod
    def np_noise(cls, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Standard normal noise for parameters of ``shape`` (its last axis is 2D: D draws)."""
        return rng.standard_normal(tuple(shape[:-1]) + (shape[-1] // 2,), dtype=np.float32)

    @classmethod
    def np_sample(cls, params: np.ndarray, rng: np.random.Generator | None = None,
                  noise: np.ndarray | None = None) -> np.ndarray:
        mean, log_std = cls._np_split(params)
        if noise is None:
            noise = rng.standard_normal(mean.shape, dtype=np.float32)
        return (mean + np.exp(log_std) * noise).astype(np.float32)

    @classmethod
    def np_log_prob(cls, params: np.ndarray, actions: np.ndarray) -> np.ndarray:
        mean, log_std = cls._np_split(params)
        z = (actions - mean) * np.exp(-log_std)
        return (-0.5 * z * z - log_std - 0.5 * LOG_2PI).sum(-1).astype(np.float32)


class SquashedGaussian:
    """A tanh-squashed diagonal Gaussian (SAC): u ~ N(μ, diag σ²), a = c + h·tanh(u) with
    ``c = (high + low)/2``, ``h = (high − low)/2`` the action bounds' centre and half-width.

    ``log π(a) = log N(u) − Σ_i log(h_i (1 − tanh²(u_i)))`` (the change of variables; SPEC §10
    with the rescaling to the bounds). Teachers only — the student's policy is a
    :class:`DiagGaussian` — so it has no head and no NumPy side. :meth:`as_gaussian` is the
    Gaussian a student is distilled towards: mean the squashed mean action c + h·tanh(μ), σ
    by linearising the squashing at μ (σ_a = h·(1 − tanh²μ)·σ_u)."""

    name = "squashed_gaussian"

    def __init__(self, params: torch.Tensor, low, high, temperature: float = 1.0):
        self.base = DiagGaussian(params, temperature)
        low = torch.as_tensor(np.asarray(low, np.float32))
        high = torch.as_tensor(np.asarray(high, np.float32))
        self.centre, self.half = (high + low) / 2, (high - low) / 2

    def squash(self, u: torch.Tensor) -> torch.Tensor:
        return self.centre + self.half * torch.tanh(u)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.squash(self.base.sample(generator))

    def mode(self) -> torch.Tensor:
        return self.squash(self.base.mean)

    def log_prob(self, actions: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
        y = ((actions - self.centre) / self.half).clamp(-1 + eps, 1 - eps)
        u = torch.atanh(y)
        return self.base.log_prob(u) - torch.log(self.half * (1 - y * y) + eps).sum(-1)

    def log_prob_pre_squash(self, u: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
        """log π(a) for a = squash(u), computed from u (exact where tanh saturates)."""
        t = torch.tanh(u)
        return self.base.log_prob(u) - torch.log(self.half * (1 - t * t) + eps).sum(-1)

    def as_gaussian(self) -> DiagGaussian:
        t = torch.tanh(self.base.mean)
        std = self.half * (1 - t * t) * self.base.std
        return DiagGaussian(torch.cat([self.squash(self.base.mean), torch.log(std.clamp_min(1e-6))], -1))


def _same_kind(d: ActionDistribution, other: ActionDistribution):
    if type(other) is not type(d):
        raise TypeError(f"{type(d).__name__} compared with {type(other).__name__}")
    return other


__all__ = ["ActionDistribution", "Categorical", "DISTRIBUTIONS", "DiagGaussian", "SquashedGaussian", "dist_for_space",
           "param_size", "register"]
