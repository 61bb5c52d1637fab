"""The agent: a trunk (:mod:`distillrl.models.nets`) with policy, value, Q and task heads, and its
outputs as one named tuple.

The policy head outputs the parameters of the agent's action distribution (``agent.dist``, a
class from :mod:`distillrl.core.distributions` chosen by the action space; its size is the
distribution's ``param_size``); ``agent.distribution(out.logits)`` is the policy as an object.
Observations with named groups (:mod:`distillrl.envs.groups`) are cut to the agent's view
before the trunk."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from distillrl.config import from_dict, to_dict
from distillrl.core.distributions import ActionDistribution, dist_for_space
from distillrl.envs.groups import net_info, obs_view
from distillrl.envs.make import EnvInfo
from distillrl.envs.tasks import MASK
from distillrl.errors import ConfigError
from distillrl.models.normalize import RunningNorm
from distillrl.models.nets import (
    NetConfig,
    TaskAdapter,
    init_module,
    layer_init,
    make_trunk,
    resolve_arch,
)


class AgentOutput(NamedTuple):
    logits: torch.Tensor
    """[B, P] the parameters of the agent's action distribution (Categorical: the policy's
    logits, [B, A]), or — for a pure Q agent, which has no policy head — its q-values (greedy
    acting takes their argmax)"""
    value: torch.Tensor | None
    """[B] state value"""
    q: torch.Tensor | None
    """[B, A] action values (when the agent has a Q head)"""
    state: tuple[torch.Tensor, torch.Tensor] | None = None
    """a recurrent agent's LSTM state ``(h, c)`` [B, H] after this step (None when feed-forward)"""
    value_int: torch.Tensor | None = None
    """[B] intrinsic-reward value (the second value head of an RND agent; None otherwise)"""
    features: torch.Tensor | None = None
    """[B, D] the features the heads read (the trunk's output, or the LSTM's): what feature-level
    distillation (IE-KD) matches"""


