"""Return estimators as pure functions of tensors."""

from __future__ import annotations

import numpy as np
import torch


def gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, last_value: torch.Tensor,
        gamma: float, lam: float) -> torch.Tensor:
    """Generalised advantage estimation (Schulman et al. 2016, eq. 16).

    Args:
        rewards: [T, N] reward of step t.
        values: [T, N] V(x_t).
        dones: [T, N] 1 if the episode ended *after* step t (terminated or truncated), so
            V(x_{t+1}) is not bootstrapped across it. For truncation, add γ·V(final obs) to
            the reward of that step beforehand (the collector does this).
        last_value: [N] V(x_T), the state after the last step.
    Returns:
        advantages [T, N]: A_t = δ_t + γλ(1−d_t)A_{t+1}, δ_t = r_t + γ(1−d_t)V_{t+1} − V_t.

    The recursion runs in NumPy: T small vector ops cost ~10× less there than in torch.
    """
    r = rewards.detach().cpu().numpy().astype(np.float32, copy=False)
    v = values.detach().cpu().numpy().astype(np.float32, copy=False)
    nd = 1.0 - dones.detach().cpu().numpy().astype(np.float32)
    nv = last_value.detach().cpu().numpy().astype(np.float32)
    adv = np.zeros_like(r)
    last = np.zeros_like(nv)
    for t in range(r.shape[0] - 1, -1, -1):
        delta = r[t] + gamma * nv * nd[t] - v[t]
        last = delta + gamma * lam * nd[t] * last
        adv[t] = last
        nv = v[t]
    return torch.from_numpy(adv)


def td_target(rewards: torch.Tensor, next_q: torch.Tensor, terminated: torch.Tensor, gamma: float) -> torch.Tensor:
    """One-step Q target ``r + γ (1 − terminated) · next_q`` ([B] each)."""
    return rewards + gamma * (1.0 - terminated) * next_q
