"""The data contract between collectors, return estimators, losses and learners.

Shapes: ``T`` rollout steps, ``N`` environments, ``B`` flattened samples, ``A`` actions.
A :class:`Rollout` stays time-major ``[T, N]`` until a learner cuts minibatches from it: return
estimators (GAE, n-step, V-trace) need the time axis, and remote actors send whole rollouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import torch


@dataclass
class Rollout:
    """``T`` steps of ``N`` environments, acted by a behaviour policy.

    ``done`` marks that the episode ended *after* step t (terminated or truncated), so nothing
    is bootstrapped across it; ``trunc_value`` holds V(final observation) on the steps that
    were truncated (not terminated) and 0 elsewhere, so estimators can bootstrap them.
    Estimators write ``advantages`` / ``returns``; extra loss terms may add per-step tensors to
    ``extras`` (``[T, N, ...]``) or change ``rewards`` in their ``on_rollout`` hook.
    """

    obs: torch.Tensor
    """[T, N, *obs_shape] observations as the env gave them"""
    actions: torch.Tensor
    """[T, N] int64 actions taken ([T, N, D] float32 for continuous actions)"""
    logp: torch.Tensor
    """[T, N] log μ(a|x) under the behaviour policy"""
    logits: torch.Tensor
    """[T, N, A] behaviour logits (q-values for a Q agent)"""
    values: torch.Tensor
    """[T, N] V(x_t) at collection time (zeros for agents without a value head)"""
    rewards: torch.Tensor
    """[T, N] rewards"""
    done: torch.Tensor
    """[T, N] float, 1 where the episode ended after step t"""
    terminated: torch.Tensor
    """[T, N] float, 1 where it ended by termination (no bootstrap at all)"""
    trunc_value: torch.Tensor
    """[T, N] V(final obs) where the episode was truncated after step t, else 0"""
    task_id: torch.Tensor
    """[T, N] int64 task of each environment"""
    last_obs: torch.Tensor
    """[N, *obs_shape] observation after the last step"""
    last_value: torch.Tensor
    """[N] V(last_obs)"""
    starts: torch.Tensor | None = None
    """[T, N] float, 1 where step t begins an episode (a recurrent agent's state is reset before it)"""
    state0: tuple[torch.Tensor, ...] | None = None
    """a recurrent behaviour policy's state before step 0 (``(h, c)``, each [N, H]); None when feed-forward"""
    version: int = 0
    """the learner update whose weights acted (policy lag = learner version − this)"""
    source: int = 0
    """the actor that collected it (its environments continue from one of its rollouts to the next)"""
    advantages: torch.Tensor | None = None
    """[T, N] written by an estimator"""
    returns: torch.Tensor | None = None
    """[T, N] value targets, written by an estimator"""
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    """[T, N, ...] named per-step tensors added by extra loss terms"""

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.rewards.shape)  # type: ignore[return-value]

    _TN = ("obs", "actions", "logp", "logits", "values", "rewards", "done", "terminated", "trunc_value", "task_id",
           "starts")
    """the [T, N, ...] fields (concatenated along N by :meth:`cat`)"""

    def to_numpy(self) -> dict:
        """The collected fields as NumPy arrays (what a remote actor sends; zero-copy in Ray's store)."""
        d = {k: getattr(self, k).numpy() for k in self._TN + ("last_obs", "last_value") if getattr(self, k) is not None}
        if self.state0 is not None:
            d["state0"] = [x.numpy() for x in self.state0]
        d["version"] = self.version
        d["source"] = self.source
        return d

    @classmethod
    def from_numpy(cls, d: dict) -> Rollout:
        """Inverse of :meth:`to_numpy`. Arrays are copied: Ray hands out read-only buffers."""
        kw = {k: torch.from_numpy(np.array(v)) for k, v in d.items() if k not in ("state0", "version", "source")}
        if d.get("state0") is not None:
            kw["state0"] = tuple(torch.from_numpy(np.array(x)) for x in d["state0"])
        return cls(**kw, version=int(d.get("version", 0)), source=int(d.get("source", 0)))

    @classmethod
    def cat(cls, rollouts: list[Rollout]) -> Rollout:
        """Several rollouts of the same length side by side: [T, N1 + N2 + ...] (one learner batch;
        extras too, so terms label each rollout before they are put together)."""
        if len(rollouts) == 1:
            return rollouts[0]
        r0 = rollouts[0]
        kw = {k: torch.cat([getattr(r, k) for r in rollouts], 1) for k in cls._TN if getattr(r0, k) is not None}
        for k in ("last_obs", "last_value"):
            kw[k] = torch.cat([getattr(r, k) for r in rollouts], 0)
        if r0.state0 is not None:
            kw["state0"] = tuple(torch.cat(xs, 0) for xs in zip(*(r.state0 for r in rollouts)))
        extras = {k: torch.cat([r.extras[k] for r in rollouts], 1) for k in r0.extras}
        return cls(**kw, version=min(r.version for r in rollouts), source=-1, extras=extras)

    def to(self, device: torch.device) -> Rollout:
        """A copy with every tensor on ``device`` (a learner on a GPU that learns from the whole
        rollout: one transfer per update)."""
        def mv(x):
            return None if x is None else x.to(device, non_blocking=True)

        kw = {f.name: mv(getattr(self, f.name)) for f in fields(self)
              if f.name not in ("state0", "version", "source", "extras")}
        return Rollout(**kw, state0=None if self.state0 is None else tuple(mv(x) for x in self.state0),
                       version=self.version, source=self.source, extras={k: mv(v) for k, v in self.extras.items()})

    def flatten(self) -> Batch:
        """The rollout as a flat [B = T·N] :class:`Batch` (after the estimator has run)."""
        if self.advantages is None or self.returns is None:
            raise RuntimeError("run a return estimator on the rollout before flattening it")

        def flat(x: torch.Tensor) -> torch.Tensor:
            return x.reshape((-1,) + tuple(x.shape[2:]))

        return Batch(obs=flat(self.obs), actions=flat(self.actions), logp=flat(self.logp),
                     values=flat(self.values), advantages=flat(self.advantages), returns=flat(self.returns),
                     task_id=flat(self.task_id), extras={k: flat(v) for k, v in self.extras.items()})


