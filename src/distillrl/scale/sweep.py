"""Seed sweeps (and small grids) of any run command as Ray Tune trials (``distillrl sweep``).

    distillrl sweep --seeds 1-5 [--grid ppo.lr=1e-3,5e-4] -- kickstart --env minatar:breakout --teacher ...

Every (grid point, seed) is one trial: the command's ordinary run directory
``<sweep>/<key-value..._sSEED>/``, made through the same code path as the command itself
(:func:`distillrl.jobs.run_job`). Grid keys are the command's flags without dashes
(``ppo.lr``, ``schedule``). Trials get ``--cpus-per-run`` CPUs each (default 1: as many run at
once as there are cores, or cluster CPUs with ``--address``). A crashed trial is restarted and
resumes its run directory from the last checkpoint; ``--resume`` keeps the finished runs and
continues the others. The sweep writes ``sweep.json`` (every run's summary and the mean ± std
per grid point).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from distillrl.config import Domain
from distillrl.core.checkpoint import atomic_write_text
from distillrl.core.protocol import Trainer
from distillrl.envs.make import gym_id
from distillrl.errors import ConfigError, RunDirError
from distillrl.runs.kinds import build_config, parse_command, run_job
from distillrl.runs.loop import Hook
from distillrl.scale import raytune
from distillrl.scale.population import expand_sweep, parse_grid, parse_seeds, point_tag


def _argv(cmd_argv: list[str], point: dict[str, str]) -> list[str]:
    out = list(cmd_argv)
    for k, v in point.items():
        out += [f"--{k.replace('_', '-')}", v]
    return out


def _parse(command: str, argv: list[str]):
    """The command's config for ``argv``, as the command itself would build it (one-line errors)."""
    k, ns = parse_command(command, argv, raising=True)
    return k, ns, build_config(k, ns=ns)


class TrialProgress(Hook):
    """A sweep trial's hook on the run loop: frames and the recent return to Ray Tune, at most
    every 2 seconds."""

    def __init__(self, report: Callable[[dict], None]):
        self.report, self.last = report, 0.0

    def on_rows(self, trainer: Trainer, rows: list[dict]) -> bool:
        now = time.perf_counter()
        if now - self.last > 2.0:
            self.last = now
            rr = trainer.recent_returns()
            self.report({"frames": int(trainer.frames), "return_recent": float(np.mean(rr)) if rr else math.nan})
        return False


def sweep_trial(config: dict) -> None:
    """One (grid point, seed): the command's run in its own directory, resumed after a crash."""
    from ray import tune  # Ray is heavy (1-2 s to import): imported where a trial runs

    config = config["trial"]
    k, ns, cfg = _parse(config["command"], config["argv"])
    run_dir = Path(config["run_dir"])
    if (run_dir / "summary.json").exists():  # finished before a --resume
        summary = json.loads((run_dir / "summary.json").read_text())
    else:
        resume = (run_dir / "config.yaml").exists()
        if resume:  # restarted after a crash: continue from the last checkpoint
            cfg = build_config(k, ns=ns, run_dir=run_dir, resume=True)
        summary = run_job(k, cfg, run_dir, resume, progress=False, hooks=[TrialProgress(tune.report)],
                          track_group=run_dir.parent.name)  # --track: the sweep's trials in one W&B group
    tune.report({"frames": int(summary.get("steps", 0)), "final_return": float(summary.get("mean_return", math.nan)),
                 "node": raytune.node_id(), "done_run": True})


