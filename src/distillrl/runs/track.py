"""Weights & Biases tracking (``--track``, CleanRL's flag): TensorBoard stays the record of a run;
W&B mirrors it — every metrics row (the same scalar names as TensorBoard's tags, at ``step`` =
frames), the resolved config, the summary and the report's plots.

``--wandb-project``, ``--wandb-entity``, ``--wandb-group`` as in CleanRL; ``--wandb-mode offline``
(or ``WANDB_MODE=offline``) writes the run under ``RUN_DIR/wandb/`` without a network, for
``wandb sync`` later. PBT members and sweep trials are grouped by their experiment (the group
defaults to the experiment's directory name; each member/trial is one W&B run). ``wandb`` is an
optional dependency (``pip install 'distillrl[track]'``); asking for ``--track`` without it is
one clear error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from distillrl.errors import ConfigError
from distillrl.runs.loop import Hook


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


class WandbTracker(Hook):
    """A loop hook that mirrors each chunk's metrics rows into one W&B run."""

    def __init__(self, cfg: Any, run_dir: Path, kind: str, group: str | None = None, name: str | None = None,
                 resume: bool = False):
        try:
            import wandb
        except ImportError:
            raise ConfigError("--track needs Weights & Biases: pip install 'distillrl[track]' (or wandb)") from None
        self.wandb = wandb
        config = asdict(cfg) if is_dataclass(cfg) else dict(cfg)
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        mode = getattr(cfg, "wandb_mode", None) or None
        self.run = wandb.init(project=getattr(cfg, "wandb_project", "distillrl") or "distillrl",
                              entity=getattr(cfg, "wandb_entity", None) or None,
                              group=getattr(cfg, "wandb_group", None) or group,
                              name=name or run_dir.name, job_type=kind, config={**config, "kind": kind},
                              dir=str(run_dir), mode=mode, reinit="create_new",
                              # a resumed run continues the same W&B run id (kept in the run directory)
                              id=self._run_id(run_dir, resume), resume="allow" if resume else None,
                              settings=wandb.Settings(quiet=True, console="off"))

    @staticmethod
    def _run_id(run_dir: Path, resume: bool) -> str:
        import uuid

        f = run_dir / "wandb_id.txt"
        if resume and f.is_file():
            return f.read_text().strip()
        rid = uuid.uuid4().hex[:12]
        f.write_text(rid + "\n")
        return rid

    def on_rows(self, trainer: Any, rows: list[dict]) -> bool:
        for row in rows:
            frames = int(row.get("frames", trainer.frames))
            data = {k: _clean(v) for k, v in row.items() if k != "frames" and isinstance(v, (int, float))}
            self.run.log({**data, "frames": frames}, step=frames)
        return False

    def finish(self, summary: dict | None = None, images: list[Path] = ()) -> None:
        """The run's summary and plots, then close the W&B run."""
        if summary:
            self.run.summary.update({k: _clean(v) for k, v in summary.items() if isinstance(v, (int, float, str))})
        for p in images:
            self.run.log({f"report/{Path(p).stem}": self.wandb.Image(str(p))})
        self.run.finish()

    def abort(self) -> None:
        self.run.finish(exit_code=1)
