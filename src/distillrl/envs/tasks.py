"""Task sets: several environments trained as one multi-task problem (Rusu et al.; Schmitt et al.).

A task set is written as a list of env specs, ``minatar:breakout,minatar:asterix``, or
``minatar:all`` (the five MinAtar games); the task id of an environment is its position in
the list. All tasks' environments are batched in one vector env.

Tasks may differ in observation channels and in action sets. The agent sees one common shape
and one action space of size A:

* **Observations** are zero-padded along the channel axis (the last axis of channels-last
  images and of vectors, the first of channels-first images) to the largest task's count;
  spatial sizes must agree. What the network does with the padded input is the student's
  ``task_input`` option (:mod:`nets`): ``pad`` feeds it to the shared trunk as is — cheap, but
  channel *i* means something different in every game; ``adapter`` puts a per-task 1×1
  convolution (a linear map for vectors) in front of the shared trunk, which learns each
  game's own channel mixing (more parameters, and acting falls back to torch).
* **Actions**: ``heads`` (default) — one policy head per task over that task's own actions;
  the agent's outputs are padded to A = max n_k and the padding is masked (never sampled, zero
  probability). Exact, and Rusu's "controller"; the heads share nothing, so an action learned
  in one game says nothing about another. ``shared`` — one head over one action set shared by
  all tasks: for MinAtar the game's full action set (6 actions: no-op, left, up, right, down,
  fire), which every game accepts (an action outside a game's minimal set acts as no-op), so
  output *i* means the same movement in every game; for other families the union of the
  action indices (task k accepts indices < n_k; the rest are masked). Fewer parameters and
  shared action semantics, but a larger action space per game (exploration over actions that
  do nothing there).

Teachers keep their own spaces: :meth:`TaskSet.unpad` gives a task's observation back in its
own shape, :meth:`TaskSet.lift` maps a teacher's outputs over its actions into the agent's A
(unreachable actions get :data:`MASK`), :meth:`TaskSet.env_logits` maps the agent's outputs
back to the task's actions for evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import torch

from distillrl.envs.make import (
    EnvInfo,
    FastVectorEnv,
    env_info,
    make_env_fn,
    make_vec,
    parse_spec,
    split_specs,
)
from distillrl.errors import EnvError

TaskActions = Literal["heads", "shared"]

MASK = -1e8
"""Logit of an action a task cannot take (finite, so 0·log p stays 0 in every loss)."""


def task_name(spec: str) -> str:
    """A short readable name: ``minatar:space_invaders`` → ``space_invaders``,
    ``minigrid:MiniGrid-DoorKey-8x8-v0`` → ``MiniGrid-DoorKey-8x8-v0``."""
    return spec.split(":", 1)[-1].split("?", 1)[0].replace("/", "-")


def _channel_axis(info: EnvInfo) -> int:
    return 0 if info.layout == "chw" else len(info.obs_shape) - 1


def _channel_prefix(ndim: int, axis: int, c: int) -> tuple:
    """Index of the first ``c`` channels on ``axis`` of an ``ndim``-dimensional array."""
    sl = [slice(None)] * ndim
    sl[axis] = slice(0, c)
    return tuple(sl)


def _minimal_set(spec: str) -> list[int] | None:
    """A MinAtar game's minimal action set as indices into its full set (None for other families)."""
    family, _ = parse_spec(spec)
    if family != "minatar":
        return None
    env = make_env_fn(spec)()
    try:
        return [int(a) for a in env.unwrapped.action_set]
    finally:
        env.close()


