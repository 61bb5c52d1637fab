"""Playing a Decision Transformer: batched episodes conditioned on a target return (return-to-go
minus the rewards collected so far)."""

from __future__ import annotations

import numpy as np
import torch

from distillrl.core.distributions import Categorical
from distillrl.models.transformer import DecisionTransformer


@torch.inference_mode()
def rollout(model: DecisionTransformer, taskset, task: int, target_return: float, episodes: int, seed: int,
            max_episode_steps: int | None = None, sample: bool = False) -> list[float]:
    """Returns of ``episodes`` episodes of task ``task`` (reset seeds ``seed + i``), all played
    at once: each step the model reads each episode's last ``K`` steps, conditioned on
    ``target_return`` minus the rewards collected so far, and acts greedily (or samples).
    Observations are padded into the model's common shape and its logits mapped back to the
    task's actions through ``taskset`` (:class:`tasks.TaskSet`)."""
    from distillrl.envs.make import make_env_fn

    was_training = model.training
    model.eval()
    k, n = model.context, episodes
    envs = [make_env_fn(taskset.specs[task], max_episode_steps)() for _ in range(n)]
    rng = np.random.default_rng(seed)
    obs_shape = model.obs_shape
    h_obs = np.zeros((n, k) + obs_shape, np.float32)
    h_rtg = np.zeros((n, k), np.float32)
    h_act = np.zeros((n, k), np.int64)
    h_t = np.zeros((n, k), np.int64)
    h_valid = np.zeros((n, k), bool)
    rets = np.zeros(n)
    togo = np.full(n, float(target_return), np.float32)
    t = np.zeros(n, np.int64)
    alive = np.ones(n, bool)
    for i, e in enumerate(envs):
        o, _ = e.reset(seed=seed + i)
        h_obs[i, -1] = taskset.pad(np.asarray(o, np.float32)[None], task)[0]
        h_rtg[i, -1], h_valid[i, -1] = togo[i], True
    task_t = torch.full((n,), task, dtype=torch.long)
    try:
        while alive.any():
            idx = np.nonzero(alive)[0]
            logits = model(torch.from_numpy(h_obs[idx]), torch.from_numpy(h_rtg[idx]), torch.from_numpy(h_act[idx]),
                           torch.from_numpy(h_t[idx]), torch.from_numpy(h_valid[idx]), task_t[idx])[:, -1].numpy()
            env_logits = taskset.env_logits(logits, task)
            if sample:
                p = Categorical.np_probs(env_logits)
                acts = np.array([rng.choice(len(pp), p=pp) for pp in p])
            else:
                acts = Categorical.np_mode(env_logits)
            # the agent-space action token the model itself would use for this env action
            agent_acts = np.array([int(taskset.lifts[task][a]) for a in acts]) if taskset.n_tasks > 1 else acts
            for j, i in enumerate(idx):
                h_act[i, -1] = agent_acts[j]
                o, r, term, trunc, _ = envs[i].step(int(acts[j]))
                rets[i] += r
                togo[i] -= r
                t[i] += 1
                if term or trunc:
                    alive[i] = False
                    continue
                for h in (h_obs, h_rtg, h_act, h_t, h_valid):
                    h[i, :-1] = h[i, 1:]
                h_obs[i, -1] = taskset.pad(np.asarray(o, np.float32)[None], task)[0]
                h_rtg[i, -1], h_act[i, -1], h_t[i, -1], h_valid[i, -1] = togo[i], 0, t[i], True
    finally:
        for e in envs:
            e.close()
        model.train(was_training)
    return [float(x) for x in rets]
