"""Running observation normalisation, part of the agent (so checkpoints carry it and every
evaluation applies it): ``clip((x − mean) / sqrt(var + ε), ±clip)``, SB3 ``VecNormalize``'s and
CleanRL's ``NormalizeObservation`` transform.

The statistics are buffers of the agent, updated by the trainer from whole rollouts
(:meth:`RunningNorm.update`, Chan et al.'s parallel mean/variance merge) *after* the rollout has
been learned from, so the policy that acted and the policy that is updated see the same inputs
(PPO's probability ratio needs that)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

EPS = 1e-8


class RunningNorm(nn.Module):
    """Per-feature running mean and variance of vectors of ``shape`` (count starts at ε, as SB3)."""

    def __init__(self, shape: tuple[int, ...], clip: float = 10.0):
        super().__init__()
        self.clip = float(clip)
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor | np.ndarray) -> None:
        """Merge a batch [B, *shape] into the statistics."""
        x = torch.as_tensor(np.asarray(x), dtype=torch.float64).reshape((-1,) + tuple(self.mean.shape))
        n = x.shape[0]
        if n == 0:
            return
        b_mean, b_var = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = b_mean - self.mean
        m2 = self.var * self.count + b_var * n + delta * delta * self.count * n / total
        self.mean += delta * n / total
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = self.mean.to(x.dtype)
        inv = torch.rsqrt(self.var + EPS).to(x.dtype)
        return ((x - mean) * inv).clamp(-self.clip, self.clip)


def inv_std_np(var: np.ndarray) -> np.ndarray:
    return (1.0 / np.sqrt(np.asarray(var, np.float64) + EPS)).astype(np.float32)


def normalize_np(x: np.ndarray, mean: np.ndarray, inv_std: np.ndarray, clip: float) -> np.ndarray:
    """The NumPy side of :meth:`RunningNorm.forward` (float32)."""
    return np.clip((x - mean) * inv_std, -clip, clip).astype(np.float32, copy=False)
