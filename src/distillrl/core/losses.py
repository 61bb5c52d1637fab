"""Losses as pure functions of tensors.

Each RL loss returns a dict of *named terms* (``loss_*``, to be weighted and summed by the
learner) and detached diagnostics (other keys). Distillation losses return one tensor with an
explicit ``reduction`` over the batch: ``"mean"`` (default — the weight does not grow with the
batch size, unlike a summed KL), ``"sum"`` or ``"none"`` (per-sample, shape [B]).

Losses read the policy through an action distribution (:mod:`distillrl.core.distributions`),
never through softmax directly: the student's head outputs are that distribution's
parameters, and ``dist`` (default :class:`Categorical`, where parameters are logits) says
which distribution they parameterise. A teacher's target is either its raw outputs (read at a
temperature τ through ``dist.from_teacher``) or an :class:`ActionDistribution` already built.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from distillrl.core.distributions import ActionDistribution, Categorical

Reduction = Literal["mean", "sum", "none"]


def _reduce(x: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    if reduction == "none":
        return x
    raise ValueError(f"unknown reduction {reduction!r}")


# --------------------------------------------------------------------------- RL losses


class _CategoricalPPO(torch.autograd.Function):
    """:func:`ppo_loss` for a Categorical policy as one autograd node, its gradient by hand.

    Why by hand: on the small networks PPO trains on classic control and MinAtar the loss is some
    40 tiny tensor ops whose autograd bookkeeping costs more than their arithmetic; here the
    forward runs without recording and the backward is a handful of ops. The gradient is the one
    autograd computes for the plain composition — including its conventions at ties: ``max`` gives
    each side half, ``clamp`` passes the gradient on its closed interval — and the tests check it
    against that composition.

    With ρ = exp(log π(a) − log μ(a)), p = softmax(z), Â the (normalised) advantages, B the batch:
      ∂loss_pg/∂ρ_i = −Â_i·w_i/B, w_i = 1 where the unclipped term is the max, the clamp's mask
      where the clipped one is, their mean at a tie; ∂ρ_i/∂z_ij = ρ_i(1[j = a_i] − p_ij);
      ∂(−H̄)/∂z_ij = p_ij(log p_ij + H_i)/B;
      ∂loss_value/∂v_i = (v_i − R_i)/B or (v_clip,i − R_i)·1[|v_i − v_old,i| ≤ ε]/B, as above.
    """

    @staticmethod
    def forward(ctx, logits, values, actions, old_logp, old_values, advantages, returns, clip_coef, clip_vloss,
                norm_adv):
        logp_all = torch.log_softmax(logits, -1)
        p = logp_all.exp()
        act = actions.long().unsqueeze(-1)
        log_ratio = logp_all.gather(-1, act).squeeze(-1) - old_logp
        ratio = log_ratio.exp()
        adv = advantages
        if norm_adv and adv.numel() > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        unclipped = -adv * ratio
        clipped = -adv * ratio.clamp(1 - clip_coef, 1 + clip_coef)
        pg = torch.max(unclipped, clipped).mean()
        inside = ((ratio >= 1 - clip_coef) & (ratio <= 1 + clip_coef)).to(ratio.dtype)
        w = torch.where(unclipped > clipped, 1.0, torch.where(unclipped < clipped, inside, 0.5 + 0.5 * inside))
        d = values - returns
        if clip_vloss:
            dv = values - old_values
            e = old_values + dv.clamp(-clip_coef, clip_coef) - returns
            l1, l2 = d * d, e * e
            v_loss = 0.5 * torch.max(l1, l2).mean()
            vin = ((dv >= -clip_coef) & (dv <= clip_coef)).to(d.dtype)
            gv = torch.where(l1 > l2, d, torch.where(l1 < l2, e * vin, 0.5 * d + 0.5 * e * vin))
        else:
            v_loss = 0.5 * (d * d).mean()
            gv = d
        ent_i = -(p * logp_all).sum(-1)
        entropy = ent_i.mean()
        approx_kl = ((ratio - 1) - log_ratio).mean()
        clipfrac = ((ratio - 1.0).abs() > clip_coef).float().mean()
        ctx.save_for_backward(p, logp_all, act, -adv * w * ratio, gv, ent_i)
        ctx.mark_non_differentiable(approx_kl, clipfrac, entropy)
        return pg, v_loss, -entropy, approx_kl, clipfrac, entropy

    @staticmethod
    def backward(ctx, g_pg, g_v, g_ent, *_):
        p, logp_all, act, c, gv, ent_i = ctx.saved_tensors
        n = p.shape[0]
        g_logits = g_values = None
        if ctx.needs_input_grad[0]:
            c = c * (g_pg / n)
            g_logits = p * ((g_ent / n) * (logp_all + ent_i.unsqueeze(-1)) - c.unsqueeze(-1))
            g_logits.scatter_add_(-1, act, c.unsqueeze(-1))
        if ctx.needs_input_grad[1]:
            g_values = gv * (g_v / n)
        return g_logits, g_values, None, None, None, None, None, None, None, None


def ppo_loss(logits: torch.Tensor, values: torch.Tensor, actions: torch.Tensor, old_logp: torch.Tensor,
             old_values: torch.Tensor, advantages: torch.Tensor, returns: torch.Tensor,
             clip_coef: float = 0.2, clip_vloss: bool = True, norm_adv: bool = True,
             dist: type[ActionDistribution] = Categorical) -> dict[str, torch.Tensor]:
    """PPO clipped surrogate (Schulman et al. 2017, eq. 7), clipped value loss and entropy.

    Shapes: logits [B, A] (the parameters of ``dist``); values, actions, old_logp, old_values,
    advantages, returns [B].
    Returns terms to *minimise*: ``loss_pg`` = −E[min(ρA, clip(ρ)A)],
    ``loss_value`` = ½E[max((V−R)², (V_clip−R)²)], ``loss_entropy`` = −E[H(π)] (so a positive
    weight is an entropy *bonus*); diagnostics ``approx_kl`` (E[(ρ−1) − log ρ]) and ``clipfrac``.
    """
    if dist is Categorical and logits.dim() == 2:  # one autograd node, the same gradient (see _CategoricalPPO)
        pg, v_loss, neg_entropy, approx_kl, clipfrac, entropy = _CategoricalPPO.apply(
            logits, values, actions, old_logp, old_values, advantages, returns, clip_coef, clip_vloss, norm_adv)
        return {"loss_pg": pg, "loss_value": v_loss, "loss_entropy": neg_entropy,
                "approx_kl": approx_kl, "clipfrac": clipfrac, "entropy": entropy}
    return ppo_loss_reference(logits, values, actions, old_logp, old_values, advantages, returns, clip_coef,
                              clip_vloss, norm_adv, dist)


def ppo_loss_reference(logits: torch.Tensor, values: torch.Tensor, actions: torch.Tensor, old_logp: torch.Tensor,
                       old_values: torch.Tensor, advantages: torch.Tensor, returns: torch.Tensor,
                       clip_coef: float = 0.2, clip_vloss: bool = True, norm_adv: bool = True,
                       dist: type[ActionDistribution] = Categorical) -> dict[str, torch.Tensor]:
    """:func:`ppo_loss` as the plain composition of differentiable ops (every distribution; the
    reference the Categorical fast path is tested against)."""
    pi = dist(logits)
    logp = pi.log_prob(actions)
    log_ratio = logp - old_logp
    ratio = log_ratio.exp()
    adv = advantages
    if norm_adv and adv.numel() > 1:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    pg = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip_coef, 1 + clip_coef)).mean()
    if clip_vloss:
        v_clipped = old_values + (values - old_values).clamp(-clip_coef, clip_coef)
        v_loss = 0.5 * torch.max((values - returns) ** 2, (v_clipped - returns) ** 2).mean()
    else:
        v_loss = 0.5 * ((values - returns) ** 2).mean()
    entropy = pi.entropy().mean()
    with torch.no_grad():
        approx_kl = ((ratio - 1) - log_ratio).mean()
        clipfrac = ((ratio - 1.0).abs() > clip_coef).float().mean()
    return {"loss_pg": pg, "loss_value": v_loss, "loss_entropy": -entropy,
            "approx_kl": approx_kl, "clipfrac": clipfrac, "entropy": entropy.detach()}


def a2c_loss(logits: torch.Tensor, values: torch.Tensor, actions: torch.Tensor, advantages: torch.Tensor,
             returns: torch.Tensor, dist: type[ActionDistribution] = Categorical) -> dict[str, torch.Tensor]:
    """A2C/A3C (Mnih et al. 2016): −log π(a|x)·A, ½(V−R)², −H(π). Shapes as :func:`ppo_loss`."""
    pi = dist(logits)
    logp = pi.log_prob(actions)
    entropy = pi.entropy().mean()
    return {"loss_pg": -(logp * advantages.detach()).mean(),
            "loss_value": 0.5 * ((values - returns) ** 2).mean(),
            "loss_entropy": -entropy, "entropy": entropy.detach()}


def dqn_loss(q: torch.Tensor, actions: torch.Tensor, target: torch.Tensor, huber: bool = True
             ) -> dict[str, torch.Tensor]:
    """TD loss on Q(x, a) against a fixed ``target`` [B] (see :func:`returns.td_target`).

    Huber (smooth L1, δ=1) as in Mnih et al. 2015 when ``huber``, else ½ squared error.
    """
    q_a = q.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    target = target.detach()
    loss = F.smooth_l1_loss(q_a, target) if huber else 0.5 * F.mse_loss(q_a, target)
    return {"loss_td": loss, "q_mean": q_a.detach().mean()}


# --------------------------------------------------------------------------- distillation losses
# Direction convention: the *teacher* is the target distribution p, the student the model q.


def teacher_probs(teacher_logits: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """softmax(z/τ) — a Q-teacher or logit-teacher as a policy; τ → 0 gives the argmax one-hot."""
    if tau <= 0:
        raise ValueError("tau must be > 0")
    return Categorical.from_teacher(teacher_logits, tau).probs


def _teacher(teacher: torch.Tensor | ActionDistribution, dist: type[ActionDistribution],
             tau: float = 1.0) -> ActionDistribution:
    """The teacher's distribution: given, or read from its raw outputs at temperature τ."""
    return teacher if isinstance(teacher, ActionDistribution) else dist.from_teacher(teacher, tau)


