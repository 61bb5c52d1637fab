"""Networks: trunks (MLP, MinAtar, Nature CNN, IMPALA CNN) and the :class:`Agent` with heads.

Every trunk takes a ``width`` multiplier that scales hidden units and channels (rounded, at
least 1), which is how compressed students are built; :func:`param_count` gives exact counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from distillrl.config import knob
from distillrl.envs.make import EnvInfo
from distillrl.errors import ConfigError


@dataclass
class NetConfig:
    """Network architecture."""

    arch: Literal["auto", "mlp", "minatar", "nature", "impala"] = knob(
        "auto", help="trunk: auto (mlp for vectors, minatar for small images, nature for ≥ 36 px), mlp, minatar, "
                     "nature, impala")
    hidden: tuple[int, ...] = knob((64, 64), "≥ 1", "hidden layer sizes of the mlp trunk")
    width: float = knob(1.0, "(0, 64]", "multiplier on every hidden size and channel count (compressed students use < "
                                        "1)")
    shared: bool = knob(False, help="mlp only: one trunk for policy and value (false: separate actor and critic MLPs, "
                                    "as CleanRL/SB3)")
    activation: Literal["tanh", "relu"] = knob("tanh", help="mlp activation: tanh or relu")
    task_input: Literal["pad", "adapter"] = knob(
        "pad", help="task sets: pad (tasks' observations zero-padded to a common channel count, straight into the "
                    "shared trunk) or adapter (a per-task 1×1 conv / linear map in front of it; see distillrl.tasks)")
    lstm: int = knob(0, "≥ 0", "units of an LSTM between the trunk and the heads (0: feed-forward); its state is "
                               "carried through rollouts and reset where episodes end")
    downsample: int = knob(0, "[0, 3]", "minatar trunk: stride-2 3×3 convs (same channel count, padding 1) between "
                                        "its conv and its FC; each quarters the FC's input, so a compressed student "
                                        "can spend its parameters on channels instead of on the FC (0: the MinAtar "
                                        "paper's network)")
    norm: Literal["auto", "none", "layer"] = knob(
        "auto", help="layer: LayerNorm after every hidden layer of the mlp and minatar trunks, before the activation "
                     "(PQN's stabiliser, Gallici et al. 2024); none: plain layers; auto: layer for pqn, none "
                     "otherwise")
    obs_norm: bool = knob(False, help="normalise observations by running mean and variance (vectors only; the "
                                      "statistics are part of the agent: saved in checkpoints, applied at "
                                      "evaluation; CleanRL's/SB3's MuJoCo setting)")
    obs_clip: float = knob(10.0, "> 0", "with obs_norm: normalised observations are clipped to ±this")
    log_std_init: float = knob(0.0, "[-5, 2]", "continuous actions: initial log σ of the policy's state-independent "
                                               "standard deviation")
    task_actions: Literal["heads", "shared"] = knob(
        "heads", help="task sets: heads (one policy head per task over its own actions) or shared (one head, one "
                      "action set for all tasks; MinAtar: the full 6-action set; see distillrl.tasks)")


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


def init_module(m: nn.Module, gen: torch.Generator | None) -> None:
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
        self._tanh = activation == "tanh"

    def forward(self, x):
        # The layers' functions called directly, not through ``nn.Sequential`` and each module's
        # ``__call__``: on the small MLPs of classic control the module dispatch was ≈ 4 % of a PPO
        # iteration (two trunks, 16 minibatches). Same parameters, same ops, same results.
        x = x.flatten(1)
        for m in self.net:
            if type(m) is nn.Linear:
                x = nn.functional.linear(x, m.weight, m.bias)
            elif type(m) is nn.LayerNorm:
                x = nn.functional.layer_norm(x, m.normalized_shape, m.weight, m.bias, m.eps)
            else:
                x = torch.tanh(x) if self._tanh else torch.relu(x)
        return x


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


def resolve_arch(cfg: NetConfig, info: EnvInfo) -> str:
    if cfg.arch != "auto":
        return cfg.arch
    if info.layout == "flat":
        return "mlp"
    h = info.obs_shape[0] if info.layout == "hwc" else info.obs_shape[1]
    return "minatar" if h < 36 else "nature"


def make_trunk(arch: str, cfg: NetConfig, info: EnvInfo) -> nn.Module:
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
