"""A policy's mean return when sampling its actions."""

from __future__ import annotations

import numpy as np


def sampled_score(probs_fn, env: str, episodes: int, seed: int, n_actions: int, max_episode_steps=None) -> float:
    """Mean return of ``episodes`` episodes sampling from ``probs_fn(obs) -> [N, A]`` probabilities."""
    from distillrl.acting.evaluate import evaluate

    rets, _ = evaluate(lambda o: np.log(np.clip(probs_fn(o), 1e-12, None)), env, episodes, seed=seed, greedy=False,
                       max_episode_steps=max_episode_steps)
    return float(np.mean(rets))
