"""``distillrl report``: learning curves, λ traces and speed-up tables from run directories.

Runs are grouped by their resolved configuration minus the seed (and run directory), so seeds
of one setting form one group. For each group: the mean learning curve (``return_recent``,
the mean of the last 100 training episodes) over frames with a 95% confidence band across
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

from .checkpoint import load_meta
from .jobs import geomean
from .run import CKPT, read_metrics

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


def load_run(path: str | Path) -> Run:
    from .errors import RunDirError

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


def group_runs(runs: list[Run]) -> list[Group]:
    groups: dict[str, Group] = {}
    for r in runs:
        flat = {k: v for k, v in _flat(r.config).items() if k not in IGNORED_KEYS}
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
            if k in g.config and k not in ("teacher",):
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
    half = np.where(n > 1, 1.96 * sd / np.sqrt(np.maximum(n, 1)), 0.0)
    return mean, half


def final_scores(g: Group) -> np.ndarray:
    return np.array([r.summary.get("student_return", r.summary.get("mean_return", math.nan)) for r in g.runs], float)


def iqm_interval(scores: dict[str, np.ndarray], reps: int = 2000) -> dict[str, tuple[float, float, float]]:
    """rliable IQM with stratified-bootstrap 95% CIs. ``scores[group]`` is [runs] (non-finite
    runs dropped) or [runs, tasks] (all finite); groups with fewer than 2 scores are left out."""
    try:
        from rliable import library as rly
        from rliable import metrics
    except ImportError:
        return {}

    def matrix(v) -> np.ndarray:
        v = np.asarray(v, float)
        return v[np.isfinite(v)].reshape(-1, 1) if v.ndim == 1 else v

    data = {k: m for k, v in scores.items() if (m := matrix(v)).size >= 2 and np.isfinite(m).all()}
    if not data:
        return {}
    est, ci = rly.get_interval_estimates(data, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=reps)
    return {k: (float(est[k][0]), float(ci[k][0][0]), float(ci[k][1][0])) for k in data}


def build_report(run_dirs: list[str | Path], out: str | Path, target: float | None = None,
                 reference: str | Path | None = None) -> dict:
    """Write curves.png, lambda.png, report.md and report.json to ``out``.

    ``reference``: a run directory whose group is the speed-up baseline (default: the first
    group of plain ``train`` runs), e.g. a longer from-scratch run that reaches the target.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if reference is not None and Path(reference).resolve() not in {Path(p).resolve() for p in run_dirs}:
        run_dirs = [*run_dirs, reference]
    runs = [load_run(p) for p in run_dirs]
    if not runs:
        from .errors import RunDirError

        raise RunDirError("no runs given")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    groups = group_runs(runs)
    teacher_scores = [r.summary["teacher_return"] for r in runs if "teacher_return" in r.summary]

    def group_teacher(g: Group) -> float:
        ts = [r.summary["teacher_return"] for r in g.runs if "teacher_return" in r.summary]
        return float(np.mean(ts)) if ts else math.nan

    # with several teachers in one report (e.g. a good and a random one), the reference teacher
    # is the best of them; each kickstart group is scored against its own teacher
    per_group = [group_teacher(g) for g in groups]
    teacher = float(np.nanmax(per_group)) if np.isfinite(per_group).any() else math.nan
    if target is None:
        target = teacher
    envs = sorted({str(r.config.get("env")) for r in runs})

    # ---- curves
    fmax = max(float(r.frames.max()) for r in runs if len(r.frames))
    grid = np.linspace(0, fmax, 200)
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for g in groups:
        m, h = mean_curve(g, grid)
        line, = ax.plot(grid, m, label=f"{g.label} (n={len(g.runs)})")
        ax.fill_between(grid, m - h, m + h, alpha=0.2, color=line.get_color())
    if np.isfinite(target):
        ax.axhline(target, ls="--", c="k", lw=1, label=f"target {target:.3g}")
    ax.set_xlabel("frames")
    ax.set_ylabel("training return (mean of last 100 episodes)")
    ax.set_title(", ".join(envs))
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=120)
    plt.close(fig)

    # ---- λ traces
    have_l = any(r.lambdas for r in runs)
    if have_l:
        fig, ax = plt.subplots(figsize=(7.5, 3.2))
        for g in groups:
            r = g.runs[0]
            for k, v in r.lambdas.items():
                ax.plot(r.frames, v, label=f"{g.label}: {k}")
        ax.set_xlabel("frames")
        ax.set_ylabel("λ")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "lambda.png", dpi=120)
        plt.close(fig)

    # ---- table
    scratch = [g for g in groups if g.kind == "train"]
    ref = scratch[0] if scratch else None
    if reference is not None:
        ref = next(g for g in groups if any(r.path.resolve() == Path(reference).resolve() for r in g.runs))
    ref_frames = np.array([frames_to(r, target) for r in ref.runs]) if ref and np.isfinite(target) else None
    ref_reached = ref_frames is not None and np.isfinite(ref_frames).all()
    ref_best = None
    if ref is not None and not ref_reached:
        # the best score that *every* from-scratch seed reached, so each has a first-hit frame
        bests = [np.nanmax(r.returns) for r in ref.runs if np.isfinite(r.returns).any()]
        ref_best = float(min(bests)) if len(bests) == len(ref.runs) else None
    iqm = iqm_interval({g.label: final_scores(g) for g in groups})
    rows = []
    for g in groups:
        ft = np.array([frames_to(r, target) for r in g.runs]) if np.isfinite(target) else np.array([math.nan])
        fs = final_scores(g)
        gt = group_teacher(g)
        gt = gt if np.isfinite(gt) else teacher
        row = {"group": g.label, "kind": g.kind, "seeds": len(g.runs),
               "frames_to_target_median": float(np.median(ft)) if np.isfinite(ft).all() else None,
               "reached": int(np.isfinite(ft).sum()),
               "final_mean": float(np.nanmean(fs)) if np.isfinite(fs).any() else None,
               "final_pct_teacher": float(100 * np.nanmean(fs) / gt) if np.isfinite(gt) and gt
               and np.isfinite(fs).any() else None,
               "teacher_score": gt if np.isfinite(gt) else None,
               "iqm": iqm.get(g.label),
               "runs": [str(r.path) for r in g.runs]}
        if ref is not None and g is not ref:
            if ref_reached and row["frames_to_target_median"]:
                row["speedup"] = float(np.median(ref_frames)) / row["frames_to_target_median"]
                row["speedup_basis"] = f"frames to target {target:.3g}"
            elif ref_best is not None:
                fr = np.median([frames_to(r, ref_best) for r in ref.runs])
                fg = [frames_to(r, ref_best) for r in g.runs]
                if np.isfinite(fr) and np.isfinite(fg).all():
                    row["speedup"] = float(fr / np.median(fg))
                    row["speedup_basis"] = (f"from scratch never reached {target:.3g}; ratio at its best "
                                            f"score {ref_best:.3g}")
        rows.append(row)

    md = [f"# distillrl report — {', '.join(envs)}", "",
          f"Runs: {len(runs)} in {len(groups)} groups. Target score: "
          + (f"{target:.3g}" + (" (the best teacher's greedy score)" if teacher_scores and target == teacher else "")
             if np.isfinite(target) else "none (no teacher score; pass --target)"), "",
          "| group | seeds | frames to target (median) | reached | speed-up vs scratch | final score | % of teacher | IQM [95% CI] |",
          "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ft = f"{r['frames_to_target_median']:,.0f}" if r["frames_to_target_median"] else "not reached"
        sp = f"{r['speedup']:.1f}×" if "speedup" in r else ("reference" if ref and r["group"] == ref.label else "-")
        fin = f"{r['final_mean']:.2f}" if r["final_mean"] is not None else "-"
        pct = f"{r['final_pct_teacher']:.0f}%" if r["final_pct_teacher"] is not None else "-"
        iq = f"{r['iqm'][0]:.2f} [{r['iqm'][1]:.2f}, {r['iqm'][2]:.2f}]" if r["iqm"] else "-"
        md.append(f"| {r['group']} | {r['seeds']} | {ft} | {r['reached']}/{r['seeds']} | {sp} | {fin} | {pct} | {iq} |")
    notes = [r["speedup_basis"] for r in rows if "speedup_basis" in r and "never" in r["speedup_basis"]]
    if notes:
        md += ["", "Note: " + notes[0] + "."]
    md += ["", "![learning curves](curves.png)"] + (["", "![lambda](lambda.png)"] if have_l else [])
    task_md, task_json = task_section(groups, out)
    md += task_md
    (out / "report.md").write_text("\n".join(md) + "\n")
    result = {"target": target, "teacher_score": teacher, "groups": rows, "out": str(out)}
    if task_json:
        result["tasks"] = task_json
    (out / "report.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


# --------------------------------------------------------------------------- task sets


def task_teacher_scores(runs: list[Run]) -> dict[str, float]:
    """Per task: the teachers' mean greedy score over every run that evaluated one (same
    episode seeds as its student)."""
    acc: dict[str, list[float]] = {}
    for r in runs:
        for t in r.summary.get("per_task", []):
            if t.get("teacher_return") is not None:
                acc.setdefault(t["name"], []).append(float(t["teacher_return"]))
    return {k: float(np.mean(v)) for k, v in acc.items()}


def suite_curve(run: Run, teacher: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """The suite's training score over frames: the mean over tasks of (the task's training
    return ÷ its teacher's score), at the rows where every task has finished an episode."""
    ratios = np.array([run.task_returns.get(n, np.full(len(run.frames), math.nan)) / t for n, t in teacher.items()])
    ok = np.isfinite(ratios).all(0)
    return run.frames[ok], ratios[:, ok].mean(0)


def task_section(groups: list[Group], out: Path) -> tuple[list[str], dict]:
    """Per-task tables and the suite aggregate for runs on a task set: each task's final greedy
    score and % of its teacher; per group the geometric mean of % of teacher over tasks (Rusu
    et al.'s suite figure) and rliable's IQM of the normalised scores (score ÷ teacher) over
    runs × tasks; and per-task training curves (``tasks.png``)."""
    tgroups = [g for g in groups if any(r.summary.get("per_task") for r in g.runs)]
    if not tgroups:
        return [], {}
    teacher = task_teacher_scores([r for g in tgroups for r in g.runs])
    names = [t["name"] for t in next(r.summary["per_task"] for g in tgroups for r in g.runs if r.summary.get("per_task"))]
    res: dict = {"teacher_scores": teacher, "groups": []}
    md = ["", "## Per task", "", "Final greedy score per task (mean over seeds) and, where a teacher score exists, "
          "% of the task's teacher (its greedy score on the same episodes: "
          + ", ".join(f"{n} {teacher[n]:.3g}" for n in names if n in teacher) + ").", "",
          "| group | seeds | " + " | ".join(names) + " | suite: geomean % of teacher | mean % | IQM of score ÷ teacher [95% CI] |",
          "|---|---|" + "---|" * len(names) + "---|---|---|"]
    norm: dict[str, np.ndarray] = {}
    for g in tgroups:
        per_run = []
        for r in g.runs:
            got = {t["name"]: float(t["student_return"]) for t in r.summary.get("per_task", [])}
            if got:
                per_run.append(got)
        row = {"group": g.label, "seeds": len(per_run), "tasks": {}}
        for n in names:
            vals = [pr[n] for pr in per_run if n in pr]
            m = float(np.mean(vals)) if vals else math.nan
            pct = 100 * m / teacher[n] if n in teacher and teacher[n] else math.nan
            row["tasks"][n] = {"score": m, "pct_teacher": pct}
        full = [pr for pr in per_run if all(n in pr for n in names)]
        if teacher and all(n in teacher for n in names) and full:
            ratios = np.array([[pr[n] / teacher[n] for n in names] for pr in full])
            row["geomean_pct"] = 100 * float(np.mean([geomean(x) for x in ratios]))
            row["mean_pct"] = 100 * float(ratios.mean())
            norm[g.label] = ratios
        res["groups"].append(row)
    iqm = iqm_interval(norm)
    for row in res["groups"]:
        if row["group"] in iqm:
            row["iqm"] = list(iqm[row["group"]])
        gm = f"{row['geomean_pct']:.0f}%" if "geomean_pct" in row else "-"
        mp = f"{row['mean_pct']:.0f}%" if "mean_pct" in row else "-"
        iq = f"{row['iqm'][0]:.2f} [{row['iqm'][1]:.2f}, {row['iqm'][2]:.2f}]" if "iqm" in row else "-"
        cells = [(f"{row['tasks'][n]['score']:.2f}" + (f" ({row['tasks'][n]['pct_teacher']:.0f}%)"
                  if np.isfinite(row["tasks"][n]["pct_teacher"]) else "")) for n in names]
        md.append(f"| {row['group']} | {row['seeds']} | " + " | ".join(cells) + f" | {gm} | {mp} | {iq} |")
    _plot_tasks(tgroups, names, teacher, out / "tasks.png")
    md += ["", "![per-task curves](tasks.png)"]
    return md, res


def _plot_tasks(groups: list[Group], names: list[str], teacher: dict[str, float], path: Path) -> None:
    import matplotlib.pyplot as plt

    n = len(names) + (1 if teacher else 0)
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for i, name in enumerate(names):
        ax = axes[i // cols][i % cols]
        for j, g in enumerate(groups):
            for k, r in enumerate(g.runs):
                if name in r.task_returns:
                    ax.plot(r.frames, r.task_returns[name], color=f"C{j}", alpha=0.7, lw=1,
                            label=g.label if k == 0 else None)
        if name in teacher:
            ax.axhline(teacher[name], ls="--", c="k", lw=0.8)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    if teacher and all(n in teacher for n in names):
        ax = axes[(n - 1) // cols][(n - 1) % cols]
        for j, g in enumerate(groups):
            for r in g.runs:
                if all(nm in r.task_returns for nm in names):
                    ax.plot(*suite_curve(r, {nm: teacher[nm] for nm in names}), color=f"C{j}", alpha=0.7, lw=1)
        ax.axhline(1.0, ls="--", c="k", lw=0.8)
        ax.set_title("suite: mean of return ÷ teacher", fontsize=9)
        ax.tick_params(labelsize=7)
    for i in range(n, rows * cols):
        axes[i // cols][i % cols].axis("off")
    axes[0][0].legend(fontsize=6)
    fig.supxlabel("frames (all tasks)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- populations (distillrl pbt)


def is_pbt_experiment(path: str | Path) -> bool:
    p = Path(path)
    return (p / "pbt.yaml").exists() and (p / "members").is_dir()


def winning_lineage(best: int, events: list[dict], end: float) -> list[tuple[int, float, float]]:
    """The best member's ancestry as (member, from frames, to frames) segments, oldest first.

    Walking back in time from the end: at each exploit of the current member, its history
    before the copy is the donor's (up to the donor's frames when copied)."""
    segs, cur, hi = [], best, end
    for e in sorted((e for e in events if e.get("event") == "exploit"), key=lambda e: e["time"], reverse=True):
        if e["member"] == cur and e["donor_frames"] < hi:
            segs.append((cur, float(e["donor_frames"]), hi))
            cur, hi = e["donor"], float(e["donor_frames"])
    segs.append((cur, 0.0, hi))
    return segs[::-1]


def build_pbt_report(exp_dirs: list[Path], fixed_dirs: list[str | Path], out: Path) -> dict:
    """For each experiment: the winning lineage's hyper-parameters and λ_k over frames
    (lineage.png), every member's curve (population.png), and the population's best against
    the fixed-schedule runs given beside it (report.md, report.json)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fixed = [load_run(p) for p in fixed_dirs]
    fixed_scores = np.array([r.summary.get("mean_return", math.nan) for r in fixed], float)
    exps = []
    for exp in exp_dirs:
        pcfg = yaml.safe_load((exp / "pbt.yaml").read_text()) or {}
        members = sorted((exp / "members").iterdir())
        rows = {int(m.name.split("-")[-1]): read_metrics(m) for m in members}
        msum = {int(m.name.split("-")[-1]): (json.loads((m / "summary.json").read_text())
                                             if (m / "summary.json").exists() else {}) for m in members}
        scores = {i: s.get("mean_return", math.nan) for i, s in msum.items()}
        finite = {i: v for i, v in scores.items() if v is not None and np.isfinite(v)}
        best = max(finite, key=finite.get) if finite else 0
        from .population import read_lineage

        events = read_lineage(exp)
        end = max((r["frames"] for r in rows.get(best, [])), default=0.0)
        segs = winning_lineage(best, events, end)
        trace = [r for m, lo, hi in segs for r in rows.get(m, []) if lo < r["frames"] <= hi]
        tuned = list((pcfg.get("priors") or {}).keys())
        lam_cols = sorted({k for r in trace for k in r if k.startswith("kickstart/lambda_")})
        panels = [("return", "charts/return_recent")] + [(n, f"hparams/{n}") for n in tuned] + \
                 [(c.replace("kickstart/", "effective "), c) for c in lam_cols]
        fig, axes = plt.subplots(len(panels), 1, figsize=(7.5, 1.6 * len(panels) + 0.8), sharex=True)
        axes = np.atleast_1d(axes)
        for ax, (title, col) in zip(axes, panels):
            for m, lo, hi in segs:
                seg = [r for r in rows.get(m, []) if lo < r["frames"] <= hi]
                ax.plot([r["frames"] for r in seg], [r.get(col, math.nan) for r in seg], lw=1.2,
                        label=f"member {m}" if title == "return" else None)
            for m, lo, hi in segs[1:]:
                ax.axvline(lo, ls=":", c="grey", lw=0.8)
            prior = (pcfg.get("priors") or {}).get(title, {})
            if prior.get("log") or title.startswith("effective") or title.startswith("lambda"):
                from matplotlib.ticker import NullFormatter

                ax.set_yscale("log")
                ax.yaxis.set_minor_formatter(NullFormatter())  # narrow ranges: no wall of minor labels
            ax.set_ylabel(title, fontsize=8)
        axes[0].legend(fontsize=7, ncol=4)
        axes[0].set_title(f"{exp.name}: the winning lineage (member {best}); dotted: copies")
        axes[-1].set_xlabel("frames")
        fig.tight_layout()
        fig.savefig(out / ("lineage.png" if len(exp_dirs) == 1 else f"lineage-{exp.name}.png"), dpi=110)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(7.5, 4))
        for i, rr in rows.items():
            ax.plot([r["frames"] for r in rr], [r.get("charts/return_recent", math.nan) for r in rr], lw=0.8,
                    alpha=0.5, label=f"member {i}")
        ax.plot([r["frames"] for r in trace], [r.get("charts/return_recent", math.nan) for r in trace], c="k",
                lw=1.8, label="winning lineage")
        for r in fixed:
            ax.plot(r.frames, r.returns, ls="--", lw=1, label=f"fixed: {r.path.name}")
        ax.set_xlabel("frames")
        ax.set_ylabel("training return (last 100 episodes)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / ("population.png" if len(exp_dirs) == 1 else f"population-{exp.name}.png"), dpi=110)
        plt.close(fig)
        exps.append({"experiment": str(exp), "best_member": best, "best_return": finite.get(best, math.nan),
                     "population_mean": float(np.mean(list(finite.values()))) if finite else math.nan,
                     "scores": scores, "exploits": sum(1 for e in events if e.get("event") == "exploit"),
                     "lineage": [{"member": m, "from": lo, "to": hi} for m, lo, hi in segs],
                     "final_hparams": msum.get(best, {}).get("hparams", {}), "tuned": tuned})
    res: dict = {"pbt": exps[0] if len(exps) == 1 else {"experiments": exps}}
    if len(fixed):
        res["fixed"] = {"runs": [str(r.path) for r in fixed], "scores": fixed_scores.tolist(),
                        "mean": float(np.nanmean(fixed_scores))}
    lines = ["# Population-based training", "",
             "| experiment | best member | best score | population mean | exploits | best's final hyper-parameters |",
             "|---|---|---|---|---|---|"]
    for e in exps:
        hp = ", ".join(f"{k}={v:.3g}" for k, v in e["final_hparams"].items() if k in e["tuned"])
        lines.append(f"| {Path(e['experiment']).name} | {e['best_member']} | {e['best_return']:.2f} | "
                     f"{e['population_mean']:.2f} | {e['exploits']} | {hp} |")
    if len(fixed):
        lines += ["", f"Fixed-schedule runs ({len(fixed)}): mean final score {np.nanmean(fixed_scores):.2f} "
                      f"({', '.join(f'{x:.2f}' for x in fixed_scores)}); population best ÷ fixed mean: "
                      + ", ".join(f"{e['best_return'] / np.nanmean(fixed_scores):.2f}" for e in exps)]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    (out / "report.json").write_text(json.dumps(res, indent=2, default=float) + "\n")
    return res
