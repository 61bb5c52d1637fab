"""Reports of PBT experiments: the winning lineage and the population against fixed schedules."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import yaml

from distillrl.acting.evaluation import summary_score
from distillrl.report.runs import load_run
from distillrl.report.style import SAVE, legend_outside, log_y
from distillrl.runs.rundir import read_metrics
from distillrl.scale.population import best_member, read_lineage


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
    import matplotlib  # pyplot is heavy (~0.4 s) and the Agg backend is chosen only when a report is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fixed = [load_run(p) for p in fixed_dirs]
    fixed_scores = np.array([summary_score(r.summary) for r in fixed], float)
    exps, warnings = [], []
    for exp in exp_dirs:
        pcfg = yaml.safe_load((exp / "pbt.yaml").read_text()) or {}
        members = sorted((exp / "members").iterdir())
        rows = {int(m.name.split("-")[-1]): read_metrics(m) for m in members}
        msum = {int(m.name.split("-")[-1]): (json.loads((m / "summary.json").read_text())
                                             if (m / "summary.json").exists() else {}) for m in members}
        scores = {i: summary_score(s) if s else math.nan for i, s in msum.items()}
        member_frames = max((float(r[-1]["frames"]) for r in rows.values() if r), default=0.0)
        other = [(f.path.name, float(f.frames[-1])) for f in fixed if len(f.frames)]
        if member_frames and any(abs(fr - member_frames) > 0.1 * max(fr, member_frames) for _, fr in other):
            warnings.append(f"{exp.name}'s members ran {member_frames:,.0f} frames, the fixed runs "
                            + ", ".join(f"{n} {fr:,.0f}" for n, fr in other) + ": compare at equal frames")
            sys.stderr.write(f"distillrl report: warning: {warnings[-1]}\n")
        finite = {i: v for i, v in scores.items() if v is not None and np.isfinite(v)}
        best = best_member(msum)[0]  # chosen as the population chose it
        best = 0 if best is None else best
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
                log_y(ax)
            ax.set_ylabel(title, fontsize=8)
        legend_outside(axes[0], 7)
        axes[0].set_title(f"{exp.name}: the winning lineage (member {best}); dotted: copies")
        axes[-1].set_xlabel("frames")
        fig.tight_layout()
        name = "lineage.png" if len(exp_dirs) == 1 else f"lineage-{exp.name}.png"
        fig.savefig(out / name, dpi=110, **SAVE)
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
        legend_outside(ax, 7)
        fig.tight_layout()
        name = "population.png" if len(exp_dirs) == 1 else f"population-{exp.name}.png"
        fig.savefig(out / name, dpi=110, **SAVE)
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
                      + (", ".join(f"{e['best_return'] / np.nanmean(fixed_scores):.2f}" for e in exps)
                         if np.nanmean(fixed_scores) else "no ratio (the fixed runs' mean score is 0)")]
    if warnings:
        lines += [""] + [f"Warning: {w}." for w in warnings]
        res["warnings"] = warnings
    (out / "report.md").write_text("\n".join(lines) + "\n")
    (out / "report.json").write_text(json.dumps(res, indent=2, default=float) + "\n")
    return res
