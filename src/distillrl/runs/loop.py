"""The one run loop: a trainer advanced to its budget, with hooks (Stable-Baselines3's ``learn()``
and callbacks).

:func:`run` advances any :class:`~distillrl.core.protocol.Trainer` chunk by chunk (``log_every``
frames, or the ``chunk`` a caller asks for) and shows every chunk's metric rows to its hooks.
Everything a front end adds is a hook, not a loop of its own:

* a run directory (:func:`drive`): metrics, checkpoints, a progress bar, SIGINT;
* a population-based-training member: a report, with a checkpoint, at every ready point
  (:mod:`distillrl.scale.pbt_member`);
* a sweep trial: a progress report (:mod:`distillrl.scale.sweep`);
* a codistillation peer: a round of K learner updates is the loop stopped by
  :class:`StopAfterUpdates` (:mod:`distillrl.scale.codistill`).

Online distillation is a composition of two trainers behind the protocol, driven by this loop
like any other trainer.
"""

from __future__ import annotations

import json
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from distillrl.config import dump_yaml
from distillrl.core import checkpoint
from distillrl.core.protocol import Trainer
from distillrl.runs.rundir import CKPT, MetricsLog, provenance, save_checkpoint


class Hook:
    """A callback of :func:`run`. Override what you need; every method is a no-op here."""

    def on_start(self, trainer: Trainer) -> None:
        """Before the first chunk."""

    def on_rows(self, trainer: Trainer, rows: list[dict]) -> bool:
        """After each chunk, with its metric rows; return True to stop the loop after this chunk
        (every hook still sees it)."""
        return False

    def on_end(self, trainer: Trainer) -> None:
        """After the last chunk, whether the budget was reached or a hook stopped the loop (not
        after an exception)."""

    def close(self) -> None:
        """Always, last (after an exception too): release what ``on_start`` took."""


def run(trainer: Trainer, hooks: Sequence[Hook] = (), until: int | None = None, chunk: int | None = None) -> bool:
    """Advance ``trainer`` to ``until`` frames (default: its ``total_frames``), ``chunk`` frames at
    a time (default: its ``log_every``), showing every chunk's rows to ``hooks`` in order.
    Returns True when a hook stopped the loop before ``until``."""
    until = trainer.total_frames if until is None else until
    chunk = chunk or trainer.log_every
    stopped = False
    try:
        for h in hooks:
            h.on_start(trainer)
        while trainer.frames < until and not stopped:
            rows = trainer.advance(min(chunk, until - trainer.frames))
            for h in hooks:
                stopped = bool(h.on_rows(trainer, rows)) or stopped
        for h in hooks:
            h.on_end(trainer)
    finally:
        for h in reversed(hooks):
            h.close()
    return stopped


# ---- hooks
class WriteMetrics(Hook):
    """Every row into ``metrics.csv`` and TensorBoard (the log is opened and closed by its owner,
    which may run the loop several times: a codistillation peer, once per round)."""

    def __init__(self, log: MetricsLog):
        self.log = log

    def on_rows(self, trainer: Trainer, rows: list[dict]) -> bool:
        self.log.write(rows)
        return False


class OnRows(Hook):
    """Calls ``fn(trainer, rows)`` after each chunk (a hook from a plain function)."""

    def __init__(self, fn: Callable[[Trainer, list[dict]], None]):
        self.fn = fn

    def on_rows(self, trainer: Trainer, rows: list[dict]) -> bool:
        self.fn(trainer, rows)
        return False


class StopAfterUpdates(Hook):
    """Stops the loop once the trainer has made ``target`` learner updates in all."""

    def __init__(self, target: int):
        self.target = target

    def on_rows(self, trainer: Trainer, rows: list[dict]) -> bool:
        return trainer.updates >= self.target


