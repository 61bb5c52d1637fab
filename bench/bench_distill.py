"""Policy-distillation figures (issue: policy distillation).

* ``compression``: zoo teachers on MinAtar games; students at ≈25 %, 7 %, 4 % of the teacher's
  acting parameters; score as % of the teacher on the same 30 greedy evaluation episodes;
  several seeds; mean and 95 % t-interval of the ratio over seeds (n stated); updates and wall-clock.
* ``losses`` / ``sources``: one game, equal budget, 3 seeds: nll / mse / kl τ=0.01 /
  cross_entropy (teacher-driven data), and teacher / student / dagger / eer (cross_entropy).
* ``speed``: wall-clock (training only, evaluations excluded) for a Breakout student to reach
  95 % of its teacher, evaluated every ``--speed-every`` frames on 30 episodes.

Results are written after every run to ``--out`` and finished entries are skipped on a rerun.

    python bench/bench_distill.py compression --games breakout space_invaders freeway --seeds 1 2 3
    python bench/bench_distill.py losses sources --games breakout
    python bench/bench_distill.py speed
"""

from __future__ import annotations

import distillrl  # noqa: F401  (first: caps BLAS threads before NumPy loads)

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from distillrl.algos.distill_config import DistillConfig
from distillrl.algos.distill import DistillTrainer
from distillrl.core.stats import t_interval
from distillrl.acting.evaluate import evaluate
from distillrl.teachers.load import load_teacher

from cli_runs import zoo5m

torch.set_num_threads(1)
EVAL = 30


def run_one(game: str, seed: int, steps: int, **kw) -> dict:
    cfg = DistillConfig(teacher=zoo5m(game), env=f"minatar:{game}", steps=steps, seed=seed, **kw)
    tr = DistillTrainer(cfg)
    t0 = time.perf_counter()
    tr.advance(steps)
    wall = time.perf_counter() - t0
    s, _ = evaluate(lambda o: tr.policy(o)[0], cfg.env, EVAL, seed=1000 * seed)
    t, _ = evaluate(lambda o: tr.teacher.outputs(o).numpy(), cfg.env, EVAL, seed=1000 * seed)
    return {"game": game, "seed": seed, "steps": steps, "updates": tr.updates, "wall_s": wall,
            "student_params": tr.n_params, "teacher_params": tr.teacher.n_params,
            "param_fraction": tr.n_params / tr.teacher.n_params, "student_return": float(s.mean()),
            "teacher_return": float(t.mean()), "ratio": float(s.mean() / t.mean()) if t.mean() else math.nan,
            **{k: v for k, v in kw.items()}}


def pct_interval(ratios) -> dict:
    """Mean and 95 % t-interval over seeds of ``ratios`` in %, with ``n`` (JSON fields
    ``mean_pct``, ``lo_pct``, ``hi_pct``, ``n``, ``interval``). Results written before this
    carry ``ci95_pct`` instead: a 1.96·SEM half-width (normal approximation)."""
    t = t_interval([100 * r for r in ratios])
    return {"mean_pct": t["mean"], "lo_pct": t["lo"], "hi_pct": t["hi"], "n": t["n"],
            "interval": "95% t-interval over seeds"}


def half_width_pct(row: dict) -> float:
    """The interval's half-width in % (new rows: t-interval; old rows: their 1.96·SEM ``ci95_pct``)."""
    if "hi_pct" in row:
        return row["hi_pct"] - row["mean_pct"]
    return row.get("ci95_pct", math.nan)


def load(out: Path) -> dict:
    return json.loads(out.read_text()) if out.exists() else {}


def save(out: Path, res: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(res, indent=2) + "\n")
    tmp.replace(out)


