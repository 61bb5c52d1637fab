"""Multi-task figures (issue 9): the five MinAtar games in one agent.

Every run is an ordinary run directory under ``runs/bench/multitask/`` made by the CLI (so
``distillrl report`` reads them too); ``collect`` writes the tables' data to
``bench/results/multitask_<part>.json`` and the plots beside them.

* ``kickstart`` — multi-task PPO on ``minatar:all`` from scratch vs kickstarted by the five
  zoo teachers (one per game, λ_k each), same network, same frames, alternating seeds;
* ``distill`` — the five teachers distilled into one student (teacher-driven, one replay
  buffer per game, each minibatch from one game) at ≤ 1× and ≤ 0.25× the teachers' summed
  parameters;
* ``variants`` — the task-set options side by side at 0.25×: padded inputs vs per-task
  adapters, per-task heads vs one shared full action set;
* ``online`` — online distillation on Breakout: a teacher trains from scratch, its best
  checkpoint so far is continually distilled into a student; both evaluated on the same schedule;
* ``sibling`` — MiniGrid DoorKey (agent's 7×7 view): a 5x5 teacher kickstarts a student on
  a larger DoorKey; from-scratch PPO with the same frames as the baseline.

    python bench/bench_multitask.py kickstart --seeds 1 2 3 --steps 1500000
    python bench/bench_multitask.py distill --seeds 1 2 --steps 2000000
    python bench/bench_multitask.py variants --seeds 1 --steps 1000000
    python bench/bench_multitask.py variants-table
    python bench/bench_multitask.py sibling online --seeds 1 2 3
    python bench/bench_multitask.py collect
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cli_runs import merge_json, run, zoo5m

ROOT = Path("runs/bench/multitask")
OUT = Path("bench/results")
SUITE = "minatar:all"
GAMES = ("asterix", "breakout", "freeway", "seaquest", "space_invaders")
# the five teachers these tables were made with (the first zoo; see cli_runs.zoo5m)
ZOO5M = [a for g in GAMES for a in ("--teacher", f"{g}={zoo5m(g)}")]


# --------------------------------------------------------------------------- runs


def part_kickstart(seeds: list[int], steps: int, envs: int, scratch: bool = True) -> None:
    common = ["--env", SUITE, "--steps", str(steps), "--ppo.num-envs", str(envs), "--eval-episodes", "30",
              "--checkpoint-every", "250000"]
    for s in seeds:
        if scratch:  # the preset's from-scratch baseline (the tuned ones: part_baseline)
            run("train", ROOT / "kickstart" / f"scratch-s{s}", [*common, "--seed", str(s)])
        run("kickstart", ROOT / "kickstart" / f"kickstart-s{s}",
            [*common, "--seed", str(s), *ZOO5M, "--schedule", "linear",
             "--decay-frames", str(steps // 2)])


# From-scratch multi-task baselines tried on tuning seeds (issue 27: a baseline tuned enough not to
# collapse). The preset's multi-task PPO shares one network and one reward scale over games whose
# returns differ ~40× (Freeway ~60, Space Invaders ~400 per episode).
BASELINES = {
    "preset": [],
    "norm-reward": ["--ppo.norm-reward"],  # per-task return scaling (core.reward_scale)
    "norm-reward-lr2e-3": ["--ppo.norm-reward", "--ppo.lr", "0.002"],
    "norm-reward-ent1e-3": ["--ppo.norm-reward", "--ppo.ent-coef", "0.001"],
    # the zoo teachers' own single-task recipe (bench_claims.PPO_RECIPE: lr 5e-3, entropy 1e-4; 8 envs per game)
    "zoo-recipe": ["--ppo.lr", "0.005", "--ppo.ent-coef", "0.0001"],
    "zoo-recipe-norm-reward": ["--ppo.lr", "0.005", "--ppo.ent-coef", "0.0001", "--ppo.norm-reward"],
}


TUNED = "zoo-recipe"
"""the baseline chosen on the tuning seed (101): the best suite score of BASELINES at 1.5M frames"""


def part_baseline(seeds: list[int], steps: int, envs: int, variants: list[str]) -> None:
    """From-scratch multi-task runs with each BASELINES variant (``scratch-<variant>-s<seed>``)."""
    common = ["--env", SUITE, "--steps", str(steps), "--ppo.num-envs", str(envs), "--eval-episodes", "30",
              "--checkpoint-every", "250000"]
    for s in seeds:
        for v in variants:
            run("train", ROOT / "kickstart" / f"scratch-{v}-s{s}", [*common, "--seed", str(s), *BASELINES[v]])


def part_distill(seeds: list[int], steps: int, sizes: list[float], source: str = "teacher",
                 episodes: int = 30) -> None:
    tag = ("" if source == "teacher" else f"-{source}") + ("" if steps == 2_000_000 else f"-{steps / 1e6:g}M")
    for size in sizes:
        for s in seeds:
            run("distill", ROOT / "distill" / f"size{size:g}{tag}-s{s}",
                ["--env", SUITE, *ZOO5M, "--source", source, "--loss", "kl", "--student-size", str(size),
                 "--steps", str(steps), "--seed", str(s), "--num-envs", "20", "--eval-episodes", str(episodes),
                 "--checkpoint-every", "250000"])


def part_curve(seeds: list[int], steps: int, sizes: list[float], eval_every: int, episodes: int) -> None:
    """Issue 27's strong-teacher multi-task distillation: the five *current* zoo teachers
    (``--teacher zoo``) into one student, the same recipe as ``distill``, evaluated every
    ``eval_every`` frames on every game (greedy, the same ``episodes`` reset seeds as the summary's
    and its teachers', 10 000 + seed + i), so each run is a score-vs-frames curve. In process
    (like bench_claims' compression curves); results after every run to
    ``bench/results/multitask_distill_zoo.json`` (finished runs are skipped on a rerun)."""
    import time

    from distillrl.acting.evaluation import evaluate_agent
    from distillrl.algos.distill import DistillTrainer
    from distillrl.algos.distill_config import DistillConfig
    from distillrl.core.stats import geomean
    from distillrl.runs.finish import eval_seed

    out = OUT / "multitask_distill_zoo.json"
    res = json.loads(out.read_text()) if out.exists() else {}
    for size in sizes:
        for s in seeds:
            key = f"{size:g}|{s}|{steps}"
            if key in res:
                continue
            cfg = DistillConfig(teacher=["zoo"], env=SUITE, source="teacher", loss="kl", student_size=size,
                                steps=steps, seed=s, num_envs=20, eval_episodes=episodes)
            tr = DistillTrainer(cfg)
            names, seed0 = tr.taskset.names, eval_seed(cfg)
            teacher = {names[k]: evaluate_agent(t, tr.taskset.specs[k], episodes, seed0, "greedy").mean
                       for k, t in sorted(tr.teacher.teachers.items())}
            curve, wall = [], 0.0
            while tr.frames < steps:
                t0 = time.perf_counter()
                tr.advance(min(eval_every, steps - tr.frames))
                wall += time.perf_counter() - t0
                per = {n: r.mean for n, r in evaluate_agent(tr, SUITE, episodes, seed0, "greedy").per_task.items()}
                ratios = {n: per[n] / teacher[n] for n in names}
                curve.append({"frames": tr.frames, "per_task": per, "ratios": ratios,
                              "geomean_ratio": geomean(list(ratios.values())),
                              "mean_ratio": float(sum(ratios.values()) / len(ratios))})
                print(f"  size {size:g} seed {s}: {tr.frames:,} frames: geomean {curve[-1]['geomean_ratio']:.3f} "
                      + " ".join(f"{n} {v:.2f}" for n, v in ratios.items()), flush=True)
            merge_json(out, {key: {
                "size": size, "seed": s, "steps": steps, "updates": tr.updates, "wall_s": wall,
                "student_params": tr.n_params, "teachers_params": tr.teacher.n_params,
                "param_fraction": tr.n_params / tr.teacher.n_params, "episodes": episodes,
                "teachers": {names[k]: getattr(t, "name", None) for k, t in sorted(tr.teacher.teachers.items())},
                "teacher_returns": teacher, "curve": curve, **curve[-1]}}, indent=1)


def _geomean_at(run: dict, frames: int) -> float:
    """A curve run's suite geomean at the evaluation at ``frames`` (within a rollout's frames), else NaN."""
    pts = [c for c in run["curve"] if c["frames"] <= frames + 1000]
    return pts[-1]["geomean_ratio"] if pts and pts[-1]["frames"] >= frames - 1000 else float("nan")


def curve_table(at: tuple[int, ...] = (1_000_000, 2_000_000, 3_000_000, 4_000_000)) -> dict:
    """The strong-teacher multi-task table (``part_curve``'s runs): per size, each seed's suite
    geomean at ``at`` frames (the evaluation nearest below), a 95 % t-interval over seeds with its
    verdict against ≥ 100 %, each game's mean ratio at the end, and whether the curve has
    flattened: the paired change over the last quarter of the run (from the evaluation at 75 % of
    the frames to the end; an interval that includes 0: flat within the seeds' noise). Writes
    ``multitask_distill_zoo_table.json`` and the curves (``multitask_distill_zoo.png``)."""
    from distillrl.core.stats import fmt, t_interval, verdict

    runs = json.loads((OUT / "multitask_distill_zoo.json").read_text())
    by_size: dict = {}
    for r in runs.values():
        by_size.setdefault(r["size"], []).append(r)
    out: dict = {}
    for size, rs in sorted(by_size.items(), reverse=True):
        rs.sort(key=lambda r: r["seed"])
        row = {"seeds": [r["seed"] for r in rs], "student_params": rs[0]["student_params"],
               "param_fraction": rs[0]["param_fraction"], "steps": rs[0]["steps"]}
        for f in at:
            xs = [100 * _geomean_at(r, f) for r in rs]
            iv = t_interval(xs)
            row[f"geomean_{f // 1000}k"] = {"per_seed": xs, **iv, "verdict": verdict(iv, 100.0)}
        games = list(rs[0]["ratios"])
        row["final_per_game"] = {g: t_interval([100 * r["ratios"][g] for r in rs]) for g in games}
        q = next(i for i, c in enumerate(rs[0]["curve"]) if c["frames"] >= 0.75 * rs[0]["steps"] - 1000)
        last = [100 * (r["curve"][-1]["geomean_ratio"] - r["curve"][q]["geomean_ratio"]) for r in rs]
        row["last_step_change"] = {"frames": [rs[0]["curve"][q]["frames"], rs[0]["curve"][-1]["frames"]],
                                   "per_seed": last, **t_interval(last)}
        row["last_step_change"]["flat"] = verdict(row["last_step_change"]) == "inconclusive"
        out[f"{size:g}"] = row
        print(f"≤ {size:g}× ({row['student_params']:,} params, {row['param_fraction']:.3f}× the teachers' sum), "
              f"n = {len(rs)} seeds {row['seeds']}")
        for f in at:
            g = row[f"geomean_{f // 1000}k"]
            print(f"  {f / 1e6:g}M: geomean {fmt(g, 1, '%')}  per seed "
                  + ", ".join(f"{x:.1f}" for x in g["per_seed"]) + f"  → ≥ 100 %: {g['verdict']}")
        per_game = row["final_per_game"].items()
        print("  final per game: " + ", ".join(f"{g} {fmt(v, 0, '%', False)}" for g, v in per_game))
        c = row["last_step_change"]
        print(f"  change {c['frames'][0] / 1e6:g}M → {c['frames'][1] / 1e6:g}M: {fmt(c, 1, ' pts')} "
              f"({'flat within noise' if c['flat'] else 'still moving'})")
    (OUT / "multitask_distill_zoo_table.json").write_text(json.dumps(out, indent=1) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(by_size), figsize=(5 * len(by_size), 3.8), sharey=True, squeeze=False)
    for ax, (size, rs) in zip(axes[0], sorted(by_size.items(), reverse=True)):
        for r in rs:
            ax.plot([c["frames"] / 1e6 for c in r["curve"]], [100 * c["geomean_ratio"] for c in r["curve"]],
                    marker=".", alpha=0.8, label=f"seed {r['seed']}")
        ax.axhline(100, ls="--", color="k", lw=0.8)
        ax.set_title(f"≤ {size:g}× student ({rs[0]['param_fraction']:.2f}× the teachers' sum)", fontsize=9)
        ax.set_xlabel("frames (all five games), M")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("suite geomean, % of the current zoo's teachers")
    fig.suptitle("Five current zoo teachers distilled into one student (greedy, 30 episodes per game)", fontsize=9)
    fig.tight_layout()
    fig.savefig(OUT / "multitask_distill_zoo.png", dpi=110)
    plt.close(fig)
    return out


VARIANTS = {"pad-heads": [], "adapter-heads": ["--net.task-input", "adapter"],
            "pad-shared": ["--net.task-actions", "shared"]}


def part_variants(seeds: list[int], steps: int) -> None:
    """The two task-set choices side by side: pad vs adapter inputs, per-task heads vs one
    shared full action set (0.25× student, teacher-driven distillation)."""
    for name, flags in VARIANTS.items():
        for s in seeds:
            run("distill", ROOT / "variants" / f"{name}-s{s}",
                ["--env", SUITE, *ZOO5M, "--source", "teacher", "--loss", "kl", "--student-size", "0.25",
                 "--steps", str(steps), "--seed", str(s), "--num-envs", "20", "--eval-episodes", "30",
                 "--checkpoint-every", "250000", *flags])


# --------------------------------------------------------------------------- tables


def variants_table() -> dict:
    """The task-set options at every kept seed: per game and geomean, % of the teacher, mean
    [95 % t-interval over seeds]; each option against the default paired by seed. Writes
    multitask_variants.json (the runs) and prints the markdown tables."""
    from distillrl.core.stats import fmt, paired_difference, t_interval, verdict

    res = collect_distill("variants", "*-s*")
    if not res:
        raise SystemExit("variants-table: no finished runs")
    (OUT / "multitask_variants.json").write_text(json.dumps(res, indent=1))
    print(f"wrote {OUT / 'multitask_variants.json'}\n")

    def seed(r: dict) -> int:
        return int(r["run"].rsplit("-s", 1)[1])

    names = [n for n in VARIANTS if n in res]
    print("| inputs / actions | params (fraction) | seeds | " + " | ".join(g.replace("_", " ") for g in GAMES)
          + " | geomean (per seed) | train wall-clock (median) |")
    print("|---|---|---|" + "---|" * len(GAMES) + "---|---|")
    for n in names:
        rs = res[n]
        cells = []
        for g in GAMES:
            ratios = [100 * t["score_ratio"] for r in rs for t in r["per_task"] if t["name"] == g]
            cells.append(fmt(t_interval(ratios), 0, "%", show_n=False))
        geo = t_interval([100 * r["geomean_ratio"] for r in rs])
        per = ", ".join(f"{100 * r['geomean_ratio']:.1f}" for r in sorted(rs, key=seed))
        wall = sorted(r["wall_s"] for r in rs)[len(rs) // 2]
        label = " / ".join(f"`{x}`" for x in n.split("-"))
        print(f"| {label} | {rs[0]['student_params']:,} ({rs[0]['param_fraction']:.3f}×) | {len(rs)} | "
              + " | ".join(cells) + f" | **{fmt(geo, 1, '%', show_n=False)}** ({per}) | {wall:.0f} s |")
    base = {seed(r): 100 * r["geomean_ratio"] for r in res.get("pad-heads", [])}
    print("\n| option − default (`pad` / `heads`), geomean points, paired by seed | difference | n | verdict |")
    print("|---|---|---|---|")
    for n in names:
        if n == "pad-heads":
            continue
        d = paired_difference({seed(r): 100 * r["geomean_ratio"] for r in res[n]}, base)
        print(f"| {n} | {fmt(d, 1, show_n=False)} | {d['n']} | {verdict(d)} |")
    return res


def keep(d: Path, part: str) -> None:
    """Copy what the tables rest on (config, summary, metrics) to bench/results/multitask/<part>/<run>/,
    where ``distillrl report`` can read it again (runs/ is not in git)."""
    import shutil

    dst = OUT / "multitask" / part / d.name
    dst.mkdir(parents=True, exist_ok=True)
    for f in ("config.yaml", "summary.json", "metrics.csv"):
        if (d / f).exists():
            shutil.copy2(d / f, dst / f)


def kept_runs(part: str, pattern: str = "*") -> Path:
    """Keep this machine's finished ``part`` runs, then return the folder of every kept one: a table
    read from there counts seeds run in another session, whose runs/ is gone."""
    for d in sorted((ROOT / part).glob(pattern)):
        if (d / "summary.json").exists():
            keep(d, part)
    return OUT / "multitask" / part


def _summary(d: Path) -> dict:
    return json.loads((d / "summary.json").read_text())


def _metrics(d: Path) -> list[dict]:
    from distillrl.runs.rundir import read_metrics

    return read_metrics(d)


def _finished(pattern: str, part: str = "kickstart") -> list[Path]:
    """Finished runs named ``pattern`` under runs/bench/multitask/<part>, or their kept copies
    under bench/results/multitask/<part> (runs/ is not in git), one per name."""
    found: dict[str, Path] = {}
    for base in (OUT / "multitask" / part, ROOT / part):  # a fresh run wins over its copy
        for d in base.glob(pattern):
            if (d / "summary.json").exists():
                found[d.name] = d
    return sorted(found.values(), key=lambda p: (len(p.name), p.name))


def collect_kickstart(scratch: str = "scratch-s*", tag: str = "") -> dict:
    """Multi-teacher kickstarting vs the from-scratch baseline named ``scratch`` (a glob), per seed
    and paired by seed. ``tag``: the plot's and the baseline's label."""
    import numpy as np

    def evaluation_seed(d: Path) -> bool:  # seeds ≥ 100 tuned the baseline: never in the comparison
        return int(d.name.rsplit("-s", 1)[1]) < 100

    ks = [d for d in _finished("kickstart-s*") if evaluation_seed(d)]
    sc = [d for d in _finished(scratch) if evaluation_seed(d)]
    if not ks or not sc:
        raise SystemExit(f"collect kickstart: no finished runs for kickstart-s* and {scratch}")
    from distillrl.report.runs import iqm_interval, load_run
    from distillrl.report.tasks import suite_curve, task_teacher_scores

    loaded = {d: load_run(d) for d in ks + sc}
    teacher = task_teacher_scores([loaded[d] for d in ks])
    names = list(teacher)

    def final(d: Path) -> dict:
        per = {r["name"]: r["student_return"] for r in _summary(d)["per_task"]}
        ratios = [per[n] / teacher[n] for n in names]
        from distillrl.core.stats import geomean

        return {"per_task": per, "ratios": dict(zip(names, ratios)), "mean_ratio": float(np.mean(ratios)),
                "geomean_ratio": geomean(ratios)}

    for d in ks + sc:
        if d.is_relative_to(ROOT):
            keep(d, "kickstart")
    runs = {"scratch": {d.name: final(d) for d in sc}, "kickstart": {d.name: final(d) for d in ks}}
    def curve(d: Path) -> tuple[list[int], list[float]]:
        f, s = suite_curve(loaded[d], teacher)
        return f.astype(int).tolist(), s.tolist()

    curves = {g: {d.name: curve(d) for d in ds} for g, ds in (("scratch", sc), ("kickstart", ks))}
    # frames for kickstarting to reach from-scratch's final training suite score (median over seeds)
    scratch_final = float(np.median([c[1][-1] for c in curves["scratch"].values()]))
    budget = max(c[0][-1] for c in curves["scratch"].values())
    reach = {}
    for name, (f, s) in curves["kickstart"].items():
        hit = next((fr for fr, v in zip(f, s) if v >= scratch_final), None)
        reach[name] = hit
    hits = [v for v in reach.values() if v is not None]
    med = float(np.median(hits)) if len(hits) == len(reach) else None
    fin = {g: float(np.mean([r["mean_ratio"] for r in runs[g].values()])) for g in runs}
    fin_geo = {g: float(np.mean([r["geomean_ratio"] for r in runs[g].values()])) for g in runs}
    iqm = {g: {"iqm": p, "ci95": [lo, hi]} for g, (p, lo, hi) in iqm_interval(
        {g: np.array([[r["ratios"][n] for n in names] for r in runs[g].values()]) for g in runs}).items()}
    out = {"teacher_scores": teacher, "runs": runs, "scratch_final_training_suite": scratch_final,
           "budget_frames": budget, "kickstart_frames_to_scratch_final": reach,
           "speedup_median": budget / med if med else None,
           "final_suite_mean_ratio": fin, "final_suite_geomean_ratio": fin_geo,
           "final_gain_mean_ratio": fin["kickstart"] / fin["scratch"] - 1,
           "final_gain_geomean_ratio": fin_geo["kickstart"] / fin_geo["scratch"] - 1, "iqm": iqm,
           "curves": {g: {k: {"frames": v[0], "suite": v[1]} for k, v in c.items()} for g, c in curves.items()}}
    seed = {"kickstart": {d.name.rsplit("-s", 1)[1]: runs["kickstart"][d.name]["mean_ratio"] for d in ks},
            "scratch": {d.name.rsplit("-s", 1)[1]: runs["scratch"][d.name]["mean_ratio"] for d in sc}}
    from distillrl.core.stats import paired_difference, t_interval

    gains = {s: seed["kickstart"][s] / seed["scratch"][s] - 1 for s in seed["kickstart"] if s in seed["scratch"]}
    out.update({"baseline": scratch, "per_seed_suite_mean_ratio": seed,
                "suite_mean_ratio_interval": {g: t_interval(list(v.values())) for g, v in seed.items()},
                "paired_gain": t_interval(list(gains.values())) | {"seeds": sorted(gains, key=int)},
                "paired_difference": paired_difference(seed["kickstart"], seed["scratch"])})
    _plot_suite(curves, scratch_final, OUT / f"multitask_kickstart{tag}.png",
                f"minatar:all — multi-task PPO: from scratch{' (' + tag.strip('_') + ')' if tag else ''} vs "
                "kickstarted (5 teachers)")
    return out


def _plot_suite(curves: dict, line: float | None, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    colors = {"scratch": "tab:gray", "kickstart": "tab:blue"}
    for g, runs in curves.items():
        for i, (f, s) in enumerate(runs.values()):
            ax.plot(f, s, color=colors.get(g, None), alpha=0.8, label=g if i == 0 else None)
    if line is not None:
        ax.axhline(line, ls="--", color="k", lw=0.8, label="from scratch, final (median)")
    ax.set_xlabel("frames (all tasks)")
    ax.set_ylabel("suite score: mean over games of return ÷ teacher")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def collect_distill(part: str = "distill", pattern: str = "size*-s*") -> dict:
    out: dict = {}
    for d in sorted(_finished(pattern, part), key=lambda p: p.name):
        s = _summary(d)
        if d.is_relative_to(ROOT):
            keep(d, part)
        size = d.name.rsplit("-s", 1)[0]
        out.setdefault(size, []).append({
            "run": d.name, "student_params": s["student_params"], "teachers_params": s["teacher_params"],
            "param_fraction": s["param_fraction"], "geomean_ratio": s.get("geomean_ratio"),
            "mean_ratio": s.get("mean_ratio"), "steps": s["steps"], "wall_s": s["wall_s"],
            "per_task": [{k: r[k] for k in ("name", "student_return", "teacher_return", "score_ratio")}
                         for r in s["per_task"]]})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parts", nargs="+", choices=["kickstart", "baseline", "distill", "curve", "curve-table",
                                               "variants", "online", "sibling", "collect", "online-table",
                                               "sibling-table", "variants-table"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--steps", type=int, default=None, help="frame budget of the part (default per part)")
    ap.add_argument("--envs", type=int, default=40, help="kickstart: parallel envs (8 per game)")
    ap.add_argument("--no-scratch", action="store_true", help="kickstart: the kickstarted runs only")
    ap.add_argument("--variants", nargs="+", default=list(BASELINES), choices=list(BASELINES),
                    help="baseline: from-scratch variants to run")
    ap.add_argument("--sizes", type=float, nargs="+", default=[1.0, 0.25],
                    help="distill: student size as a fraction of the teachers' summed parameters")
    ap.add_argument("--source", default="teacher", help="distill: where states come from (teacher, student, ...)")
    ap.add_argument("--episodes", type=int, default=30, help="distill, curve: evaluation episodes per game")
    ap.add_argument("--eval-every", type=int, default=500_000, help="curve: frames between evaluations")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for part in args.parts:
        if part == "kickstart":
            part_kickstart(args.seeds, args.steps or 1_500_000, args.envs, not args.no_scratch)
        elif part == "baseline":
            part_baseline(args.seeds, args.steps or 1_500_000, args.envs, args.variants)
        elif part == "distill":
            part_distill(args.seeds, args.steps or 2_000_000, args.sizes, args.source, args.episodes)
        elif part == "curve":
            part_curve(args.seeds, args.steps or 4_000_000, args.sizes, args.eval_every, args.episodes)
        elif part == "curve-table":
            curve_table()
        elif part == "variants":
            part_variants(args.seeds, args.steps or 1_000_000)
        elif part == "online":
            part_online(args.seeds, args.steps or 1_000_000)
        elif part == "sibling":
            part_sibling(args.seeds, args.steps)
        elif part == "variants-table":
            variants_table()
        elif part in ("online-table", "sibling-table"):  # one part's table alone, from every kept run
            name = part.removesuffix("-table")
            res = {"online": collect_online, "sibling": collect_sibling}[name]()
            (OUT / f"multitask_{name}.json").write_text(json.dumps(res, indent=1))
            print(f"wrote {OUT / f'multitask_{name}.json'}")
        elif part == "collect":
            for name, fn in (("kickstart", collect_kickstart),
                             ("kickstart_tuned", lambda: collect_kickstart(f"scratch-{TUNED}-s*", "_tuned")),
                             ("distill", collect_distill),
                             ("variants", lambda: collect_distill("variants", "*-s*")),
                             ("online", collect_online), ("sibling", collect_sibling)):
                try:
                    res = fn()
                except SystemExit as e:
                    print(e)
                    continue
                if res:
                    (OUT / f"multitask_{name}.json").write_text(json.dumps(res, indent=1))
                    print(f"wrote {OUT / f'multitask_{name}.json'}")


# --------------------------------------------------------------------------- online distillation

ONLINE_ENV = "minatar:breakout"


def part_online(seeds: list[int], steps: int) -> None:
    for s in seeds:
        run("train", ROOT / "online" / f"online-s{s}",
            ["--env", ONLINE_ENV, "--steps", str(steps), "--seed", str(s), "--online-distill",
             "--online.eval-every", "50000", "--online.eval-episodes", "10", "--online.student-ratio", "0.5",
             "--eval-episodes", "30", "--checkpoint-every", "250000"])


def collect_online() -> dict:
    import numpy as np

    dirs = [d for d in sorted(kept_runs("online", "online-s*").glob("online-s*")) if (d / "summary.json").exists()]
    if not dirs:
        raise SystemExit("collect online: no finished runs")
    curves = {}
    for d in dirs:
        rows = [r for r in _metrics(d) if r.get("online/teacher_eval") is not None
                and r.get("online/teacher_eval") == r.get("online/teacher_eval")]
        curves[d.name] = {k: [float(r[f"online/{k}"]) if r.get(f"online/{k}") is not None else float("nan")
                              for r in rows] for k in ("teacher_eval", "best_eval", "student_eval")}
        curves[d.name]["frames"] = [int(r["frames"]) for r in rows]
    n = min(len(c["frames"]) for c in curves.values())
    frames = list(curves.values())[0]["frames"][:n]
    arr = {k: np.array([c[k][:n] for c in curves.values()], float) for k in ("teacher_eval", "best_eval", "student_eval")}

    def steadiness(x):  # mean |change| between consecutive evaluations (per run, then averaged)
        return float(np.nanmean(np.abs(np.diff(x, axis=1))))

    spread = {k: float(np.nanmean(np.nanstd(v, axis=0, ddof=1))) for k, v in arr.items()}
    finals = {d.name: {k: _summary(d)[k] for k in ("teacher_return", "best_return", "student_return", "score_ratio",
                                                    "online_best_frames", "student_frames")} for d in dirs}
    out = {"env": ONLINE_ENV, "frames": frames, "curves": curves, "finals": finals,
           "seed_spread_mean_std": spread,
           "steadiness_mean_abs_change": {k: steadiness(v) for k, v in arr.items()},
           "mean_curve": {k: np.nanmean(v, 0).tolist() for k, v in arr.items()},
           "std_curve": {k: np.nanstd(v, 0, ddof=1).tolist() for k, v in arr.items()}}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import warnings

    warnings.simplefilter("ignore", RuntimeWarning)  # the student has no score at the first point
    fig, ax = plt.subplots(figsize=(7, 4))
    f = np.array(frames)
    for k, c, lab in (("teacher_eval", "tab:gray", "teacher (as it trains)"),
                      ("best_eval", "tab:orange", "best checkpoint so far"),
                      ("student_eval", "tab:blue", "online-distilled student")):
        m, sd = np.nanmean(arr[k], 0), np.nanstd(arr[k], 0, ddof=1)
        ax.plot(f, m, color=c, label=lab)
        ax.fill_between(f, m - sd, m + sd, color=c, alpha=0.2)
    ax.set_xlabel("teacher frames")
    ax.set_ylabel("greedy return (10 episodes), mean ± sd over seeds")
    ax.set_title(f"online distillation, {ONLINE_ENV}, {len(dirs)} seeds", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "multitask_online.png", dpi=110)
    plt.close(fig)
    return out


# --------------------------------------------------------------------------- sparse sibling

SMALL = "minigrid:MiniGrid-DoorKey-5x5-v0?view=agent"
LARGE = "minigrid:MiniGrid-DoorKey-16x16-v0?view=agent"


def part_sibling(seeds: list[int], steps: int | None) -> None:
    steps = steps or 1_000_000
    teacher = ROOT / "sibling" / "teacher-5x5"
    run("train", teacher, ["--env", SMALL, "--steps", "300000", "--seed", "1", "--eval-episodes", "100"])
    common = ["--env", LARGE, "--steps", str(steps), "--eval-episodes", "100", "--checkpoint-every", "250000"]
    for s in seeds:
        run("train", ROOT / "sibling" / f"scratch-s{s}", [*common, "--seed", str(s)])
        run("kickstart", ROOT / "sibling" / f"kickstart-s{s}",
            [*common, "--seed", str(s), "--teacher", str(teacher), "--schedule", "linear",
             "--decay-frames", str(steps // 2)])


def collect_sibling() -> dict:
    base = kept_runs("sibling")
    if not (base / "teacher-5x5" / "summary.json").exists():
        raise SystemExit("collect sibling: no teacher")
    out: dict = {"small": SMALL, "large": LARGE, "teacher": _summary(base / "teacher-5x5"), "groups": {}}
    curves = {}
    for g in ("scratch", "kickstart"):
        runs = {}
        for d in sorted(base.glob(f"{g}-s*")):
            if not (d / "summary.json").exists():
                continue
            s = _summary(d)
            rows = _metrics(d)
            # a full 100-episode window: early windows hold only the short (successful) episodes
            first = next((int(r["frames"]) for r in rows if (r.get("charts/episodes") or 0) >= 100
                          and (r.get("charts/return_recent") or 0) > 0.5), None)
            runs[d.name] = {"success_rate": s.get("success_rate"), "mean_return": s.get("mean_return"),
                            "steps": s["steps"], "frames_to_training_return_0.5": first,
                            "teacher_success_rate_on_large": s.get("teacher_success_rate")}
            curves[(g, d.name)] = ([int(r["frames"]) for r in rows], [r.get("charts/return_recent") for r in rows])
        solved = [r for r in runs.values() if (r["success_rate"] or 0) >= 0.9]
        out["groups"][g] = {"runs": runs, "solved": len(solved), "seeds": len(runs)}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    for i, ((g, name), (f, r)) in enumerate(curves.items()):
        ax.plot(f, [float("nan") if v is None else v for v in r], color="tab:blue" if g == "kickstart" else "tab:gray",
                alpha=0.8, label=g if name.endswith("s1") else None)
    ax.set_xlabel("frames")
    ax.set_ylabel("training return (last 100 episodes)")
    ax.set_title("DoorKey-16x16 (agent view): kickstarted by a DoorKey-5x5 teacher vs from scratch", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "multitask_sibling.png", dpi=110)
    plt.close(fig)
    return out


if __name__ == "__main__":
    main()
