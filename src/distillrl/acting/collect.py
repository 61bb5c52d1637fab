"""Collection apart from learning: a :class:`Collector` runs a behaviour policy in a vector
environment and returns a time-major :class:`data.Rollout`.

The collector knows nothing of learners or trainers. It is given an environment, an *act*
function and a NumPy generator, and it owns only the current observations and the episode
statistics of its environments — the same object can run in a remote actor that receives
weights through ``set_weights`` (see :mod:`fastpolicy`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch

from distillrl.core.data import Rollout
from distillrl.core.distributions import ActionDistribution, Categorical
from distillrl.envs.make import FastVectorEnv


class Action(NamedTuple):
    """What a behaviour policy returns for a batch of N observations. (The behaviour
    log-probabilities log μ(a|x) are computed once per rollout, by the collector's action
    distribution: ``dist.np_log_prob(logits, a)``.)"""

    actions: np.ndarray
    """[N] int64, or [N, D] float32 continuous actions"""
    logits: np.ndarray
    """[N, P] float32 behaviour distribution parameters (Categorical: logits; or q-values)"""
    value: np.ndarray | None
    """[N] float32 V(x), or None for agents without a value head"""


class Step(NamedTuple):
    """One vector step: what was seen, done and got."""

    obs: np.ndarray
    action: Action
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    next_obs: np.ndarray
    """the real next observation (the final one where an episode ended) when asked for, else the reset one"""
    trunc_value: np.ndarray | None
    """V(final obs) on truncated rows (0 elsewhere), or None when nothing was truncated"""


ActFn = Callable[[np.ndarray, np.ndarray, np.random.Generator], Action]
"""``act(obs [N, ...], task_id [N], rng) -> Action``"""
ValueFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``value(obs [K, ...], task_id [K]) -> [K]`` (bootstraps truncated episodes)"""


