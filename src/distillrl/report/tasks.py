"""The task-set part of a report: per-task curves and the suite's score against the teachers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from distillrl.core.stats import geomean
from distillrl.report.runs import Group, Run, iqm_interval
from distillrl.report.style import SAVE, legend_outside


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
    import matplotlib.pyplot as plt  # heavy (~0.4 s); the caller chose the Agg backend

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
    legend_outside(axes[0][0], 6)
    fig.supxlabel("frames (all tasks)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, **SAVE)
    plt.close(fig)
