"""Decision-Transformer checkpoints as teachers: loading, their environment, and the teacher interface
over context windows."""

from __future__ import annotations

from pathlib import Path

import torch

from distillrl.core import checkpoint
from distillrl.errors import CheckpointError, TeacherError
from distillrl.models.agent import param_count
from distillrl.models.transformer import DecisionTransformer
from distillrl.teachers.base import Teacher


class DTTeacher(Teacher):
    """A trained Decision Transformer as a (sequence) teacher: its outputs need the context
    window (:meth:`logits_window`), not one observation."""

    def __init__(self, model: DecisionTransformer, name: str, env: str | None = None,
                 target_returns: list[float] | None = None, tau: float | None = None,
                 datasets: list[str] | None = None):
        super().__init__(name, model.obs_shape, model.n_actions, "policy", tau, env, param_count(model))
        self.model = model.eval().requires_grad_(False)
        self.target_returns = target_returns
        """the return each task's evaluation conditions on (one per task; None if not recorded)"""
        self.datasets = datasets
        """the dataset ids it was trained on (a ``train --algo dt`` run; None otherwise)"""
        self.context = model.context

    @property
    def target_return(self) -> float | None:
        return self.target_returns[0] if self.target_returns else None

    def raw(self, obs, task_id=None):  # pragma: no cover - a single observation is not enough context
        raise TeacherError(f"{self.name} is a Decision Transformer: it labels context windows (logits_window)")

    @torch.inference_mode()
    def logits_window(self, obs, rtg, actions, timesteps, valid) -> torch.Tensor:
        """Logits [B, K, A] for every step of the windows."""
        return self.model(obs, rtg, actions, timesteps, valid).float()


def _checkpoint_path(source) -> Path:
    """A run directory's last checkpoint, or the file itself."""
    p = Path(str(source))
    return p / "checkpoints" / "last.safetensors" if p.is_dir() else p


def dt_env(source) -> str | None:
    """The environment a Decision-Transformer checkpoint records (its header only; the weights
    are not read)."""
    ck = _checkpoint_path(source)
    if not ck.is_file():
        raise TeacherError(f"no Decision-Transformer checkpoint at {ck} (offline distillation takes the run "
                           "directories of train --algo dt)")
    try:
        return checkpoint.load_meta(ck).get("env")
    except CheckpointError as e:
        raise TeacherError(str(e)) from None


def load_dt(source: str | Path, tau: float | None = None) -> DTTeacher:
    """A Decision Transformer from a ``train --algo dt`` run directory or its checkpoint."""
    ck = _checkpoint_path(source)
    if not ck.is_file():
        raise TeacherError(f"no Decision-Transformer checkpoint at {ck} (offline distillation takes the run "
                           "directories of train --algo dt)")
    try:
        state, meta = checkpoint.load(ck)
    except CheckpointError as e:
        raise TeacherError(str(e)) from None
    spec = meta.get("agent", {})
    if spec.get("kind") != "dt":
        raise TeacherError(f"{source} is not a Decision Transformer (algo {meta.get('algo')})")
    model = DecisionTransformer.from_spec(spec)
    model.load_state_dict(state["agent"])
    a = state.get("algo_state", {})
    targets = a.get("target_returns") or ([a["target_return"]] if a.get("target_return") is not None else None)
    return DTTeacher(model, str(source), meta.get("env"), targets, tau, a.get("datasets"))


def is_dt_source(source) -> bool:
    """Whether ``source`` is a Decision-Transformer run directory or checkpoint."""
    ck = _checkpoint_path(source)
    if not (ck.is_file() and ck.suffix == ".safetensors"):
        return False
    try:
        return checkpoint.load_meta(ck).get("agent", {}).get("kind") == "dt"
    except Exception:  # an unreadable file is not ours to judge here: the normal loader reports it
        return False
