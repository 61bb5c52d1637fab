"""Agents and teachers as evaluation policies (obs → logits, NumPy), recurrent ones with per-slot state."""

from __future__ import annotations


def logits_fn(policy, task: int | None = None):
    """obs → logits of a fast acting policy (for one task of a multi-task agent when ``task``)."""
    import numpy as np

    if getattr(policy, "recurrent", False):
        return RecurrentLogits(policy, task)
    if task is None:
        return lambda obs: policy(obs)[0]
    return lambda obs: policy(obs, np.full(len(obs), task))[0]


class RecurrentLogits:
    """A recurrent acting policy as an evaluation policy: a copy with its own per-slot state."""

    recurrent = True

    def __init__(self, policy, task: int | None = None):
        import copy

        self.policy, self.task = copy.copy(policy), task
        self.policy.h = self.policy.c = None

    def reset(self, mask):
        self.policy.reset(mask)

    def __call__(self, obs, slots):
        import numpy as np

        task = None if self.task is None else np.full(len(obs), self.task)
        return self.policy.step_rows(obs, task, slots)[0]


def success(env: str, returns) -> dict:
    """Goal-reaching tasks (MiniGrid: a positive return means the goal was reached): the success rate."""
    import numpy as np

    if not env.startswith("minigrid:") or len(returns) == 0:
        return {}
    return {"success_rate": float(np.mean(np.asarray(returns) > 0))}


def teacher_fn(teacher, task: int | None = None):
    import torch

    if getattr(teacher, "recurrent", False):
        return RecurrentLogits(teacher.fast, task)
    fast = getattr(teacher, "outputs_np", None)
    if fast is not None:
        return fast
    if task is None:
        return lambda o: teacher.outputs(o).numpy()
    return lambda o: teacher.outputs(o, torch.full((len(o),), task)).numpy()