@dataclass(frozen=True)
class TaskSet:
    specs: tuple[str, ...]
    infos: tuple[EnvInfo, ...]
    actions: TaskActions
    info: EnvInfo
    """what the agent sees: the common (padded) observation shape, A actions, the legal table"""
    legal: np.ndarray
    """[K, A] bool: actions task k may take"""
    to_env: np.ndarray
    """[K, A] int64: agent action → the env action task k receives"""
    lifts: tuple[np.ndarray, ...]
    """per task [n_k]: env action j → the agent action that stands for it"""

    @property
    def n_tasks(self) -> int:
        return len(self.specs)

    @cached_property
    def names(self) -> list[str]:
        return [task_name(s) for s in self.specs]

    @cached_property
    def identity_actions(self) -> bool:
        """The agent's action index is the env's (no translation needed)."""
        return all(np.array_equal(self.to_env[k][self.legal[k]], np.arange(self.infos[k].n_actions))
                   for k in range(self.n_tasks))

    @classmethod
    def build(cls, spec: str, actions: TaskActions = "heads") -> "TaskSet":
        """The task set of ``spec``; every task's legal actions are a prefix of the agent's
        (all of them on MinAtar's shared full set)."""
        specs = split_specs(spec)
        if not specs:
            raise EnvError(f"no environment in {spec!r}")
        if len(set(specs)) != len(specs):
            raise EnvError(f"a task appears twice in {spec!r}")
        infos = [env_info(s) for s in specs]
        if len(specs) == 1:
            i = infos[0]
            return cls(tuple(specs), tuple(infos), actions, i, np.ones((1, i.n_actions), bool),
                       np.arange(i.n_actions)[None], (np.arange(i.n_actions),))
        i0 = infos[0]
        cont = [s for s, i in zip(specs, infos) if i.continuous]
        if cont:
            raise EnvError(f"continuous-action environments work alone, not in a task set ({', '.join(cont)})")
        grouped = [s for s, i in zip(specs, infos) if i.groups]
        if grouped:
            raise EnvError(f"observation groups (Dict observations) work with one environment, not a task set "
                           f"({', '.join(grouped)})")
        ax = _channel_axis(i0)
        for s, i in zip(specs[1:], infos[1:]):
            if i.layout != i0.layout or len(i.obs_shape) != len(i0.obs_shape):
                raise EnvError(f"tasks must have the same kind of observation: {specs[0]} gives {i0.layout} "
                               f"{i0.obs_shape}, {s} gives {i.layout} {i.obs_shape}")
            rest = [d for a, d in enumerate(i.obs_shape) if a != ax]
            rest0 = [d for a, d in enumerate(i0.obs_shape) if a != ax]
            if rest != rest0:
                raise EnvError(f"tasks must share the spatial size (only channels may differ): {specs[0]} gives "
                               f"{i0.obs_shape}, {s} gives {i.obs_shape}")
            if i.obs_scale != i0.obs_scale:
                raise EnvError(f"tasks must share the observation scale: {specs[0]} and {s} differ")
        channels = [i.obs_shape[ax] for i in infos]
        shape = list(i0.obs_shape)
        shape[ax] = max(channels)
        minimal = [_minimal_set(s) for s in specs] if actions == "shared" else [None] * len(specs)
        k = len(specs)
        if actions == "shared" and all(m is not None for m in minimal):  # MinAtar: the full action set
            a_full = 6
            legal = np.ones((k, a_full), bool)
            to_env = np.zeros((k, a_full), np.int64)
            lifts = []
            for t, m in enumerate(minimal):
                noop = m.index(0)
                to_env[t] = [m.index(a) if a in m else noop for a in range(a_full)]
                lifts.append(np.asarray(m, np.int64))
            n_a = a_full
        else:
            n_a = max(i.n_actions for i in infos)
            legal = np.zeros((k, n_a), bool)
            to_env = np.zeros((k, n_a), np.int64)
            lifts = []
            for t, i in enumerate(infos):
                legal[t, : i.n_actions] = True
                to_env[t, : i.n_actions] = np.arange(i.n_actions)
                lifts.append(np.arange(i.n_actions))
        info = EnvInfo(",".join(specs), tuple(shape), i0.layout, i0.obs_scale, n_a, n_tasks=k,
                       legal=tuple(tuple(bool(x) for x in row) for row in legal), task_channels=tuple(channels))
        return cls(tuple(specs), tuple(infos), actions, info, legal, to_env, tuple(lifts))

    # ---- observations
    def pad(self, obs: np.ndarray, task: int) -> np.ndarray:
        """Observations [B, *task shape] of task ``task`` → [B, *common shape] (zeros appended)."""
        if self.n_tasks == 1 or tuple(obs.shape[1:]) == self.info.obs_shape:
            return obs
        out = np.zeros((len(obs),) + self.info.obs_shape, obs.dtype)
        ax = _channel_axis(self.info) + 1
        out[_channel_prefix(out.ndim, ax, obs.shape[ax])] = obs
        return out

    def unpad(self, obs, task: int):
        """Common-shape observations [B, ...] → task ``task``'s own shape (a view; numpy or torch)."""
        if self.n_tasks == 1:
            return obs
        ax = _channel_axis(self.info)
        return obs[_channel_prefix(obs.ndim, ax + 1, self.infos[task].obs_shape[ax])]

    # ---- actions
    def lift(self, out, task: int):
        """A teacher's outputs [B, n_k] over task ``task``'s actions → [B, A] in the agent's
        action space, :data:`MASK` where no env action maps (numpy or torch)."""
        if self.n_tasks == 1:
            return out
        idx = self.lifts[task]
        if isinstance(out, np.ndarray):
            full = np.full((out.shape[0], self.info.n_actions), MASK, np.float32)
            full[:, idx] = out
            return full
        full = torch.full((out.shape[0], self.info.n_actions), MASK, dtype=torch.float32)
        full[:, torch.from_numpy(idx)] = out.float()
        return full

    def env_logits(self, logits: np.ndarray, task: int) -> np.ndarray:
        """The agent's logits [B, A] → logits over task ``task``'s env actions [B, n_k]: the
        log of the total probability of the agent actions that reach each env action (exact for
        sampling; greedy takes the env action the policy puts most mass on)."""
        if self.n_tasks == 1 or self.identity_actions:
            return logits[:, : self.infos[task].n_actions]
        n = self.infos[task].n_actions
        legal = self.legal[task]
        out = np.full((logits.shape[0], n), -np.inf, np.float64)
        for j in range(n):
            cols = np.nonzero((self.to_env[task] == j) & legal)[0]
            if len(cols):
                out[:, j] = np.logaddexp.reduce(logits[:, cols].astype(np.float64), axis=1)
        return out.astype(np.float32)

    @cached_property
    def _legal_counts(self) -> np.ndarray:
        return self.legal.sum(1)

    def random_actions(self, tasks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Uniformly random legal agent actions, one per row of ``tasks``. A task's legal
        actions are always a prefix 0..n−1 of the agent's (see :meth:`build`)."""
        if self.info.continuous:  # uniform in the bounds (finite ones; unbounded dimensions: N(0, 1))
            lo, hi = np.asarray(self.info.action_low), np.asarray(self.info.action_high)
            finite = np.isfinite(lo) & np.isfinite(hi)
            u = rng.uniform(np.where(finite, lo, 0.0), np.where(finite, hi, 1.0), (len(tasks), len(lo)))
            return np.where(finite, u, rng.standard_normal((len(tasks), len(lo)))).astype(np.float32)
        counts = self._legal_counts
        if (counts == self.legal.shape[1]).all():
            return rng.integers(0, self.info.n_actions, len(tasks))
        return (rng.random(len(tasks)) * counts[tasks]).astype(np.int64)

    def make_vec(self, num_envs: int, max_episode_steps: int | None = None) -> FastVectorEnv:
        """One vector env over all tasks (round-robin), padded and translating actions."""
        spec = ",".join(self.specs)
        if self.n_tasks == 1:
            return make_vec(spec, num_envs, max_episode_steps)
        table = None if self.identity_actions else self.to_env
        return make_vec(spec, num_envs, max_episode_steps, self.info.obs_shape, _channel_axis(self.info), table)


__all__ = ["TaskSet", "TaskActions", "MASK", "task_name"]
