"""Population-based training figures (issue: PBT on Ray Tune).

Every experiment is made by the real commands (``distillrl pbt`` / ``distillrl kickstart`` /
``distillrl sweep``) in ``runs/bench/pbt/``; the tables are in ``bench/results/pbt_*.json``.

* ``incompetent``: MinAtar Breakout kickstarted from the zoo teacher *and* a random-weights
  teacher, population 4, every member 500k frames (the frames of one fixed-schedule run), λ'_k,
  λ_shared, lr and entropy cost tuned by the paper's t-test PBT. Compared with the good teacher
  alone at fixed λ = 1 (constant: the best fixed schedule of BENCHMARKS §5) over the same seeds.
* ``fixed``: PBT-kickstart with the good teacher alone against that fixed schedule.
* ``overhead``: wall-clock per frame of a population through Ray ÷ the same trainers run directly
  (four processes, no Ray, no checkpoints); and a sweep of 4 seeds on 2 cores ÷ the same 4 runs
  one after another.

    python bench/bench_pbt.py incompetent fixed --seeds 1 2 3 --steps 500000
    python bench/bench_pbt.py overhead
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_kickstart import random_teacher  # noqa: E402
from cli_runs import zoo5m  # noqa: E402

from distillrl.core.stats import t_interval  # noqa: E402

ROOT = Path("runs/bench/pbt")
RESULTS = Path("bench/results")
EXE = str(Path(sys.executable).with_name("distillrl"))


def sh(cmd: list[str]) -> dict:
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
    s = json.loads(p.stdout.strip().splitlines()[-1])
    s["_wall"] = time.time() - t
    return s


def pbt_yaml(path: Path, teachers: list[str], seed: int, steps: int, population: int, interval: int,
             selection: str = "ttest") -> Path:
    import yaml

    priors = {"lr": {"min": 1e-4, "max": 2e-3, "log": True},
              "ent_coef": {"min": 1e-3, "max": 0.05, "log": True},
              "lambda_shared": {"min": 0.1, "max": 2.0, "log": True}}
    for i in range(len(teachers)):
        priors[f"lambda_{i}"] = {"min": 0.01, "max": 1.0, "log": True}
    doc = {"command": "kickstart", "population": population,
           "config": {"env": "minatar:breakout", "steps": steps, "seed": seed * 100, "eval_episodes": 30,
                      "teacher": teachers, "schedule": "constant"},
           "pbt": {"interval": interval, "selection": selection, "window": 10, "seed": seed, "quantile": 0.25},
           "priors": priors}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_pbt(name: str, teachers: list[str], seed: int, steps: int, population: int, interval: int,
            selection: str = "ttest") -> dict:
    d = ROOT / f"{name}-s{seed}"
    if (d / "summary.json").exists():
        return json.loads((d / "summary.json").read_text())
    cfg = pbt_yaml(ROOT / "configs" / f"{name}-s{seed}.yaml", teachers, seed, steps, population, interval, selection)
    resume = ["--resume"] if (d / "pbt.yaml").exists() else []
    s = sh([EXE, "pbt", "--config", str(cfg), "--run-dir", str(d), *resume, "--no-progress", "--json"])
    print(f"{d}: best {s['best_return']:.2f}, exploits {s['exploits']}, {s['wall_s']:.0f}s", flush=True)
    return s


def run_fixed(seed: int, steps: int) -> dict:
    d = ROOT / f"fixed-constant-s{seed}"
    if (d / "summary.json").exists():
        return json.loads((d / "summary.json").read_text())
    resume = ["--resume"] if (d / "checkpoints/last.safetensors").exists() else []
    s = sh([EXE, "kickstart", "--env", "minatar:breakout", "--teacher", zoo5m("breakout"), "--schedule", "constant",
            "--steps", str(steps), "--seed", str(seed * 100), "--eval-episodes", "30", "--run-dir", str(d), *resume,
            "--no-progress", "--json"])
    print(f"{d}: {s['student_return']:.2f}", flush=True)
    return s


def final_lambdas(exp: Path) -> dict:
    """The best member's final λ'_k and λ_shared (its summary's live hyper-parameters)."""
    s = json.loads((exp / "summary.json").read_text())
    return s.get("best_hparams") or {}


def ci(xs: list[float]) -> list[float]:
    """[lo, hi] of the 95 % t-interval over seeds (:func:`distillrl.core.stats.t_interval`); one
    seed: [mean, mean]. (Results written before this carry ``ci95``/``best_ci95``: 1.96·SEM.)"""
    t = t_interval(xs)
    return [t["mean"]] * 2 if t["n"] < 2 else [t["lo"], t["hi"]]


def quality(parts: list[str], seeds: list[int], steps: int, population: int, interval: int) -> None:
    good = zoo5m("breakout")
    bad = str(random_teacher("breakout").resolve())
    res: dict = {"command": f"python bench/bench_pbt.py {' '.join(parts)} --seeds {' '.join(map(str, seeds))} "
                            f"--steps {steps}",
                 "env": "minatar:breakout", "steps_per_member": steps, "population": population,
                 "interval": interval, "seeds": seeds}
    fixed = [run_fixed(s, steps) for s in seeds]
    res["fixed_constant"] = {"scores": [f["student_return"] for f in fixed],
                             "teacher": [f["teacher_return"] for f in fixed]}
    res["fixed_constant"]["mean"] = float(np.mean(res["fixed_constant"]["scores"]))
    res["fixed_constant"]["t95"] = ci(res["fixed_constant"]["scores"])
    res["interval"] = "95% t-interval over seeds (t95, best_t95)"
    for part in parts:
        teachers = [good, bad] if part.startswith("incompetent") else [good]
        selection = "truncation" if part.endswith("truncation") else "ttest"
        rows = []
        for s in seeds:
            summ = run_pbt(part, teachers, s, steps, population, interval, selection)
            hp = summ.get("best_hparams") or {}
            row = {"seed": s, "best_return": summ["best_return"], "mean_return": summ["mean_return"],
                   "scores": summ["scores"], "exploits": summ["exploits"], "wall_s": summ["wall_s"],
                   "best_hparams": hp, "experiment": summ["experiment"]}
            if part.startswith("incompetent"):
                row["lambda_ratio_random_over_good"] = hp.get("lambda_1", np.nan) / max(hp.get("lambda_0", np.nan), 1e-12)
            rows.append(row)
        best = [r["best_return"] for r in rows]
        out = {"runs": rows, "best_mean": float(np.mean(best)), "best_t95": ci(best), "n": len(best),
               "population_mean": float(np.mean([r["mean_return"] for r in rows])),
               "vs_fixed": float(np.mean(best)) / res["fixed_constant"]["mean"]}
        if part.startswith("incompetent"):
            ratios = [r["lambda_ratio_random_over_good"] for r in rows]
            out["lambda_ratio"] = ratios
            out["lambda_ratio_below_10pct"] = int(sum(x < 0.1 for x in ratios))
        res[part] = out
        print(json.dumps({part: {k: v for k, v in out.items() if k != "runs"}}), flush=True)
    name = "pbt_" + "_".join(parts) + ".json"
    (RESULTS / name).write_text(json.dumps(res, indent=2) + "\n")


# --------------------------------------------------------------------------- overhead


def _direct_member(args: tuple[int, int, int]) -> float:
    """One trainer advanced directly (no Ray, no checkpoints), as a population member would be."""
    seed, steps, interval = args
    import torch

    from distillrl.runs.kinds import build_config, kind

    torch.set_num_threads(1)
    k = kind("kickstart")
    cfg = build_config(k, {"env": "minatar:breakout", "steps": steps, "seed": seed, "teacher": [zoo5m("breakout")],
                           "schedule": "constant", "eval_episodes": 0})
    tr = k.factory(cfg)
    t = time.perf_counter()
    while tr.frames < steps:
        tr.advance(min(interval, steps - tr.frames))
    return time.perf_counter() - t


def overhead(steps: int = 200_000, population: int = 4, interval: int = 25_000) -> None:
    import multiprocessing as mp

    res: dict = {"command": "python bench/bench_pbt.py overhead", "env": "minatar:breakout",
                 "steps_per_member": steps, "population": population, "interval": interval}
    # 1. the same four trainers run directly, all at once (as the population runs them)
    t = time.perf_counter()
    with mp.get_context("spawn").Pool(population) as pool:
        member_walls = pool.map(_direct_member, [(100 + i, steps, interval) for i in range(population)])
    res["direct_wall_s"] = time.perf_counter() - t
    res["direct_member_walls"] = member_walls
    # 2. the population through Ray Tune (PBT, checkpoints at every ready point)
    d = ROOT / "overhead-pbt"
    if d.exists():
        import shutil

        shutil.rmtree(d)
    import yaml

    cfg = ROOT / "configs" / "overhead.yaml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(yaml.safe_dump({"command": "kickstart", "population": population,
                                   "config": {"env": "minatar:breakout", "steps": steps, "seed": 100,
                                              "teacher": [zoo5m("breakout")], "schedule": "constant",
                                              "eval_episodes": 0},
                                   "pbt": {"interval": interval, "selection": "ttest"},
                                   "priors": {"lr": {"min": 1e-4, "max": 2e-3, "log": True},
                                              "lambda_shared": {"min": 0.1, "max": 2.0, "log": True}}}))
    s = sh([EXE, "pbt", "--config", str(cfg), "--run-dir", str(d), "--no-progress", "--json"])
    res["pbt_wall_s"] = s["wall_s"]            # tuner.fit(): trials, checkpoints, exploits
    res["pbt_command_wall_s"] = s["_wall"]     # the whole command: + interpreter, ray.init, validation
    res["pbt_exploits"] = s["exploits"]
    res["ratio_fit"] = s["wall_s"] / res["direct_wall_s"]
    res["ratio_command"] = s["_wall"] / res["direct_wall_s"]
    print(f"population/direct: {res['ratio_fit']:.3f} (fit), {res['ratio_command']:.3f} (whole command)", flush=True)
    # 3. a sweep of 4 seeds on 2 cores against the same 4 runs one after another
    sw = ROOT / "overhead-sweep"
    if sw.exists():
        import shutil

        shutil.rmtree(sw)
    cmd = ["kickstart", "--env", "minatar:breakout", "--teacher", zoo5m("breakout"), "--steps", str(steps // 2),
           "--eval-episodes", "0"]
    s = sh([EXE, "sweep", "--seeds", "1-4", "--run-dir", str(sw), "--no-progress", "--json", "--", *cmd])
    res["sweep_wall_s"] = s["_wall"]
    t = time.perf_counter()
    seq = ROOT / "overhead-sequential"
    if seq.exists():
        import shutil

        shutil.rmtree(seq)
    for i in range(1, 5):
        sh([EXE, *cmd, "--seed", str(i), "--run-dir", str(seq / f"s{i}"), "--no-progress", "--json"])
    res["sequential_wall_s"] = time.perf_counter() - t
    res["sweep_over_sequential"] = res["sweep_wall_s"] / res["sequential_wall_s"]
    print(f"sweep/sequential: {res['sweep_over_sequential']:.3f}", flush=True)
    (RESULTS / "pbt_overhead.json").write_text(json.dumps(res, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parts", nargs="+",
                    choices=["incompetent", "incompetent-truncation", "fixed", "fixed-truncation", "overhead"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--steps", type=int, default=500_000)
    ap.add_argument("--population", type=int, default=4)
    ap.add_argument("--interval", type=int, default=25_000)
    args = ap.parse_args()
    q = [p for p in args.parts if p != "overhead"]
    if q:
        quality(q, args.seeds, args.steps, args.population, args.interval)
    if "overhead" in args.parts:
        overhead()


if __name__ == "__main__":
    main()