def log_prob(logits: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """log_softmax(logits)[a] over a whole rollout at once ([T, N, A], [T, N] → [T, N] float32)."""
    return Categorical.np_log_prob(logits, actions)


class EpisodeStats:
    """Returns and lengths of finished episodes: overall and per task.

    ``recent`` is the last 100 returns (any task); ``recent_by_task[k]`` the last 100 of task k.
    ``drain()`` returns the episodes finished since the previous call (for metric rows).
    """

    def __init__(self, n_tasks: int = 1, window: int = 100):
        self.window = window
        self.episodes = 0
        self.recent: deque[float] = deque(maxlen=window)
        self.recent_by_task = [deque(maxlen=window) for _ in range(n_tasks)]
        self._new: list[tuple[float, float]] = []

    def record(self, returns: np.ndarray, lengths: np.ndarray, tasks: np.ndarray) -> None:
        for r, ln, k in zip(returns.tolist(), lengths.tolist(), tasks.tolist()):
            self._new.append((r, ln))
            self.recent.append(r)
            self.recent_by_task[k].append(r)
            self.episodes += 1

    def mean_recent(self, task: int | None = None, last: int | None = None) -> float:
        d = self.recent if task is None else self.recent_by_task[task]
        vals = list(d)[-last:] if last else list(d)
        return float(np.mean(vals)) if vals else math.nan

    def drain(self) -> dict[str, float]:
        new = self._new
        self._new = []
        return {"charts/episode_return": float(np.mean([r for r, _ in new])) if new else math.nan,
                "charts/episode_length": float(np.mean([ln for _, ln in new])) if new else math.nan,
                "charts/return_recent": self.mean_recent(),
                "charts/episodes": self.episodes}

    def state_dict(self) -> dict:
        return {"episodes": self.episodes, "recent": list(self.recent),
                "recent_by_task": [list(d) for d in self.recent_by_task]}

    def load_state_dict(self, s: dict) -> None:
        self.episodes = int(s["episodes"])
        self.recent = deque(s["recent"], maxlen=self.window)
        for d, vals in zip(self.recent_by_task, s["recent_by_task"]):
            d.clear()
            d.extend(vals)
        self._new = []


class Collector:
    """Steps ``envs`` with a behaviour policy for ``num_steps`` steps per :meth:`collect`.

    ``memory``: the acting policy of a recurrent agent (:class:`fastpolicy.RecurrentPolicy`),
    whose per-environment state the collector resets where episodes end, records at the start
    of each rollout (``Rollout.state0``) and uses for truncation bootstraps.
    """

    def __init__(self, envs: FastVectorEnv, num_steps: int, stats: EpisodeStats, memory=None,
                 dist: type[ActionDistribution] = Categorical):
        self.envs, self.num_steps, self.stats, self.memory = envs, num_steps, stats, memory
        self.dist = dist
        """the behaviour policy's action distribution (reads ``Action.logits``)"""
        self.task_ids = envs.task_ids
        self.obs: np.ndarray | None = None
        self.first = np.ones(envs.num_envs, np.float32)
        """1 where the current observation begins an episode"""

    def reset(self, seed: int) -> None:
        self.obs, _ = self.envs.reset(seed=seed)
        self.first = np.ones(self.envs.num_envs, np.float32)
        if self.memory is not None:
            self.memory.reset(np.ones(self.envs.num_envs, bool))

    def step(self, act: ActFn, rng: np.random.Generator, value_fn: ValueFn | None = None,
             keep_next_obs: bool = False) -> Step:
        """One vector step of the behaviour policy (what ``collect`` repeats; DQN uses it alone)."""
        obs, tasks = self.obs, self.task_ids
        a = act(obs, tasks, rng)
        nxt, rew, term, trunc, info = self.envs.step(a.actions)
        real_next, trunc_value = nxt, None
        if info:
            rows = info["_final_obs"]
            self.stats.record(info["episode_return"][rows], info["episode_length"][rows], tasks[rows])
            if keep_next_obs:
                real_next = nxt.copy()
                real_next[rows] = info["final_obs"][rows]
            cut = trunc & ~term
            if value_fn is not None and cut.any():
                trunc_value = np.zeros(len(obs), np.float32)
                if self.memory is not None:  # V(final obs) under the state the episode reached
                    trunc_value[cut] = self.memory.value(info["final_obs"][cut], tasks[cut], rows=cut)
                else:
                    trunc_value[cut] = value_fn(info["final_obs"][cut], tasks[cut])
        ended = term | trunc
        if self.memory is not None and ended.any():
            self.memory.reset(ended)
        self.first = ended.astype(np.float32)
        self.obs = nxt
        return Step(obs, a, rew, term, trunc, real_next, trunc_value)

    def collect(self, act: ActFn, rng: np.random.Generator, value_fn: ValueFn | None = None) -> Rollout:
        """Run ``num_steps`` vector steps; fresh arrays each call (a rollout may be queued)."""
        T, n = self.num_steps, self.envs.num_envs
        shape = self.obs.shape[1:]
        obs_buf = np.empty((T, n) + shape, self.obs.dtype)
        actions = None  # [T, N] int64, or [T, N, D] float32 continuous actions (shaped by the first step)
        logits = None
        values = np.zeros((T, n), np.float32)
        rewards = np.empty((T, n), np.float32)
        done = np.empty((T, n), np.float32)
        term_buf = np.empty((T, n), np.float32)
        trunc_value = np.zeros((T, n), np.float32)
        starts = np.empty((T, n), np.float32)
        state0 = self.memory.get_state() if self.memory is not None else None
        for t in range(T):
            starts[t] = self.first
            st = self.step(act, rng, value_fn)
            a = st.action
            obs_buf[t] = st.obs
            if logits is None:
                logits = np.empty((T, n, a.logits.shape[-1]), np.float32)
                acts = np.asarray(a.actions)
                actions = np.empty((T,) + acts.shape, np.float32 if acts.dtype.kind == "f" else np.int64)
            logits[t] = a.logits
            actions[t] = a.actions
            if a.value is not None:
                values[t] = a.value
            rewards[t] = st.reward
            term_buf[t] = st.terminated
            done[t] = st.terminated | st.truncated
            if st.trunc_value is not None:
                trunc_value[t] = st.trunc_value
        obs = self.obs
        tasks = self.task_ids
        last_value = value_fn(obs, tasks) if value_fn is not None else np.zeros(n, np.float32)
        logp = self.dist.np_log_prob(logits, actions)
        tt = torch.from_numpy
        return Rollout(obs=tt(obs_buf), actions=tt(actions), logp=tt(logp), logits=tt(logits), values=tt(values),
                       rewards=tt(rewards), done=tt(done), terminated=tt(term_buf), trunc_value=tt(trunc_value),
                       task_id=tt(np.broadcast_to(tasks, (T, n)).copy()), last_obs=tt(obs.copy()),
                       last_value=tt(np.asarray(last_value, np.float32)), starts=tt(starts),
                       state0=tuple(tt(x) for x in state0) if state0 is not None else None)