class Checkpoints(Hook):
    """``checkpoints/last.safetensors``: after the first chunk of a fresh run, every
    ``checkpoint_every`` frames, and at the end (an interrupted run included)."""

    def __init__(self, run_dir: Path, cfg: Any, kind: str):
        self.run_dir, self.cfg, self.kind = run_dir, cfg, kind
        self.first = False
        self.next = 0

    def _due_after(self, frames: int) -> int:
        every = self.cfg.checkpoint_every
        return (frames // every + 1) * every

    def on_start(self, trainer: Trainer) -> None:
        self.first = not (self.run_dir / CKPT).exists()  # the first checkpoint comes after the first update
        self.next = self._due_after(trainer.frames)

    def on_rows(self, trainer: Trainer, rows: list[dict]) -> bool:
        if self.first or trainer.frames >= self.next:
            self.first = False
            save_checkpoint(trainer, self.run_dir, self.cfg, self.kind)
            self.next = self._due_after(trainer.frames)
        return False

    def on_end(self, trainer: Trainer) -> None:
        save_checkpoint(trainer, self.run_dir, self.cfg, self.kind)


class ProgressBar(Hook):
    """A rich progress bar on stderr: frames, frames per second, the recent training return."""

    def __init__(self, description: str, enabled: bool = True):
        self.description, self.enabled = description, enabled
        self.bar: Progress | None = None

    def on_start(self, trainer: Trainer) -> None:
        columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[sps]:>6.0f} " + ("updates/s" if trainer.unit == "updates" else "sps")
                              + "  return {task.fields[ret]}"), TimeRemainingColumn()]
        self.bar = Progress(*columns, disable=not self.enabled, transient=False, console=stderr_console())
        self.bar.__enter__()
        self.task = self.bar.add_task(self.description, total=trainer.total_frames, completed=trainer.frames,
                                      sps=0.0, ret="-")
        self.t0, self.f0 = time.perf_counter(), trainer.frames

    def on_rows(self, trainer: Trainer, rows: list[dict]) -> bool:
        rr = trainer.recent_returns()
        sps = (trainer.frames - self.f0) / max(time.perf_counter() - self.t0, 1e-9)
        self.bar.update(self.task, completed=trainer.frames, sps=sps, ret=f"{np.mean(rr):.2f}" if rr else "-")
        return False

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


class StopOnSigint(Hook):
    """The first Ctrl-C stops the loop after the current chunk (the final checkpoint is still
    written); a second one raises ``KeyboardInterrupt`` at once. In a thread other than the
    main one (a Ray trial) signals are Ray's, and this hook does nothing."""

    def __init__(self) -> None:
        self.flag = False
        self._old = None

    def on_start(self, trainer: Trainer) -> None:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)

    def _handler(self, signum, frame):
        if self.flag:  # second Ctrl-C: give up immediately
            signal.signal(signal.SIGINT, self._old)
            raise KeyboardInterrupt
        self.flag = True

    def on_rows(self, trainer: Trainer, rows: list[dict]) -> bool:
        return self.flag

    def close(self) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None


# ---- a run directory
def drive(trainer: Trainer, cfg: Any, run_dir: Path, kind: str, resume: bool, progress: bool = True,
          hooks: Sequence[Hook] = ()) -> dict:
    """Advance ``trainer`` to its budget inside ``run_dir`` (config, metrics, checkpoints, progress,
    SIGINT), with ``hooks`` after the metrics are written; return a summary dict.

    ``trainer`` has already been restored (:func:`rundir.restore`) when resuming. Raises
    ``KeyboardInterrupt`` after saving a checkpoint if SIGINT arrives.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint.remove_stale_temporaries(run_dir / CKPT)
    if not (resume and (run_dir / CKPT).exists()):
        dump_yaml(cfg, run_dir / "config.yaml")
    with open(run_dir / "command.txt", "a") as f:  # every invocation (a resume adds a line); export's card reads it
        f.write(shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) + "\n")
    with open(run_dir / "provenance.jsonl", "a") as f:  # and the code that ran it (a resume adds a line)
        f.write(json.dumps({"frames": trainer.frames if resume else 0, **provenance()}) + "\n")
    log = MetricsLog(run_dir, trainer.frames if resume else None)
    sigint = StopOnSigint()
    t0, f0 = time.perf_counter(), trainer.frames
    try:
        run(trainer, [WriteMetrics(log), *hooks, ProgressBar(f"{kind} {cfg.env}", progress),
                      Checkpoints(run_dir, cfg, kind), sigint])
    finally:
        log.close()
    wall = time.perf_counter() - t0
    if sigint.flag:
        raise KeyboardInterrupt(f"interrupted at {trainer.frames} frames; checkpoint saved in {run_dir}")
    return {"steps": trainer.frames, "sps": (trainer.frames - f0) / max(wall, 1e-9), "wall_s": wall,
            "n_params": trainer.n_params}


def stderr_console() -> Console:
    """Progress bars go to stderr (stdout carries the summary, ``--json``'s last line)."""
    return Console(stderr=True)