def _target(teacher_p: torch.Tensor | ActionDistribution, dist: type[ActionDistribution],
            eps: float = 1e-8) -> ActionDistribution:
    """The teacher's distribution: given, or rebuilt from a stored target (Categorical: probabilities)."""
    return teacher_p if isinstance(teacher_p, ActionDistribution) else dist.from_target(teacher_p, eps)


def nll(student_logits: torch.Tensor, teacher_out: torch.Tensor | ActionDistribution, reduction: Reduction = "mean",
        dist: type[ActionDistribution] = Categorical) -> torch.Tensor:
    """Rusu et al. eq. 1: −log π_S(a*|x), a* = argmax_a of the teacher's output (q or π). [B, A] → [B]."""
    a_star = _teacher(teacher_out, dist).mode()
    return _reduce(-dist(student_logits).log_prob(a_star), reduction)


def mse(student_q: torch.Tensor, teacher_q: torch.Tensor, reduction: Reduction = "mean",
        mask: torch.Tensor | None = None) -> torch.Tensor:
    """Rusu et al. eq. 2: ‖q_T(x) − q_S(x)‖² summed over actions. [B, A] → [B].

    ``mask`` [B, A] (bool) keeps only the actions a task has (task sets: the others are padding)."""
    sq = (teacher_q - student_q) ** 2
    if mask is not None:
        sq = torch.where(mask, sq, torch.zeros_like(sq))
    return _reduce(sq.sum(-1), reduction)


def kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor | ActionDistribution, tau: float = 0.01,
       reduction: Reduction = "mean", dist: type[ActionDistribution] = Categorical) -> torch.Tensor:
    """Rusu et al. eq. 3: KL(softmax(q_T/τ) ‖ softmax(q_S)) = Σ_a p_a (log p_a − log q_a). [B, A] → [B].

    τ applies to the teacher only (the paper's τ = 0.01 sharpens the teacher's Q-values).
    Identical distributions give exactly 0; zero-probability teacher actions contribute 0.
    """
    return _reduce(_teacher(teacher_logits, dist, tau).kl(dist(student_logits)), reduction)


def cross_entropy(student_logits: torch.Tensor, teacher_p: torch.Tensor | ActionDistribution,
                  reduction: Reduction = "mean", dist: type[ActionDistribution] = Categorical) -> torch.Tensor:
    """Schmitt et al. eq. 1 (the kickstarting term): H(π_T ‖ π_S) = −Σ_a π_T(a) log π_S(a).

    ``teacher_p`` [B, A] are probabilities (use :func:`teacher_probs` for logits/Q-values) —
    a stored target of ``dist`` — or the teacher's distribution itself.
    Same gradient in the student as KL(π_T‖π_S); differs from it by the teacher's entropy.
    """
    return _reduce(_target(teacher_p, dist).cross_entropy(dist(student_logits)), reduction)


