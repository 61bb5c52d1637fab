"""Population-based training figures (issue: PBT on Ray Tune).

Every experiment is made by the real commands (``distillrl pbt`` / ``distillrl kickstart`` /
``distillrl sweep``) in ``runs/bench/pbt/``; the tables are in ``bench/results/pbt_*.json``.

* ``incompetent``: MinAtar Breakout kickstarted from the zoo teacher *and* a random-weights
  teacher, population 4, every member 500k frames (the frames of one fixed-schedule run), λ'_k,
  λ_shared, lr and entropy cost tuned by the paper's t-test PBT. Compared with the good teacher
  alone at fixed λ = 1 (constant: the best fixed schedule of BENCHMARKS §5) over the same seeds.
* ``fixed``: PBT-kickstart with the good teacher alone against that fixed schedule.
* ``matched``: the incompetent-teacher population against fixed schedules at equal total frames
  (the same population with no selection: N fixed runs at F; the good teacher alone at F and at
  N·F), the best member chosen on selection episodes apart from the reported evaluation.
* ``overhead``: wall-clock of a population through Ray ÷ the same trainers run directly
  (four processes, no Ray, no checkpoints); and a sweep of 4 seeds on 2 cores ÷ the same 4 runs
  one after another, and ÷ the same 4 runs two at a time from plain shells (no Ray).

    python bench/bench_pbt.py incompetent fixed --seeds 1 2 3 --steps 500000
    python bench/bench_pbt.py matched --hurt --seeds 1 2 3 4 5 6 7 8 9 10   # at equal total frames
    python bench/bench_pbt.py matched-table --hurt                           # its tables, from the JSON
    python bench/bench_pbt.py overhead --repeats 2                    # 200k-frame members, 100k-frame sweep runs
    python bench/bench_pbt.py overhead --steps 600000 --sweep-steps 300000 --out pbt_overhead_long.json
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_kickstart import random_teacher  # noqa: E402
from cli_runs import zoo5m  # noqa: E402

from distillrl.core.stats import paired_difference, t_interval, verdict  # noqa: E402

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
             selection: str = "ttest", window: int = 10, hurt: bool = False, select_episodes: int = 0) -> Path:
    import yaml

    priors = {"lr": {"min": 1e-4, "max": 2e-3, "log": True},
              "ent_coef": {"min": 1e-3, "max": 0.05, "log": True},
              "lambda_shared": {"min": 0.1, "max": 2.0, "log": True}}
    for i in range(len(teachers)):
        priors[f"lambda_{i}"] = {"min": 0.01, "max": 1.0, "log": True}
    if hurt:  # members start where the random teacher hurts: λ'_k drawn uniformly (median 0.5), and
        # λ_shared kept ≥ 0.5, so lowering it for both teachers cannot hide the harm; only
        # separating the teachers' λ'_k can (the clip range of λ'_k still reaches 0.01)
        priors["lambda_shared"] = {"min": 0.5, "max": 2.0, "log": True}
        for i in range(len(teachers)):
            priors[f"lambda_{i}"] = {"min": 0.01, "max": 1.0, "log": False}
    doc = {"command": "kickstart", "population": population,
           "config": {"env": "minatar:breakout", "steps": steps, "seed": seed * 100, "eval_episodes": 30,
                      "teacher": teachers, "schedule": "constant"},
           "pbt": {"interval": interval, "selection": selection, "window": window, "seed": seed, "quantile": 0.25,
                   **({"select_episodes": select_episodes} if select_episodes else {})},
           "priors": priors}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_pbt(name: str, teachers: list[str], seed: int, steps: int, population: int, interval: int,
            selection: str = "ttest", window: int = 10, hurt: bool = False, select_episodes: int = 0) -> dict:
    name = name if window == 10 else f"{name}-w{window}"  # the t-test's window of recent episodes
    name = f"{name}-hurt" if hurt else name
    name = f"{name}-sel{select_episodes}" if select_episodes else name
    d = ROOT / f"{name}-s{seed}"
    if (d / "summary.json").exists():
        return json.loads((d / "summary.json").read_text())
    cfg = pbt_yaml(ROOT / "configs" / f"{name}-s{seed}.yaml", teachers, seed, steps, population, interval, selection,
                   window, hurt, select_episodes)
    resume = ["--resume"] if (d / "pbt.yaml").exists() else []
    s = sh([EXE, "pbt", "--config", str(cfg), "--run-dir", str(d), *resume, "--no-progress", "--json"])
    print(f"{d}: best {s['best_return']:.2f}, exploits {s['exploits']}, {s['wall_s']:.0f}s", flush=True)
    return s


def run_fixed(seed: int, steps: int, name: str = "fixed-constant") -> dict:
    d = ROOT / f"{name}-s{seed}"
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


def lambda_ratio(hp: dict) -> float:
    """λ'_random ÷ λ'_good of a member's hyper-parameters (teacher 0 good, teacher 1 random)."""
    return hp.get("lambda_1", np.nan) / max(hp.get("lambda_0", np.nan), 1e-12)


