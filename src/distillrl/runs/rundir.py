"""Run directories (the loop that drives a trainer through one: :mod:`distillrl.runs.loop`).

A run directory holds::

    config.yaml                 the resolved configuration
    command.txt                 the command line of every invocation (a resume adds a line)
    provenance.jsonl            the code and library versions of every invocation (one JSON line each)
    metrics.csv                 one row per update/log interval (frames, returns, losses, ...)
    tb/                         TensorBoard events of the same scalars
    checkpoints/last.safetensors  the trainer's whole state (atomic writes)
    summary.json                final evaluation and throughput

``--resume`` reloads the last checkpoint, drops metric rows written after it (so no row is
duplicated or missing) and continues; a run killed before its first checkpoint (written after
the first update) starts again from frame 0 in the same directory. The checkpoint is read and
checked before anything in the directory is touched, so a corrupted one costs nothing.
SIGINT saves a checkpoint and exits cleanly. Metric names are grouped (``charts/``,
``losses/``, ``kickstart/``, ``hparams/``, ...) and are the TensorBoard tags as they are.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from distillrl import __version__
from distillrl.config import to_dict
from distillrl.core import checkpoint
from distillrl.core.protocol import Trainer
from distillrl.errors import CheckpointError, DistillRLError, RunDirError

CKPT = "checkpoints/last.safetensors"


class MetricsLog:
    """metrics.csv + TensorBoard, resumable at a frame count."""

    def __init__(self, path: Path, resume_frames: int | None = None, tensorboard: bool = True):
        self.csv_path = path / "metrics.csv"
        self.fields: list[str] | None = None
        if resume_frames is not None and self.csv_path.exists():
            with open(self.csv_path, newline="") as f:
                reader = csv.DictReader(f)
                self.fields = list(reader.fieldnames or [])
                keep = [r for r in reader if float(r["frames"]) <= resume_frames]
            tmp = self.csv_path.with_suffix(".csv.tmp")
            with open(tmp, "w", newline="") as f:
                w = csv.DictWriter(f, self.fields)
                w.writeheader()
                w.writerows(keep)
            tmp.replace(self.csv_path)
        elif self.csv_path.exists():
            self.csv_path.unlink()
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter  # heavy (~1 s): only when asked for

                self.tb = SummaryWriter(str(path / "tb"),
                                        purge_step=None if resume_frames is None else resume_frames + 1)
                from tensorboard.compat.proto.summary_pb2 import Summary

                self._summary = Summary
            except ImportError:  # tensorboard not installed
                self.tb = None

    def write(self, rows: list[dict]) -> None:
        if not rows:
            return
        new = self.fields is None
        if new:
            self.fields = list(rows[0].keys())
        extra = [k for r in rows for k in r if k not in self.fields]
        if extra and not new:  # a metric that starts later (e.g. a loss term's): widen the file's columns
            self.fields += list(dict.fromkeys(extra))
            with open(self.csv_path, newline="") as f:
                old = list(csv.DictReader(f))
            tmp = self.csv_path.with_suffix(".csv.tmp")
            with open(tmp, "w", newline="") as f:
                w = csv.DictWriter(f, self.fields, restval="")
                w.writeheader()
                w.writerows(old)
            tmp.replace(self.csv_path)
        elif extra:
            self.fields += list(dict.fromkeys(extra))
        with open(self.csv_path, "a", newline="") as f:
            w = csv.DictWriter(f, self.fields, extrasaction="ignore", restval="")
            if new:
                w.writeheader()
            for r in rows:
                w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
        if self.tb is not None:
            # One event per row holding all its scalars (TensorBoard's Summary carries several
            # values): what add_scalar writes, value for value, at a seventh of the cost — 22
            # add_scalar calls took ≈ 2 ms, a few percent of a CartPole PPO iteration.
            Summary = self._summary
            writer = self.tb._get_file_writer()
            for r in rows:
                values = [Summary.Value(tag=k, simple_value=float(v)) for k, v in r.items()
                          if k != "frames" and isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))]
                if values:
                    writer.add_summary(Summary(value=values), int(r["frames"]))

    def close(self) -> None:
        if self.tb is not None:
            self.tb.flush()
            self.tb.close()


def read_metrics(run_dir: str | Path) -> list[dict]:
    p = Path(run_dir) / "metrics.csv"
    if not p.exists():
        return []
    with open(p, newline="") as f:
        return [{k: (float(v) if v not in ("", None) else math.nan) for k, v in r.items()} for r in csv.DictReader(f)]


def prepare_run_dir(path: Path, resume: bool) -> None:
    """Validate before touching anything: never overwrite an earlier run by accident."""
    if resume:
        if not (path / CKPT).exists() and not (path / "config.yaml").exists():
            raise RunDirError(f"cannot resume: {path} has neither a checkpoint ({CKPT}) nor a config.yaml")
    elif path.exists() and any(path.iterdir()):
        raise RunDirError(f"run directory {path} already exists and is not empty; "
                          "use --resume to continue it or choose another --run-dir")


@contextmanager
def undo_if_failed_at_start(path: Path, resume: bool) -> Iterator[None]:
    """A new run that fails on bad input before its first checkpoint leaves nothing behind (no
    ``config.yaml`` or ``tb/`` that would make the corrected command refuse the same
    ``--run-dir``). A resumed run, a folder that held anything before, and a run with a
    checkpoint are never touched; a bug (not a :class:`DistillRLError`) keeps its files."""
    made = not (path.exists() and any(path.iterdir()))
    try:
        yield
    except DistillRLError:
        if made and not resume and path.is_dir() and not any(path.rglob("*.safetensors")):
            shutil.rmtree(path, ignore_errors=True)
        raise


def provenance() -> dict:
    """What made a run, beyond its command: distillrl's version and, when it runs from a git
    checkout, the commit (and whether the tree had uncommitted changes), with the versions of the
    libraries whose numerics the result depends on. Same seed gives the same weights only with the
    same code: a float-rounding change anywhere on the update path (a hand-written gradient, a
    fused kernel) compounds over training into a different, equally good agent. A fresh copy of a
    record computed once per process."""
    return dict(_provenance())


@functools.cache
def _provenance() -> dict:
    import gymnasium
    import numpy
    import torch

    info: dict[str, Any] = {"distillrl": __version__, "commit": None, "dirty": None}
    src = Path(__file__).resolve().parents[3]  # the checkout's root when installed editable
    if (src / ".git").exists():
        git = ["git", "-C", str(src)]
        try:
            info["commit"] = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                                            timeout=10, check=True).stdout.strip() or None
            info["dirty"] = bool(subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"],
                                                capture_output=True, text=True, timeout=10).stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    info.update({"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
                 "gymnasium": gymnasium.__version__, "platform": platform.platform(), "machine": platform.machine()})
    return info


def default_run_dir(kind: str, env: str, seed: int) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{kind}-{env.replace(':', '-').replace('/', '-')}-s{seed}-{stamp}"


def save_checkpoint(trainer: Trainer, path: Path, cfg: Any, kind: str, meta: dict | None = None) -> None:
    meta = {**(meta or {}), "kind": kind, "config": to_dict(cfg), "frames": trainer.frames, "algo": trainer.algo,
            "env": cfg.env, "n_params": trainer.n_params, "agent": trainer.agent.spec(), "version": __version__,
            "provenance": provenance(), "format_version": checkpoint.STATE_FORMAT}
    checkpoint.save(path / CKPT, trainer.state_dict(), meta)


def restore(trainer: Trainer, run_dir: Path) -> bool:
    """Load ``run_dir``'s last checkpoint into ``trainer`` if there is one (a run killed before its
    first checkpoint has none: it starts from frame 0). Touches no file; raises
    :class:`errors.CheckpointError` (one line, naming the file) for a bad checkpoint."""
    path = run_dir / CKPT
    if not path.exists():
        return False
    state, _ = checkpoint.load(path)
    try:
        trainer.load_state_dict(state)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    return True


def write_summary(run_dir: Path, summary: dict) -> None:
    checkpoint.atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")


def emit(summary: dict, as_json: bool) -> None:
    """Print a summary: human-readable (scalars, then each list of records as a table), or one
    JSON object as the last stdout line."""
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    sys.stdout.write(format_summary(summary))


def _cell(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "-" if v is None else str(v).lower()
    if isinstance(v, float):
        return "n/a" if v != v else f"{v:.4g}"  # NaN: not measurable (e.g. a ratio to a zero score)
    if isinstance(v, dict):
        return ", ".join(f"{k}={_cell(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return ", ".join(_cell(x) for x in v)
    return str(v)


def _records(v: Any) -> list[dict] | None:
    """A list of records (``per_task``, ``per_peer``, sweep ``results``) or a mapping name → record."""
    if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        return v
    if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
        return [{"name": k, **x} for k, x in v.items()]
    return None


def format_table(rows: list[dict], width: int | None = None) -> str:
    """Rows as an aligned plain-text table: no names cut, no box drawing; per-episode lists are
    left to summary.json. Wider than ``width`` (default: the terminal's; unlimited when piped, so
    every row stays one greppable line): one block per row."""
    if width is None:
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 10**6
    cols: list[str] = []
    for r in rows:
        cols += [k for k, v in r.items() if k not in cols and not (isinstance(v, list) and len(v) > 4)]
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    if sum(widths) + 2 * (len(cols) - 1) <= width:
        lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()]
        lines += ["  ".join(x.rjust(w) if _numeric(x) else x.ljust(w) for x, w in zip(row, widths)).rstrip()
                  for row in cells]
        return "\n".join(lines) + "\n"
    kw = max(len(c) for c in cols)
    return "\n".join("\n".join(f"  {c:>{kw}}: {x}" for c, x in zip(cols, row)) + "\n" for row in cells)


def _numeric(x: str) -> bool:
    try:
        float(x)
        return True
    except ValueError:
        return x == "n/a"


def format_summary(summary: dict) -> str:
    out, tables = [], []
    for k, v in summary.items():
        rows = _records(v)
        if rows is not None:
            tables.append((k, rows))
            continue
        if isinstance(v, list) and len(v) > 4:  # per-episode lists: in --json and summary.json only
            continue
        out.append(f"{k:>16}: {_cell(v)}\n")
    for k, rows in tables:
        out.append(f"\n{k}:\n{format_table(rows)}")
    return "".join(out)
