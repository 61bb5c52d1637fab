"""The kickstarting term (Schmitt et al. 2018): Σ_k λ_k(t) · H(π_Tk ‖ π_S), λ_k(t) = λ_shared · λ'_k · f_k(t)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from distillrl.core import losses as L
from distillrl.core.distributions import ActionDistribution, Categorical
from distillrl.core.schedules import LambdaSchedule
from distillrl.core.terms import LossTerm
from distillrl.errors import ConfigError
from distillrl.teachers.base import Teacher

if TYPE_CHECKING:  # annotations only: terms sit below the trainers
    from distillrl.algos.base import EnvTrainer


class KickstartTerm(LossTerm):
    """Teacher k's distillation term λ_k(t)·H(π_Tk ‖ π_S) as a learner loss term."""

    requires = frozenset({"logits"})
    gpu_ok = True
    """on a learner's ``--device``: the labels are made on the CPU per rollout and move with the batch"""

    def __init__(self, teacher: Teacher, schedule: LambdaSchedule, index: int = 0, task: int | None = None,
                 weight: float = 1.0, score_window: int = 10):
        self.teacher, self.schedule, self.index, self.task = teacher, schedule, index, task
        self.name = f"ks{index}"
        self.weight0 = weight
        self.score_window = score_window
        self.last_lambda = math.nan
        self.hp_name = f"lambda_{index}"
        self._t_state: dict[int, tuple] = {}  # a recurrent teacher's state per actor
        self.dist: type[ActionDistribution] = Categorical
        """the student's action distribution (set on attach); the teacher's must be the same"""

    def attach(self, trainer: EnvTrainer) -> None:
        self.dist = trainer.dist
        if self.teacher.dist is not self.dist:
            raise ConfigError(f"teacher {self.teacher.name} has a {self.teacher.dist.name} policy, the student a "
                              f"{self.dist.name} one")
        if "lambda_shared" not in trainer.hp:
            trainer.hp.declare("lambda_shared", 1.0, "≥ 0")
        trainer.hp.declare(self.hp_name, self.weight0, "≥ 0")

    def on_rollout(self, ro) -> None:
        """Label the whole rollout once (one batched teacher forward) with the teacher's
        distribution as a target tensor (Categorical: probabilities). A recurrent teacher runs
        over it as a sequence, its state carried from the same actor's previous rollout (the
        state is reset wherever an episode starts, so a new or restarted actor needs none)."""
        T, n = ro.shape
        if self.teacher.recurrent:
            d, self._t_state[ro.source] = self.teacher.distribution_seq(ro.obs, ro.task_id, ro.starts,
                                                                        self._t_state.get(ro.source))
        else:
            obs = ro.obs.reshape((T * n,) + tuple(ro.obs.shape[2:]))
            d = self.teacher.distribution(obs, ro.task_id.reshape(-1))
        ro.extras[f"p_{self.name}"] = d.target().reshape(T, n, -1)

    def __call__(self, out, mb) -> dict[str, torch.Tensor]:
        p = mb.extras.get(f"p_{self.name}")
        if p is not None:
            teacher = self.dist.from_target(p)
        else:  # replay learners: label the minibatch (the teacher lives on the CPU; --device)
            teacher = self.teacher.distribution(mb.obs.cpu(), mb.task_id.cpu())
            if out.logits.device.type != "cpu":
                teacher = self.dist.from_target(teacher.target().to(out.logits.device))
        ce = L.cross_entropy(out.logits, teacher, reduction="none", dist=self.dist)
        if self.task is not None:
            ce = ce * (mb.task_id == self.task).to(ce.dtype)
        return {f"loss_{self.name}": ce.sum() / ce.shape[0]}

    def student_score(self, trainer: EnvTrainer) -> float:
        return trainer.stats.mean_recent(self.task if trainer.n_tasks > 1 else None, self.score_window)

    def weights(self, trainer: EnvTrainer) -> dict[str, float]:
        f = self.schedule(trainer.frames, self.student_score(trainer))
        self.last_lambda = trainer.hp["lambda_shared"] * trainer.hp[self.hp_name] * f
        return {f"loss_{self.name}": self.last_lambda}

    def metrics(self) -> dict[str, float]:
        return {f"kickstart/lambda_{self.index}": self.last_lambda}
