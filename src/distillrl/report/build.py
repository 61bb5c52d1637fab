"""The report over run directories: curves, λ traces, speed-ups, IQM."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from distillrl.errors import RunDirError
from distillrl.report.runs import (
    Group,
    budget_warning,
    check_comparable,
    expand_run_dirs,
    final_scores,
    frames_to,
    group_runs,
    iqm_interval,
    load_run,
    mean_curve,
    teacher_score,
)
from distillrl.report.style import SAVE, legend_outside
from distillrl.report.tasks import task_section


def build_report(run_dirs: list[str | Path], out: str | Path, target: float | None = None,
                 reference: str | Path | None = None, separate: bool = False) -> dict:
    """Write curves.png, lambda.png, report.md and report.json to ``out``.

    ``reference``: a run directory whose group is the speed-up baseline (default: the first
    group of plain ``train`` runs), e.g. a longer from-scratch run that reaches the target.
    A sweep's folder stands for its trials. Runs of several environments are refused, or with
    ``separate`` reported one environment per sub-folder of ``out``.
    """
    run_dirs = expand_run_dirs(run_dirs)
    if reference is not None and Path(reference).resolve() not in {Path(p).resolve() for p in run_dirs}:
        run_dirs = [*run_dirs, Path(reference)]
    by_env = check_comparable([load_run(p) for p in run_dirs], separate)
    if len(by_env) > 1:
        reports = {}
        for rs in by_env:
            env = str(rs[0].config.get("env"))
            slug = env.replace(":", "-").replace("/", "-").replace("?", "-").replace(",", "+")
            reports[env] = build_report([r.path for r in rs], Path(out) / slug, target,
                                        reference if reference in [r.path for r in rs] else None)
        return {"separate": True, "reports": reports}
    return _build_one([r for rs in by_env for r in rs], out, target, reference)


def _build_one(runs: list, out: str | Path, target: float | None, reference: str | Path | None) -> dict:
    import matplotlib  # pyplot is heavy (~0.4 s) and the Agg backend is chosen only when a report is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not runs:
        raise RunDirError("no runs given")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    groups = group_runs(runs)
    teacher_scores = [r.summary["teacher_return"] for r in runs if "teacher_return" in r.summary]

    def group_teacher(g: Group) -> float:
        ts = [r.summary["teacher_return"] for r in g.runs if "teacher_return" in r.summary]
        return float(np.mean(ts)) if ts else math.nan

    def group_teacher_score(g: Group) -> float:
        """The teacher's score in the students' convention (what % of teacher divides by)."""
        ts = [teacher_score(r.summary) for r in g.runs if "teacher_return" in r.summary]
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
    legend_outside(ax, 7)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=120, **SAVE)
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
        legend_outside(ax, 7)
        fig.tight_layout()
        fig.savefig(out / "lambda.png", dpi=120, **SAVE)
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
        gt = group_teacher_score(g)
        if not np.isfinite(gt):  # the best teacher's, for the groups without one of their own
            best = [group_teacher_score(x) for x in groups if group_teacher(x) == teacher]
            gt = best[0] if best else math.nan
        row = {"group": g.label, "kind": g.kind, "seeds": len(g.runs),
               "score_mode": "/".join(sorted({r.summary.get("score_mode", "greedy") for r in g.runs})),
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
                    why = (f"from scratch never reached {target:.3g}" if np.isfinite(target)
                           else "no target score (no teacher score to aim at)")
                    row["speedup_basis"] = f"{why}; ratio at its best score {ref_best:.3g}"
        rows.append(row)

    md = [f"# distillrl report — {', '.join(envs)}", "",
          f"Runs: {len(runs)} in {len(groups)} groups. Target score: "
          + (f"{target:.3g}" + (" (the best teacher's evaluation return)" if teacher_scores and target == teacher
                                else "")
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
    md += ["", "Final score: each env family's convention (greedy mean return; MiniGrid: sampled success "
               "rate), the teacher's on the same episodes in the same mode."]
    notes = [r["speedup_basis"] for r in rows if "speedup_basis" in r and "never" in r["speedup_basis"]]
    if notes:
        md += ["", "Note: " + notes[0] + "."]
    budget = budget_warning(groups)
    if budget:
        sys.stderr.write(f"distillrl report: warning: {budget}\n")
        md += ["", f"Warning: {budget}."]
    md += ["", "![learning curves](curves.png)"] + (["", "![lambda](lambda.png)"] if have_l else [])
    task_md, task_json = task_section(groups, out)
    md += task_md
    (out / "report.md").write_text("\n".join(md) + "\n")
    result = {"target": target, "teacher_score": teacher, "groups": rows, "out": str(out),
              **({"warning": budget} if budget else {})}
    if task_json:
        result["tasks"] = task_json
    (out / "report.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result