def run_sweep(command: str, cmd_argv: list[str], seeds_text: str, grid_items: list[str], out: Path | None,
              address: str | None, cpus_per_run: float, max_failures: int, resume: bool,
              progress: bool = True) -> dict:
    from ray import tune  # Ray is heavy (1-2 s to import): only when a sweep runs

    Domain.parse("> 0").check(cpus_per_run, "--cpus-per-run")
    Domain.parse("≥ 0").check(max_failures, "--max-failures")
    for flag in ("--run-dir", "--resume", "--seed"):
        if flag in cmd_argv:
            raise ConfigError(f"{flag} is set by the sweep; remove it from the command")
    seeds, grid = parse_seeds(seeds_text), parse_grid(grid_items)
    points = expand_sweep(seeds, grid)
    if out is None:
        out = Path(f"runs/sweep-{command}-{time.strftime('%Y%m%d-%H%M%S')}")
    out = out.resolve()
    if resume and not (out / "sweep-plan.json").exists():
        raise RunDirError(f"cannot resume: {out} holds no sweep (sweep-plan.json)")
    if not resume and out.exists() and any(out.iterdir()):
        raise RunDirError(f"sweep directory {out} already exists and is not empty; use --resume or another --run-dir")
    trials, steps = [], 0
    for p in points:  # every trial's arguments are checked here, before Ray starts
        argv = _argv(cmd_argv, {k: v for k, v in p.items()})
        _, _, cfg = _parse(command, argv)
        if getattr(cfg, "env", ""):
            gym_id(cfg.env)  # the environment string too (ids, ?options, module:id)
        steps = max(steps, cfg.steps)
        trials.append({"label": point_tag(p), "point": p, "command": command, "argv": argv,
                       "run_dir": str(out / point_tag(p))})
    info = raytune.init_ray(address, log_dir=out)
    n_at_once = raytune.at_once(info["cpus"], cpus_per_run, len(trials))
    if n_at_once < 1:
        raise ConfigError(f"--cpus-per-run {cpus_per_run:g} is more than the {info['cpus']} CPUs Ray has")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "sweep-plan.json", json.dumps({"command": command, "argv": cmd_argv, "seeds": seeds,
                                                          "grid": grid, "trials": trials}, indent=2) + "\n")
    sys.stderr.write(f"distillrl sweep: {len(trials)} runs of `{command}` ({len(seeds)} seeds × "
                     f"{len(trials) // len(seeds)} grid points); Ray {info['address']} ({info['nodes']} node(s), "
                     f"{info['cpus']} CPUs): {cpus_per_run:g} CPU per run, {n_at_once} at once\n")
    table = raytune.make_table_callback(f"sweep: {command}", [("frames", "frames"), ("return", "return_recent"),
                                                              ("final", "final_return")], steps, progress)
    trainable = tune.with_resources(sweep_trial, {"cpu": cpus_per_run})
    t0 = time.perf_counter()
    name = "ray"
    if resume and tune.Tuner.can_restore(str(out / name)):
        tuner = tune.Tuner.restore(str(out / name), trainable, resume_unfinished=True, resume_errored=True)
    else:
        tuner = tune.Tuner(trainable, param_space={"trial": tune.grid_search(trials)},
                           # reuse_actors: a worker that finished a trial takes the next one in the
                           # same process (no new interpreter, torch and distillrl imports per trial)
                           tune_config=tune.TuneConfig(reuse_actors=True),
                           run_config=tune.RunConfig(name=name, storage_path=str(out), verbose=0, callbacks=[table],
                                                     failure_config=tune.FailureConfig(max_failures=max_failures)))
    results = tuner.fit()
    wall = time.perf_counter() - t0
    runs, failed = [], []
    for t in trials:
        p = Path(t["run_dir"]) / "summary.json"
        if p.exists():
            runs.append({"label": t["label"], **t["point"], **json.loads(p.read_text())})
        else:
            failed.append(t["label"])
    groups: dict[str, list[float]] = {}
    for r in runs:
        key = ",".join(f"{k}={r[k]}" for k in grid) or "all"
        groups.setdefault(key, []).append(float(r.get("mean_return", math.nan)))
    summary = {"sweep": str(out), "command": command, "runs": len(trials), "finished": len(runs), "failed": failed,
               "errors": [raytune.error_line(r.error) for r in results if r.error is not None],
               "wall_s": wall, "at_once": n_at_once, "ray": info,
               "groups": {k: {"n": len(v), "mean_return": float(np.mean(v)),
                              "std_return": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0}
                          for k, v in groups.items()},
               "results": [{k: r.get(k) for k in ("label", "seed", *grid, "mean_return", "steps", "sps", "wall_s",
                                                  "run_dir")} for r in runs]}
    atomic_write_text(out / "sweep.json", json.dumps(summary, indent=2) + "\n")
    return summary
