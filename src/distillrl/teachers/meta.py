"""A meta-learned actor (``distillrl meta``'s run or checkpoint) as a teacher: its deterministic
policy μ_θ with the exploration σ it adapts with, a diagonal Gaussian — so it kickstarts or
distils a student on a task of its family (``--env meta:halfcheetah-vel?task=1.5``)."""

from __future__ import annotations

import torch

from distillrl.core import checkpoint
from distillrl.core.distributions import DiagGaussian
from distillrl.errors import CheckpointError, SourceError, TeacherError
from distillrl.models.ddpg import Actor, GaussianActor
from distillrl.teachers.base import ModuleTeacher
from distillrl.teachers.zoo import resolve

KIND = "meta-actor"


def meta_spec(source: str) -> dict | None:
    """The actor spec of a meta run or checkpoint (None for any other source)."""
    try:
        meta = checkpoint.load_meta(resolve(source))
    except (SourceError, CheckpointError, FileNotFoundError, OSError):
        return None
    spec = meta.get("agent") or {}
    return spec if spec.get("kind") == KIND else None


def load_meta_actor(source: str) -> tuple[Actor, dict]:
    """The meta-learned actor θ (the ES center) and its spec."""
    path = resolve(source)
    state, meta = checkpoint.load(path)
    spec = meta["agent"]
    actor = Actor(spec["obs_dim"], spec["act_dim"], spec["low"], spec["high"], spec["hidden"])
    center = torch.as_tensor(state["center"], dtype=torch.float32)
    n = sum(p.numel() for p in actor.parameters())
    if center.numel() != n:
        raise TeacherError(f"{path}: the actor's {center.numel()} parameters do not fit its spec ({n})")
    torch.nn.utils.vector_to_parameters(center.clone(), actor.parameters())
    return actor.eval().requires_grad_(False), {**spec, "env": meta.get("env"), "path": str(path)}


def load_meta_teacher(source: str, tau: float | None = None) -> ModuleTeacher:
    actor, spec = load_meta_actor(source)
    t = ModuleTeacher(GaussianActor(actor, spec["explore_noise"]), f"meta:{source}", (spec["obs_dim"],),
                      spec["act_dim"], "policy", tau, env=spec["env"])
    t.dist = DiagGaussian
    t.action_low, t.action_high = tuple(spec["low"]), tuple(spec["high"])
    return t
