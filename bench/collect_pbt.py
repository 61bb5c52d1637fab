"""Keep what the PBT tables rest on under bench/results/pbt/ (runs/ is not in git), and draw them.

For every experiment in runs/bench/pbt/: pbt.yaml, lineage.jsonl, summary.json and each member's
config.yaml, summary.json and the metrics columns the report reads (frames, training return,
hparams/*, kickstart/*); for every fixed-schedule run the same. ``distillrl report`` runs on the
copies (``distillrl report bench/results/pbt/incompetent-s1 bench/results/pbt/fixed-constant-s*``).
Then plots bench/results/pbt_lambda.png: per experiment seed, the winning lineage's λ'_random ÷
λ'_good and both effective λ_k over frames.

    python bench/collect_pbt.py
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

SRC = Path("runs/bench/pbt")
DST = Path("bench/results/pbt")
KEEP = ("frames", "charts/return_recent", "charts/episode_return")


def _metrics(src: Path, dst: Path) -> None:
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    cols = [c for c in rows[0] if c in KEEP or c.startswith(("hparams/", "kickstart/"))]
    with open(dst, "w", newline="") as f:
        w = csv.DictWriter(f, cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def _differs(src: Path, dst: Path) -> bool:
    """A kept run whose summary is not the fresh run's: another machine's run of the same name
    (kept, never overwritten: the tables cite it); says so."""
    a, b = src / "summary.json", dst / "summary.json"
    if b.exists() and a.exists() and a.read_bytes() != b.read_bytes():
        print(f"kept {dst}: {src} is a different run of the same name (not copied)")
        return True
    return False


def _run(src: Path, dst: Path) -> None:
    if _differs(src, dst):
        return
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("config.yaml", "summary.json"):
        if (src / name).exists():
            shutil.copyfile(src / name, dst / name)
    if (src / "metrics.csv").exists():
        _metrics(src / "metrics.csv", dst / "metrics.csv")


def collect() -> list[Path]:
    exps = []
    for d in sorted(SRC.iterdir()):
        if (d / "pbt.yaml").exists() and (d / "summary.json").exists() and not d.name.startswith("overhead"):
            out = DST / d.name
            if _differs(d, out):
                exps.append(out)
                continue
            out.mkdir(parents=True, exist_ok=True)
            for name in ("pbt.yaml", "lineage.jsonl", "summary.json"):
                shutil.copyfile(d / name, out / name)
            for m in sorted((d / "members").iterdir()):
                _run(m, out / "members" / m.name)
            exps.append(out)
        elif d.name.startswith("fixed-constant") and (d / "summary.json").exists():
            _run(d, DST / d.name)
    return exps


def plot(exps: list[Path]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from distillrl.scale.population import read_lineage
    from distillrl.report.pbt import winning_lineage
    from distillrl.runs.rundir import read_metrics

    # §7's first table: the t-test and truncation experiments (the later ones have their own figures)
    inc = [e for e in exps if re.fullmatch(r"incompetent(-truncation)?-s\d+", e.name)]
    if not inc:
        return
    fig, axes = plt.subplots(2, 1, figsize=(7.5, 6), sharex=True)
    for e in inc:
        summ = json.loads((e / "summary.json").read_text())
        best = summ["best_member"]
        rows = {int(m.name[-2:]): read_metrics(m) for m in (e / "members").iterdir()}
        end = max(r["frames"] for r in rows[best])
        segs = winning_lineage(best, read_lineage(e), end)
        trace = [r for m, lo, hi in segs for r in rows[m] if lo < r["frames"] <= hi]
        f = [r["frames"] for r in trace]
        ls = "-" if "truncation" not in e.name else "--"
        axes[0].plot(f, [r["hparams/lambda_1"] / r["hparams/lambda_0"] for r in trace], ls=ls, label=e.name)
        line, = axes[1].plot(f, [r["kickstart/lambda_0"] for r in trace], ls=ls, label=f"{e.name}: good")
        axes[1].plot(f, [r["kickstart/lambda_1"] for r in trace], ls=ls, alpha=0.5, c=line.get_color(),
                     lw=3, label=f"{e.name}: random")
    axes[0].axhline(0.1, c="k", ls=":", lw=1, label="target 0.1")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("λ'_random ÷ λ'_good")
    axes[0].set_title("Winning lineages: the random teacher's weight against the good one's")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("effective λ_k")
    axes[1].set_xlabel("frames")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig("bench/results/pbt_lambda.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    plot(collect())
