"""Networks: trunks (MLP, MinAtar, Nature CNN, IMPALA CNN) and the :class:`Agent` with heads.

Every trunk takes a ``width`` multiplier that scales hidden units and channels (rounded, at
least 1), which is how compressed students are built; :func:`param_count` gives exact counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import torch
from torch import nn

from .envs import EnvInfo
from .tasks import MASK


@dataclass
class NetConfig:
    """Network architecture."""

    arch: Literal["auto", "mlp", "minatar", "nature", "impala"] = "auto"
    """trunk: auto (mlp for vectors, minatar for small images, nature for ≥ 36 px), mlp, minatar, nature, impala"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden layer sizes of the mlp trunk {≥ 1}"""
    width: float = 1.0
    """multiplier on every hidden size and channel count (compressed students use < 1) {(0, 64]}"""
    shared: bool = False
    """mlp only: one trunk for policy and value (false: separate actor and critic MLPs, as CleanRL/SB3)"""
    activation: Literal["tanh", "relu"] = "tanh"
    """mlp activation: tanh or relu"""
    task_input: Literal["pad", "adapter"] = "pad"
    """task sets: pad (tasks' observations zero-padded to a common channel count, straight into the shared trunk) or adapter (a per-task 1×1 conv / linear map in front of it; see distillrl.tasks)"""
    lstm: int = 0
    """units of an LSTM between the trunk and the heads (0: feed-forward); its state is carried through rollouts and reset where episodes end {≥ 0}"""
    downsample: int = 0
    """minatar trunk: stride-2 3×3 convs (same channel count, padding 1) between its conv and its FC; each quarters the FC's input, so a compressed student can spend its parameters on channels instead of on the FC (0: the MinAtar paper's network) {[0, 3]}"""
    norm: Literal["auto", "none", "layer"] = "auto"
    """layer: LayerNorm after every hidden layer of the mlp and minatar trunks, before the activation (PQN's stabiliser, Gallici et al. 2024); none: plain layers; auto: layer for pqn, none otherwise"""
    task_actions: Literal["heads", "shared"] = "heads"
    """task sets: heads (one policy head per task over its own actions) or shared (one head, one action set for all tasks; MinAtar: the full 6-action set; see distillrl.tasks)"""


ARCHES = ("auto", "mlp", "minatar", "nature", "impala")


def _w(n: int, width: float) -> int:
    return max(1, int(round(n * width)))