def ci(xs: list[float]) -> list[float]:
    """[lo, hi] of the 95 % t-interval over seeds (:func:`distillrl.core.stats.t_interval`); one
    seed: [mean, mean]. (Results written before this carry ``ci95``/``best_ci95``: 1.96·SEM.)"""
    t = t_interval(xs)
    return [t["mean"]] * 2 if t["n"] < 2 else [t["lo"], t["hi"]]


def quality(parts: list[str], seeds: list[int], steps: int, population: int, interval: int, window: int = 10,
            hurt: bool = False) -> None:
    good = zoo5m("breakout")
    bad = str(random_teacher("breakout").resolve())
    res: dict = {"command": f"python bench/bench_pbt.py {' '.join(parts)} --seeds {' '.join(map(str, seeds))} "
                            f"--steps {steps}" + (f" --window {window}" if window != 10 else "")
                            + (" --hurt" if hurt else ""),
                 "env": "minatar:breakout", "steps_per_member": steps, "population": population,
                 "interval": interval, "seeds": seeds, "window": window, "hurt_priors": hurt}
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
            summ = run_pbt(part, teachers, s, steps, population, interval, selection, window, hurt)
            hp = summ.get("best_hparams") or {}
            row = {"seed": s, "best_return": summ["best_return"], "mean_return": summ["mean_return"],
                   "scores": summ["scores"], "exploits": summ["exploits"], "wall_s": summ["wall_s"],
                   "best_hparams": hp, "experiment": summ["experiment"]}
            if part.startswith("incompetent"):
                row["lambda_ratio_random_over_good"] = lambda_ratio(hp)
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
    name = "pbt_" + "_".join(parts) + (f"_w{window}" if window != 10 else "") + ("_hurt" if hurt else "") + ".json"
    (RESULTS / name).write_text(json.dumps(res, indent=2) + "\n")


