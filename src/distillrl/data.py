"""The data contract between collectors, losses and learners.

Shapes: ``T`` rollout steps, ``N`` environments, ``B = T·N`` flattened samples, ``A`` actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import torch


@dataclass
class Batch:
    """A flat batch of on-policy samples (a PPO minibatch or a whole rollout).

    Extra per-sample tensors (teacher probabilities for kickstarting, task ids, ...) go in
    ``extras`` keyed by name, so an added loss needs no new learner.
    """

    obs: torch.Tensor
    """[B, *obs_shape] raw observations"""
    actions: torch.Tensor
    """[B] int64 actions taken"""
    logp: torch.Tensor
    """[B] log π_old(a|x) of the behaviour policy"""
    values: torch.Tensor
    """[B] V_old(x) at collection time"""
    advantages: torch.Tensor
    """[B] GAE advantages"""
    returns: torch.Tensor
    """[B] value targets (advantages + values)"""
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    """[B, ...] named per-sample tensors for extra loss terms"""

    def __len__(self) -> int:
        return self.obs.shape[0]

    def index(self, idx: torch.Tensor) -> "Batch":
        kw = {f.name: getattr(self, f.name)[idx] for f in fields(self) if f.name != "extras"}
        return Batch(**kw, extras={k: v[idx] for k, v in self.extras.items()})


@dataclass
class Transitions:
    """A minibatch of off-policy transitions (DQN)."""

    obs: torch.Tensor
    """[B, *obs_shape]"""
    actions: torch.Tensor
    """[B] int64"""
    rewards: torch.Tensor
    """[B] float32"""
    next_obs: torch.Tensor
    """[B, *obs_shape]"""
    terminated: torch.Tensor
    """[B] float32, 1 where the episode ended by termination (no bootstrap)"""