def reverse_kl(student_logits: torch.Tensor, teacher_p: torch.Tensor | ActionDistribution,
               reduction: Reduction = "mean", eps: float = 1e-8,
               dist: type[ActionDistribution] = Categorical) -> torch.Tensor:
    """KL(π_S ‖ π_T) = Σ_a π_S(a)(log π_S(a) − log π_T(a)) — mode-seeking (Czarnecki et al. 2019).

    ``teacher_p`` as in :func:`cross_entropy`; zero teacher probabilities count as ``eps``."""
    return _reduce(dist(student_logits).kl(_target(teacher_p, dist, eps)), reduction)


def gaussian_kl(mu_t: torch.Tensor, std_t: torch.Tensor, mu_s: torch.Tensor, std_s: torch.Tensor,
                reduction: Reduction = "mean") -> torch.Tensor:
    """KL(N(μ_T, σ_T²) ‖ N(μ_S, σ_S²)) for diagonal Gaussians, summed over action dims. [B, D] → [B]."""
    var_t, var_s = std_t ** 2, std_s ** 2
    per_dim = torch.log(std_s / std_t) + (var_t + (mu_t - mu_s) ** 2) / (2 * var_s) - 0.5
    return _reduce(per_dim.sum(-1), reduction)


def mean_mse(mu_s: torch.Tensor, mu_t: torch.Tensor, reduction: Reduction = "mean") -> torch.Tensor:
    """‖μ_T − μ_S‖² summed over action dims (continuous actions). [B, D] → [B]."""
    return _reduce(((mu_t - mu_s) ** 2).sum(-1), reduction)


def action_mse(student_params: torch.Tensor, teacher_out: torch.Tensor | ActionDistribution,
               reduction: Reduction = "mean", dist: type[ActionDistribution] = Categorical) -> torch.Tensor:
    """‖μ_T − μ_S‖²: squared distance between the teacher's and the student's mean (most
    probable) actions, summed over action dims — behaviour cloning as in rsl_rl's student–teacher
    distillation; a deterministic teacher (TD3) gives its action as μ_T. Continuous actions only."""
    if dist is Categorical:
        raise ValueError("action_mse compares continuous actions; use kl, cross_entropy or nll for discrete ones")
    return mean_mse(dist(student_params).mode(), _teacher(teacher_out, dist).mode(), reduction)
