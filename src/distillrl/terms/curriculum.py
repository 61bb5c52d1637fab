"""Which task a multi-task student learns from next (seed 004's curriculum, with its baselines).

* ``cycle``: tasks in a fixed order (Rusu et al.'s multi-task distillation);
* ``uniform``: a task drawn uniformly at random (from the run's own generator);
* ``max-kl``: the task whose teacher the student currently disagrees with most — the largest
  KL(π_Tk ‖ π_S) on a held-out batch of that task — re-measured every ``every`` choices.

Raw KLs are not comparable across games: a game with many actions and a peaked teacher starts
at a larger KL than one with few, and raw max-kl keeps choosing it. ``norm="initial"`` divides
each task's KL by its first measurement (the untrained student's), so the curriculum picks the
task that has closed the least of its own gap. ``norm="uniform"`` divides it by the KL a student
that knows nothing would have, KL(π_Tk ‖ uniform over task k's actions) = log|A_k| − H(π_Tk) on the
same held-out windows: a scale set by the teacher's entropy and the task's action count alone (not
by the student's random initial weights, and not by how fast a task's KL happens to fall).
"""

from __future__ import annotations

from typing import Callable, Literal

import numpy as np
import torch

from distillrl.core.losses import kl
from distillrl.envs.tasks import MASK

CurriculumKind = Literal["cycle", "uniform", "max-kl"]
KLNorm = Literal["raw", "initial", "uniform"]


def normalised(kls, initial, norm: KLNorm, uniform=None) -> np.ndarray:
    """``kls`` as max-kl compares them: raw, each relative to its task's first measurement
    (``initial``), or each relative to its task's uniform-policy KL (``uniform``)."""
    kls = np.asarray(kls, float)
    if norm == "raw":
        return kls
    scale = uniform if norm == "uniform" else initial
    if scale is None:
        raise ValueError(f'norm="{norm}" needs each task\'s scale: its first KL (initial) or KL(π_T ‖ uniform)')
    return kls / np.maximum(np.asarray(scale, float), 1e-8)


def uniform_kl(teacher_logits: torch.Tensor, tau: float = 1.0) -> float:
    """KL(softmax(q_T/τ) ‖ uniform over the legal actions) = log|A| − H(π_T), averaged over rows
    [B, A]: what a student that knows nothing scores. Actions at :data:`~distillrl.envs.tasks.MASK`
    (another task's) are not legal."""
    legal = teacher_logits > MASK / 2
    know_nothing = torch.where(legal, 0.0, MASK)
    return float(kl(know_nothing, teacher_logits, tau))


def most_dissimilar(kls) -> int:
    """The task with the largest disagreement (the first of equals)."""
    kls = np.asarray(kls, float)
    if kls.ndim != 1 or len(kls) == 0 or not np.isfinite(kls).all():
        raise ValueError(f"need one finite KL per task, got {kls}")
    return int(np.argmax(kls))


class Curriculum:
    """``next()`` → the task of the next update; ``history`` keeps every choice (to be drawn)."""

    def __init__(self, kind: CurriculumKind, n_tasks: int, rng: np.random.Generator,
                 kl_fn: Callable[[], list[float]] | None = None, every: int = 1, norm: KLNorm = "raw",
                 uniform_kls: list[float] | None = None):
        if kind == "max-kl" and kl_fn is None:
            raise ValueError("the max-kl curriculum needs kl_fn: the per-task KL on held-out batches")
        self.kind, self.n, self.rng, self.kl_fn, self.every = kind, n_tasks, rng, kl_fn, max(1, every)
        if kind == "max-kl" and norm == "uniform" and (uniform_kls is None or len(uniform_kls) != n_tasks):
            raise ValueError("norm='uniform' needs uniform_kls: one KL(π_T ‖ uniform) per task")
        self.norm, self.uniform_kls = norm, uniform_kls
        self.initial_kls: list[float] | None = None
        self.history: list[int] = []
        self.last_kls: list[float] | None = None
        self._current = 0

    def next(self) -> int:
        step = len(self.history)
        if self.kind == "cycle":
            task = step % self.n
        elif self.kind == "uniform":
            task = int(self.rng.integers(self.n))
        else:
            if step % self.every == 0:
                self.last_kls = list(self.kl_fn())
                if self.initial_kls is None:
                    self.initial_kls = list(self.last_kls)
                self._current = most_dissimilar(normalised(self.last_kls, self.initial_kls, self.norm,
                                                                   self.uniform_kls))
            task = self._current
        self.history.append(task)
        return task

    def state_dict(self) -> dict:
        """Every choice so far, the task max-kl is on, and the KLs it last measured (the generator
        is the trainer's, saved with the trainer)."""
        return {"history": torch.as_tensor(self.history, dtype=torch.int64), "current": self._current,
                "last_kls": list(self.last_kls) if self.last_kls is not None else [],
                "initial_kls": list(self.initial_kls) if self.initial_kls is not None else []}

    def load_state_dict(self, state: dict) -> None:
        self.history = [int(x) for x in state["history"].tolist()]
        self._current = int(state["current"])
        self.last_kls = list(state["last_kls"]) or None
        self.initial_kls = list(state.get("initial_kls", [])) or None
