"""Agents and teachers as evaluation policies (obs → raw outputs, NumPy: logits, or Q-values for a
Q-network), recurrent ones with per-slot state. :mod:`acting.evaluation` builds on these."""

from __future__ import annotations

import copy

import numpy as np
import torch


def logits_fn(policy, task: int | None = None):
    """obs → outputs of a fast acting policy (for one task of a multi-task agent when ``task``)."""
    if getattr(policy, "recurrent", False):
        return RecurrentLogits(policy, task)
    if task is None:
        return lambda obs: policy(obs)[0]
    return lambda obs: policy(obs, np.full(len(obs), task, np.int64))[0]


class RecurrentLogits:
    """A recurrent acting policy as an evaluation policy: a copy with its own per-slot state (the
    original's acting state is not touched)."""

    recurrent = True

    def __init__(self, policy, task: int | None = None):
        self.policy, self.task = copy.copy(policy), task
        self.policy.h = self.policy.c = None

    def reset(self, mask):
        self.policy.reset(mask)

    def __call__(self, obs, slots):
        task = None if self.task is None else np.full(len(obs), self.task)
        return self.policy.step_rows(obs, task, slots)[0]


def teacher_fn(teacher, task: int | None = None):
    """obs → a teacher's raw outputs (logits or Q-values; the NumPy mirror where it has one), for
    task ``task`` of a multi-task teacher."""
    if getattr(teacher, "recurrent", False):
        return RecurrentLogits(teacher.fast, task)
    multi = getattr(getattr(teacher, "agent", None), "n_tasks", 1) > 1
    fast = getattr(teacher, "outputs_np", None)
    if fast is not None:
        return fast if task is None or not multi else (lambda o: fast(o, np.full(len(o), task, np.int64)))
    if task is None or not multi:
        return lambda o: teacher.outputs(o).numpy()
    return lambda o: teacher.outputs(o, torch.full((len(o),), task)).numpy()