def matched(seeds: list[int], steps: int, population: int, interval: int, window: int, hurt: bool,
            select_episodes: int, long_seeds: list[int] | None = None) -> None:
    """The incompetent-teacher population against fixed schedules at equal total frames, seed by
    seed: the population with the paper's t-test rule; the same population with ``selection:
    none`` (the same members, seeds and initial draws, nobody copies: N fixed-hyper-parameter runs
    at F frames); the good teacher alone at fixed λ = 1 (constant) for F frames and for N·F frames.
    Both populations choose their best member on ``select_episodes`` episodes apart from the 30
    evaluation episodes it is reported on; ``long_seeds`` (default: all) are the seeds that also
    get the N·F-frame run. Results are rewritten after every seed."""
    good = zoo5m("breakout")
    bad = str(random_teacher("breakout").resolve())
    total = steps * population
    tag = ("-hurt" if hurt else "") + (f"-w{window}" if window != 10 else "")
    out_name = f"pbt_matched{tag.replace('-', '_')}.json"
    res: dict = {"command": f"python bench/bench_pbt.py matched --seeds {' '.join(map(str, seeds))} --steps {steps} "
                            f"--select-episodes {select_episodes}" + (f" --window {window}" if window != 10 else "")
                            + (f" --long-seeds {' '.join(map(str, long_seeds))}" if long_seeds else "")
                            + (" --hurt" if hurt else ""),
                 "env": "minatar:breakout", "steps_per_member": steps, "population": population, "interval": interval,
                 "window": window, "hurt_priors": hurt, "select_episodes": select_episodes, "eval_episodes": 30,
                 "long_fixed_steps": total, "interval_kind": "95% t-interval over seeds; paired by seed", "rows": []}
    for s in seeds:
        pbt = run_pbt("incompetent", [good, bad], s, steps, population, interval, "ttest", window, hurt,
                      select_episodes)
        none = run_pbt("incompetent-none", [good, bad], s, steps, population, interval, "none", window, hurt,
                       select_episodes)
        fixed = run_fixed(s, steps)
        long = run_fixed(s, total, f"fixed-constant-{total // 1000}k") if long_seeds is None or s in long_seeds else {}
        row = {"seed": s, "fixed": fixed["student_return"], "fixed_long": long.get("student_return", math.nan),
               "teacher": fixed["teacher_return"]}
        for key, summ in (("pbt", pbt), ("none", none)):
            hp = summ.get("best_hparams") or {}
            row[key] = {"best": summ["best_return"], "best_member": summ["best_member"],
                        "best_on_eval": summ.get("best_score_on_eval"), "member_on_eval": summ.get("best_member_on_eval"),
                        "scores": summ["scores"], "select_scores": summ.get("select_scores"),
                        "population_mean": summ["mean_return"], "exploits": summ["exploits"],
                        "best_hparams": hp, "experiment": summ["experiment"],
                        "lambda_ratio": lambda_ratio(hp),
                        "effective_random": hp.get("lambda_shared", np.nan) * hp.get("lambda_1", np.nan)}
        res["rows"].append(row)
        rows = res["rows"]
        col = {"pbt": [r["pbt"]["best"] for r in rows], "none": [r["none"]["best"] for r in rows],
               "pbt_on_eval": [r["pbt"]["best_on_eval"] for r in rows],
               "pbt_population_mean": [r["pbt"]["population_mean"] for r in rows],
               "none_population_mean": [r["none"]["population_mean"] for r in rows],
               "fixed": [r["fixed"] for r in rows], "fixed_long": [r["fixed_long"] for r in rows]}
        res["n"] = len(rows)
        res["scores"] = {k: t_interval(v) for k, v in col.items()}
        res["pbt_minus_none"] = paired_difference(col["pbt"], col["none"])
        res["pbt_minus_none_population_mean"] = paired_difference(col["pbt_population_mean"],
                                                                  col["none_population_mean"])
        has_long = [i for i, r in enumerate(rows) if math.isfinite(r["fixed_long"])]
        res["pbt_minus_fixed_long"] = paired_difference([col["pbt"][i] for i in has_long],
                                                        [col["fixed_long"][i] for i in has_long])
        res["pbt_over_fixed"] = t_interval([a / b for a, b in zip(col["pbt"], col["fixed"])])
        res["pbt_over_fixed_verdict_0.95"] = verdict(res["pbt_over_fixed"], 0.95)
        res["selection_bias"] = paired_difference(col["pbt_on_eval"], col["pbt"])
        for key in ("pbt", "none"):
            ratios = [r[key]["lambda_ratio"] for r in rows]
            res[f"{key}_lambda_below_10pct"] = int(sum(x < 0.1 for x in ratios))
        (RESULTS / out_name).write_text(json.dumps(res, indent=2) + "\n")
        plot_matched(res, RESULTS / out_name.replace(".json", ".png"))
        print(f"seed {s}: PBT {row['pbt']['best']:.2f} (λ'_random/λ'_good {row['pbt']['lambda_ratio']:.3f}, "
              f"{row['pbt']['exploits']} exploits), no selection {row['none']['best']:.2f}, fixed {row['fixed']:.2f}, "
              f"fixed {total // 1000}k {row['fixed_long']:.2f}", flush=True)


