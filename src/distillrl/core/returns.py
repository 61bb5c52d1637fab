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


def td_target(rewards: torch.Tensor, next_q: torch.Tensor, terminated: torch.Tensor, gamma: float) -> torch.Tensor:
    """One-step Q target ``r + γ (1 − terminated) · next_q`` ([B] each)."""
    return rewards + gamma * (1.0 - terminated) * next_q


def q_lambda(rewards: torch.Tensor, q_next_max: torch.Tensor, dones: torch.Tensor, gamma: float,
             lam: float) -> torch.Tensor:
    """Peng's Q(λ) returns, the targets of PQN (Gallici et al. 2024, eq. 7).

    Args:
        rewards: [T, N] (truncation bootstraps already added, see :func:`with_truncation`).
        q_next_max: [T, N] max_a Q(x_{t+1}, a) — the acting network's values of the next state
            (for t = T−1, of the observation after the rollout).
        dones: [T, N] 1 if the episode ended after step t.
    Returns:
        [T, N]: G_t = r_t + γ(1 − d_t)·[(1 − λ)·max_a Q(x_{t+1}, a) + λ·G_{t+1}], with
        G_T = max_a Q(x_T, a). λ = 0 is the one-step Q-learning target, λ = 1 the discounted
        return to the rollout's end, bootstrapped from max_a Q(x_T, a). Computed in NumPy.
    """
    r = rewards.detach().cpu().numpy().astype(np.float32, copy=False)
    qn = q_next_max.detach().cpu().numpy().astype(np.float32, copy=False)
    disc = np.float32(gamma) * (1.0 - dones.detach().cpu().numpy().astype(np.float32))
    lam32 = np.float32(lam)
    out = np.empty_like(r)
    g = qn[-1]
    for t in range(r.shape[0] - 1, -1, -1):
        g = r[t] + disc[t] * ((1 - lam32) * qn[t] + lam32 * g)
        out[t] = g
    return torch.from_numpy(out)


def vtrace(behaviour_logp: torch.Tensor, target_logp: torch.Tensor, rewards: torch.Tensor, values: torch.Tensor,
           dones: torch.Tensor, last_value: torch.Tensor, gamma: float, rho_bar: float = 1.0, c_bar: float = 1.0,
           lam: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """V-trace targets and policy-gradient advantages (Espeholt et al. 2018, eq. 1 and §4.2).

    Args:
        behaviour_logp: [T, N] log μ(a_t|x_t), the acting policy's (stale) log-probabilities.
        target_logp: [T, N] log π(a_t|x_t) under the learner's current policy.
        rewards: [T, N] (truncation bootstraps already added, see :func:`with_truncation`).
        values: [T, N] V(x_t) under the learner's current value function.
        dones: [T, N] 1 if the episode ended after step t (no bootstrap across it).
        last_value: [N] V(x_T), the bootstrap at the rollout's end.
        rho_bar, c_bar: truncation levels of ρ_t = min(ρ̄, π/μ) and c_t = λ·min(c̄, π/μ).
    Returns:
        ``(vs, pg_adv, rho)``, all [T, N] and free of gradients:
        v_s = V(x_s) + δ_s + γ_s c_s (v_{s+1} − V(x_{s+1})), δ_s = ρ_s (r_s + γ_s V(x_{s+1}) − V(x_s)),
        pg_adv_s = ρ_s (r_s + γ_s v_{s+1} − V(x_s)), with γ_s = γ (1 − done_s), v_T = V(x_T);
        and the truncated importance weights ρ.

    On-policy (π = μ) with ρ̄ = c̄ = λ = 1, v_s is the n-step return to the rollout's end, i.e.
    GAE(λ = 1) + V. Like :func:`gae`, the backward recursion runs in NumPy.
    """
    def np32(x):
        return x.detach().cpu().numpy().astype(np.float32, copy=False)

    ratio = np.exp(np32(target_logp) - np32(behaviour_logp))
    rho = np.minimum(ratio, np.float32(rho_bar))
    c = np.float32(lam) * np.minimum(ratio, np.float32(c_bar))
    r, v = np32(rewards), np32(values)
    disc = np.float32(gamma) * (1.0 - np32(dones))
    v_next = np.concatenate([v[1:], np32(last_value)[None]], 0)
    delta = rho * (r + disc * v_next - v)
    diff = np.zeros_like(v)  # v_s − V(x_s)
    acc = np.zeros_like(v[0])
    for t in range(v.shape[0] - 1, -1, -1):
        acc = delta[t] + disc[t] * c[t] * acc
        diff[t] = acc
    vs = v + diff
    vs_next = np.concatenate([vs[1:], np32(last_value)[None]], 0)
    pg_adv = rho * (r + disc * vs_next - v)
    dev = values.device  # back where the inputs were (a learner on a GPU: --device)
    return torch.from_numpy(vs).to(dev), torch.from_numpy(pg_adv).to(dev), torch.from_numpy(rho).to(dev)


def returns_to_go(rewards) -> np.ndarray:
    """Decision Transformer's conditioning signal: the undiscounted return from each step to the
    end of its episode, R̂_t = Σ_{t' ≥ t} r_t' (one episode's rewards [T] → [T], float32)."""
    r = np.asarray(rewards, np.float64).reshape(-1)
    return np.cumsum(r[::-1])[::-1].astype(np.float32)
