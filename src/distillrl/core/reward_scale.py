"""Reward scaling by the running standard deviation of the discounted return (CleanRL's
``NormalizeReward``, SB3 ``VecNormalize(norm_reward=True)``): per environment
``G_t = γ·G_{t−1}·(1 − done_{t−1}) + r_t``; rewards are divided by ``sqrt(Var[G] + ε)`` and clipped
to ±clip. The learner sees the scaled rewards; episode returns are logged on the raw ones.

In a task set the statistics are kept **per task** (``groups``: each environment's task id):
games whose returns differ by orders of magnitude (MinAtar Freeway ~60, Space Invaders ~400 per
episode) are each brought to unit scale, instead of one shared variance that leaves the
small-reward games' rewards near zero — the simple form of what PopArt does per task (Hessel
et al. 2019)."""

from __future__ import annotations

import numpy as np

EPS = 1e-8


class RewardScaler:
    """Running variance of each environment's discounted return; :meth:`scale` a rollout's rewards."""

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0, groups: np.ndarray | None = None):
        self.gamma, self.clip = float(gamma), float(clip)
        self.ret = np.zeros(num_envs, np.float64)
        self.groups = np.zeros(num_envs, np.int64) if groups is None else np.asarray(groups, np.int64)
        """each environment's statistics group (its task); one group without a task set"""
        if self.groups.shape != (num_envs,) or (self.groups < 0).any():
            raise ValueError(f"groups must be {num_envs} non-negative ids, got {groups!r}")
        k = int(self.groups.max()) + 1
        self.mean, self.var, self.count = np.zeros(k), np.ones(k), np.full(k, 1e-4)
        self._rows = [np.nonzero(self.groups == g)[0] for g in range(k)]

    def _update(self, g: int, x: np.ndarray) -> None:
        n = x.size
        b_mean, b_var = float(x.mean()), float(x.var())
        total = self.count[g] + n
        delta = b_mean - self.mean[g]
        m2 = self.var[g] * self.count[g] + b_var * n + delta * delta * self.count[g] * n / total
        self.mean[g] += delta * n / total
        self.var[g], self.count[g] = m2 / total, total

    def scale(self, rewards: np.ndarray, done: np.ndarray) -> np.ndarray:
        """Rewards [T, N] (raw) and episode ends [T, N] (1 after the last step of an episode) →
        scaled rewards [T, N] float32. Statistics are updated step by step, as the wrappers do."""
        out = np.empty(rewards.shape, np.float32)
        rows = [(g, r) for g, r in enumerate(self._rows) if len(r)]
        for t in range(rewards.shape[0]):
            self.ret = self.ret * self.gamma + rewards[t]
            if len(rows) == 1:
                self._update(rows[0][0], self.ret)
            else:
                for g, r in rows:
                    self._update(g, self.ret[r])
            out[t] = np.clip(rewards[t] / np.sqrt(self.var[self.groups] + EPS), -self.clip, self.clip)
            self.ret = self.ret * (1.0 - done[t])
        return out

    def state_dict(self) -> dict:
        return {"ret": self.ret.tolist(), "mean": self.mean.tolist(), "var": self.var.tolist(),
                "count": self.count.tolist()}

    def load_state_dict(self, s: dict) -> None:
        """Also reads a checkpoint from before per-task statistics (one group: scalars)."""
        self.ret = np.asarray(s["ret"], np.float64)
        for name in ("mean", "var", "count"):
            v = np.atleast_1d(np.asarray(s[name], np.float64))
            if v.shape != getattr(self, name).shape:
                raise ValueError(f"reward-scaler state has {v.size} groups, this run {getattr(self, name).size}")
            setattr(self, name, v.copy())