@dataclass
class Batch:
    """A flat batch of samples: a minibatch of a flattened rollout or a replay sample.

    Replay-based learners fill what they have (``obs``, ``actions``, ``task_id``) and leave
    the on-policy fields empty (zero-length tensors are never read by their losses).
    """

    obs: torch.Tensor
    """[B, *obs_shape] raw observations"""
    actions: torch.Tensor
    """[B] int64 actions taken ([B, D] float32 for continuous actions)"""
    task_id: torch.Tensor
    """[B] int64 task ids"""
    logp: torch.Tensor | None = None
    """[B] log μ(a|x) of the behaviour policy"""
    values: torch.Tensor | None = None
    """[B] V_old(x) at collection time"""
    advantages: torch.Tensor | None = None
    """[B] advantages"""
    returns: torch.Tensor | None = None
    """[B] value targets"""
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    """[B, ...] named per-sample tensors for extra loss terms"""

    def __len__(self) -> int:
        return self.obs.shape[0]

    def slice(self, start: int, stop: int) -> Batch:
        """Samples ``start:stop`` as views (no copy)."""
        kw = {f.name: (None if getattr(self, f.name) is None else getattr(self, f.name)[start:stop])
              for f in fields(self) if f.name != "extras"}
        return Batch(**kw, extras={k: v[start:stop] for k, v in self.extras.items()})

    def index(self, idx: torch.Tensor) -> Batch:
        kw = {f.name: (None if getattr(self, f.name) is None else getattr(self, f.name)[idx])
              for f in fields(self) if f.name != "extras"}
        return Batch(**kw, extras={k: v[idx] for k, v in self.extras.items()})

    def to(self, device: torch.device) -> Batch:
        """Every tensor on ``device`` (one transfer per rollout for a learner on a GPU)."""
        kw = {f.name: (None if getattr(self, f.name) is None else getattr(self, f.name).to(device, non_blocking=True))
              for f in fields(self) if f.name != "extras"}
        return Batch(**kw, extras={k: v.to(device, non_blocking=True) for k, v in self.extras.items()})


@dataclass
class Transitions:
    """A minibatch of off-policy transitions (DQN), sampled from a replay buffer."""

    obs: torch.Tensor
    """[B, *obs_shape]"""
    actions: torch.Tensor
    """[B] int64"""
    rewards: torch.Tensor
    """[B] float32"""
    next_obs: torch.Tensor
    """[B, *obs_shape] the real next observation (the final one at an episode end)"""
    terminated: torch.Tensor
    """[B] float32, 1 where the episode ended by termination (no bootstrap)"""
    task_id: torch.Tensor
    """[B] int64"""

    def as_batch(self) -> Batch:
        return Batch(obs=self.obs, actions=self.actions, task_id=self.task_id)

    def to(self, device: torch.device) -> Transitions:
        """Every tensor on ``device`` (a replay learner on a GPU: one transfer per minibatch)."""
        return Transitions(*(getattr(self, f.name).to(device, non_blocking=True) for f in fields(self)))
