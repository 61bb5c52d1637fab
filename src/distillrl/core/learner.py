"""The one optimisation step every algorithm uses (PPO, A2C, DQN, distillation, ...).

A :class:`Learner` owns the parameters and the optimizer. An algorithm computes named loss
terms (pure functions in :mod:`losses`, plus any extra terms such as kickstarting's), and
hands them to :meth:`Learner.step` with a weight for each ``loss_*`` term; the learner sums
the weighted terms, back-propagates, runs the gradient hooks (e.g. gradient surgery), clips
the global gradient norm and steps the optimizer at the learning rate it is given — so a
learning rate changed between two updates is in effect at the very next one.
"""

from __future__ import annotations

import copy
from typing import Callable, Iterable, Literal

import torch
from torch import nn

OptimizerName = Literal["adam", "rmsprop", "radam", "adamw"]
GradHook = Callable[[list[torch.nn.Parameter]], None]


def make_optimizer(params: Iterable[torch.nn.Parameter], name: OptimizerName, lr: float, eps: float | None = None,
                   alpha: float = 0.95, centered: bool = True, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam (fused where this torch supports it on CPU: ≈3× cheaper steps for small nets), RAdam,
    RMSProp (defaults: the MinAtar paper's centred α = 0.95, ε = 0.01), or AdamW with
    ``weight_decay`` on tensors of two or more dimensions only (not on biases or norms)."""
    params = list(params)
    if name == "adamw":
        decay = [p for p in params if p.ndim >= 2]
        rest = [p for p in params if p.ndim < 2]
        return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                  {"params": rest, "weight_decay": 0.0}], lr=lr, eps=1e-8 if eps is None else eps,
                                 betas=(0.9, 0.95), foreach=True)
    if name == "adam":
        e = 1e-8 if eps is None else eps
        try:
            return torch.optim.Adam(params, lr=lr, eps=e, fused=True)
        except (RuntimeError, TypeError, ValueError):
            return torch.optim.Adam(params, lr=lr, eps=e)
    if name == "radam":  # rectified Adam (Liu et al. 2020): PQN's optimizer, no warm-up needed
        return torch.optim.RAdam(params, lr=lr, eps=1e-8 if eps is None else eps, foreach=True)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=0.01 if eps is None else eps, centered=centered,
                                   foreach=True)
    raise ValueError(f"unknown optimizer {name!r}")  # unreachable: Literal-checked in the config layer


def weighted_sum(terms: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    """Σ_k w_k · term_k over the ``loss_*`` terms. Every loss term needs a weight: a term with no
    weight is a bug (it would silently not be optimised), so it raises."""
    total = None
    for k, v in terms.items():
        if not k.startswith("loss_"):
            continue
        if k not in weights:
            raise KeyError(f"loss term {k!r} has no weight (weights: {', '.join(weights)})")
        w = weights[k]
        if w == 0.0:
            continue
        total = v * w if total is None else total + v * w
    if total is None:
        raise ValueError("no loss term with a non-zero weight")
    return total


class Learner:
    """Parameters + optimizer + gradient hooks + global-norm clipping."""

    def __init__(self, module: nn.Module, optimizer: OptimizerName = "adam", lr: float = 1e-3,
                 eps: float | None = None, alpha: float = 0.95, centered: bool = True, weight_decay: float = 0.0):
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.opt = make_optimizer(self.params, optimizer, lr, eps, alpha, centered, weight_decay)
        self.grad_hooks: list[GradHook] = []
        self.steps = 0
        self.last_lr = lr
        self.last_weights: dict[str, float] = {}

    def add_module(self, module: nn.Module) -> None:
        """Optimise ``module``'s parameters jointly with the rest (same optimizer, one global
        clip): e.g. RND's predictor, trained by its own loss term in the same backward pass."""
        params = [p for p in module.parameters() if p.requires_grad]
        self.opt.add_param_group({"params": params})
        self.params.extend(params)

    def add_grad_hook(self, hook: GradHook) -> None:
        """``hook(params)`` runs after backward and before clipping (it may edit ``p.grad``)."""
        self.grad_hooks.append(hook)

    def set_lr(self, lr: float) -> None:
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.last_lr = lr

    def set_weight_decay(self, weight_decay: float) -> None:
        """AdamW's decay on the decayed parameter group (the first: tensors of two or more
        dimensions; biases and norms stay undecayed), from the next step on."""
        self.opt.param_groups[0]["weight_decay"] = weight_decay

    def step(self, terms: dict[str, torch.Tensor], weights: dict[str, float], lr: float,
             max_grad_norm: float = 0.0) -> torch.Tensor:
        """One update on Σ weights·terms at learning rate ``lr``; returns the (detached) total loss."""
        loss = weighted_sum(terms, weights)
        self.last_weights = weights
        self.set_lr(lr)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        for hook in self.grad_hooks:
            hook(self.params)
        if max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.params, max_grad_norm, foreach=True)
        self.opt.step()
        self.steps += 1
        return loss.detach()

    def state_dict(self) -> dict:
        return {"optim": self.opt.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        # torch's Optimizer.load_state_dict keeps the given moment tensors as they are; a copy keeps
        # two learners restored from one in-memory state from sharing (and both mutating) them
        self.opt.load_state_dict(copy.deepcopy(state["optim"]))
        self.steps = int(state["steps"])  # the lr comes from the live hyper-parameter at the next step