def plot_matched(res: dict, path: Path) -> None:
    """Per-seed final scores of the four arms (mean and 95 % t-interval beside them), and the
    best member's λ'_random ÷ λ'_good with and without selection."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = res["rows"]
    k = res["population"]
    arms = [("PBT (t-test)", [r["pbt"]["best"] for r in rows]),
            ("no selection\n(same draws)", [r["none"]["best"] for r in rows]),
            ("good teacher alone\nλ = 1, F frames", [r["fixed"] for r in rows]),
            (f"good teacher alone\nλ = 1, {k}·F frames", [r["fixed_long"] for r in rows])]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2.2, 1]})
    for i, (name, xs) in enumerate(arms):
        a.scatter(np.full(len(xs), i) + np.linspace(-0.12, 0.12, len(xs)), xs, s=14, alpha=0.7)
        t = t_interval(xs)
        if t["n"] >= 2:
            a.errorbar(i + 0.3, t["mean"], yerr=[[t["mean"] - t["lo"]], [t["hi"] - t["mean"]]], fmt="o", c="k",
                       capsize=4)
    a.set_xticks(range(len(arms)), [n for n, _ in arms], fontsize=8)
    a.set_ylabel("final greedy score (30 evaluation episodes)")
    a.set_title(f"Breakout, zoo teacher + random teacher; n = {len(rows)} seeds; F = {res['steps_per_member']:,}",
                fontsize=9)
    for j, key in enumerate(("pbt", "none")):
        xs = [r[key]["lambda_ratio"] for r in rows]
        b.scatter(np.full(len(xs), j) + np.linspace(-0.12, 0.12, len(xs)), xs, s=14)
    b.axhline(0.1, ls="--", c="grey", lw=1)
    b.set_yscale("log")
    b.set_xticks([0, 1], ["PBT (t-test)", "no selection"], fontsize=8)
    b.set_ylabel("best member's λ'_random ÷ λ'_good")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table_matched(name: str = "pbt_matched_hurt.json") -> None:
    """Print BENCHMARKS §7's tables for ``matched`` from its result file (trains nothing)."""
    from distillrl.core.stats import fmt

    res = json.loads((RESULTS / name).read_text())
    k, f = res["population"], res["steps_per_member"]
    print(f"| seed | PBT (t-test): best member | exploits | λ'_random ÷ λ'_good | no selection: best member | "
          f"good teacher alone, λ = 1, {f // 1000}k | same, {k * f // 1000}k |")
    print("|---|---|---|---|---|---|---|")
    for r in sorted(res["rows"], key=lambda r: r["seed"]):
        long = "—" if not math.isfinite(r["fixed_long"]) else f"{r['fixed_long']:.2f}"
        print(f"| {r['seed']} | {r['pbt']['best']:.2f} | {r['pbt']['exploits']} | {r['pbt']['lambda_ratio']:.3f} | "
              f"{r['none']['best']:.2f} ({r['none']['lambda_ratio']:.2f}) | {r['fixed']:.2f} | {long} |")
    sc = res["scores"]
    print()
    for key, label in (("pbt", "PBT, best member"), ("none", "no selection, best member"),
                       ("pbt_population_mean", "PBT, population mean"),
                       ("none_population_mean", "no selection, population mean"),
                       ("fixed", f"good teacher alone, {f // 1000}k"), ("fixed_long", f"good teacher alone, {k * f // 1000}k"),
                       ("pbt_on_eval", "PBT, best member chosen on its evaluation episodes")):
        print(f"- {label}: {fmt(sc[key], 2)}")
    print(f"- PBT − no selection (paired): {fmt(res['pbt_minus_none'], 2)}")
    if "pbt_minus_none_population_mean" in res:
        print(f"- PBT − no selection, population means (paired): {fmt(res['pbt_minus_none_population_mean'], 2)}")
    print(f"- PBT − good teacher alone at {k}·F (paired): {fmt(res['pbt_minus_fixed_long'], 2)}")
    print(f"- PBT ÷ good teacher alone at F: {fmt(res['pbt_over_fixed'], 3)} → within 5 %: "
          f"{res['pbt_over_fixed_verdict_0.95']}")
    print(f"- chosen on evaluation − chosen on selection episodes (the bias): {fmt(res['selection_bias'], 2)}")
    print(f"- λ'_random < 0.1·λ'_good: PBT {res['pbt_lambda_below_10pct']}/{res['n']}, "
          f"no selection {res['none_lambda_below_10pct']}/{res['n']}")


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


