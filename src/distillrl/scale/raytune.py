"""What populations and sweeps share on Ray (Ray Tune): connecting, placing, showing progress.

Ray is distillrl's distributed engine. With no address, Ray starts on this machine (its CPUs are
the slots trials share); with ``--address HOST:PORT`` the driver joins a running cluster
(``ray start --head`` on one machine, ``ray start --address HOST:PORT`` on the others) and
trials are placed on any node with free CPUs. On a cluster of several machines, the experiment
directory must be on storage every node can reach (a shared file system): members write their
run directories and checkpoints there.

``ray.init`` costs seconds; trials are whole runs (a member of a population, one seed of a
sweep), so it is paid once per experiment.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from distillrl.acting.cluster import (  # noqa: F401  (re-exported)
    check_address,
    init_ray,
    node_id,
    record_session,
    shutdown_ray,
    stop_session,
)
from distillrl.core import checkpoint as ck
from distillrl.errors import CheckpointError

# Trials run from the caller's working directory so that relative paths (teachers, run
# directories) mean the same in a trial as on the command line. Set before Ray is imported.
os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "1e9")


class _QuietRestore(logging.Filter):
    """Ray Tune warns "Remote file not found: …/result.json" whenever it restores a trial whose
    files are in the experiment folder already (our storage is local): not a fault, so not shown."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Remote file not found" not in record.getMessage()


logging.getLogger("ray.tune.logger.logger").addFilter(_QuietRestore())


def cpus_per_trial(requested: float | None, trials: int, cpus: int) -> float:
    """Requested, else enough for every trial to run at once (cores ÷ trials), at most 1 each."""
    if requested is not None:
        return float(requested)
    return max(0.01, min(1.0, math.floor(100 * cpus / max(trials, 1)) / 100))


def at_once(cpus: int, per_trial: float, trials: int) -> int:
    return int(min(trials, math.floor(cpus / per_trial + 1e-9)))


def make_table_callback(title: str, columns: list[tuple[str, str]], total_frames: int, progress: bool):
    """A Ray Tune callback drawing one live table of the trials (and a progress bar of all
    frames) instead of interleaved per-trial bars. ``columns``: (header, result key)."""
    from ray.tune import Callback  # Ray is heavy (1-2 s to import): only when a table is drawn

    # the class is defined here because its base class is Ray's

    class LiveTable(Callback):
        def __init__(self):
            self.rows: dict[str, dict] = {}
            self.status: dict[str, str] = {}
            self.restarts: dict[str, int] = {}
            self._live = None
            self._t0 = time.perf_counter()

        def __getstate__(self):  # the live display is not part of the experiment state
            d = dict(self.__dict__)
            d["_live"] = None
            return d

        def _key(self, trial) -> str:
            c = trial.config.get("trial", trial.config)
            return str(c.get("label", trial.trial_id))

        def _render(self):
            t = Table(title=title, title_justify="left")
            for h in ["member", "status"] + [h for h, _ in columns] + ["restarts"]:
                t.add_column(h, justify="right" if h not in ("member", "status") else "left")
            done = 0
            for key in sorted(self.rows):
                r = self.rows[key]
                done += min(int(r.get("frames", 0) or 0), total_frames)
                cells = []
                for _, k in columns:
                    v = r.get(k)
                    cells.append("-" if v is None or (isinstance(v, float) and math.isnan(v)) else
                                 (f"{v:,}" if isinstance(v, int) else f"{v:.4g}" if isinstance(v, float) else str(v)))
                t.add_row(key, self.status.get(key, "?"), *cells, str(self.restarts.get(key, 0)))
            total = total_frames * max(len(self.rows), 1)
            frac = done / total if total else 0.0
            el = time.perf_counter() - self._t0
            bar = f"{'█' * int(30 * frac)}{'░' * (30 - int(30 * frac))} {frac:5.1%}  {done:,}/{total:,} frames  {el:5.0f}s"
            return Group(t, bar)

        def _refresh(self):
            if not progress:
                return
            if self._live is None:
                self._live = Live(self._render(), console=Console(stderr=True), refresh_per_second=2,
                                  transient=False)
                self._live.start()
            self._live.update(self._render())

        def on_trial_start(self, iteration, trials, trial, **info):
            self.status[self._key(trial)] = "running"
            self.rows.setdefault(self._key(trial), {})
            self._refresh()

        def on_trial_result(self, iteration, trials, trial, result, **info):
            k = self._key(trial)
            self.rows[k] = {**self.rows.get(k, {}), **result}
            self.status[k] = "running"
            self._refresh()

        def on_trial_error(self, iteration, trials, trial, **info):
            k = self._key(trial)
            self.status[k] = "crashed"
            self._refresh()

        def on_trial_recover(self, iteration, trials, trial, **info):
            k = self._key(trial)
            self.restarts[k] = self.restarts.get(k, 0) + 1
            self.status[k] = "restarting"
            self._refresh()

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.status[self._key(trial)] = "done"
            self._refresh()

        def on_experiment_end(self, trials, **info):
            if self._live is not None:
                self._live.update(self._render())
                self._live.stop()
                self._live = None

    return LiveTable()