def layer_init(layer: nn.Module, std: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Mark a layer for orthogonal initialisation with gain ``std`` (CleanRL's ``layer_init``).

    The draw itself happens in :meth:`Agent.reset_parameters` from the agent's own generator,
    so building an agent never touches torch's global random state.
    """
    layer._init_std = std  # type: ignore[attr-defined]
    layer._init_bias = bias  # type: ignore[attr-defined]
    return layer


def _init_module(m: nn.Module, gen: torch.Generator | None) -> None:
    w, b = getattr(m, "weight", None), getattr(m, "bias", None)
    if w is None or w.is_meta:
        return
    with torch.no_grad():
        if hasattr(m, "_init_std"):
            nn.init.orthogonal_(w, m._init_std, generator=gen)
            if b is not None:
                nn.init.constant_(b, m._init_bias)
        else:  # torch's own default for Linear / Conv (Kaiming-uniform), from our generator
            nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=gen)
            if b is not None:
                fan_in = w[0].numel()
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                nn.init.uniform_(b, -bound, bound, generator=gen)


class MLP(nn.Module):
    def __init__(self, in_dim: int, hidden: tuple[int, ...], width: float = 1.0, activation: str = "tanh",
                 norm: bool = False):
        super().__init__()
        act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]
        layers: list[nn.Module] = []
        d = in_dim
        for h in hidden:
            h = _w(h, width)
            layers += [layer_init(nn.Linear(d, h))] + ([nn.LayerNorm(h)] if norm else []) + [act()]
            d = h
        self.net = nn.Sequential(*layers)
        self.out_dim = d

    def forward(self, x):
        return self.net(x.flatten(1))


class MinAtarNet(nn.Module):
    """Young & Tian 2019 (MinAtar): conv 16 filters 3×3 stride 1 → ReLU → FC 128 → ReLU.

    ``norm``: LayerNorm before each ReLU — over the channels at every position after a conv
    (as PQN's MinAtar network normalises its channels-last conv output) and over the FC units.
    ``downsample``: that many extra conv 3×3 stride 2 (padding 1, same channels) → ReLU before
    the FC. Nearly all of the paper network's parameters are its FC's (16·8·8·128 of ≈ 132k);
    shrinking it by width alone leaves a 7 % student 4 channels, too few to tell MinAtar's object
    channels apart, whereas each stride-2 conv divides the FC's input by four."""

    def __init__(self, in_ch: int, hw: tuple[int, int], width: float = 1.0, norm: bool = False,
                 downsample: int = 0):
        super().__init__()
        c, f = _w(16, width), _w(128, width)
        self.conv = layer_init(nn.Conv2d(in_ch, c, 3, 1))
        h, w = hw[0] - 2, hw[1] - 2
        self.down = nn.ModuleList()
        self.down_norm = nn.ModuleList()
        for _ in range(downsample):
            self.down.append(layer_init(nn.Conv2d(c, c, 3, 2, padding=1)))
            if norm:
                self.down_norm.append(nn.LayerNorm(c))
            h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
        self.fc = layer_init(nn.Linear(c * h * w, f))
        self.conv_norm = nn.LayerNorm(c) if norm else None
        self.fc_norm = nn.LayerNorm(f) if norm else None
        self.out_dim = f

    @staticmethod
    def _channel_norm(ln: nn.LayerNorm | None, x: torch.Tensor) -> torch.Tensor:
        return x if ln is None else ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def forward(self, x):
        x = torch.relu(self._channel_norm(self.conv_norm, self.conv(x)))
        for conv, ln in zip(self.down, self.down_norm or [None] * len(self.down)):
            x = torch.relu(self._channel_norm(ln, conv(x)))
        x = self.fc(x.flatten(1))
        if self.fc_norm is not None:
            x = self.fc_norm(x)
        return torch.relu(x)


class NatureCNN(nn.Module):
    """Mnih et al. 2015: conv 32×8×8/4, 64×4×4/2, 64×3×3/1, FC 512."""

    def __init__(self, in_ch: int, hw: tuple[int, int], width: float = 1.0):
        super().__init__()
        c1, c2, c3, f = _w(32, width), _w(64, width), _w(64, width), _w(512, width)
        self.convs = nn.Sequential(
            layer_init(nn.Conv2d(in_ch, c1, 8, 4)), nn.ReLU(),
            layer_init(nn.Conv2d(c1, c2, 4, 2)), nn.ReLU(),
            layer_init(nn.Conv2d(c2, c3, 3, 1)), nn.ReLU(), nn.Flatten(),
        )
        with torch.no_grad():
            n = self.convs(torch.zeros(1, in_ch, *hw)).shape[1]
        self.fc = layer_init(nn.Linear(n, f))
        self.out_dim = f

    def forward(self, x):
        return torch.relu(self.fc(self.convs(x)))


class _ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.c0 = nn.Conv2d(c, c, 3, padding=1)
        self.c1 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.c1(torch.relu(self.c0(torch.relu(x))))


class ImpalaCNN(nn.Module):
    """Espeholt et al. 2018: three stacks (16, 32, 32) of conv + maxpool + 2 residual blocks, FC 256."""

    def __init__(self, in_ch: int, hw: tuple[int, int], width: float = 1.0):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_ch
        for c in (16, 32, 32):
            c = _w(c, width)
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.MaxPool2d(3, 2, padding=1), _ResBlock(c), _ResBlock(c)]
            c_in = c
        layers += [nn.ReLU(), nn.Flatten()]
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            n = self.convs(torch.zeros(1, in_ch, *hw)).shape[1]
        f = _w(256, width)
        self.fc = layer_init(nn.Linear(n, f))
        self.out_dim = f

    def forward(self, x):
        return torch.relu(self.fc(self.convs(x)))


class TaskAdapter(nn.Module):
    """Per-task input adapter: task k's observation goes through its own linear channel map
    (a 1×1 convolution for images, a linear layer for vectors) before the shared trunk.

    Initialised to the identity, so a fresh adapter agent starts as the padded one. The padded
    (all-zero) input channels of a task receive no gradient, so each task's map is effectively
    C_k → C (Rusu et al.'s per-game input layer)."""

    def __init__(self, n_tasks: int, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.eye(channels).repeat(n_tasks, 1, 1))
        self.bias = nn.Parameter(torch.zeros(n_tasks, channels))

    def forward(self, x: torch.Tensor, task_id: torch.Tensor) -> torch.Tensor:
        w, b = self.weight[task_id], self.bias[task_id]  # [B, C_out, C_in], [B, C_out]
        if x.dim() == 4:  # [B, C, H, W]
            return torch.einsum("bchw,bdc->bdhw", x, w) + b[:, :, None, None]
        return torch.einsum("bc,bdc->bd", x.flatten(1), w) + b


class AgentOutput(NamedTuple):
    logits: torch.Tensor
    """[B, A] action preferences: the policy's logits (softmax gives π), or — for a pure
    Q agent, which has no policy head — its q-values (greedy acting takes their argmax)"""
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


def resolve_arch(cfg: NetConfig, info: EnvInfo) -> str:
    if cfg.arch != "auto":
        return cfg.arch
    if info.layout == "flat":
        return "mlp"
    h = info.obs_shape[0] if info.layout == "hwc" else info.obs_shape[1]
    return "minatar" if h < 36 else "nature"


def make_trunk(arch: str, cfg: NetConfig, info: EnvInfo) -> nn.Module:
    from .errors import ConfigError

    norm = cfg.norm == "layer"
    if cfg.downsample and arch != "minatar":
        raise ConfigError(f"--net.downsample is built for the minatar trunk, not {arch}")
    if arch == "mlp":
        return MLP(int(np.prod(info.obs_shape)), tuple(cfg.hidden), cfg.width, cfg.activation, norm)
    if info.layout == "flat":
        raise ConfigError(f"arch {arch!r} needs image observations; {info.spec} gives vectors {info.obs_shape}")
    if norm and arch != "minatar":
        raise ConfigError(f"--net.norm layer is built for the mlp and minatar trunks, not {arch}")
    if info.layout == "hwc":
        hw, c = info.obs_shape[:2], info.obs_shape[2]
    else:
        c, hw = info.obs_shape[0], info.obs_shape[1:]
    if arch == "minatar":
        return MinAtarNet(c, tuple(hw), cfg.width, norm, cfg.downsample)
    cls = {"nature": NatureCNN, "impala": ImpalaCNN}[arch]
    return cls(c, tuple(hw), cfg.width)


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
                _init_module(m, generator)
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
        self.arch = resolve_arch(cfg, info)
        self.hwc = info.layout == "hwc"
        self.scale = info.obs_scale
        self.n_tasks = k = info.n_tasks
        self.adapter = None
        if k > 1 and cfg.task_input == "adapter":
            c = info.obs_shape[-1] if info.layout in ("hwc", "flat") else info.obs_shape[0]
            if info.layout == "flat" and len(info.obs_shape) != 1:
                c = int(np.prod(info.obs_shape))
            self.adapter = TaskAdapter(k, c)
        self.trunk = make_trunk(self.arch, cfg, info)
        d = self.trunk.out_dim
        # A recurrent agent: trunk → LSTM cell → heads (one trunk for policy and value).
        self.core = nn.LSTMCell(d, cfg.lstm) if cfg.lstm > 0 else None
        if self.core is not None:
            d = cfg.lstm
        # Separate critic trunk for the CleanRL/SB3-style MLP actor-critic (feed-forward only).
        self.critic_trunk = (make_trunk(self.arch, cfg, info)
                             if (self.arch == "mlp" and not cfg.shared and value_head and policy_head
                                 and self.core is None) else None)
        a = info.n_actions
        self.n_actions = a
        # Task sets: one policy (and Q) head per task stored as one [K·A] layer (all heads in one
        # matmul; the task's slice is picked per sample), one value per task always (returns
        # differ in scale between tasks). One task: exactly the single-task layers.
        self.per_task_heads = k > 1 and cfg.task_actions == "heads"
        ah = a * k if self.per_task_heads else a
        self.pi = layer_init(nn.Linear(d, ah), std=0.01) if policy_head else None
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
        from .config import to_dict

        spec = {"env": self.info.spec, "obs_shape": list(self.info.obs_shape), "layout": self.info.layout,
                "obs_scale": self.info.obs_scale, "n_actions": self.info.n_actions, "net": to_dict(self.cfg),
                "value_head": self.v is not None, "q_head": self.q is not None, "policy_head": self.pi is not None}
        if self.v_int is not None:
            spec["int_value_head"] = True
        if self.n_tasks > 1:
            spec.update({"n_tasks": self.n_tasks, "task_channels": list(self.info.task_channels),
                         "legal": [list(r) for r in self.info.legal] if self.info.legal else None})
        return spec

    @classmethod
    def from_spec(cls, spec: dict) -> Agent:
        from .config import from_dict

        legal = spec.get("legal")
        info = EnvInfo(spec["env"], tuple(spec["obs_shape"]), spec["layout"], float(spec["obs_scale"]),
                       int(spec["n_actions"]), int(spec.get("n_tasks", 1)),
                       tuple(tuple(bool(x) for x in r) for r in legal) if legal else None,
                       tuple(spec.get("task_channels", ())))
        # the weights are about to be loaded: initialise from a throwaway generator, not the global one
        return cls(info, from_dict(NetConfig, spec["net"]), value_head=spec["value_head"], q_head=spec["q_head"],
                   policy_head=spec["policy_head"], generator=torch.Generator().manual_seed(0),
                   int_value_head=bool(spec.get("int_value_head", False)))

    def prep(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float() if obs.dtype != torch.float32 else obs
        if self.scale != 1.0:
            x = x * self.scale
        if self.hwc:
            x = x.permute(0, 3, 1, 2)
        return x

    def _task_input(self, obs: torch.Tensor, task_id: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self.prep(obs)
        if self.n_tasks > 1:
            if task_id is None:
                raise ValueError(f"this agent plays {self.n_tasks} tasks: pass task_id")
            task_id = torch.as_tensor(task_id, dtype=torch.int64)
            if self.adapter is not None:
                x = self.adapter(x, task_id)
        return x, task_id

    def _actions(self, out: torch.Tensor, task_id: torch.Tensor | None) -> torch.Tensor:
        """[B, K·A] or [B, A] head output → the sample's task's [B, A], illegal actions masked."""
        if self.per_task_heads:
            out = out.view(out.shape[0], self.n_tasks, self.n_actions)[torch.arange(out.shape[0]), task_id]
        if self.legal_bias is not None:
            out = out + self.legal_bias[task_id]
        return out

    def _value(self, v: torch.Tensor, task_id: torch.Tensor | None) -> torch.Tensor:
        if self.n_tasks == 1:
            return v.squeeze(-1)
        return v.gather(1, task_id[:, None]).squeeze(1)

    @property
    def recurrent(self) -> bool:
        return self.core is not None

    def initial_state(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The LSTM state at an episode's start: zeros ``(h, c)``, each [n, H]."""
        z = torch.zeros(n, self.core.hidden_size)
        return z, z.clone()

    def _core_step(self, h: torch.Tensor, state, start: torch.Tensor | None):
        if state is None:
            state = self.initial_state(h.shape[0])
        if start is not None:  # reset where an episode starts at this step
            keep = (1.0 - start.float())[:, None]
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
