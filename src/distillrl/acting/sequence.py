"""A Decision Transformer as a stateful evaluation policy, played by the one engine
(:func:`acting.evaluate.evaluate`).

Each env slot keeps its episode's last ``K`` steps (observations padded into the model's common
shape, returns-to-go, action tokens, timesteps); every step the model reads each playing slot's
window, conditioned on the target return minus the rewards collected so far, and its logits for
the last step are mapped back to the task's env actions through the task set."""

from __future__ import annotations

import numpy as np
import torch

from distillrl.models.transformer import DecisionTransformer


class SequencePolicy:
    """``model`` on task ``task`` of ``taskset`` (:class:`envs.tasks.TaskSet`), conditioned on
    ``target_return``; the engine's stateful-policy interface (``reset``, ``__call__(obs,
    slots)``, ``observe``)."""

    recurrent = True

    def __init__(self, model: DecisionTransformer, taskset, task: int, target_return: float):
        self.model, self.taskset, self.task = model, taskset, int(task)
        self.target = float(target_return)
        self.n = 0

    def _ensure(self, n: int) -> None:
        if self.n == n:
            return
        k, shape = self.model.context, self.model.obs_shape
        self.n = n
        self.obs = np.zeros((n, k) + shape, np.float32)
        self.rtg = np.zeros((n, k), np.float32)
        self.act = np.zeros((n, k), np.int64)
        self.t = np.zeros((n, k), np.int64)
        self.valid = np.zeros((n, k), bool)
        self.togo = np.full(n, self.target, np.float32)
        self.step_t = np.zeros(n, np.int64)
        self.fresh = np.ones(n, bool)

    def reset(self, mask: np.ndarray) -> None:
        """New episodes in the slots of ``mask``: empty windows, the full target return to go."""
        self._ensure(len(mask))
        for h in (self.obs, self.rtg, self.act, self.t, self.valid):
            h[mask] = 0
        self.togo[mask] = self.target
        self.step_t[mask] = 0
        self.fresh[mask] = True

    @torch.inference_mode()
    def __call__(self, obs: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """Append each slot's observation to its window; logits over the task's env actions."""
        x = self.taskset.pad(np.asarray(obs, np.float32), self.task)
        for j, i in enumerate(slots):
            if not self.fresh[i]:  # the window moves on by one step
                for h in (self.obs, self.rtg, self.act, self.t, self.valid):
                    h[i, :-1] = h[i, 1:]
            self.fresh[i] = False
            self.obs[i, -1] = x[j]
            self.rtg[i, -1], self.act[i, -1], self.t[i, -1], self.valid[i, -1] = \
                self.togo[i], 0, self.step_t[i], True
        task = torch.full((len(slots),), self.task, dtype=torch.long)
        logits = self.model(torch.from_numpy(self.obs[slots]), torch.from_numpy(self.rtg[slots]),
                            torch.from_numpy(self.act[slots]), torch.from_numpy(self.t[slots]),
                            torch.from_numpy(self.valid[slots]), task)[:, -1].float().cpu().numpy()
        return self.taskset.env_logits(logits, self.task)

    def observe(self, slots: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """The env actions taken (recorded as the agent-space tokens the model itself uses for
        them) and the rewards they brought (taken off the return to go)."""
        lift = self.taskset.lifts[self.task] if self.taskset.n_tasks > 1 else None
        for j, i in enumerate(slots):
            self.act[i, -1] = int(lift[actions[j]]) if lift is not None else int(actions[j])
            self.togo[i] -= rewards[j]
            self.step_t[i] += 1


__all__ = ["SequencePolicy"]
