"""Reward scaling by the running standard deviation of the discounted return (CleanRL's
``NormalizeReward``, SB3 ``VecNormalize(norm_reward=True)``): per environment
``G_t = γ·G_{t−1}·(1 − done_{t−1}) + r_t``; rewards are divided by ``sqrt(Var[G] + ε)`` and clipped
to ±clip. The learner sees the scaled rewards; episode returns are logged on the raw ones."""

from __future__ import annotations

import numpy as np

EPS = 1e-8


class RewardScaler:
    """Running variance of each environment's discounted return; :meth:`scale` a rollout's rewards."""

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0):
        self.gamma, self.clip = float(gamma), float(clip)
        self.ret = np.zeros(num_envs, np.float64)
        self.mean, self.var, self.count = 0.0, 1.0, 1e-4

    def _update(self, x: np.ndarray) -> None:
        n = x.size
        b_mean, b_var = float(x.mean()), float(x.var())
        total = self.count + n
        delta = b_mean - self.mean
        m2 = self.var * self.count + b_var * n + delta * delta * self.count * n / total
        self.mean += delta * n / total
        self.var, self.count = m2 / total, total

    def scale(self, rewards: np.ndarray, done: np.ndarray) -> np.ndarray:
        """Rewards [T, N] (raw) and episode ends [T, N] (1 after the last step of an episode) →
        scaled rewards [T, N] float32. Statistics are updated step by step, as the wrappers do."""
        out = np.empty(rewards.shape, np.float32)
        for t in range(rewards.shape[0]):
            self.ret = self.ret * self.gamma + rewards[t]
            self._update(self.ret)
            out[t] = np.clip(rewards[t] / np.sqrt(self.var + EPS), -self.clip, self.clip)
            self.ret = self.ret * (1.0 - done[t])
        return out

    def state_dict(self) -> dict:
        return {"ret": self.ret.tolist(), "mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, s: dict) -> None:
        self.ret = np.asarray(s["ret"], np.float64)
        self.mean, self.var, self.count = float(s["mean"]), float(s["var"]), float(s["count"])