def _fresh(d: Path) -> Path:
    if d.exists():
        shutil.rmtree(d)
    return d


def _pbt_once(steps: int, population: int, interval: int) -> dict:
    import yaml

    d = _fresh(ROOT / "overhead-pbt")
    cfg = ROOT / "configs" / "overhead.yaml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(yaml.safe_dump({"command": "kickstart", "population": population,
                                   "config": {"env": "minatar:breakout", "steps": steps, "seed": 100,
                                              "teacher": [zoo5m("breakout")], "schedule": "constant",
                                              "eval_episodes": 0},
                                   "pbt": {"interval": interval, "selection": "ttest"},
                                   "priors": {"lr": {"min": 1e-4, "max": 2e-3, "log": True},
                                              "lambda_shared": {"min": 0.1, "max": 2.0, "log": True}}}))
    return sh([EXE, "pbt", "--config", str(cfg), "--run-dir", str(d), "--no-progress", "--json"])


def _sweep_runs(steps: int) -> list[str]:
    return ["kickstart", "--env", "minatar:breakout", "--teacher", zoo5m("breakout"), "--steps", str(steps),
            "--eval-episodes", "0"]


def _two_streams(cmd: list[str], root: Path) -> float:
    """The 4 runs as two plain shells would run them on 2 cores: two processes at a time, no Ray."""
    t = time.perf_counter()
    procs = []
    for pair in ((1, 3), (2, 4)):
        script = " && ".join(shlex.join([EXE, *cmd, "--seed", str(i), "--run-dir", str(root / f"s{i}"),
                                         "--no-progress", "--json"]) + " >/dev/null" for i in pair)
        procs.append(subprocess.Popen(["bash", "-c", script]))
    if any(p.wait() for p in procs):
        raise SystemExit("a run of the two-streams reference failed")
    return time.perf_counter() - t


