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
from collections.abc import Iterator
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


@contextlib.contextmanager
def moved_experiment_checkpoints() -> Iterator[None]:
    """While active, a restored Tune experiment that was moved finds every checkpoint it tracks.

    Ray's ``Trial.set_storage`` (called when an experiment is restored) rewrites the paths of a
    trial's checkpoints that lie in the trial's *own* directory. After a PBT exploit the
    checkpoint a trial restarts from is its donor's, in another trial's directory, and keeps the
    old absolute path: a moved experiment then fails with "does not exist on storage anymore".
    This wraps ``set_storage`` to rewrite any path under the old experiment directory as well."""
    from ray.train import Checkpoint
    from ray.tune.experiment.trial import Trial

    original = Trial.set_storage

    def set_storage(self, new_storage):
        old_exp = self.storage.experiment_fs_path.rstrip("/") + "/"
        new_exp = new_storage.experiment_fs_path.rstrip("/") + "/"
        original(self, new_storage)
        if old_exp == new_exp:
            return
        mgr = self.run_metadata.checkpoint_manager
        results = list(mgr.best_checkpoint_results) + [mgr.latest_checkpoint_result]
        for r in results:
            if r is not None and r.checkpoint is not None and r.checkpoint.path.startswith(old_exp):
                r.checkpoint = Checkpoint(path=new_exp + r.checkpoint.path[len(old_exp):],
                                          filesystem=new_storage.storage_filesystem)

    Trial.set_storage = set_storage
    try:
        yield
    finally:
        Trial.set_storage = original
