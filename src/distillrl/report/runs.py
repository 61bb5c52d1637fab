"""``distillrl report``: learning curves, λ traces and speed-up tables from run directories.

Runs are grouped by their resolved configuration minus the seed (and run directory), so seeds
of one setting form one group. For each group: the mean learning curve (``return_recent``,
the mean of the last 100 training episodes) over frames with a 95% Student-t band across
seeds; the frames each seed needs to reach the target score (default: the teacher's score
measured in the kickstart runs' final evaluation); the speed-up against the from-scratch
group (plain ``train`` runs); final greedy score as % of the teacher; and, with several
seeds, rliable's IQM with a stratified-bootstrap 95% interval.

Speed-up = frames(from scratch to target) ÷ frames(group to target), taking per-group
medians over seeds. When the from-scratch group never reaches the target, the table says
so and reports the ratio at the best score from scratch *did* reach instead.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from distillrl.acting.evaluation import summary_score
from distillrl.core.checkpoint import load_meta
from distillrl.errors import ConfigError, RunDirError
from distillrl.runs.rundir import CKPT, read_metrics

IGNORED_KEYS = {"seed", "run_dir", "threads", "checkpoint_every", "eval_episodes", "acting", "actor"}


@dataclass
class Run:
    path: Path
    kind: str
    config: dict
    summary: dict
    frames: np.ndarray
    returns: np.ndarray
    lambdas: dict[str, np.ndarray]
    task_returns: dict[str, np.ndarray] = field(default_factory=dict)
    """task sets: each task's training return (mean of its last 100 episodes) per row"""


@dataclass
class Group:
    key: str
    kind: str
    config: dict
    runs: list[Run] = field(default_factory=list)
    label: str = ""


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = tuple(v) if isinstance(v, list) else v
    return out


def _col(rows: list[dict], new: str, old: str) -> np.ndarray:
    """A metric column by its grouped name, or by its pre-0.2 flat name (older run directories)."""
    key = new if rows and new in rows[0] else old
    return np.array([r.get(key, math.nan) for r in rows], float)


def expand_run_dirs(paths: list[str | Path]) -> list[Path]:
    """Run directories, a sweep's folder read as its trials (every sub-folder with a config)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if (p / "sweep-plan.json").is_file():
            out += sorted(d for d in p.iterdir() if d.is_dir() and (d / "config.yaml").is_file())
        else:
            out.append(p)
    return out


def check_comparable(runs: list[Run], separate: bool) -> list[list[Run]]:
    """The runs of one environment (or task set) per report: runs of several are refused in one
    line, or, with ``separate``, split by environment."""
    by_env: dict[str, list[Run]] = {}
    for r in runs:
        by_env.setdefault(str(r.config.get("env")), []).append(r)
    if len(by_env) > 1 and not separate:
        raise ConfigError(f"these runs are on {len(by_env)} different environments or task sets "
                          f"({', '.join(sorted(by_env))}): a report compares runs of one; pass --separate for one "
                          "report per environment")
    return list(by_env.values())


def budget_warning(groups: list[Group]) -> str | None:
    """A sentence when the groups compared ran for different frame budgets (> 10% apart)."""
    budgets = {g.label: max((float(r.frames[-1]) for r in g.runs if len(r.frames)), default=0.0) for g in groups}
    known = {k: v for k, v in budgets.items() if v > 0}
    if len(known) > 1 and max(known.values()) > 1.1 * min(known.values()):
        shown = ", ".join(f"{k}: {v:,.0f}" for k, v in known.items())
        return f"the groups ran for different frame budgets ({shown}); compare scores at equal frames in the curves"
    return None


def load_run(path: str | Path) -> Run:
    p = Path(path)
    if not (p / "config.yaml").exists() or not (p / "metrics.csv").exists():
        raise RunDirError(f"{p} is not a run directory (needs config.yaml and metrics.csv)")
    config = yaml.safe_load((p / "config.yaml").read_text()) or {}
    summary = json.loads((p / "summary.json").read_text()) if (p / "summary.json").exists() else {}
    kind = "train"
    if (p / CKPT).exists():
        kind = load_meta(p / CKPT).get("kind", "train")
    elif "teachers" in summary:  # a copy without its checkpoint (e.g. under bench/results)
        kind = "kickstart"
    elif "source" in summary and "loss" in summary:
        kind = "distill"
    rows = read_metrics(p)
    frames = np.array([r["frames"] for r in rows], float)
    returns = _col(rows, "charts/return_recent", "return_recent")
    lambdas = {k.replace("kickstart/", ""): np.array([r[k] for r in rows], float) for k in (rows[0] if rows else {})
               if k.startswith(("kickstart/lambda_", "lambda_"))}
    tasks = {k.split("/")[1]: np.array([r.get(k, math.nan) for r in rows], float) for k in (rows[-1] if rows else {})
             if k.startswith("tasks/") and k.endswith("/return_recent")}
    return Run(p, kind, config, summary, frames, returns, lambdas, tasks)


ONLY_WITH = {"decay_frames": ("schedule", {"linear"}), "half_life": ("schedule", {"exp"}),
             "step_every": ("schedule", {"step"}), "step_factor": ("schedule", {"step"})}
"""a key that shapes a run only under one setting of another (a half-life is no part of a linear schedule)"""


def matters(key: str, config: dict) -> bool:
    """Whether ``key`` shaped a run with ``config`` (group labels name only those)."""
    if key in ONLY_WITH:
        other, values = ONLY_WITH[key]
        return config.get(other) in values
    if key.startswith("iekd."):
        return bool(config.get("ie_kd"))
    if key.startswith("intrinsic."):
        return bool(config.get("rnd"))
    if key.startswith("online."):
        return bool(config.get("online_distill"))
    return True


def group_runs(runs: list[Run]) -> list[Group]:
    """Runs of the same kind whose configs agree are one group (seeds of one experiment).

    Only the keys every run of a kind records are compared: a key that some configs lack was added
    (or renamed) by a later version of distillrl, so it cannot tell runs apart — otherwise seeds
    made before and after an upgrade would split into groups with the same label."""
    flats = [{k: v for k, v in _flat(r.config).items() if k not in IGNORED_KEYS} for r in runs]
    common: dict[str, set] = {}
    for r, flat in zip(runs, flats):
        common[r.kind] = common[r.kind] & flat.keys() if r.kind in common else set(flat)
    groups: dict[str, Group] = {}
    for r, flat in zip(runs, flats):
        flat = {k: v for k, v in flat.items() if k in common[r.kind]}
        key = r.kind + "|" + json.dumps(sorted(flat.items()), default=str)
        groups.setdefault(key, Group(key, r.kind, flat)).runs.append(r)
    gs = list(groups.values())
    # label each group by what differs between groups
    keys = set().union(*(g.config for g in gs)) if gs else set()
    varying = sorted(k for k in keys
                     if len({json.dumps(g.config[k], default=str) for g in gs if k in g.config}) > 1)
    for g in gs:
        parts = []
        for k in varying:
            if k in g.config and k not in ("teacher",) and matters(k, g.config):
                v = g.config[k]
                parts.append(f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}")
        if g.kind == "kickstart" and "teacher" in g.config:
            parts.insert(0, "teacher=" + ",".join(Path(str(t)).name for t in g.config["teacher"]))
        g.label = g.kind + (" " + " ".join(parts) if parts else "")
    return gs


def frames_to(run: Run, target: float) -> float:
    """First frame at which the run's recent mean return reaches ``target`` (NaN if never)."""
    ok = np.nonzero(run.returns >= target)[0]
    return float(run.frames[ok[0]]) if len(ok) else math.nan


