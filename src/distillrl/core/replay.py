"""One replay buffer for every off-policy learner (DQN; teacher-, student- and DAgger-driven
distillation), per-task capable.

A buffer stores named fields (``obs``, ``action``, ``teacher``, ...) in NumPy, one circular
store per task, each of ``capacity`` samples. ``sample(B)`` draws uniformly from all stored
samples (or, with ``task=k``, from task k only — Rusu et al.'s multi-task distillation draws
each minibatch from one task). Sampling uses the generator it is given, never a global one.
"""

from __future__ import annotations

import numpy as np
import torch


class ReplayBuffer:
    def __init__(self, capacity: int, fields: dict[str, tuple[tuple[int, ...], np.dtype]], n_tasks: int = 1):
        self.capacity, self.n_tasks = capacity, n_tasks
        self.fields = {k: (tuple(s), np.dtype(d)) for k, (s, d) in fields.items()}
        self.data = [{k: np.zeros((capacity,) + s, d) for k, (s, d) in self.fields.items()} for _ in range(n_tasks)]
        self.pos = [0] * n_tasks
        self.sizes = [0] * n_tasks

    def __len__(self) -> int:
        return sum(self.sizes)

    def add(self, task_id: np.ndarray | None = None, **values: np.ndarray) -> None:
        """Add a batch of samples (every field, same length); ``task_id`` [K] routes each sample."""
        k = len(next(iter(values.values())))
        if self.n_tasks == 1 and self.pos[0] + k <= self.capacity:  # the common case: one contiguous slice
            p = self.pos[0]
            store = self.data[0]
            for name, v in values.items():
                store[name][p:p + k] = v
            self.pos[0] = (p + k) % self.capacity
            self.sizes[0] = min(self.sizes[0] + k, self.capacity)
            return
        tasks = np.zeros(k, np.int64) if task_id is None else np.asarray(task_id)
        for t in range(self.n_tasks):
            rows = np.nonzero(tasks == t)[0] if self.n_tasks > 1 else slice(None)
            m = k if self.n_tasks == 1 else len(rows)
            if m == 0:
                continue
            idx = (self.pos[t] + np.arange(m)) % self.capacity
            store = self.data[t]
            for name, v in values.items():
                store[name][idx] = v[rows]
            self.pos[t] = int((self.pos[t] + m) % self.capacity)
            self.sizes[t] = min(self.sizes[t] + m, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator, task: int | None = None) -> dict[str, torch.Tensor]:
        """Uniform minibatch (tensors, plus ``task_id``) from all tasks, or from ``task``."""
        if task is not None:
            t = np.full(batch_size, task)
            i = rng.integers(0, self.sizes[task], batch_size)
        elif self.n_tasks == 1:
            t = np.zeros(batch_size, np.int64)
            i = rng.integers(0, self.sizes[0], batch_size)
        else:
            flat = rng.integers(0, len(self), batch_size)
            bounds = np.cumsum(self.sizes)
            t = np.searchsorted(bounds, flat, side="right")
            i = flat - np.concatenate([[0], bounds[:-1]])[t]
        out = {}
        for name, (shape, dtype) in self.fields.items():
            if self.n_tasks == 1:
                out[name] = torch.from_numpy(self.data[0][name][i])
                continue
            arr = np.empty((batch_size,) + shape, dtype)
            for tt in np.unique(t):
                rows = t == tt
                arr[rows] = self.data[tt][name][i[rows]]
            out[name] = torch.from_numpy(arr)
        out["task_id"] = torch.from_numpy(np.asarray(t, np.int64))
        return out

    def state_dict(self) -> dict:
        return {"pos": list(self.pos), "sizes": list(self.sizes),
                "data": [{k: v[: self.sizes[t]] for k, v in self.data[t].items()} for t in range(self.n_tasks)]}

    def load_state_dict(self, s: dict) -> None:
        for t in range(self.n_tasks):
            n = int(s["sizes"][t])
            for k, v in s["data"][t].items():
                self.data[t][k][:n] = v
            self.pos[t], self.sizes[t] = int(s["pos"][t]), n