def cached(res: dict, section: str, key: str, fn):
    sec = res.setdefault(section, {})
    if key not in sec:
        sec[key] = fn()
    return sec[key]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parts", nargs="+", choices=["compression", "losses", "sources", "speed"])
    ap.add_argument("--games", nargs="+", default=["breakout"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--sizes", type=float, nargs="+", default=[0.25, 0.07, 0.04])
    ap.add_argument("--steps", type=int, default=300_000)
    ap.add_argument("--compare-size", type=float, default=0.07)
    ap.add_argument("--speed-every", type=int, default=25_000)
    ap.add_argument("--out", default="bench/results/distill.json")
    args = ap.parse_args()
    out = Path(args.out)
    res = load(out)
    res["command"] = "python bench/bench_distill.py " + " ".join(
        [*args.parts, "--games", *args.games, "--seeds", *map(str, args.seeds), "--steps", str(args.steps)])
    for part in args.parts:
        if part == "compression":
            for g in args.games:
                for size in args.sizes:
                    for s in args.seeds:
                        r = cached(res, "compression", f"{g}/{size}/{s}",
                                   lambda: run_one(g, s, args.steps, student_size=size))
                        save(out, res)
                        print(f"compression {g} size {size} seed {s}: {100 * r['ratio']:.0f}% "
                              f"({r['student_return']:.2f} vs {r['teacher_return']:.2f}, {r['wall_s']:.0f}s)", flush=True)
            table = {}
            for g in args.games:
                for size in args.sizes:
                    rs = [res["compression"][f"{g}/{size}/{s}"] for s in args.seeds]
                    ratios = [r["ratio"] for r in rs]
                    table[f"{g}/{size}"] = {**pct_interval(ratios),
                                            "param_fraction": rs[0]["param_fraction"],
                                            "student_params": rs[0]["student_params"],
                                            "teacher_params": rs[0]["teacher_params"],
                                            "updates": rs[0]["updates"],
                                            "wall_s_mean": float(np.mean([r["wall_s"] for r in rs]))}
            res["compression_table"] = table
            save(out, res)
        if part in ("losses", "sources"):
            g = args.games[0]
            variants = ({"nll": dict(loss="nll", source="teacher"), "mse_logits": dict(loss="mse_logits", source="teacher"),
                         "kl_tau0.01": dict(loss="kl", tau=0.01, source="teacher"),
                         "cross_entropy": dict(loss="cross_entropy", source="teacher")} if part == "losses" else
                        {"teacher": dict(loss="cross_entropy", source="teacher"),
                         "student": dict(loss="cross_entropy", source="student"),
                         "dagger": dict(loss="cross_entropy", source="dagger", beta_decay_frames=args.steps // 2),
                         "eer": dict(loss="cross_entropy", source="eer")})
            for name, kw in variants.items():
                for s in args.seeds:
                    r = cached(res, part, f"{g}/{name}/{s}",
                               lambda: run_one(g, s, args.steps, student_size=args.compare_size, **kw))
                    save(out, res)
                    print(f"{part} {name} seed {s}: {100 * r['ratio']:.0f}%", flush=True)
            res[f"{part}_table"] = {
                name: pct_interval([res[part][f"{g}/{name}/{s}"]["ratio"] for s in args.seeds]) for name in variants}
            save(out, res)
            plot_bars(res[f"{part}_table"], out.with_name(f"distill_{part}.png"),
                      f"{part} on minatar:{g}, student {args.compare_size:.0%} of teacher, {args.steps:,} frames")
        if part == "speed":
            res["speed"] = speed(args.speed_every)
            save(out, res)
            print("speed:", res["speed"], flush=True)


def speed(every: int, target_frac: float = 0.95, max_frames: int = 1_000_000, seed: int = 1) -> dict:
    cfg = DistillConfig(teacher=zoo5m("breakout"), env="minatar:breakout", steps=max_frames, seed=seed)
    tr = DistillTrainer(cfg)
    teacher = load_teacher(zoo5m("breakout"))
    t_score = float(evaluate(lambda o: teacher.outputs(o).numpy(), cfg.env, EVAL, seed=77)[0].mean())
    train_s = 0.0
    trace = []
    while tr.frames < max_frames:
        t0 = time.perf_counter()
        tr.advance(every)
        train_s += time.perf_counter() - t0
        sc = float(evaluate(lambda o: tr.policy(o)[0], cfg.env, EVAL, seed=77)[0].mean())
        trace.append({"frames": tr.frames, "train_wall_s": train_s, "student_return": sc})
        if sc >= target_frac * t_score:
            return {"reached": True, "frames": tr.frames, "train_wall_s": train_s, "teacher_return": t_score,
                    "student_return": sc, "trace": trace}
    return {"reached": False, "frames": tr.frames, "train_wall_s": train_s, "teacher_return": t_score,
            "trace": trace}


def plot_bars(table: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(table)
    m = [table[n]["mean_pct"] for n in names]
    e = [0 if math.isnan(half_width_pct(table[n])) else half_width_pct(table[n]) for n in names]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(names, m, yerr=e, capsize=4)
    ax.axhline(100, ls="--", c="k", lw=1)
    ax.set_ylabel("student score, % of teacher")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
