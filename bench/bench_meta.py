"""ES meta-learning with DPG adaptation against its baselines, on the same task family, budget and networks.

For each seed, method and K (order alternating between seeds) one ``distillrl meta`` run,
meta-trained with K adaptation steps and evaluated after K steps (``multitask`` has no inner loop
in training: one run, evaluated at every K). Reported per seed: the return on the family's
held-out test tasks before and after K adaptation steps (each method with its own test-time
inner loop: DPG for es-dpg and multitask, policy gradient for fomaml, zero-order ES for es-zero),
the wall-clock and frames of meta-training, and the learning curve (post-adaptation return on a
few test tasks every ``eval_every`` generations). Summaries: mean with a 95 % t-interval over seeds (n stated), and
es-dpg minus each baseline paired by seed. "Steps/wall to a target": the first evaluation point
of the curve at or above ``--target`` (runs that never reach it are counted as not reaching).

    python bench/bench_meta.py --family point-nav --seeds 1 2 3 4 5 --frames 600000 \
        --out bench/results/meta_point_nav.json
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from distillrl.core.stats import t_interval  # noqa: E402

EXE = str(Path(sys.executable).with_name("distillrl"))
METHODS = ["es-dpg", "fomaml", "es-zero", "multitask"]


def one(family: str, method: str, seed: int, frames: int, ks: str, extra: list[str], run_dir: Path,
        train_k: str | None) -> dict:
    if not (run_dir / "summary.json").exists():
        cmd = [EXE, "meta", "--family", family, "--method", method, "--seed", str(seed), "--steps", str(frames),
               "--eval-k", ks, "--run-dir", str(run_dir), "--no-progress", "--json", *extra,
               *(["--k", train_k] if train_k else [])]
        if run_dir.exists():
            cmd.append("--resume")
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"{method} seed {seed} failed: {p.stderr[-2000:]}")
    s = json.loads((run_dir / "summary.json").read_text())
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    curve = [(float(r["frames"]), float(r["meta/wall_s"]), float(r["meta/test_post_return"]))
             for r in rows if r.get("meta/test_post_return") not in (None, "")]
    out = {"pre": s["pre_return"], "wall_s": s["wall_s"], "frames": s["steps"], "generations": s["generations"],
           "curve": curve, "run_dir": str(run_dir)}
    for k in ks.split(","):
        out[f"post_k{k}"] = s[f"post_return_k{k}"]
    return out


def to_target(curve, target: float) -> tuple[float, float]:
    for f, w, r in curve:
        if r >= target:
            return f, w
    return math.nan, math.nan


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", default="point-nav")
    ap.add_argument("--methods", nargs="+", default=METHODS)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--frames", type=int, default=600_000)
    ap.add_argument("--ks", default="1,3,5")
    ap.add_argument("--target", type=float, default=None, help="post-adaptation return for steps/wall to target")
    ap.add_argument("--runs", default="runs/bench_meta")
    ap.add_argument("--out", required=True)
    ap.add_argument("extra", nargs=argparse.REMAINDER, help="-- then options passed to every run")
    a = ap.parse_args()
    extra = [x for x in a.extra if x != "--"]
    out = Path(a.out)
    res = json.loads(out.read_text()) if out.exists() else {}
    res.update({"family": a.family, "frames": a.frames, "ks": a.ks, "extra": extra,
                "machine": "2-core CPU, 1 torch thread, workers 0 (one process per run)",
                "command": "python bench/bench_meta.py " + " ".join(sys.argv[1:])})
    per = res.setdefault("per_seed", {})
    ks = a.ks.split(",")
    for i, seed in enumerate(a.seeds):
        order = a.methods if i % 2 == 0 else a.methods[::-1]
        for m in order:
            for k in ([None] if m == "multitask" else ks):
                key = f"{m}/{seed}" if k is None else f"{m}/k{k}/{seed}"
                if key in per:
                    continue
                rd = Path(a.runs) / a.family / (f"{m}-s{seed}" if k is None else f"{m}-k{k}-s{seed}")
                r = one(a.family, m, seed, a.frames, a.ks if k is None else k, extra, rd, k)
                per[key] = r
                print(f"{key}: pre {r['pre']:.1f} " + " ".join(f"K={x} {r[f'post_k{x}']:.1f}" for x in ks
                                                               if f"post_k{x}" in r) + f" ({r['wall_s']:.0f} s)",
                      flush=True)
                out.write_text(json.dumps(res, indent=1))

    def get(m, k, seed):
        """(pre, post after K steps, run) of method m meta-trained for K (multitask: its one run)."""
        r = per.get(f"{m}/{seed}") if m == "multitask" else per.get(f"{m}/k{k}/{seed}")
        return None if r is None else (r["pre"], r[f"post_k{k}"], r)

    summ: dict = {}
    for m in a.methods:
        summ[m] = {}
        for k in ks:
            got = [g for s_ in a.seeds if (g := get(m, k, s_)) is not None]
            e = {"pre": t_interval([g[0] for g in got]), "post": t_interval([g[1] for g in got]),
                 "gain": t_interval([g[1] - g[0] for g in got]),
                 "wall_s": t_interval([g[2]["wall_s"] for g in got])}
            if a.target is not None:
                hits = [to_target(g[2]["curve"], a.target) for g in got]
                e["to_target"] = {"target": a.target, "reached": sum(math.isfinite(f) for f, _ in hits),
                                  "n": len(got), "frames": t_interval([f for f, _ in hits if math.isfinite(f)]),
                                  "wall_s": t_interval([w for _, w in hits if math.isfinite(w)])}
            summ[m][f"k{k}"] = e
    diffs: dict = {}
    for m in a.methods:
        if m == "es-dpg":
            continue
        diffs[f"es-dpg minus {m}"] = {}
        for k in ks:
            pairs = [(x, y) for s_ in a.seeds if (x := get("es-dpg", k, s_)) and (y := get(m, k, s_))]
            d = t_interval([x[1] - y[1] for x, y in pairs])
            d["verdict"] = ("es-dpg better" if d["lo"] > 0 else "es-dpg worse" if d["hi"] < 0 else "inconclusive")
            diffs[f"es-dpg minus {m}"][f"k{k}"] = d
    res["summary"], res["paired"] = summ, diffs
    res["interval"] = "95 % t-interval over training seeds (n per entry); each seed's score is the mean over the " \
                      "family's held-out test tasks"
    out.write_text(json.dumps(res, indent=1))
    for m, by_k in summ.items():
        print(m, " ".join(f"{k}: post {v['post']['mean']:.1f} [{v['post']['lo']:.1f}, {v['post']['hi']:.1f}]"
                          for k, v in by_k.items()))
    for name, d in diffs.items():
        print(name, " ".join(f"{k}={v['mean']:.1f}[{v['lo']:.1f},{v['hi']:.1f}] {v['verdict']}" for k, v in d.items()))


if __name__ == "__main__":
    main()
