"""The loop that drives a trainer through a run directory: progress, metrics, checkpoints, SIGINT."""

from __future__ import annotations

import csv
import json
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable
import numpy as np
from distillrl.core import checkpoint
from distillrl.config import dump_yaml, to_dict
from distillrl.errors import RunDirError  # noqa: E402  (re-exported)
from distillrl.runs.rundir import CKPT, MetricsLog, save_checkpoint


class _Interrupt:
    def __init__(self):
        self.flag = False
        self._old = None

    def __enter__(self):
        import threading

        if threading.current_thread() is threading.main_thread():  # else (a Ray trial thread): Ray handles signals
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.flag:  # second Ctrl-C: give up immediately
            signal.signal(signal.SIGINT, self._old)
            raise KeyboardInterrupt
        self.flag = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


def drive(trainer: Any, cfg: Any, run_dir: Path, kind: str, resume: bool, progress: bool = True,
          on_rows: Callable[[list[dict]], None] | None = None, chunk: int | None = None) -> dict:
    """Advance ``trainer`` to ``cfg.steps`` frames inside ``run_dir``; return a summary dict.

    ``trainer`` has already been restored (:func:`restore`) when resuming. Raises
    ``KeyboardInterrupt`` after saving a checkpoint if SIGINT arrives.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint.remove_stale_temporaries(run_dir / CKPT)
    if not (resume and (run_dir / CKPT).exists()):
        dump_yaml(cfg, run_dir / "config.yaml")
    log = MetricsLog(run_dir, trainer.frames if resume else None)
    total = cfg.steps
    first = not (run_dir / CKPT).exists()  # the first checkpoint comes after the first update
    next_ckpt = (trainer.frames // cfg.checkpoint_every + 1) * cfg.checkpoint_every
    chunk = chunk or getattr(getattr(trainer, "d", None), "log_every", 1)
    t0, f0 = time.perf_counter(), trainer.frames
    interrupted = False
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[sps]:>6.0f} sps  return {task.fields[ret]}"), TimeRemainingColumn()]
    with _Interrupt() as intr, Progress(*columns, disable=not progress, transient=False,
                                        console=_stderr_console()) as bar:
        task = bar.add_task(f"{kind} {cfg.env}", total=total, completed=trainer.frames, sps=0.0, ret="-")
        while trainer.frames < total:
            rows = trainer.advance(min(chunk, total - trainer.frames))
            log.write(rows)
            if on_rows:
                on_rows(rows)
            rr = trainer.stats.recent
            sps = (trainer.frames - f0) / max(time.perf_counter() - t0, 1e-9)
            bar.update(task, completed=trainer.frames, sps=sps,
                       ret=f"{np.mean(rr):.2f}" if rr else "-")
            if first or trainer.frames >= next_ckpt:
                first = False
                save_checkpoint(trainer, run_dir, cfg, kind)
                next_ckpt = (trainer.frames // cfg.checkpoint_every + 1) * cfg.checkpoint_every
            if intr.flag:
                interrupted = True
                break
    save_checkpoint(trainer, run_dir, cfg, kind)
    log.close()
    wall = time.perf_counter() - t0
    if interrupted:
        raise KeyboardInterrupt(f"interrupted at {trainer.frames} frames; checkpoint saved in {run_dir}")
    return {"steps": trainer.frames, "sps": (trainer.frames - f0) / max(wall, 1e-9), "wall_s": wall,
            "n_params": trainer.n_params}


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)
