"""Inheritance and exploration knowledge distillation (IE-KD; Huang et al. 2021).

The student's features ``h`` (what its heads read) are split into two halves: an
*inheritance* part and an *exploration* part. A small learned projection ``P`` maps a half
into the teacher's feature space, and, with ``n(·)`` the unit-length normalisation and
``f_T`` the teacher's features of the same observation:

    L_inherit = ‖ n(P h_inh) − n(f_T) ‖²       (= 2 − 2·cos; pulls the inheritance half onto the teacher)
    L_explore = −‖ n(P h_exp) − n(f_T) ‖²      (pushes the exploration half away from it)

The same ``P`` serves both halves: it is anchored by the inheritance loss, so the exploration
loss cannot be met by the projection alone and has to move the exploration features
themselves (a separate projection could simply learn to point away). Both losses are added to
any distillation loss (``distill --ie-kd``); ``P`` trains with the student in the same
optimizer but is not part of the student (it does not act and is not counted in its size).
Needs a teacher with features: a distillrl agent (checkpoint, run directory or zoo name).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from distillrl.config import knob
from distillrl.core.terms import LossTerm
from distillrl.errors import ConfigError


@dataclass
class IEKDConfig:
    """IE-KD (with --ie-kd)."""

    inherit: float = knob(1.0, "≥ 0", "weight of the inheritance (similarity) loss")
    explore: float = knob(0.5, "≥ 0", "weight of the exploration (dissimilarity) loss")


def split_features(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The inheritance half and the exploration half of features [B, D] (D even: halves of D // 2)."""
    d = h.shape[-1] // 2
    return h[..., :d], h[..., d:2 * d]


def unit(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp(min=eps)


def iekd_losses(h: torch.Tensor, teacher_features: torch.Tensor, proj: nn.Module) -> dict[str, torch.Tensor]:
    """``loss_iekd_inherit`` and ``loss_iekd_explore`` (batch means) for student features ``h`` [B, D]."""
    inh, exp = split_features(h)
    t = unit(teacher_features)
    d_inh = (unit(proj(inh)) - t).pow(2).sum(-1)
    d_exp = (unit(proj(exp)) - t).pow(2).sum(-1)
    return {"loss_iekd_inherit": d_inh.mean(), "loss_iekd_explore": -d_exp.mean()}


class IEKDTerm(LossTerm):
    """IE-KD as an extra term of the distillation learner."""

    name = "iekd"
    requires = frozenset({"logits"})
    gpu_ok = True
    """on a learner's ``--device``: the projection lives there; the teacher's features are made on the CPU"""

    def __init__(self, cfg: IEKDConfig):
        self.c = cfg

    def attach(self, trainer) -> None:
        teacher = trainer.teacher
        if not hasattr(teacher, "features"):
            raise ConfigError(f"--ie-kd matches features: teacher {teacher.name} is a {type(teacher).__name__}, "
                              "which has none (use a distillrl agent: checkpoint, run directory or zoo name)")
        d = trainer.agent.feature_dim
        if d < 2:
            raise ConfigError(f"--ie-kd splits the student's features in two; it has {d}")
        gen = torch.Generator().manual_seed(trainer.cfg.seed + 5_555_555)
        d_t = teacher.agent.feature_dim
        with torch.random.fork_rng(devices=[]):
            self.proj = nn.Linear(d // 2, d_t)
        with torch.no_grad():
            nn.init.orthogonal_(self.proj.weight, 1.0, generator=gen)
            self.proj.bias.zero_()
        self.proj.to(trainer.device)
        trainer.learner.add_module(self.proj)
        self.teacher = teacher
        self.last: dict[str, float] = {}

    def __call__(self, out, mb) -> dict[str, torch.Tensor]:
        f_t = self.teacher.features(mb.obs.cpu(), mb.task_id.cpu() if self.teacher.agent.n_tasks > 1 else None)
        f_t = f_t.to(out.features.device)  # no-ops on the CPU
        terms = iekd_losses(out.features, f_t, self.proj)
        self.last = {"iekd/inherit_cos": float(1 - terms["loss_iekd_inherit"].detach() / 2),
                     "iekd/explore_cos": float(1 + terms["loss_iekd_explore"].detach() / 2)}
        return terms

    def weights(self, trainer) -> dict[str, float]:
        return {"loss_iekd_inherit": self.c.inherit, "loss_iekd_explore": self.c.explore}

    def metrics(self) -> dict[str, float]:
        return dict(self.last)

    def state_dict(self) -> dict:
        return {"proj": self.proj.state_dict()}

    def load_state_dict(self, s: dict) -> None:
        self.proj.load_state_dict(s["proj"])
