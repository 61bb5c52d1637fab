"""Return estimators: pure functions of time-major ``[T, N]`` tensors.

Conventions shared by all of them: ``done[t] = 1`` if the episode ended *after* step t, so
nothing is bootstrapped across it; a truncated (not terminated) episode is bootstrapped from
V(final obs) by adding ``γ · trunc_value[t]`` to that step's reward (:func:`with_truncation`).
"""

from __future__ import annotations

import numpy as np
import torch


def with_truncation(rewards: torch.Tensor, trunc_value: torch.Tensor, gamma: float) -> torch.Tensor:
    """``r_t + γ·V(final obs)`` on truncated steps (``trunc_value`` is 0 elsewhere). [T, N]."""
    return rewards + gamma * trunc_value


def gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, last_value: torch.Tensor,
        gamma: float, lam: float) -> torch.Tensor:
    """Generalised advantage estimation (Schulman et al. 2016, eq. 16).

    Args:
        rewards: [T, N] reward of step t (with truncation bootstraps already added).
        values: [T, N] V(x_t).
        dones: [T, N] 1 if the episode ended after step t.
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
    g, gl = np.float32(gamma), np.float32(gamma * lam)
    for t in range(r.shape[0] - 1, -1, -1):
        delta = r[t] + g * nv * nd[t] - v[t]
        last = delta + gl * nd[t] * last
        adv[t] = last
        nv = v[t]
    return torch.from_numpy(adv)


def discounted_returns(rewards: torch.Tensor, dones: torch.Tensor, last_value: torch.Tensor,
                       gamma: float) -> torch.Tensor:
    """Bootstrapped discounted returns G_t = r_t + γ(1−d_t)G_{t+1}, G_T = ``last_value``. [T, N].

    (GAE with λ = 1 and zero values: the n-step return to the end of the rollout.)
    """
    return gae(rewards, torch.zeros_like(rewards), dones, last_value, gamma, 1.0)


def td_target(rewards: torch.Tensor, next_q: torch.Tensor, terminated: torch.Tensor, gamma: float) -> torch.Tensor:
    """One-step Q target ``r + γ (1 − terminated) · next_q`` ([B] each)."""
    return rewards + gamma * (1.0 - terminated) * next_q