def error_line(err: BaseException) -> str:
    """The last line of a trial's error (the exception itself, not Ray's wrapper)."""
    lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else type(err).__name__)[:240]


def absolute_paths(values: list[str]) -> list[str]:
    """Paths that exist here made absolute (teachers given relative to the caller's directory),
    also as the SOURCE of a task-bound ``TASK=SOURCE`` teacher."""
    def one(v: str) -> str:
        if Path(v).exists():
            return str(Path(v).resolve())
        if "=" in v:
            key, src = v.split("=", 1)
            if Path(src).exists():
                return f"{key}={Path(src).resolve()}"
        return v
    return [one(v) for v in values]


def replace_scheduler(tuner, scheduler) -> None:
    """Give a restored Tune experiment this run's ``scheduler``.

    Ray's ``Tuner.restore`` takes the scheduler pickled in ``tuner.pkl`` when the experiment
    started. distillrl's scheduler class is built per run (its base is Ray's), so cloudpickle
    stored it by value: the code of the version that started the run and the absolute path of
    its lineage file. A moved experiment directory, or one written by an older distillrl, would
    run that old code and write its lineage where the experiment no longer is. That pickle holds
    no decisions (it is written before the first trial starts; lineage.jsonl holds the history),
    so the fresh scheduler loses nothing. ``Tuner.restore`` has no ``tune_config`` argument, hence
    the private attribute; a Ray without it is reported rather than silently ignored."""
    local = getattr(tuner, "_local_tuner", None)
    cfg = getattr(local, "_tune_config", None)
    if cfg is None or not hasattr(cfg, "scheduler"):
        raise RuntimeError("this Ray version's Tuner keeps no restorable scheduler (Tuner._local_tuner._tune_config); "
                           "distillrl cannot resume a population with it")
    cfg.scheduler = scheduler


RAY_STATE = "state.safetensors"
"""The file a PBT member's Ray checkpoint directory holds (its ``last.safetensors``, linked)."""


def moved_path(path: str, old_exp: str, new_exp: str) -> str:
    """``path`` under the experiment directory's new location when it lay under the old one."""
    return new_exp + path[len(old_exp):] if old_exp != new_exp and path.startswith(old_exp) else path


def checkpoint_indices(trial_dir: Path) -> list[int]:
    """The indices of the ``checkpoint_NNNNNN`` directories in a trial directory, ascending."""
    if not trial_dir.is_dir():
        return []
    return sorted(int(c.name[11:]) for c in trial_dir.glob("checkpoint_*") if c.is_dir() and c.name[11:].isdigit())


def newest_existing_checkpoint(path: str) -> str | None:
    """``path`` when it exists, else the newest ``checkpoint_NNNNNN`` beside it (same trial
    directory) that does, else None."""
    p = Path(path)
    if p.exists():
        return str(p)
    found = checkpoint_indices(p.parent)
    return str(p.parent / f"checkpoint_{found[-1]:06d}") if found else None


