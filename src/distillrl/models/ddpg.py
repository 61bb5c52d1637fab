"""The deterministic actor μ_θ(s) and critic Q_φ(s, a) of meta-learning's DPG adaptation
(:mod:`distillrl.algos.adapt`); here, below the teachers, so a meta-learned actor can teach."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Actor(nn.Module):
    """The deterministic policy μ_θ(s): an MLP with tanh output, scaled to the action bounds."""

    def __init__(self, obs_dim: int, act_dim: int, low, high, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                 nn.Linear(hidden, act_dim), nn.Tanh())
        lo, hi = torch.as_tensor(np.asarray(low, np.float32)), torch.as_tensor(np.asarray(high, np.float32))
        self.register_buffer("mid", (hi + lo) / 2)
        self.register_buffer("span", (hi - lo) / 2)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.mid + self.span * self.net(obs)


class Critic(nn.Module):
    """Q_φ(s, a), fitted afresh to each adaptation batch."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(obs_dim + act_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                 nn.Linear(hidden, 1))

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, act], -1)).squeeze(-1)


class GaussianActor(nn.Module):
    """μ_θ(s) with a fixed σ, as DiagGaussian parameters [μ | log σ]: the policy a meta-learned actor
    explores with (σ = exploration noise × half-range), for it to teach as a Gaussian."""

    def __init__(self, actor: Actor, noise: float):
        super().__init__()
        self.actor = actor
        self.register_buffer("log_std", torch.log(noise * actor.span))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        mean = self.actor(obs)
        return torch.cat([mean, self.log_std.expand_as(mean)], -1)
