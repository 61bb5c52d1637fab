"""Loading trained agents: from a run directory, a checkpoint file, or the shipped teacher zoo.

Zoo entries live in ``distillrl/zoo/<name>/``: ``model.safetensors`` (weights + the config that
built them, in the safetensors metadata) and ``meta.json`` (evaluation scores, frames, and the
exact command that trained them).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from distillrl.config import from_dict
from distillrl.core import checkpoint
from distillrl.envs.make import env_info
from distillrl.errors import CheckpointError, SourceError
from distillrl.models.agent import Agent
from distillrl.models.nets import NetConfig

ZOO_DIR = Path(__file__).resolve().parents[1] / "zoo"  # the shipped entries: distillrl/zoo/<name>/


def zoo_names() -> list[str]:
    if not ZOO_DIR.is_dir():
        return []
    return sorted(p.name for p in ZOO_DIR.iterdir() if (p / "model.safetensors").exists())


def zoo_meta(name: str) -> dict:
    p = ZOO_DIR / name / "meta.json"
    return json.loads(p.read_text()) if p.exists() else {}


def resolve(source: str) -> Path:
    """Map a zoo name, run directory or checkpoint path to a checkpoint file."""
    if source in zoo_names():
        return ZOO_DIR / source / "model.safetensors"
    p = Path(source)
    if p.is_dir():
        for cand in (p / "model.safetensors", p / "checkpoints" / "last.safetensors"):
            if cand.exists():
                return cand
        raise SourceError(f"{p} is a directory without a checkpoint (checkpoints/last.safetensors)")
    if p.is_file():
        return p
    names = ", ".join(zoo_names()) or "none installed"
    raise SourceError(f"{source!r} is not a zoo name ({names}), run directory or checkpoint file")


def load_agent(source: str) -> tuple[Agent, dict]:
    """Rebuild the agent stored at ``source``; returns ``(agent in eval mode, checkpoint meta)``."""
    path = resolve(source)
    try:
        state, meta = checkpoint.load(path)
    except CheckpointError as e:
        raise SourceError(str(e)) from None
    if "agent" not in state:
        raise SourceError(f"{path} holds no agent")
    if meta.get("agent", {}).get("kind") == "dt":
        raise SourceError(f"{source} is a Decision Transformer: it teaches through distill --offline (and plays "
                          "through distillrl eval), not as a single-observation teacher")
    if "agent" not in meta:  # checkpoints written before agent specs were recorded (train runs only)
        meta = {**meta, "agent": _spec_from_train_config(meta.get("config", {}), state.get("algo", "ppo"))}
    agent = Agent.from_spec(meta["agent"])
    agent.load_state_dict(state["agent"])
    agent.eval().requires_grad_(False)
    meta = dict(meta)
    meta.setdefault("env", meta["agent"]["env"])
    meta["path"] = str(path)
    return agent, meta


def _spec_from_train_config(config: dict, algo: str) -> dict:
    """The agent spec of an early checkpoint that recorded only its run config (format 1)."""
    net = from_dict(NetConfig, config.get("net", {}))
    kw = {"value_head": False, "q_head": True, "policy_head": False} if algo == "dqn" else {"value_head": True}
    with torch.device("meta"):
        return Agent(env_info(config.get("env", "gym:CartPole-v1")), net, **kw).spec()


def export_model(run_dir: str | Path, out_dir: str | Path, extra_meta: dict | None = None) -> Path:
    """Write a zoo-style ``model.safetensors`` (weights + config only) from a run's checkpoint."""
    state, meta = checkpoint.load(resolve(str(run_dir)))
    if "agent" not in meta:
        meta = {**meta, "agent": _spec_from_train_config(meta.get("config", {}), state.get("algo", "ppo"))}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {k: v for k, v in meta.items() if k != "format"}
    meta = {**meta, **(extra_meta or {})}
    checkpoint.save(out / "model.safetensors", {"algo": state["algo"], "agent": state["agent"]}, meta)
    return out / "model.safetensors"
