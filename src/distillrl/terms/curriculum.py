"""Which task a multi-task student learns from next (seed 004's curriculum, with its baselines).

* ``cycle``: tasks in a fixed order (Rusu et al.'s multi-task distillation);
* ``uniform``: a task drawn uniformly at random (from the run's own generator);
* ``max-kl``: the task whose teacher the student currently disagrees with most — the largest
  KL(π_Tk ‖ π_S) on a held-out batch of that task — re-measured every ``every`` choices.
"""

from __future__ import annotations

from typing import Callable, Literal

import numpy as np
import torch

CurriculumKind = Literal["cycle", "uniform", "max-kl"]


def most_dissimilar(kls) -> int:
    """The task with the largest disagreement (the first of equals)."""
    kls = np.asarray(kls, float)
    if kls.ndim != 1 or len(kls) == 0 or not np.isfinite(kls).all():
        raise ValueError(f"need one finite KL per task, got {kls}")
    return int(np.argmax(kls))


class Curriculum:
    """``next()`` → the task of the next update; ``history`` keeps every choice (to be drawn)."""

    def __init__(self, kind: CurriculumKind, n_tasks: int, rng: np.random.Generator,
                 kl_fn: Callable[[], list[float]] | None = None, every: int = 1):
        if kind == "max-kl" and kl_fn is None:
            raise ValueError("the max-kl curriculum needs kl_fn: the per-task KL on held-out batches")
        self.kind, self.n, self.rng, self.kl_fn, self.every = kind, n_tasks, rng, kl_fn, max(1, every)
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
                self._current = most_dissimilar(self.last_kls)
            task = self._current
        self.history.append(task)
        return task

    def state_dict(self) -> dict:
        """Every choice so far, the task max-kl is on, and the KLs it last measured (the generator
        is the trainer's, saved with the trainer)."""
        return {"history": torch.as_tensor(self.history, dtype=torch.int64), "current": self._current,
                "last_kls": list(self.last_kls) if self.last_kls is not None else []}

    def load_state_dict(self, state: dict) -> None:
        self.history = [int(x) for x in state["history"].tolist()]
        self._current = int(state["current"])
        self.last_kls = list(state["last_kls"]) or None