def mean_curve(g: Group, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ys = []
    for r in g.runs:
        m = ~np.isnan(r.returns)
        if m.sum() < 2:
            continue
        y = np.interp(grid, r.frames[m], r.returns[m], left=np.nan, right=np.nan)
        ys.append(y)
    if not ys:
        return np.full_like(grid, np.nan), np.full_like(grid, np.nan)
    Y = np.stack(ys)
    n = np.sum(~np.isnan(Y), 0)
    with np.errstate(all="ignore"), warnings.catch_warnings():  # grid points past a run's end are NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(Y, 0)
        sd = np.nanstd(Y, 0, ddof=1) if len(ys) > 1 else np.zeros_like(mean)
    from scipy import stats  # the band is a 95 % Student-t interval over the runs at each grid point

    tq = stats.t.ppf(0.975, np.maximum(n - 1, 1))
    half = np.where(n > 1, tq * sd / np.sqrt(np.maximum(n, 1)), 0.0)
    return mean, half


def final_scores(g: Group) -> np.ndarray:
    """Each run's final score, in its env family's convention (:mod:`acting.protocols`)."""
    return np.array([summary_score(r.summary) for r in g.runs], float)


def teacher_score(summary: dict) -> float:
    """The teacher's score on the student's evaluation episodes, in the same convention as the
    student's (a summary written before scores existed: its greedy return)."""
    v = summary.get("teacher_score", summary.get("teacher_return"))
    return float(v) if v is not None else math.nan


def iqm_interval(scores: dict[str, np.ndarray], reps: int = 2000) -> dict[str, tuple[float, float, float]]:
    """rliable IQM with stratified-bootstrap 95% CIs (:func:`distillrl.core.stats.aggregates`).
    ``scores[group]`` is [runs] (non-finite runs dropped) or [runs, tasks] (all finite); groups with
    fewer than 2 scores are left out."""
    from distillrl.core.stats import aggregates

    def matrix(v) -> np.ndarray:
        v = np.asarray(v, float)
        return v[np.isfinite(v)].reshape(-1, 1) if v.ndim == 1 else v

    try:  # optional dependency (the `report` extra), ~2 s to import: without it, no intervals
        agg = aggregates({k: matrix(v) for k, v in scores.items()}, reps=reps)
    except ImportError:
        return {}
    return {k: v["iqm"] for k, v in agg.items()}
