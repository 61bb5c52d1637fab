"""Evaluation: returns over a fixed list of episode seeds, so two policies can be compared on
exactly the same episodes. Episode ``i`` is played from ``reset(seed=seed + i)``; results are
ordered by episode index (not by completion order, which would favour short episodes).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from distillrl.core.distributions import Categorical
from distillrl.envs.make import make_env_fn

PolicyFn = Callable[[np.ndarray], np.ndarray]
"""obs [N, *obs_shape] → logits or probabilities [N, A] (NumPy). A recurrent policy has
``recurrent = True``, is called as ``policy(obs, slots)`` (the env slots the rows come from) and
has ``reset(mask)`` over all slots; its state is reset at every episode's start."""


def evaluate(policy: PolicyFn, spec: str, episodes: int = 10, seed: int = 0, greedy: bool = True,
             num_envs: int = 8, max_episode_steps: int | None = None, rng_seed: int | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Play ``episodes`` episodes; return ``(returns [episodes], lengths [episodes])``.

    ``greedy`` takes argmax actions; otherwise actions are sampled from softmax(logits)
    (pass logits) with a NumPy generator seeded by ``rng_seed`` (default: ``seed``).
    """
    if episodes <= 0:
        return np.zeros(0), np.zeros(0)
    from distillrl.envs.make import split_specs

    k = max(1, min(num_envs, episodes))
    n_tasks = len(split_specs(spec))
    if n_tasks > 1:  # slot i plays task i mod n_tasks
        k = max(k - k % n_tasks, n_tasks)
    envs = [make_env_fn(spec, max_episode_steps, task=i)() for i in range(k)]
    rng = np.random.default_rng(seed if rng_seed is None else rng_seed)
    returns = np.zeros(episodes)
    lengths = np.zeros(episodes, np.int64)
    next_ep = 0
    slot_ep = [-1] * k
    obs = [None] * k
    recurrent = getattr(policy, "recurrent", False)
    if recurrent:
        policy.reset(np.ones(k, bool))
    for i, env in enumerate(envs):
        if next_ep < episodes:
            obs[i], _ = env.reset(seed=seed + next_ep)
            slot_ep[i] = next_ep
            next_ep += 1
    try:
        while any(e >= 0 for e in slot_ep):
            active = [i for i in range(k) if slot_ep[i] >= 0]
            batch = np.stack([obs[i] for i in active])
            out = np.asarray(policy(batch, np.asarray(active)) if recurrent else policy(batch))
            if greedy:
                acts = Categorical.np_mode(out)
            else:
                p = Categorical.np_probs(out)
                acts = np.array([rng.choice(p.shape[-1], p=row) for row in p])
            for j, i in enumerate(active):
                o, r, te, tr, _ = envs[i].step(int(acts[j]))
                ep = slot_ep[i]
                returns[ep] += r
                lengths[ep] += 1
                if te or tr:
                    if next_ep < episodes:
                        o, _ = envs[i].reset(seed=seed + next_ep)
                        slot_ep[i] = next_ep
                        next_ep += 1
                        if recurrent:
                            policy.reset(np.arange(k) == i)
                    else:
                        slot_ep[i] = -1
                obs[i] = o
    finally:
        for env in envs:
            env.close()
    return returns, lengths


def summarize(returns: np.ndarray) -> dict:
    n = len(returns)
    if n == 0:
        return {"mean_return": float("nan"), "std_return": float("nan"), "episodes": 0}
    sem = float(np.std(returns, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return {"mean_return": float(np.mean(returns)), "std_return": float(np.std(returns)),
            "ci95_return": 1.96 * sem, "median_return": float(np.median(returns)), "episodes": n}
