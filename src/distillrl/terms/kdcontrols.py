"""Why did distillation help? Tang et al.'s (2020) three effects, as controlled teachers.

Tang et al. split what a teacher's soft targets give a student into three levels:

* **universe** — any soft target regularises like label smoothing;
* **domain** — the teacher's class relationships (which wrong actions are close to the right
  one) shape the student's logit geometry;
* **instance** — the teacher's per-state confidence rescales each state's gradient (hard
  states, where the teacher is unsure, weigh less).

Each control below keeps some levels and removes the others; distilling with each and
comparing scores attributes the gain of full distillation over hard labels (NLL on the
teacher's argmax). With ``a*`` the teacher's argmax, ``m(x) = π_T(a*|x)`` its confidence and
``m̄`` the mean confidence:

* ``universe``: ``(1 − ε)·onehot(a*) + ε/A`` with ε chosen so the argmax keeps ``m̄`` on
  average — label smoothing of the argmax, nothing of the teacher but its argmax and mean
  confidence;
* ``domain``: ``c̄_{a*}``, the mean teacher distribution over the states whose argmax is
  ``a*`` — class relationships without anything per state;
* ``instance``: the teacher's own distribution with the argmax's mass replaced by ``m̄`` and
  the other actions rescaled to fill the rest — per-state relationships kept, the per-state
  confidence (the gradient rescaling) removed. Where ``m̄`` would let another action overtake
  the argmax, the argmax keeps just enough mass to stay the argmax (the labels are not changed).

Each is a pure function of teacher probabilities [B, A]; the distillation learner applies
one to every minibatch (``distill --kd-control``) and then its usual loss (``kl`` /
``cross_entropy``) against the result.
"""

from __future__ import annotations

import torch

CONTROLS = ("none", "universe", "domain", "instance")


def label_smoothing(p: torch.Tensor, mean_conf: float | torch.Tensor) -> torch.Tensor:
    """Universe control: smoothing of the argmax with the teacher's mean confidence ``m̄``."""
    a = p.shape[-1]
    eps = (1.0 - mean_conf) * a / (a - 1)
    onehot = torch.nn.functional.one_hot(p.argmax(-1), a).to(p.dtype)
    return (1.0 - eps) * onehot + eps / a


def class_mean(p: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """Domain control: each state gets ``means[a*]``, the mean teacher distribution of its argmax class."""
    return means[p.argmax(-1)]


def no_rescaling(p: torch.Tensor, mean_conf: float | torch.Tensor, margin: float = 1e-3) -> torch.Tensor:
    """Instance control removed: the argmax gets ``m̄``; the other actions keep their relative sizes.

    ``m̄`` alone can hand the label to another action: p = [.6, .2, .05, …] with m̄ = 0.3 leaves
    the runner-up 0.35. A control that changes the teacher's decision measures corrupted labels,
    not the removed rescaling, so the argmax's mass is floored where needed: with r the largest
    other action's share of the rest, a* needs c > (1 − c)·r, i.e. c > r / (1 + r); it gets
    ``max(m̄, r / (1 + r) + margin)``. Only the states where m̄ falls short differ from Tang et
    al.'s control (:func:`floored_fraction` counts them)."""
    a_star, rest = _rest_share(p)
    conf = argmax_floor(rest, margin).clamp(min=torch.as_tensor(mean_conf, dtype=p.dtype)).clamp(max=1.0)
    return (rest * (1.0 - conf)).scatter(-1, a_star, conf)


def _rest_share(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The argmax [B, 1] and each other action's share of the rest [B, A] (zero at the argmax;
    a one-hot teacher has no relative sizes to keep: its rest is spread evenly)."""
    a_star = p.argmax(-1, keepdim=True)
    rest = p.scatter(-1, a_star, 0.0)
    flat = rest.sum(-1, keepdim=True) <= 1e-12
    rest = torch.where(flat, torch.ones_like(rest).scatter(-1, a_star, 0.0), rest)
    return a_star, rest / rest.sum(-1, keepdim=True).clamp(min=1e-12)


def argmax_floor(rest_share: torch.Tensor, margin: float = 1e-3) -> torch.Tensor:
    """[B, 1]: the least mass the argmax needs to stay the argmax when the other actions split
    the remainder as ``rest_share`` (rows summing to 1, zero at the argmax)."""
    r = rest_share.max(-1, keepdim=True).values
    return r / (1.0 + r) + margin


def floored_fraction(p: torch.Tensor, mean_conf: float | torch.Tensor, margin: float = 1e-3) -> float:
    """Fraction of the states in ``p`` where :func:`no_rescaling` had to raise ``m̄`` to keep the argmax."""
    _, rest = _rest_share(p)
    return float((argmax_floor(rest, margin) > torch.as_tensor(mean_conf, dtype=p.dtype)).float().mean())


class ClassStats:
    """Running per-class sums of the teacher's distributions over every labelled state (for
    ``m̄`` and the class means ``c̄_k``); empty classes fall back to the overall mean."""

    def __init__(self, n_actions: int):
        self.sums = torch.zeros(n_actions, n_actions, dtype=torch.float64)
        self.counts = torch.zeros(n_actions, dtype=torch.float64)

    def update(self, p: torch.Tensor) -> None:
        k = p.argmax(-1)
        self.sums.index_add_(0, k, p.double())
        self.counts += torch.bincount(k, minlength=len(self.counts)).double()

    def mean_conf(self) -> float:
        n = self.counts.sum()
        return float(self.sums.diagonal().sum() / n) if n > 0 else 1.0

    def means(self) -> torch.Tensor:
        overall = self.sums.sum(0) / self.counts.sum().clamp(min=1)
        m = self.sums / self.counts.clamp(min=1)[:, None]
        return torch.where(self.counts[:, None] > 0, m, overall).float()

    def state_dict(self) -> dict:
        return {"sums": self.sums.clone(), "counts": self.counts.clone()}

    def load_state_dict(self, s: dict) -> None:
        self.sums, self.counts = s["sums"].clone(), s["counts"].clone()


def controlled(p: torch.Tensor, control: str, stats: ClassStats) -> torch.Tensor:
    """The teacher probabilities ``p`` [B, A] under ``control`` (one of :data:`CONTROLS`)."""
    if control == "none":
        return p
    if control == "universe":
        return label_smoothing(p, stats.mean_conf())
    if control == "domain":
        return class_mean(p, stats.means())
    if control == "instance":
        return no_rescaling(p, stats.mean_conf())
    raise ValueError(f"unknown control {control!r}")  # unreachable: Literal-checked by the config layer