class Agent(nn.Module):
    """Trunk(s) + heads: policy logits, value, optional Q.

    ``forward`` takes raw observations as the env gives them (any dtype, channels last or
    first) and handles the float conversion, scaling and layout itself.
    """

    def __init__(self, info: EnvInfo, cfg: NetConfig | None = None, value_head: bool = True,
                 q_head: bool = False, policy_head: bool = True, generator: torch.Generator | None = None,
                 int_value_head: bool = False):
        super().__init__()
        # Layers are built with torch's default initialisation drawn from a forked global RNG
        # (restored on exit), then every weight is re-drawn from ``generator``.
        with torch.random.fork_rng(devices=[]):
            self._build(info, cfg, value_head, q_head, policy_head, int_value_head)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw every weight from ``generator`` (torch's global RNG when None)."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                init_module(m, generator)
        if self.core is not None:  # CleanRL's LSTM agents: orthogonal weights (gain 1), zero biases
            with torch.no_grad():
                for name, p in self.core.named_parameters():
                    if name.startswith("bias"):
                        p.zero_()
                    else:
                        nn.init.orthogonal_(p, 1.0, generator=generator)

    def _build(self, info: EnvInfo, cfg: NetConfig | None, value_head: bool, q_head: bool, policy_head: bool,
               int_value_head: bool = False):
        cfg = cfg or NetConfig()
        self.info, self.cfg = info, cfg
        # observation groups: the trunk reads the agent's view of them (None: a plain Box)
        self.obs_view = obs_view(info)
        self.in_info = ninfo = net_info(info)
        """what the trunk sees: ``info`` itself, or the shape and layout of the agent's view"""
        self.arch = resolve_arch(cfg, ninfo)
        self.hwc = ninfo.layout == "hwc"
        self.scale = info.obs_scale
        if cfg.obs_norm and ninfo.layout != "flat":
            raise ConfigError(f"net.obs_norm normalises vector observations; {info.spec} gives {ninfo.layout} images")
        self.obs_norm = RunningNorm(ninfo.obs_shape, cfg.obs_clip) if cfg.obs_norm else None
        """running observation statistics (None: raw observations)"""
        self.n_tasks = k = info.n_tasks
        self.adapter = None
        if k > 1 and cfg.task_input == "adapter":
            c = ninfo.obs_shape[-1] if ninfo.layout in ("hwc", "flat") else ninfo.obs_shape[0]
            if ninfo.layout == "flat" and len(ninfo.obs_shape) != 1:
                c = int(np.prod(ninfo.obs_shape))
            self.adapter = TaskAdapter(k, c)
        self.trunk = make_trunk(self.arch, cfg, ninfo)
        d = self.trunk.out_dim
        # A recurrent agent: trunk → LSTM cell → heads (one trunk for policy and value).
        self.core = nn.LSTMCell(d, cfg.lstm) if cfg.lstm > 0 else None
        if self.core is not None:
            d = cfg.lstm
        # Separate critic trunk for the CleanRL/SB3-style MLP actor-critic (feed-forward only).
        self.critic_trunk = (make_trunk(self.arch, cfg, ninfo)
                             if (self.arch == "mlp" and not cfg.shared and value_head and policy_head
                                 and self.core is None) else None)
        self.dist: type[ActionDistribution] = dist_for_space(info.action_space)
        """the action distribution the policy head parameterises"""
        a = self.dist.param_size(info.action_space)
        self.n_actions = info.n_actions
        self.head_size = a
        """policy (and Q) head outputs per task: the distribution's parameter count"""
        # Task sets: one policy (and Q) head per task stored as one [K·A] layer (all heads in one
        # matmul; the task's slice is picked per sample), one value per task always (returns
        # differ in scale between tasks). One task: exactly the single-task layers.
        self.per_task_heads = k > 1 and cfg.task_actions == "heads"
        ah = a * k if self.per_task_heads else a
        self.continuous = info.continuous
        if self.continuous and q_head:
            raise ConfigError(f"a Q head needs discrete actions; {info.spec} has {info.describe_actions()}")
        # continuous actions: the head gives the mean, log σ is one state-independent parameter
        # (CleanRL's ppo_continuous_action.py); AgentOutput.logits is [mean | log σ]
        pi_out = info.n_actions if self.continuous else ah
        self.pi = layer_init(nn.Linear(d, pi_out), std=0.01) if policy_head else None
        self.log_std = (nn.Parameter(torch.full((info.n_actions,), float(cfg.log_std_init)))
                        if self.continuous and policy_head else None)
        self.v = layer_init(nn.Linear(self.critic_trunk.out_dim if self.critic_trunk else d, k), std=1.0) \
            if value_head else None
        self.q = layer_init(nn.Linear(d, ah), std=1.0) if q_head else None
        # RND's second value head (Burda et al.): the intrinsic return, one stream for all tasks
        # (intrinsic rewards are normalised to one scale), on the critic's features.
        self.v_int = layer_init(nn.Linear(self.critic_trunk.out_dim if self.critic_trunk else d, 1), std=1.0) \
            if (int_value_head and value_head) else None
        legal = np.asarray(info.legal, bool) if (k > 1 and info.legal is not None) else None
        if legal is not None and not legal.all():
            self.register_buffer("legal_bias", torch.from_numpy(np.where(legal, 0.0, MASK).astype(np.float32)),
                                 persistent=False)
        else:
            self.legal_bias = None

    def spec(self) -> dict:
        """Everything needed to rebuild this agent (stored in checkpoint metadata)."""
        spec = {"env": self.info.spec, "obs_shape": list(self.info.obs_shape), "layout": self.info.layout,
                "obs_scale": self.info.obs_scale, "n_actions": self.info.n_actions, "net": to_dict(self.cfg),
                "value_head": self.v is not None, "q_head": self.q is not None, "policy_head": self.pi is not None}
        if self.info.continuous:
            spec.update({"action_low": list(self.info.action_low), "action_high": list(self.info.action_high)})
        if self.v_int is not None:
            spec["int_value_head"] = True
        if self.info.groups:
            spec.update({"obs_groups": [[n, list(shape)] for n, shape in self.info.groups],
                         "obs_view": list(self.info.view)})
        if self.n_tasks > 1:
            spec.update({"n_tasks": self.n_tasks, "task_channels": list(self.info.task_channels),
                         "legal": [list(r) for r in self.info.legal] if self.info.legal else None})
        return spec

    @classmethod
    def from_spec(cls, spec: dict) -> Agent:
        legal = spec.get("legal")
        info = EnvInfo(spec["env"], tuple(spec["obs_shape"]), spec["layout"], float(spec["obs_scale"]),
                       int(spec["n_actions"]), int(spec.get("n_tasks", 1)),
                       tuple(tuple(bool(x) for x in r) for r in legal) if legal else None,
                       tuple(spec.get("task_channels", ())),
                       tuple((str(n), tuple(shape)) for n, shape in spec.get("obs_groups", ())),
                       tuple(spec.get("obs_view", ())),
                       tuple(float(x) for x in spec.get("action_low", ())),
                       tuple(float(x) for x in spec.get("action_high", ())))
        # the weights are about to be loaded: initialise from a throwaway generator, not the global one
        return cls(info, from_dict(NetConfig, spec["net"]), value_head=spec["value_head"], q_head=spec["q_head"],
                   policy_head=spec["policy_head"], generator=torch.Generator().manual_seed(0),
                   int_value_head=bool(spec.get("int_value_head", False)))

    def distribution(self, params: torch.Tensor, temperature: float = 1.0) -> ActionDistribution:
        """The policy as a distribution from the head's parameters (``AgentOutput.logits``)."""
        return self.dist(params, temperature=temperature)

    @property
    def device(self) -> torch.device:
        """Where the parameters live (``--device``); inputs from the CPU rollouts are moved here."""
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def prep(self, obs: torch.Tensor) -> torch.Tensor:
        obs = torch.as_tensor(obs, device=self.device)  # a no-op on the CPU; one transfer per forward on a GPU learner
        if self.obs_view is not None:
            obs = self.obs_view(obs)
        x = obs.float() if obs.dtype != torch.float32 else obs
        if self.scale != 1.0:
            x = x * self.scale
        if self.obs_norm is not None:
            x = self.obs_norm(x)
        if self.hwc:
            x = x.permute(0, 3, 1, 2)
        return x

    def _task_input(self, obs: torch.Tensor, task_id: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self.prep(obs)
        if self.n_tasks > 1:
            if task_id is None:
                raise ValueError(f"this agent plays {self.n_tasks} tasks: pass task_id")
            task_id = torch.as_tensor(task_id, dtype=torch.int64, device=x.device)
            if self.adapter is not None:
                x = self.adapter(x, task_id)
        return x, task_id

    def _actions(self, out: torch.Tensor, task_id: torch.Tensor | None) -> torch.Tensor:
        """[B, K·A] or [B, A] head output → the sample's task's [B, A], illegal actions masked."""
        if self.per_task_heads:
            out = out.view(out.shape[0], self.n_tasks, self.head_size)[torch.arange(out.shape[0], device=out.device),
                                                                       task_id]
        if self.legal_bias is not None:
            out = out + self.legal_bias[task_id]
        return out

    def _value(self, v: torch.Tensor, task_id: torch.Tensor | None) -> torch.Tensor:
        if self.n_tasks == 1:
            return v.squeeze(-1)
        return v.gather(1, task_id[:, None]).squeeze(1)

    @torch.no_grad()
    def update_obs_norm(self, obs: torch.Tensor) -> None:
        """Merge raw observations [B, ...] (as the env gives them) into the running statistics."""
        if self.obs_norm is None:
            return
        x = self.obs_view(obs) if self.obs_view is not None else obs
        x = x.to(self.obs_norm.mean.device)  # rollouts live on the CPU, a learner may not (--device)
        x = x.float() * self.scale if self.scale != 1.0 else x.float()
        self.obs_norm.update(x.reshape((-1,) + tuple(self.obs_norm.mean.shape)))

    @property
    def recurrent(self) -> bool:
        return self.core is not None

    def initial_state(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The LSTM state at an episode's start: zeros ``(h, c)``, each [n, H]."""
        z = torch.zeros(n, self.core.hidden_size, device=self.device)
        return z, z.clone()

    def _core_step(self, h: torch.Tensor, state, start: torch.Tensor | None):
        if state is None:
            state = self.initial_state(h.shape[0])
        elif state[0].device != h.device:  # a state kept on the CPU (rollouts) for a learner on a GPU
            state = tuple(s.to(h.device) for s in state)
        if start is not None:  # reset where an episode starts at this step
            keep = (1.0 - start.to(h.device).float())[:, None]
            state = (state[0] * keep, state[1] * keep)
        return self.core(h, state)

    def forward(self, obs: torch.Tensor, task_id: torch.Tensor | None = None, state=None,
                start: torch.Tensor | None = None) -> AgentOutput:
        """``task_id`` [B] selects each sample's adapter and heads (required for a task set;
        single-task agents ignore it). A recurrent agent takes one step from ``state`` (zeros
        when None; reset first on rows where ``start`` is 1) and returns the new state."""
        x, task_id = self._task_input(obs, task_id)
        h = self.trunk(x)
        new_state = None
        if self.core is not None:
            new_state = self._core_step(h, state, start)
            h = new_state[0]
        return self._heads(x, h, task_id, new_state)

    def forward_seq(self, obs: torch.Tensor, task_id: torch.Tensor, state0, starts: torch.Tensor) -> AgentOutput:
        """A recurrent agent over whole sequences: ``obs`` [T, N, ...], ``task_id`` and ``starts``
        [T, N], ``state0`` the state before step 0 ([N, H] each). The trunk runs on all T·N
        observations at once, the LSTM step by step (reset where ``starts`` is 1). Outputs are
        flat [T·N, ...] (time-major, like :meth:`data.Rollout.flatten`); ``state`` is the last one."""
        T, n = obs.shape[:2]
        flat_task = task_id.reshape(-1)
        x, flat_task = self._task_input(obs.reshape((T * n,) + tuple(obs.shape[2:])), flat_task)
        feats = self.trunk(x).view(T, n, -1)
        state, hs = state0, []
        for t in range(T):
            state = self._core_step(feats[t], state, starts[t])
            hs.append(state[0])
        return self._heads(x, torch.cat(hs, 0), flat_task, state)

    def _heads(self, x, h, task_id, state) -> AgentOutput:
        logits = self._actions(self.pi(h), task_id) if self.pi is not None else None
        if self.log_std is not None:
            logits = torch.cat([logits, self.log_std.expand_as(logits)], -1)
        q = self._actions(self.q(h), task_id) if self.q is not None else None
        value = value_int = None
        if self.v is not None:
            hc = self.critic_trunk(x) if self.critic_trunk is not None else h
            value = self._value(self.v(hc), task_id)
            if self.v_int is not None:
                value_int = self.v_int(hc).squeeze(-1)
        if logits is None and q is not None:
            logits = q  # a pure Q agent acts greedily on q
        return AgentOutput(logits, value, q, state, value_int, h)

    @property
    def feature_dim(self) -> int:
        """Size of :attr:`AgentOutput.features`."""
        return self.core.hidden_size if self.core is not None else self.trunk.out_dim

    def value(self, obs: torch.Tensor, task_id: torch.Tensor | None = None, state=None) -> torch.Tensor:
        if self.core is not None:
            return self.forward(obs, task_id, state).value
        x, task_id = self._task_input(obs, task_id)
        h = self.critic_trunk(x) if self.critic_trunk is not None else self.trunk(x)
        return self._value(self.v(h), task_id)


def acting_tensors(agent: Agent) -> list[tuple[str, torch.Tensor]]:
    """What an acting copy of ``agent`` needs: its parameters and its observation statistics
    (float32), named as in its ``state_dict``."""
    out = [(k, p) for k, p in agent.named_parameters()]
    if agent.obs_norm is not None:
        out += [("obs_norm.mean", agent.obs_norm.mean.float()), ("obs_norm.var", agent.obs_norm.var.float())]
    return out


def param_count(module: nn.Module) -> int:
    """Exact number of parameters."""
    return sum(p.numel() for p in module.parameters())


def acting_param_count(agent: Agent) -> int:
    """Parameters used to choose actions: the trunk and the policy (or Q) head — not the critic.

    This is the fair size of a teacher in a compression ratio (a PPO teacher's separate critic
    never acts, and a distilled student has none).
    """
    skip = {id(p) for m in (agent.critic_trunk, agent.v, agent.v_int) if m is not None for p in m.parameters()}
    if agent.pi is not None and agent.q is not None:
        skip |= {id(p) for p in agent.q.parameters()}
    return sum(p.numel() for p in agent.parameters() if id(p) not in skip)
