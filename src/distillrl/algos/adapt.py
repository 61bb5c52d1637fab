"""Fast adaptation to one task of a family: the inner loops of meta-learning (:mod:`meta`).

Written by hand on purpose: the inner loop is a few small gradient steps on a batch of a few
episodes, run thousands of times per meta-generation inside ES workers; a library trainer
(replay buffers, target networks, vector envs, loggers) would cost more than the steps
themselves, and none offers "fit a critic on this batch, then K deterministic-policy-gradient
steps of this actor" as a function.

* :func:`dpg_adapt` — SPEC §11's adaptation: collect a batch with μ_θ plus Gaussian exploration
  noise, fit a critic Q_φ to it, then K deterministic-policy-gradient steps
  ``θ' ← θ' + α (1/B) Σ ∇_a Q_φ(s, a)|_{a=μ_θ'(s)} ∇_θ' μ_θ'(s)`` (:func:`dpg_step`).
* :func:`pg_adapt` — K policy-gradient (REINFORCE) steps of the Gaussian policy N(μ_θ(s), σ²)
  on the same kind of batch: the inner loop of the first-order MAML baseline.
* :func:`zero_order_adapt` — K ES steps on the task itself (ES-MAML's zero-order adaptation).

Every function takes an actor (modified in place) and a seed; the same seed gives the same
adapted actor, whichever process runs it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from distillrl.models.ddpg import Actor, Critic


def get_flat(module: nn.Module) -> torch.Tensor:
    return torch.nn.utils.parameters_to_vector(module.parameters()).detach().clone()


def set_flat(module: nn.Module, flat: torch.Tensor) -> None:
    """Copy ``flat`` into the parameters (a copy: torch's ``vector_to_parameters`` would make them
    views of ``flat``, and in-place adaptation steps would then change the caller's vector)."""
    flat = torch.as_tensor(flat, dtype=torch.float32)
    i = 0
    with torch.no_grad():
        for p in module.parameters():
            n = p.numel()
            p.copy_(flat[i:i + n].view_as(p))
            i += n


@dataclass
class Batch:
    obs: torch.Tensor       # [B, obs]
    act: torch.Tensor       # [B, act]
    ret: torch.Tensor       # [B] discounted return-to-go (Monte Carlo, to the episode's end)
    episode_returns: list[float]
    frames: int


@dataclass(frozen=True)
class AdaptSettings:
    """What an inner loop needs (from the meta config; plain numbers, so it travels to workers)."""

    k: int = 1
    inner_lr: float = 0.05
    adapt_episodes: int = 2
    explore_noise: float = 0.5
    """exploration noise of the adaptation batch, as a fraction of the action half-range"""
    critic_steps: int = 100
    critic_lr: float = 3e-3
    gamma: float = 0.9
    max_grad_norm: float = 1.0
    zo_directions: int = 4
    zo_sigma: float = 0.05
    hidden: int = 64


def rollout(env: gym.Env, actor: Actor, episodes: int, noise: float, seed: int, gamma: float = 0.99) -> Batch:
    """``episodes`` episodes of μ_θ(s) + N(0, (noise·half-range)²), clipped to the bounds."""
    rng = np.random.default_rng(seed)
    obs_l, act_l, ret_l, ep_rets, frames = [], [], [], [], 0
    half = actor.span.numpy()
    lo, hi = (actor.mid - actor.span).numpy(), (actor.mid + actor.span).numpy()
    for e in range(episodes):
        o, _ = env.reset(seed=int(rng.integers(2**31)))
        rews = []
        done = False
        while not done:
            with torch.no_grad():
                a = actor(torch.as_tensor(o, dtype=torch.float32)).numpy()
            if noise > 0:
                a = np.clip(a + noise * half * rng.standard_normal(a.shape), lo, hi).astype(np.float32)
            obs_l.append(np.asarray(o, np.float32))
            act_l.append(a)
            o, r, term, trunc, _ = env.step(a)
            rews.append(float(r))
            done = term or trunc
        frames += len(rews)
        ep_rets.append(float(sum(rews)))
        g, rtg = 0.0, np.empty(len(rews), np.float32)
        for t in range(len(rews) - 1, -1, -1):
            g = rews[t] + gamma * g
            rtg[t] = g
        ret_l.append(rtg)
    return Batch(torch.as_tensor(np.stack(obs_l)), torch.as_tensor(np.stack(act_l)),
                 torch.as_tensor(np.concatenate(ret_l)), ep_rets, frames)


def evaluate(env: gym.Env, actor: Actor, episodes: int, seed: int) -> tuple[float, int]:
    """Mean return of the deterministic policy over ``episodes`` episodes, and the frames used."""
    b = rollout(env, actor, episodes, 0.0, seed)
    return float(np.mean(b.episode_returns)), b.frames


def fit_critic(critic: Critic, batch: Batch, steps: int, lr: float, seed: int) -> float:
    """Regress Q_φ(s, a) on the batch's Monte-Carlo returns-to-go (targets standardised); full-batch
    Adam steps. Returns the last loss."""
    torch.manual_seed(seed)
    mean, std = batch.ret.mean(), batch.ret.std().clamp_min(1e-6)
    y = (batch.ret - mean) / std
    opt = torch.optim.Adam(critic.parameters(), lr=lr)
    loss = torch.zeros(())
    for _ in range(steps):
        loss = ((critic(batch.obs, batch.act) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


def dpg_step(actor: nn.Module, critic, obs: torch.Tensor, lr: float, max_grad_norm: float = 0.0) -> torch.Tensor:
    """One deterministic-policy-gradient ascent step, in place:
    ``θ ← θ + lr · (1/B) Σ_s ∇_a Q(s, a)|_{a=μ_θ(s)} ∇_θ μ_θ(s)`` (the chain rule through
    ``Q(s, μ_θ(s))``). ``critic`` is any differentiable ``(obs, act) → Q``; its own parameters are
    not changed. ``max_grad_norm`` > 0 clips the step's gradient norm. Returns the gradient."""
    params = [p for p in actor.parameters()]
    q = critic(obs, actor(obs)).mean()
    grads = torch.autograd.grad(q, params)
    flat = torch.cat([g.reshape(-1) for g in grads])
    if max_grad_norm > 0:
        flat = flat * min(1.0, max_grad_norm / (float(flat.norm()) + 1e-12))
    with torch.no_grad():
        i = 0
        for p in params:
            n = p.numel()
            p.add_(lr * flat[i:i + n].view_as(p))
            i += n
    return flat


def dpg_adapt(actor: Actor, env: gym.Env, s: AdaptSettings, seed: int) -> dict:
    """SPEC §11's inner loop on ``env``'s task: batch → critic → K DPG steps (``actor`` in place)."""
    batch = rollout(env, actor, s.adapt_episodes, s.explore_noise, seed, s.gamma)
    torch.manual_seed(seed)
    critic = Critic(batch.obs.shape[1], batch.act.shape[1], s.hidden)
    # the critic reads actions rescaled to [-1, 1]: small action ranges (point-nav's ±0.1) would
    # otherwise barely move its input, and ∇_a Q would be mostly noise
    mid, span = actor.mid, actor.span
    loss = fit_critic(critic, dataclasses.replace(batch, act=(batch.act - mid) / span), s.critic_steps,
                      s.critic_lr, seed)
    for p in critic.parameters():
        p.requires_grad_(False)

    def q(obs, act):
        return critic(obs, (act - mid) / span)

    for _ in range(s.k):
        dpg_step(actor, q, batch.obs, s.inner_lr, s.max_grad_norm)
    return {"frames": batch.frames, "batch_return": float(np.mean(batch.episode_returns)), "critic_loss": loss}


def pg_gradient(actor: Actor, batch: Batch, noise: float) -> torch.Tensor:
    """REINFORCE gradient of the Gaussian policy N(μ_θ(s), (noise·half)²) on ``batch`` (flat), with
    standardised returns-to-go as advantages."""
    params = [p for p in actor.parameters()]
    sd = noise * actor.span
    adv = (batch.ret - batch.ret.mean()) / batch.ret.std().clamp_min(1e-6)
    logp = -(((batch.act - actor(batch.obs)) / sd) ** 2).sum(-1) / 2
    grads = torch.autograd.grad((logp * adv).mean(), params)
    return torch.cat([g.reshape(-1) for g in grads])


def _ascend(actor: nn.Module, flat: torch.Tensor, lr: float, max_grad_norm: float) -> None:
    if max_grad_norm > 0:
        flat = flat * min(1.0, max_grad_norm / (float(flat.norm()) + 1e-12))
    set_flat(actor, get_flat(actor) + lr * flat)


def pg_adapt(actor: Actor, env: gym.Env, s: AdaptSettings, seed: int) -> dict:
    """K policy-gradient steps on one batch (the same batch as :func:`dpg_adapt` collects)."""
    batch = rollout(env, actor, s.adapt_episodes, s.explore_noise, seed, s.gamma)
    for _ in range(s.k):
        _ascend(actor, pg_gradient(actor, batch, s.explore_noise), s.inner_lr, s.max_grad_norm)
    return {"frames": batch.frames, "batch_return": float(np.mean(batch.episode_returns))}


def zero_order_adapt(actor: Actor, env: gym.Env, s: AdaptSettings, seed: int) -> dict:
    """K ES steps on the task (antithetic, ``zo_directions`` pairs, one episode each; rank-free,
    SPEC §11's estimator with raw returns): ES-MAML's zero-order adaptation."""
    rng = np.random.default_rng(seed)
    frames, first = 0, None
    for _ in range(s.k):
        theta = get_flat(actor)
        g = torch.zeros_like(theta)
        for _ in range(s.zo_directions):
            eps = torch.as_tensor(rng.standard_normal(theta.numel()), dtype=torch.float32)
            ep_seed = int(rng.integers(2**31))
            f = []
            for sign in (1, -1):
                set_flat(actor, theta + sign * s.zo_sigma * eps)
                r, n = evaluate(env, actor, 1, ep_seed)
                f.append(r)
                frames += n
            first = f[0] if first is None else first
            g += (f[0] - f[1]) * eps
        g /= 2 * s.zo_directions * s.zo_sigma
        set_flat(actor, theta)
        _ascend(actor, g, s.inner_lr, s.max_grad_norm)
    return {"frames": frames, "batch_return": float(first if first is not None else np.nan)}


ADAPTERS = {"dpg": dpg_adapt, "pg": pg_adapt, "zero-order": zero_order_adapt}
"""Inner loops by name (a method's adaptation, :data:`meta.METHODS`)."""
