"""Every schedule in one place: pure functions of the frame count (and, for the performance
schedule, of returns) that scale a live hyper-parameter (:mod:`hparams`).

A schedule gives a *factor* or a value at frame ``t``; the hyper-parameter it acts on stays
the tunable base value, so population-based training moves the base and the schedule keeps
shaping it: ``lr(t) = lr · anneal(t)``, ``λ_k(t) = λ_shared · λ'_k · f_k(t)``,
``ε(t) = interp(ε_start, ε_end)``, ``β(t) = 1 − t / T_β``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from distillrl.errors import ConfigError

LambdaKind = Literal["constant", "linear", "exp", "step", "performance"]
SCHEDULES: tuple[str, ...] = ("constant", "linear", "exp", "step", "performance")


def linear_decay(frames: int, horizon: int) -> float:
    """1 → 0 linearly over ``horizon`` frames, then 0 (learning-rate annealing, DAgger's β)."""
    return max(0.0, 1.0 - frames / max(1, horizon))


def linear_interp(frames: int, start: float, end: float, duration: int, delay: int = 0) -> float:
    """``start`` until ``delay``, then linearly to ``end`` over ``duration`` frames (DQN's ε)."""
    f = min(max((frames - delay) / max(1, duration), 0.0), 1.0)
    return start + f * (end - start)


@dataclass(frozen=True)
class LambdaSchedule:
    """The shape f(t) ∈ [0, 1] of a kickstarting weight; λ_k(t) = λ_shared · λ'_k · f_k(t).

    * ``constant``: 1
    * ``linear``: max(0, 1 − t / decay_frames)
    * ``exp``: 0.5^(t / half_life)
    * ``step``: factor^⌊t / every⌋
    * ``performance`` (QDagger, Agarwal et al. 2022): max(1 − (G_S − G_rand)/(G_T − G_rand), 0),
      where G_S and G_T are measured by the *same* statistic (see :mod:`kickstart`); 1 while
      the student has no score yet; 0 if the teacher is no better than random.
    """

    kind: LambdaKind = "linear"
    decay_frames: int = 1_000_000
    half_life: float = 250_000
    every: int = 250_000
    factor: float = 0.5
    g_teacher: float = math.nan
    g_random: float = 0.0

    def __post_init__(self):
        if self.kind not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.kind!r}; valid: {', '.join(SCHEDULES)}")

    def __call__(self, frames: int, student_return: float = math.nan) -> float:
        k = self.kind
        if k == "constant":
            return 1.0
        if k == "linear":
            return linear_decay(frames, self.decay_frames)
        if k == "exp":
            return 0.5 ** (frames / max(1e-9, self.half_life))
        if k == "step":
            return self.factor ** (frames // max(1, self.every))
        if math.isnan(student_return) or math.isnan(self.g_teacher):
            return 1.0
        span = self.g_teacher - self.g_random
        if span <= 0:
            return 0.0
        return max(1.0 - (student_return - self.g_random) / span, 0.0)
