"""Rollout actors: the acting half of IMPALA, in the learner's process or as Ray actors.

A :class:`RolloutWorker` owns environments, a :class:`collect.Collector` and an acting policy
(the NumPy mirror where it applies). It knows nothing of learning: ``rollout(weights, version)``
loads weights when it is sent new ones and returns one time-major rollout played with them,
plus the episodes that finished during it.

A pool hands rollouts to the learner:

* :class:`LocalPool` (``--actors 0``): one worker in the learner's process; acting and
  learning alternate (no Ray).
* :class:`RayPool` (``--actors K``): K workers as Ray actors, on this machine or on a cluster
  (``--address``), spread over the nodes. After every update the learner *broadcasts*
  explicitly: its weights go into Ray's object store once (one copy per node) and every
  actor's next request carries the reference. Each actor has at most ``queue`` requests in
  flight — a bounded queue: an actor never runs further ahead of the learner than that, so
  policy lag stays bounded and memory too (back-pressure). An actor that dies is replaced by a
  new one (fresh environments, the current weights) and the learner carries on.

``order="fixed"`` consumes rollouts round-robin over the actors, and every request is issued at
a fixed point of the learner's sequence of updates, so a run is reproducible from its seed
whatever the actors' speeds. ``order="first"`` takes whichever rollout is ready first: no
waiting on a slow actor, but not reproducible.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from distillrl.acting.cluster import RAY_ENV, node_id
from distillrl.acting.collect import Action, Collector
from distillrl.core.data import Rollout
from distillrl.envs.tasks import TaskSet
from distillrl.errors import DistillRLError
from distillrl.models.agent import Agent, acting_tensors
from distillrl.models.fastpolicy import make_fast_policy


class ActorsLost(DistillRLError):
    """More actors died than the run allows to be replaced."""


class EpisodeLog:
    """What a worker's collector records: finished episodes, shipped with the next rollout."""

    def __init__(self):
        self.returns: list[float] = []
        self.lengths: list[float] = []
        self.tasks: list[int] = []

    def record(self, returns: np.ndarray, lengths: np.ndarray, tasks: np.ndarray) -> None:
        self.returns += returns.tolist()
        self.lengths += lengths.tolist()
        self.tasks += tasks.tolist()

    def drain(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = (np.asarray(self.returns, np.float64), np.asarray(self.lengths, np.float64),
               np.asarray(self.tasks, np.int64))
        self.returns, self.lengths, self.tasks = [], [], []
        return out


@dataclass
class WorkerSpec:
    """Everything a remote worker needs to build itself (plain data: it crosses processes)."""

    env: str
    task_actions: str
    agent_spec: dict
    num_envs: int
    num_steps: int
    max_episode_steps: int | None
    acting: str
    seed: int
    index: int = 0


class RolloutWorker:
    """Environments + collector + acting policy; ``rollout(weights, version)`` → one rollout."""

    def __init__(self, collector: Collector, policy: Any, rng: np.random.Generator, n_actions: int, index: int = 0,
                 layout: list[tuple[str, tuple[int, ...]]] | None = None):
        self.collector, self.policy, self.rng, self.n_actions, self.index = collector, policy, rng, n_actions, index
        self.layout = layout  # names and shapes of the parameters, to unpack a flat weight vector
        self.version = -1
        self._noise: np.ndarray | None = None
        self._step = 0

    @classmethod
    def build(cls, spec: WorkerSpec) -> RolloutWorker:
        torch.set_num_threads(1)
        ts = TaskSet.build(spec.env, spec.task_actions)
        envs = ts.make_vec(spec.num_envs, spec.max_episode_steps)
        agent = Agent.from_spec(spec.agent_spec)
        policy = make_fast_policy(agent, spec.acting)
        collector = Collector(envs, spec.num_steps, EpisodeLog(), memory=policy if policy.recurrent else None,
                              dist=agent.dist)
        collector.reset(spec.seed)
        layout = [(k, tuple(p.shape)) for k, p in acting_tensors(agent)]
        return cls(collector, policy, np.random.default_rng(spec.seed), agent.head_size, spec.index, layout)

    def unflatten(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """A flat weight vector (what the learner broadcasts: one buffer is the cheapest object to
        put in Ray's store and read zero-copy) → named views of it."""
        out, i = {}, 0
        for k, shape in self.layout:
            n = int(np.prod(shape))
            out[k] = flat[i:i + n].reshape(shape)
            i += n
        return out

    def _act(self, obs, task, rng):
        logits, value = self.policy(obs, task)
        noise = self._noise[self._step]
        self._step += 1
        return Action(self.policy.dist.np_sample(logits, noise=noise), logits, value)

    def collect(self) -> Rollout:
        """One rollout of the current policy, sampled by Gumbel-max with noise drawn once for the
        whole rollout (one RNG call); what synchronous PPO/A2C collect with too."""
        c = self.collector
        self._noise = self.policy.dist.np_noise(self.rng, (c.num_steps, c.envs.num_envs, self.n_actions))
        self._step = 0
        return c.collect(self._act, self.rng, self.policy.value)

    def rollout(self, weights: dict | None, version: int) -> dict:
        """Load ``weights`` (when not None) as ``version``, play one rollout; return it as NumPy
        arrays with the finished episodes, the actor's index and node, and the time it took."""
        t0 = time.perf_counter()
        if weights is not None:
            self.policy.set_weights(self.unflatten(weights) if isinstance(weights, np.ndarray) else weights)
            self.version = version
        c = self.collector
        ro = self.collect()
        ro.version, ro.source = self.version, self.index
        # in the learner's process the collector records into the trainer's own statistics
        remote = isinstance(c.stats, EpisodeLog)
        return {"rollout": ro.to_numpy() if remote else ro, "episodes": c.stats.drain() if remote else None,
                "actor": self.index, "seconds": time.perf_counter() - t0}


class RemoteWorker:
    """The Ray actor: a :class:`RolloutWorker` built in the actor's process from a spec."""

    def __init__(self, spec: WorkerSpec):
        self.worker = RolloutWorker.build(spec)

    def rollout(self, weights: dict | None, version: int) -> dict:
        return self.worker.rollout(weights, version)

    def node(self) -> str:
        return node_id()


def worker_seed(seed: int, index: int, generation: int, frames: int) -> int:
    """Environment/acting seed of actor ``index``'s ``generation``-th incarnation, started at
    ``frames``: distinct per actor, per replacement and per resume point, inside [0, 2**31)."""
    return (seed * 1_000_003 + 7919 * (frames + 1) + 104_729 * index + 15_485_863 * generation) % (2**31 - 1)


class LocalPool:
    """One worker in the learner's own process (``--actors 0``): act, then learn, in turn."""

    def __init__(self, worker: RolloutWorker):
        self.worker = worker
        self.k, self.restarts, self.nodes = 1, 0, {"local": 1}
        self._weights: dict | None = None
        self._version = 0

    def broadcast(self, weights: dict, version: int) -> None:
        self._weights, self._version = weights, version

    def next(self) -> dict:
        out = self.worker.rollout(self._weights, self._version)
        self._weights = None
        return out

    def close(self) -> None:
        pass


class RayPool:
    """K Ray actors with a bounded queue of requests each, weights broadcast through the store."""

    def __init__(self, spec_for, k: int, queue: int, order: str, cpus: float, max_restarts: int):
        import ray  # Ray is heavy (1-2 s to import): only in a pool of Ray actors

        self.spec_for = spec_for  # (index, generation) -> WorkerSpec
        self.k, self.queue, self.order, self.max_restarts = k, queue, order, max_restarts
        self.remote = ray.remote(num_cpus=cpus, max_restarts=0, max_concurrency=1,
                                 scheduling_strategy="SPREAD",
                                 runtime_env={"env_vars": dict(RAY_ENV)})(RemoteWorker)
        self.generation = [0] * k
        self.restarts = 0
        self.actors = [self._spawn(i) for i in range(k)]
        self.pending: list[deque] = [deque() for _ in range(k)]
        self.fresh = [True] * k
        self.weights_ref = None
        self.version = 0
        self.turn = 0
        self.nodes: dict[str, int] = {}
        for n in ray.get([a.node.remote() for a in self.actors]):
            self.nodes[n] = self.nodes.get(n, 0) + 1

    def _spawn(self, i: int):
        return self.remote.remote(self.spec_for(i, self.generation[i]))

    def broadcast(self, weights: np.ndarray, version: int) -> None:
        """Put the weights (one flat vector) in the object store once; every actor's next request
        carries the reference."""
        import ray  # heavy (see above)

        self.weights_ref = ray.put(weights)
        self.version = version
        self.fresh = [True] * self.k
        self._fill()

    def _submit(self, i: int) -> None:
        ref = self.actors[i].rollout.remote(self.weights_ref if self.fresh[i] else None, self.version)
        self.fresh[i] = False
        self.pending[i].append(ref)

    def _fill(self) -> None:
        for i in range(self.k):
            while len(self.pending[i]) < self.queue:
                self._submit(i)

    def _replace(self, i: int, err: BaseException) -> None:
        import ray  # heavy (see above)

        self.restarts += 1
        if self.restarts > self.max_restarts:
            raise ActorsLost(f"rollout actors died {self.restarts} times (more than --impala.max-restarts "
                             f"{self.max_restarts}); last: {str(err).strip().splitlines()[0][:200]}")
        try:
            ray.kill(self.actors[i])
        except Exception:  # already gone
            pass
        self.generation[i] += 1
        self.actors[i] = self._spawn(i)
        self.pending[i].clear()
        self.fresh[i] = True
        self._fill()

    def next(self) -> dict:
        """The next rollout (blocking); a dead actor is replaced and the next one is taken."""
        import ray  # heavy (see above)
        from ray.exceptions import RayActorError

        while True:
            self._fill()
            if self.order == "fixed":
                i = self.turn
                ref = self.pending[i].popleft()
            else:
                heads = [p[0] for p in self.pending]
                ready, _ = ray.wait(heads, num_returns=1)
                i = heads.index(ready[0])
                ref = self.pending[i].popleft()
            try:
                out = ray.get(ref)
            except RayActorError as e:
                self._replace(i, e)
                continue
            if self.order == "fixed":
                self.turn = (i + 1) % self.k
            self._submit(i)
            return out

    def close(self) -> None:
        import ray  # heavy (see above)

        for a in self.actors:
            try:
                ray.kill(a)
            except Exception:
                pass