def overhead(steps: int = 200_000, population: int = 4, interval: int = 25_000, sweep_steps: int | None = None,
             repeats: int = 1, out: str = "pbt_overhead.json") -> None:
    """PBT: the population through Ray ÷ the same trainers advanced directly (4 processes at once,
    no Ray, no checkpoints). Sweep: ``distillrl sweep --seeds 1-4`` (2 at once) ÷ the same 4 runs
    one after another, and ÷ the same 4 runs as two plain shells at once (the floor of 2 cores
    without Ray). ``repeats`` alternate all of them; ratios are per repeat."""
    import multiprocessing as mp

    sweep_steps = sweep_steps or steps // 2
    res: dict = {"command": f"python bench/bench_pbt.py overhead --steps {steps} --sweep-steps {sweep_steps} "
                            f"--repeats {repeats}" + (f" --out {out}" if out != "pbt_overhead.json" else ""),
                 "env": "minatar:breakout", "steps_per_member": steps, "population": population,
                 "interval": interval, "sweep_steps_per_run": sweep_steps, "repeats": []}
    cmd = _sweep_runs(sweep_steps)
    for rep in range(repeats):
        r: dict = {}
        # 1. the same four trainers run directly, all at once (as the population runs them)
        t = time.perf_counter()
        with mp.get_context("spawn").Pool(population) as pool:
            r["direct_member_walls"] = pool.map(_direct_member, [(100 + i, steps, interval) for i in range(population)])
        r["direct_wall_s"] = time.perf_counter() - t
        # 2. the population through Ray Tune (PBT, checkpoints at every ready point)
        s = _pbt_once(steps, population, interval)
        r["pbt_wall_s"], r["pbt_command_wall_s"], r["pbt_exploits"] = s["wall_s"], s["_wall"], s["exploits"]
        r["ratio_fit"] = s["wall_s"] / r["direct_wall_s"]        # tuner.fit(): trials, checkpoints, exploits
        r["ratio_command"] = s["_wall"] / r["direct_wall_s"]     # + interpreter, imports, ray.init, checks, shutdown
        # 3. a sweep of 4 seeds on 2 cores, the same 4 runs one after another, and two at a time without Ray
        s = sh([EXE, "sweep", "--seeds", "1-4", "--run-dir", str(_fresh(ROOT / "overhead-sweep")), "--no-progress",
                "--json", "--", *cmd])
        r["sweep_wall_s"], r["sweep_fit_s"] = s["_wall"], s["wall_s"]
        seq = _fresh(ROOT / "overhead-sequential")
        t = time.perf_counter()
        for i in range(1, 5):
            sh([EXE, *cmd, "--seed", str(i), "--run-dir", str(seq / f"s{i}"), "--no-progress", "--json"])
        r["sequential_wall_s"] = time.perf_counter() - t
        r["two_streams_wall_s"] = _two_streams(cmd, _fresh(ROOT / "overhead-two-streams"))
        r["sweep_over_sequential"] = r["sweep_wall_s"] / r["sequential_wall_s"]
        r["two_streams_over_sequential"] = r["two_streams_wall_s"] / r["sequential_wall_s"]
        r["sweep_over_two_streams"] = r["sweep_wall_s"] / r["two_streams_wall_s"]
        print(f"repeat {rep + 1}: population/direct {r['ratio_fit']:.3f} (fit), {r['ratio_command']:.3f} (command); "
              f"sweep/sequential {r['sweep_over_sequential']:.3f}, two streams/sequential "
              f"{r['two_streams_over_sequential']:.3f}, sweep/two streams {r['sweep_over_two_streams']:.3f}", flush=True)
        res["repeats"].append(r)
    for k in ("ratio_fit", "ratio_command", "sweep_over_sequential", "two_streams_over_sequential",
              "sweep_over_two_streams"):
        vals = [r[k] for r in res["repeats"]]
        res[k] = float(np.mean(vals))
        res[k + "_interval"] = t_interval(vals)
    for k in ("direct_wall_s", "pbt_wall_s", "pbt_command_wall_s", "sweep_wall_s", "sequential_wall_s",
              "two_streams_wall_s", "pbt_exploits"):
        res[k] = float(np.median([r[k] for r in res["repeats"]]))
    (RESULTS / out).write_text(json.dumps(res, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parts", nargs="+",
                    choices=["incompetent", "incompetent-truncation", "fixed", "fixed-truncation", "matched",
                             "matched-table", "overhead"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--steps", type=int, default=None,
                    help="frames per member (default: 500k for the quality parts, 200k for overhead)")
    ap.add_argument("--population", type=int, default=4)
    ap.add_argument("--interval", type=int, default=25_000)
    ap.add_argument("--window", type=int, default=10, help="quality parts: the t-test's window of recent episodes")
    ap.add_argument("--hurt", action="store_true",
                    help="quality parts: priors where the random teacher hurts (λ'_k uniform, λ_shared ≥ 0.5)")
    ap.add_argument("--select-episodes", type=int, default=30,
                    help="matched: episodes each member plays apart from its evaluation to choose the best on")
    ap.add_argument("--long-seeds", type=int, nargs="+", default=None,
                    help="matched: the seeds that also get the good teacher's N·F-frame run (default: all)")
    ap.add_argument("--sweep-steps", type=int, default=None, help="overhead: frames per sweep run (default: --steps/2)")
    ap.add_argument("--repeats", type=int, default=1, help="overhead: alternating repeats")
    ap.add_argument("--out", default="pbt_overhead.json", help="overhead: result file in bench/results/")
    args = ap.parse_args()
    if "matched" in args.parts:
        matched(args.seeds, args.steps or 500_000, args.population, args.interval, args.window, args.hurt,
                args.select_episodes, args.long_seeds)
    if "matched-table" in args.parts:
        table_matched("pbt_matched_hurt.json" if args.hurt else "pbt_matched.json")
    q = [p for p in args.parts if p not in ("overhead", "matched", "matched-table")]
    if q:
        quality(q, args.seeds, args.steps or 500_000, args.population, args.interval, args.window, args.hurt)
    if "overhead" in args.parts:
        overhead(args.steps or 200_000, args.population, args.interval, args.sweep_steps,
                 args.repeats, args.out)


if __name__ == "__main__":
    main()
