"""Teachers: frozen policies from any source, behind one interface.

A :class:`Teacher` maps a batch of observations (as the environment gives them) to its raw
outputs — policy logits or Q-values — which are the parameters of its action distribution
(``teacher.dist``, :mod:`distillrl.core.distributions`): :meth:`Teacher.distribution` reads
them at a temperature τ — ``softmax(logits)`` for a policy teacher, ``softmax(q / τ)`` for a
Q-teacher (SPEC §1) — and :meth:`Teacher.probs` gives that distribution's probabilities.
Teachers run in eval mode under ``torch.inference_mode``; no gradient ever reaches them.

On an environment with named observation groups (:mod:`distillrl.envs.groups`) a teacher can
be told which groups it reads (:meth:`Teacher.read_groups`, ``--teacher-obs-groups``); a
distillrl agent trained on such an environment reads the groups it was trained on.

Loaders (:func:`load_teacher`):

* a distillrl run directory, checkpoint file or zoo name;
* a Stable-Baselines3 ``.zip`` (PPO, A2C, DQN; MLP and NatureCNN policies), read **without
  unpickling anything**: the archive's ``data`` member is parsed as JSON and its
  ``:serialized:`` pickles are never decoded; weights come from ``policy.pth`` through
  ``torch.load(weights_only=True)``, which refuses any pickle that would build objects or run
  code; the architecture is rebuilt from tensor names and shapes plus the readable
  ``activation_fn`` string;
* a CleanRL-style state dict with a named architecture (:data:`CLEANRL_ARCHES`);
* a Python callable ``obs -> logits`` (or probabilities / Q-values).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from distillrl.core.distributions import ActionDistribution, Categorical
from distillrl.envs.groups import ObsView, check_groups, parse_groups, view_names
from distillrl.envs.make import EnvInfo
from distillrl.errors import ConfigError, TeacherError
from distillrl.models.agent import acting_param_count
from distillrl.models.fastpolicy import make_fast_policy

TeacherArch = Literal["cleanrl-ppo", "cleanrl-dqn", "cleanrl-ppo-atari", "cleanrl-dqn-atari", "cleanrl-ppo-continuous"]


class Teacher:
    """Frozen teacher. Subclasses implement :meth:`raw` (torch → torch)."""

    recurrent: bool = False
    """a recurrent teacher (:class:`AgentTeacher` of an LSTM agent) labels whole sequences (``probs_seq``)"""
    kind: str = "policy"
    """``policy`` (outputs are logits) or ``q`` (outputs are action values)"""
    dist: type[ActionDistribution] = Categorical
    """the action distribution its outputs parameterise (a Q-teacher's: softmax(q/τ))"""
    view: ObsView | None = None
    """the observation groups it reads (None: observations as the environment packs them)"""
    action_low: tuple[float, ...] | None = None
    """continuous-action teachers: the bounds of the actions they were trained on (None: discrete)"""
    action_high: tuple[float, ...] | None = None
    continuous_unbounded: bool = False
    """a continuous teacher whose file records no bounds (a CleanRL state dict): it takes the env's"""

    def __init__(self, name: str, obs_shape: tuple[int, ...], n_actions: int, kind: str = "policy",
                 tau: float | None = None, env: str | None = None, n_params: int = 0):
        self.name, self.obs_shape, self.n_actions, self.kind = name, tuple(obs_shape), n_actions, kind
        self.tau = tau if tau is not None else (0.01 if kind == "q" else 1.0)
        self.env = env
        self.n_params = n_params
        self.provenance: dict = {}
        """where the teacher came from (a hub folder's layout, model file and config; an exported
        student's own card data): written into run summaries and model cards"""

    def raw(self, obs: torch.Tensor, task_id: torch.Tensor | None = None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    @torch.inference_mode()
    def outputs(self, obs: torch.Tensor | np.ndarray, task_id: torch.Tensor | None = None) -> torch.Tensor:
        """Raw outputs [B, A] (logits or Q-values), float32, no gradient."""
        if isinstance(obs, np.ndarray):
            obs = torch.from_numpy(obs)
        if self.view is not None:
            obs = self.view(obs)
        return self.raw(obs, task_id).float()

    def distribution(self, obs, task_id=None, tau: float | None = None) -> ActionDistribution:
        """The teacher's action distribution on ``obs``: its outputs read at temperature τ
        (default: its own, 1 for policy teachers)."""
        return self.dist.from_teacher(self.outputs(obs, task_id), tau or self.tau)

    def probs(self, obs, task_id=None, tau: float | None = None) -> torch.Tensor:
        """Action probabilities [B, A]: softmax(outputs / τ) (τ = 1 for policy teachers by default)."""
        return self.distribution(obs, task_id, tau).probs

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Greedy actions (NumPy)."""
        return self.dist(self.outputs(obs)).mode().numpy()

    def read_groups(self, info: EnvInfo, names) -> None:
        """Read only the observation groups ``names`` (``"priv,a"``) of ``info``'s packed Dict
        observations (``--teacher-obs-groups``); nothing when ``names`` is empty."""
        names = parse_groups(names)
        if not names:
            return
        if not info.groups:
            raise ConfigError(f"--teacher-obs-groups: {info.spec} has no observation groups (its observations "
                              "are one Box)")
        self.view = ObsView(info.groups, check_groups(info.groups, names, "--teacher-obs-groups"))

    def describe_actions(self) -> str:
        if self.action_low is None:
            return (f"{self.n_actions}-dimensional continuous actions" if self.continuous_unbounded
                    else f"{self.n_actions} discrete actions")
        return EnvInfo("", (), "flat", 1.0, self.n_actions, action_low=tuple(self.action_low),
                       action_high=tuple(self.action_high)).describe_actions()

    def check_actions(self, info: EnvInfo) -> None:
        """The teacher's action space is the environment's: same kind, dimension and bounds."""
        if self.continuous_unbounded and self.action_low is None and info.continuous \
                and self.n_actions == info.n_actions:
            # a state dict that does not record its bounds (CleanRL clips to the env's): the env's
            self.action_low, self.action_high = info.action_low, info.action_high
        mine, theirs = self.describe_actions(), info.describe_actions()
        continuous = self.action_low is not None or self.continuous_unbounded
        same = continuous == info.continuous and self.n_actions == info.n_actions
        if same and info.continuous:
            same = (np.allclose(self.action_low, info.action_low) and np.allclose(self.action_high, info.action_high))
        if not same:
            raise TeacherError(f"teacher {self.name} has {mine} but {info.spec} has {theirs}")

    def check_env(self, info: EnvInfo) -> None:
        self.check_actions(info)
        seen = self.view.shape if self.view is not None else tuple(info.obs_shape)
        if self.obs_shape != seen:
            what = f"groups {','.join(self.view.names)} of {info.spec} give" if self.view is not None else \
                f"{info.spec} gives"
            hint = (f" (its observation groups: {', '.join(n for n, _ in info.groups)}; choose the teacher's "
                    "with --teacher-obs-groups)") if info.groups and self.view is None else ""
            raise TeacherError(f"teacher {self.name} expects observations of shape {self.obs_shape} "
                               f"but {what} {seen}{hint}")


class AgentTeacher(Teacher):
    """A distillrl :class:`nets.Agent` (PPO → policy teacher, DQN → Q-teacher)."""

    def __init__(self, agent, name: str, env: str | None = None, tau: float | None = None):
        kind = "q" if agent.pi is None else "policy"
        super().__init__(name, agent.info.obs_shape, agent.info.n_actions, kind, tau, env, acting_param_count(agent))
        self.agent = agent.eval().requires_grad_(False)
        self.dist = agent.dist
        if agent.info.continuous:
            self.action_low, self.action_high = agent.info.action_low, agent.info.action_high
        self.fast = make_fast_policy(self.agent)
        """the agent's acting mirror (NumPy where supported): fast outputs on a few observations"""

    @property
    def recurrent(self) -> bool:
        return self.agent.recurrent

    def raw(self, obs, task_id=None):
        out = self.agent(obs, task_id)
        return out.q if self.kind == "q" else out.logits

    @torch.no_grad()
    def features(self, obs, task_id=None) -> torch.Tensor:
        """The teacher's features [B, D] (what its heads read; feature-level distillation)."""
        return self.agent(torch.as_tensor(obs), task_id).features

    @torch.no_grad()
    def distribution_seq(self, obs, task_id, starts, state=None, tau: float | None = None):
        """A recurrent teacher over sequences: ``obs`` [T, N, ...], ``starts`` [T, N] (its state is
        reset where episodes start), from ``state`` (zeros when None). Returns its distribution
        over the T·N steps (time-major) and the state after the last step (to carry into the
        next rollout)."""
        n = obs.shape[1]
        if self.view is not None:
            obs = self.view(obs)
        out = self.agent.forward_seq(obs, task_id, state if state is not None else self.agent.initial_state(n), starts)
        y = out.q if self.kind == "q" else out.logits
        return self.dist.from_teacher(y, tau or self.tau), out.state

    def read_groups(self, info: EnvInfo, names) -> None:
        """An agent trained on observation groups reads those it was trained on (``names``, when
        given, must be them); one trained on a plain Box reads the groups ``names``."""
        if not self.agent.info.groups:
            return super().read_groups(info, names)
        names, own = parse_groups(names), view_names(self.agent.info)
        if names and names != own:
            raise ConfigError(f"--teacher-obs-groups {','.join(names)}: teacher {self.name} reads the observation "
                              f"groups it was trained on ({','.join(own)})")

    def check_env(self, info: EnvInfo) -> None:
        own = self.agent.info.groups
        if own and tuple(own) != tuple(info.groups):
            have = ", ".join(n for n, _ in info.groups) or "none"
            raise TeacherError(f"teacher {self.name} was trained on observation groups "
                               f"{', '.join(n for n, _ in own)}; {info.spec} has {have}")
        super().check_env(info)

    def outputs_np(self, obs: np.ndarray, task_id: np.ndarray | None = None) -> np.ndarray:
        """Fast path for acting on a few observations (NumPy mirror); ``task_id`` for a
        multi-task agent."""
        if task_id is None and self.agent.n_tasks > 1:
            raise TeacherError(f"{self.name} plays {self.agent.n_tasks} tasks: its outputs need task ids")
        if self.view is not None:
            obs = self.view(obs)
        return self.fast.q_values(obs, task_id) if self.kind == "q" else self.fast(obs, task_id)[0]


class CallableTeacher(Teacher):
    """Wraps ``fn(obs: np.ndarray) -> array [B, A]``; ``outputs`` says what it returns:
    ``logits``, ``probs`` (stored as log-probabilities) or ``q``."""

    def __init__(self, fn: Callable[[np.ndarray], Any], obs_shape, n_actions, outputs: str = "logits",
                 name: str = "callable", tau: float | None = None, env: str | None = None):
        if outputs not in ("logits", "probs", "q"):
            raise TeacherError(f"callable teacher outputs must be logits, probs or q, not {outputs!r}")
        super().__init__(name, obs_shape, n_actions, "q" if outputs == "q" else "policy", tau, env)
        self.fn, self.out_kind = fn, outputs

    def raw(self, obs, task_id=None):
        y = self.fn(obs.numpy() if isinstance(obs, torch.Tensor) else obs)
        y = torch.as_tensor(np.asarray(y), dtype=torch.float32)
        if y.shape != (obs.shape[0], self.n_actions):
            raise TeacherError(f"callable teacher returned shape {tuple(y.shape)}, expected {(obs.shape[0], self.n_actions)}")
        return torch.log(y.clamp_min(1e-12)) if self.out_kind == "probs" else y


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "Tanh": torch.tanh, "ReLU": torch.relu, "ELU": F.elu, "LeakyReLU": F.leaky_relu, "GELU": F.gelu,
    "SiLU": F.silu, "Sigmoid": torch.sigmoid,
}


def seq_linears(sd: dict, prefix: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Linear layers of an ``nn.Sequential`` stored under ``prefix`` (``prefix.<i>.weight``), in order."""
    idx = sorted({int(m.group(1)) for k in sd if (m := re.match(re.escape(prefix) + r"\.(\d+)\.weight$", k))})
    return [(sd[f"{prefix}.{i}.weight"], sd[f"{prefix}.{i}.bias"]) for i in idx]


def _stride(kernel: int) -> int:
    return {8: 4, 4: 2, 3: 1}.get(kernel, 1)


class FunctionalNet(nn.Module):
    """A feed-forward net described as data: optional conv stack, then linear layers.

    ``convs``: [(w, b, stride)], each followed by ReLU, then flatten. ``linears``: [(w, b)] with
    ``act`` after every layer except the last when ``last_act`` is False.
    """

    def __init__(self, convs, linears, act, last_act: bool, normalize: float, chw_from_hwc: bool):
        super().__init__()
        self.convs = [(nn.Parameter(w, False), nn.Parameter(b, False), s) for w, b, s in convs]
        self.linears = [(nn.Parameter(w, False), nn.Parameter(b, False)) for w, b in linears]
        for i, (w, b, _) in enumerate(self.convs):
            self.register_parameter(f"conv{i}_w", w)
            self.register_parameter(f"conv{i}_b", b)
        for i, (w, b) in enumerate(self.linears):
            self.register_parameter(f"lin{i}_w", w)
            self.register_parameter(f"lin{i}_b", b)
        self.act, self.last_act, self.normalize, self.chw_from_hwc = act, last_act, normalize, chw_from_hwc

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float()
        if self.normalize != 1.0:
            x = x * self.normalize
        if self.convs:
            if self.chw_from_hwc:
                x = x.permute(0, 3, 1, 2)
            for w, b, s in self.convs:
                x = torch.relu(F.conv2d(x, w, b, stride=s))
        x = x.flatten(1)
        n = len(self.linears)
        for i, (w, b) in enumerate(self.linears):
            x = F.linear(x, w, b)
            if i < n - 1 or self.last_act:
                x = self.act(x)
        return x


class ModuleTeacher(Teacher):
    normalizer = None
    """observation statistics the policy was trained with (SB3 VecNormalize, CleanRL's
    NormalizeObservation), applied to its input: :class:`distillrl.teachers.vecnorm.ObsNormalizer`"""

    def __init__(self, net: nn.Module, name, obs_shape, n_actions, kind, tau=None, env=None):
        n = sum(p.numel() for p in net.parameters())
        super().__init__(name, obs_shape, n_actions, kind, tau, env, n)
        self.net = net.eval().requires_grad_(False)

    def raw(self, obs, task_id=None):
        if self.normalizer is not None:
            obs = self.normalizer(obs)
        return self.net(obs)
