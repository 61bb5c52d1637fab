"""Observation groups: a ``Dict`` observation of named parts, and which parts a network reads.

An environment whose observation space is a Gymnasium ``Dict`` of ``Box`` groups (say ``a``,
``b`` and a privileged ``priv``) reaches distillrl *packed*: :class:`PackGroups` flattens every
group and concatenates them, in the space's order, into one vector, so vector envs, rollouts
and replay buffers keep handling one array. ``EnvInfo.groups`` records the packing.

A network — the student, or a teacher — is told which groups it reads, its *view*. An
:class:`ObsView` cuts those groups out of the packed vector and concatenates them (flattened,
in the order asked) into the ``Box`` the network sees; a view of one group with more than one
axis (an image) keeps that group's shape, so a conv trunk can read it. The student's view is
``--obs-groups a,b`` (``RunConfig.obs_groups``; default every group) and is part of the agent's
spec, so a run directory or checkpoint rebuilds it; teachers are given theirs with
``--teacher-obs-groups priv,a`` (a distillrl agent trained on the same groups already reads its
own view). Plain ``Box`` environments have no groups and no view: nothing changes for them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import gymnasium as gym
import numpy as np
import torch

from distillrl.errors import ConfigError, EnvError

if TYPE_CHECKING:  # annotations only: make.py imports this module
    from distillrl.envs.make import EnvInfo

Group = tuple[str, tuple[int, ...]]
"""A group's name and its own shape."""


def image_layout(shape: tuple[int, ...], family: str = "") -> str:
    """``chw`` (channels first: Atari, or few leading channels) or ``hwc`` for an image shape."""
    return "chw" if family == "ale" or (len(shape) == 3 and shape[0] <= 4 and shape[-1] > 4) else "hwc"


def space_groups(space: gym.spaces.Dict, spec: str = "") -> tuple[Group, ...]:
    """The groups of a ``Dict`` observation space, in its order; each must be a ``Box``."""
    out = []
    for name, sub in space.spaces.items():
        if not isinstance(sub, gym.spaces.Box):
            raise EnvError(f"{spec}: observation group {name!r} must be a Box, got {type(sub).__name__}")
        if "," in name:
            raise EnvError(f"{spec}: observation group name {name!r} contains a comma")
        out.append((str(name), tuple(int(d) for d in sub.shape)))
    if not out:
        raise EnvError(f"{spec}: the Dict observation space has no groups")
    return tuple(out)


class PackGroups(gym.ObservationWrapper):
    """``Dict`` observations → one flat ``Box`` vector: every group flattened, concatenated in
    the space's order, in the groups' common dtype."""

    def __init__(self, env: gym.Env, spec: str = ""):
        super().__init__(env)
        space = env.observation_space
        self.groups = space_groups(space, spec)
        subs = [space.spaces[n] for n, _ in self.groups]
        self.dtype = np.result_type(*[s.dtype for s in subs])
        low = np.concatenate([np.broadcast_to(s.low, s.shape).reshape(-1) for s in subs]).astype(self.dtype)
        high = np.concatenate([np.broadcast_to(s.high, s.shape).reshape(-1) for s in subs]).astype(self.dtype)
        self.observation_space = gym.spaces.Box(low, high, (len(low),), self.dtype)

    def observation(self, obs: dict) -> np.ndarray:
        return np.concatenate([np.asarray(obs[n], self.dtype).reshape(-1) for n, _ in self.groups])


def parse_groups(names: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"a,b"`` (or ``["a", "b"]``) → ``("a", "b")``; empty → ``()`` (the default view)."""
    if not names:
        return ()
    items = names.split(",") if isinstance(names, str) else list(names)
    return tuple(s.strip() for s in items if s.strip())


def check_groups(groups: tuple[Group, ...], names: tuple[str, ...], flag: str) -> tuple[str, ...]:
    """``names`` when every one is a group (once); else one-line :class:`ConfigError`."""
    have = [n for n, _ in groups]
    for n in names:
        if n not in have:
            raise ConfigError(f"{flag}: unknown observation group {n!r}; available: {', '.join(have)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"{flag}: a group is named twice in {','.join(names)}")
    return names


class ObsView:
    """Reads groups ``names`` out of packed observations [..., D] (NumPy or torch) → [..., *shape]."""

    def __init__(self, groups: tuple[Group, ...], names: tuple[str, ...]):
        offsets, off = {}, 0
        for n, shape in groups:
            size = int(np.prod(shape))
            offsets[n] = (off, size, shape)
            off += size
        self.groups, self.names, self.packed_size = tuple(groups), tuple(names), off
        self.parts = [offsets[n][:2] for n in names]
        # neighbouring groups asked in packing order are one slice
        merged: list[tuple[int, int]] = []
        for o, s in self.parts:
            if merged and merged[-1][0] + merged[-1][1] == o:
                merged[-1] = (merged[-1][0], merged[-1][1] + s)
            else:
                merged.append((o, s))
        self.slices = [slice(o, o + s) for o, s in merged]
        one = offsets[names[0]][2] if len(names) == 1 else None
        self.shape: tuple[int, ...] = one if one is not None and len(one) > 1 else (sum(s for _, s in self.parts),)
        self.layout = "flat" if len(self.shape) == 1 else image_layout(self.shape)
        self.identity = self.slices == [slice(0, off)] and len(self.shape) == 1

    def __call__(self, obs):
        """Packed observations [..., D] → the view [..., *shape] (any leading axes)."""
        if self.identity:
            return obs
        lead = tuple(obs.shape[:-1])
        if len(self.slices) == 1:
            x = obs[..., self.slices[0]]
        elif isinstance(obs, np.ndarray):
            x = np.concatenate([obs[..., s] for s in self.slices], -1)
        else:
            x = torch.cat([obs[..., s] for s in self.slices], -1)
        return x.reshape(lead + self.shape) if len(self.shape) > 1 else x

    def __repr__(self) -> str:
        return f"ObsView({','.join(self.names)} → {self.shape})"


def view_names(info: EnvInfo) -> tuple[str, ...]:
    """The groups a network built for ``info`` reads: its view, or every group."""
    return info.view or tuple(n for n, _ in info.groups)


def obs_view(info: EnvInfo) -> ObsView | None:
    """The student's selector for ``info`` (None for a plain ``Box`` environment)."""
    return ObsView(info.groups, view_names(info)) if info.groups else None


def with_view(info: EnvInfo, names: str | Sequence[str] | None, flag: str = "--obs-groups") -> EnvInfo:
    """``info`` with the student's view set to ``names`` (checked); unchanged when none are given."""
    names = parse_groups(names)
    if not names:
        return info
    if not info.groups:
        raise ConfigError(f"{flag}: {info.spec} has no observation groups (its observations are one Box)")
    return dataclasses.replace(info, view=check_groups(info.groups, names, flag))


def net_info(info: EnvInfo) -> EnvInfo:
    """What the network's trunk sees: the view's shape and layout (``info`` itself without groups)."""
    v = obs_view(info)
    if v is None:
        return info
    return dataclasses.replace(info, obs_shape=v.shape, layout=v.layout, groups=(), view=())


__all__ = ["Group", "ObsView", "PackGroups", "check_groups", "image_layout", "net_info", "obs_view", "parse_groups",
           "space_groups", "view_names", "with_view"]