def restore_latest_checkpoint(r, old_exp: str, new_exp: str, filesystem, warn: Callable[[str], None]) -> None:
    """Point a restored trial's latest checkpoint result ``r`` (what it restarts from; None: none)
    at a checkpoint that exists, or at none.

    A moved experiment: Ray's ``Trial.set_storage`` rewrites the paths of a trial's checkpoints in
    the trial's *own* directory, but after a PBT exploit the checkpoint a trial restarts from is its
    donor's, in another trial's directory, with the old absolute path; any path under the old
    experiment directory is rewritten here.

    A lost checkpoint: Ray saves its experiment state now and then, so after a killed driver the
    state can name a checkpoint that Ray itself deleted later (it keeps only the last few per trial)
    -- the trial's own, or a donor's that the trial was about to copy when the driver died. Ray
    would refuse to restart that trial ("does not exist on storage anymore") and the population
    fails. The newest checkpoint left in the same trial directory takes its place (the same member
    a few ready points later, so a pending copy still copies its donor); with none left the trial
    restarts without one and the member resumes from its own ``last.safetensors``
    (``pbt_member.newer_own_checkpoint``)."""
    from ray.train import Checkpoint

    if r is None or r.checkpoint is None:
        return
    path = moved_path(r.checkpoint.path, old_exp, new_exp)
    found = newest_existing_checkpoint(path)
    if found is None:
        warn(f"checkpoint {path} is gone and no other is left beside it; the member restarts from its own")
        r.checkpoint = None
        return
    if found != path:
        warn(f"checkpoint {path} is gone (Ray's saved state lagged behind the killed run); using {found}")
        try:  # the frames the substitute was written at (the scheduler pairs them with the copy)
            meta = ck.load_meta(Path(found) / RAY_STATE)
            r.metrics = {**(r.metrics or {}), "frames": int(meta["frames"])}
        except (CheckpointError, KeyError, ValueError):
            pass
    if found != r.checkpoint.path:
        r.checkpoint = Checkpoint(path=found, filesystem=filesystem)


def repair_checkpoint_manager(mgr, old_exp: str, new_exp: str, filesystem, warn: Callable[[str], None]) -> None:
    """Make a restored trial's checkpoint manager name only checkpoints that exist.

    The latest (what the trial restarts from) is found again (``restore_latest_checkpoint``); an
    older tracked one that is gone, or that now names the same directory as the latest, is dropped
    from Ray's list: Ray deletes the oldest beyond ``num_to_keep`` later and raises on a path that
    is not there (which would fail the trial), and deleting a directory twice named would take the
    latest with it. Uses the manager's private list (``_checkpoint_results``, Ray 2.x), as Ray's
    own restore does; a Ray without it is reported rather than silently ignored."""
    from ray.train import Checkpoint

    if not hasattr(mgr, "_checkpoint_results") or not hasattr(mgr, "_latest_checkpoint_result"):
        raise RuntimeError("this Ray version's checkpoint manager keeps no _checkpoint_results; "
                           "distillrl cannot resume a population with it")
    latest = mgr.latest_checkpoint_result
    restore_latest_checkpoint(latest, old_exp, new_exp, filesystem, warn)
    latest_path = latest.checkpoint.path if latest is not None and latest.checkpoint is not None else None
    keep = []
    for r in mgr._checkpoint_results:
        if r is latest:
            if latest_path is not None:
                keep.append(r)
            continue
        if r.checkpoint is None:
            continue
        path = moved_path(r.checkpoint.path, old_exp, new_exp)
        if path != r.checkpoint.path:
            r.checkpoint = Checkpoint(path=path, filesystem=filesystem)
        if path != latest_path and Path(path).exists():
            keep.append(r)
    mgr._checkpoint_results = keep
    if latest is not None and latest_path is None:
        mgr._latest_checkpoint_result = None


@contextlib.contextmanager
def restored_experiment_checkpoints(warn: Callable[[str], None] = lambda m: None) -> Iterator[None]:
    """While active, a restored Tune experiment finds every checkpoint it tracks, moved or lost
    (``repair_checkpoint_manager``)."""
    from ray.tune.experiment.trial import Trial

    original = Trial.set_storage
    said: set[str] = set()  # Ray restores the trials more than once: each message once

    def once(msg: str) -> None:
        if msg not in said:
            said.add(msg)
            warn(msg)

    def set_storage(self, new_storage):
        old_exp = self.storage.experiment_fs_path.rstrip("/") + "/"
        new_exp = new_storage.experiment_fs_path.rstrip("/") + "/"
        original(self, new_storage)
        repair_checkpoint_manager(self.run_metadata.checkpoint_manager, old_exp, new_exp,
                                  new_storage.storage_filesystem, once)
        # The trial numbers its next checkpoint from the saved state's count; checkpoints written
        # after that state (before the driver died) would be overwritten and named twice in Ray's
        # list (one delete then takes the other's directory, the next fails on it). Count on from
        # the highest index on disk instead.
        on_disk = checkpoint_indices(Path(new_storage.trial_fs_path))
        if on_disk and on_disk[-1] > new_storage.current_checkpoint_index:
            new_storage.current_checkpoint_index = on_disk[-1]

    Trial.set_storage = set_storage
    try:
        yield
    finally:
        Trial.set_storage = original
