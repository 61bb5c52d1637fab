"""Offline multi-task distillation with transformers (issue 13, seed 004).

* ``data``: per game, three Minari datasets made here from zoo teachers — expert (the zoo
  teacher, greedy), ε-noisy (the same teacher, ε = 0.25) and mid-quality (the older, weaker
  ``minatar-<game>-5m`` teacher, greedy) — so the data is not all expert.
* ``teachers``: one Decision Transformer per game on the union of its three datasets
  (``train --algo dt``), evaluated at the data's best return against the policy teacher that
  recorded the expert data (greedy, same episode seeds).
* ``students``: one student transformer for all games (``distill --offline``) at ≤ 25 % of the
  smallest teacher's parameters, {cycle, uniform, max-kl} × {no PCGrad, PCGrad} × seeds, equal
  gradient updates: per-game score as % of the game's DT teacher and the geometric mean.
* ``throughput``: training tokens per second of a DT teacher and of the student, each alone
  on one thread, measured back to back in one process.
* ``plot``: the curriculum's task choices over training, and the held-out KL per game.

Results: ``bench/results/offline_<part>.json`` (finished entries are skipped on a rerun);
each run's config, metrics and summary under ``bench/results/offline/<part>/``.

    python bench/bench_offline.py data
    python bench/bench_offline.py teachers --steps 5000 [--encoder conv|linear]
    python bench/bench_offline.py students --steps 6000 --seeds 1 2 3
    python bench/bench_offline.py throughput
    python bench/bench_offline.py plot
"""

from __future__ import annotations

import distillrl  # noqa: F401  (first: caps BLAS threads before NumPy loads)

import argparse
import csv
import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from bench_claims import load, save
from cli_runs import EXE, run

torch.set_num_threads(1)
RESULTS = Path("bench/results")
RUNS = Path("runs/bench/offline")
ROOT = Path("runs/datasets")
GAMES = ["breakout", "asterix", "seaquest"]
EPISODES = {"breakout": 60, "asterix": 150, "seaquest": 60, "freeway": 8, "space_invaders": 10}
"""episodes per dataset: ≈ 15–90k steps of expert play per game. Smaller sets overfit: a DT on 30 Asterix episodes matched 97 % of the training actions but 56 % of fresh expert episodes' (5 % of its teacher's score); 20 Seaquest episodes gave 19 % (bench/results/offline/pilots)"""
STUDENT_NET = ["--net.n-layer", "2", "--net.n-head", "2", "--net.max-timestep", "256", "--student-size", "0.25"]
"""the student's shape: with ≤ 25 % of the smallest teacher's parameters, a 256-step timestep table
(later steps share the last) leaves room for d_model 24 — the teachers' full tables would force 12"""
VARIANTS = {  # name: (teacher, ε)
    "expert": ("minatar-{g}", 0.0),
    "noisy": ("minatar-{g}", 0.25),
    "mid": ("minatar-{g}-5m", 0.0),
}


def keep(run_dir: Path, part: str, name: str) -> None:
    """Copy what a table rests on (config, metrics, summary) out of the ignored runs/ folder."""
    dst = RESULTS / "offline" / part / name
    dst.mkdir(parents=True, exist_ok=True)
    for f in ("config.yaml", "metrics.csv", "summary.json"):
        if (run_dir / f).exists():
            shutil.copy2(run_dir / f, dst / f)


def dataset_id(game: str, variant: str) -> str:
    return f"distillrl/{game}-{variant}-v0"


def task_datasets(game: str) -> str:
    return "+".join(dataset_id(game, v) for v in VARIANTS)


def part_data(games, out: Path) -> None:
    res = load(out)
    for g in games:
        for v, (teacher, eps) in VARIANTS.items():
            did = dataset_id(g, v)
            if did in res and (ROOT / did).exists():
                continue
            p = subprocess.run([EXE, "dataset", "--teacher", teacher.format(g=g), "--episodes", str(EPISODES[g]),
                                "--epsilon", str(eps), "--seed", "0", "--name", did, "--root", str(ROOT), "--json",
                                "--no-progress"], capture_output=True, text=True)
            if p.returncode:
                raise SystemExit(p.stderr)
            s = json.loads(p.stdout.strip().splitlines()[-1])
            if did in res:  # recorded earlier, its files gone (runs/ is not kept): rebuilt, same seed
                same = (res[did]["steps"], res[did]["returns"]) == (s["steps"], s["returns"])
                print(f"{did}: rebuilt, {'the same episodes as recorded' if same else 'DIFFERENT from the record'}",
                      flush=True)
                if same:
                    continue
            res[did] = {"game": g, "variant": v, "teacher": s["teacher"], "epsilon": eps, "episodes": s["episodes"],
                        "steps": s["steps"], "mean_return": s["mean_return"], "returns": s["returns"]}
            print(f"{did}: {s['steps']} steps, mean return {s['mean_return']:.1f}", flush=True)
            save(out, res)


def teacher_name(game: str, steps: int, seed: int, encoder: str) -> str:
    return f"dt_{game}_s{seed}_{steps}" + ("" if encoder == "linear" else f"_{encoder}")


def part_teachers(games, steps: int, seed: int, encoder: str, out: Path) -> None:
    res = load(out)
    for g in games:
        key = f"{g}|{steps}|{seed}" + ("" if encoder == "linear" else f"|{encoder}")
        name = teacher_name(g, steps, seed, encoder)
        rd = RUNS / "teachers" / name
        if key in res and (rd / "checkpoints").exists():
            continue
        if key in res:  # recorded earlier, its run gone (runs/ is not kept): rebuilt, same seed and data
            shutil.rmtree(rd, ignore_errors=True)
            s = run("train", rd, ["--algo", "dt", "--dataset", task_datasets(g), "--dataset-root", str(ROOT),
                                  "--steps", str(steps), "--seed", str(seed), "--eval-episodes", "30",
                                  "--net.encoder", encoder])
            same = s["dt_return"] == res[key]["dt_return"]
            print(f"{name}: rebuilt, DT return {s['dt_return']:.2f} "
                  f"({'as recorded' if same else 'recorded: %.2f' % res[key]['dt_return']})", flush=True)
            res[key]["rebuilt_dt_return"] = s["dt_return"]
            save(out, res)
            continue
        s = run("train", rd, ["--algo", "dt", "--dataset", task_datasets(g), "--dataset-root", str(ROOT),
                              "--steps", str(steps), "--seed", str(seed), "--eval-episodes", "30",
                              "--net.encoder", encoder])
        keep(rd, "teachers", name)
        res[key] = {"game": g, "steps": steps, "seed": seed, "encoder": encoder, "run_dir": str(rd), **{
            k: s[k] for k in ("dt_return", "teacher_return", "score_ratio", "data_mean_return", "data_max_return",
                              "target_return", "data_episodes", "data_steps", "n_params", "tokens_per_s", "wall_s")},
                    "action_accuracy": action_accuracy(rd, g)}
        save(out, res)
    for key, r in res.items():  # entries made before the accuracy was measured
        if "action_accuracy" not in r and Path(r["run_dir"]).exists():
            r["action_accuracy"] = action_accuracy(Path(r["run_dir"]), r["game"])
            save(out, {key: r})


def action_accuracy(run_dir: Path, game: str, n: int = 3000) -> dict:
    """How well a DT generalises: its action accuracy (last window position, true return-to-go)
    on its own expert training data and on 5 fresh expert episodes (reset seeds 1000–1004)."""
    from distillrl.models.transformer import batch_tensors
    from distillrl.teachers.dt import load_dt
    from distillrl.datasets.episodes import read_episodes

    fresh = f"distillrl/{game}-fresh-v0"
    if not (ROOT / fresh).exists():
        subprocess.run([EXE, "dataset", "--teacher", f"minatar-{game}", "--episodes", "5", "--seed", "1000", "--name",
                        fresh, "--root", str(ROOT), "--no-progress"], check=True, capture_output=True)
    t = load_dt(run_dir)
    out = {}
    for what, did in (("train_expert", dataset_id(game, "expert")), ("fresh_expert", fresh)):
        e, _ = read_episodes(did, ROOT)
        ends = np.random.default_rng(0).choice(e.n_steps, size=min(n, e.n_steps), replace=False)
        pred = t.logits_window(**batch_tensors(e.windows(ends, t.context)))[:, -1].argmax(-1).numpy()
        out[what] = float((pred == e.actions[ends]).mean())
    return out


def teacher_dirs(games, steps: int, seed: int, encoder: str) -> list[str]:
    return [str(RUNS / "teachers" / teacher_name(g, steps, seed, encoder)) for g in games]


CURRICULA = {"cycle": ["--curriculum", "cycle"], "uniform": ["--curriculum", "uniform"],
             "max-kl": ["--curriculum", "max-kl"],
             "max-kl-initial": ["--curriculum", "max-kl", "--curriculum-norm", "initial"],
             "max-kl-uniform": ["--curriculum", "max-kl", "--curriculum-norm", "uniform"]}
"""the curricula compared: max-kl-initial is max-KL on each task's KL relative to its first
measurement, max-kl-uniform relative to the KL of a uniform policy, log|A_k| − H(π_Tk) (issue 27:
raw KLs are not comparable across games)"""


def part_students(games, teacher_steps: int, encoder: str, steps: int, seeds, curricula, out: Path,
                  pcgrad=(False, True), tag: str = "") -> None:
    res = load(out)
    teachers = teacher_dirs(games, teacher_steps, 1, encoder)
    for seed in seeds:
        for cur in curricula:
            for pc in pcgrad:
                key = f"{'+'.join(games)}|{cur}|{'pcgrad' if pc else 'plain'}|{seed}|{steps}"
                if key in res:
                    continue
                name = f"student_{cur}_{'pcgrad' if pc else 'plain'}_s{seed}_{steps}" + (f"_{tag}" if tag else "")
                rd = RUNS / "students" / name
                s = run("distill", rd, ["--offline", "--teacher", *teachers, "--dataset-root", str(ROOT),
                                        *CURRICULA[cur], *(["--pcgrad"] if pc else []), "--steps", str(steps),
                                        "--seed", str(seed), "--eval-episodes", "30", *STUDENT_NET])
                keep(rd, "students", name)
                res[key] = {"games": games, "curriculum": cur, "pcgrad": pc, "seed": seed, "steps": steps, **{
                    k: s.get(k) for k in ("geomean_ratio", "mean_ratio", "param_fraction", "student_params",
                                          "teacher_params", "d_model", "task_counts", "heldout_kl", "heldout_kl_uniform",
                                          "tokens_per_s",
                                          "pcgrad_projected_share", "kl_evals", "wall_s")},
                    "per_task": [{k: p[k] for k in ("task", "student_return", "teacher_return", "score_ratio")}
                                 for p in s["per_task"]]}
                save(out, res)


def part_throughput(games, teacher_steps: int, encoder: str, steps: int, out: Path) -> None:
    """A DT teacher's and the student's training tokens/s, back to back, one thread each."""
    res = {}
    teachers = teacher_dirs(games, teacher_steps, 1, encoder)
    for what, kind, args in (
            ("teacher", "train", ["--algo", "dt", "--dataset", task_datasets(games[0]), "--dataset-root", str(ROOT),
                                  "--net.encoder", encoder]),
            ("student", "distill", ["--offline", "--teacher", *teachers, "--dataset-root", str(ROOT),
                                    "--curriculum", "cycle", *STUDENT_NET])):
        rd = RUNS / "throughput" / f"{what}_{int(time.time())}"
        s = run(kind, rd, [*args, "--steps", str(steps), "--eval-episodes", "0", "--log-every", str(steps)])
        res[what] = {"tokens_per_s": s["tokens_per_s"], "updates_per_s": s["sps"], "n_params": s["n_params"],
                     "steps": steps}
        shutil.rmtree(rd, ignore_errors=True)
    res["student_over_teacher"] = res["student"]["tokens_per_s"] / res["teacher"]["tokens_per_s"]
    save(out, {time.strftime("%Y-%m-%dT%H:%M:%S"): res})


def _metrics(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def part_plot(steps: int, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = RESULTS / "offline" / "students"
    curricula = ["cycle", "uniform", "max-kl"]
    fig, axes = plt.subplots(2, 3, figsize=(14, 7), sharex=True)
    for j, cur in enumerate(curricula):
        p = base / f"student_{cur}_plain_s{seed}_{steps}" / "metrics.csv"
        if not p.exists():
            continue
        rows = _metrics(p)
        x = np.array([float(r["frames"]) for r in rows])
        shares = {k.split("_", 1)[1]: np.array([float(r[k]) for r in rows]) for k in rows[0] if k.startswith("curriculum/share_")}
        axes[0, j].stackplot(x, *shares.values(), labels=list(shares), step="pre")
        axes[0, j].set_title(f"{cur}: tasks chosen per {int(x[0])} updates (seed {seed})")
        axes[0, j].set_ylim(0, 1)
        for k in rows[0]:
            if k.startswith("heldout/kl_"):
                axes[1, j].plot(x, [float(r[k]) for r in rows], label=k.split("_", 1)[1])
        axes[1, j].set_yscale("log")
        axes[1, j].set_title("held-out KL(teacher ‖ student) per game")
        axes[1, j].set_xlabel("gradient updates")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[1, 0].legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    dst = RESULTS / "offline" / "curriculum_choices.png"
    fig.savefig(dst, dpi=90)
    print(dst)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("part", choices=["data", "teachers", "students", "throughput", "plot"])
    ap.add_argument("--games", nargs="+", default=GAMES)
    ap.add_argument("--teacher-steps", type=int, default=5000, help="the teachers' updates (students: which teachers)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--encoder", default="conv", help="the teachers' observation encoder (students: which teachers)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--curricula", nargs="+", default=["cycle", "uniform", "max-kl"], choices=list(CURRICULA))
    ap.add_argument("--no-pcgrad", action="store_true", help="students: only the runs without PCGrad")
    ap.add_argument("--tag", default="", help="students: a separate record (offline_students_<tag>.json, run names "
                    "ending _<tag>), e.g. for students of rebuilt teachers, which do not pair with the old records")
    a = ap.parse_args()
    if a.part == "data":
        part_data(a.games, RESULTS / "offline_data.json")
    elif a.part == "teachers":
        part_teachers(a.games, a.steps or a.teacher_steps, a.seeds[0], a.encoder, RESULTS / "offline_teachers.json")
    elif a.part == "students":
        part_students(a.games, a.teacher_steps, a.encoder, a.steps or 6000, a.seeds, a.curricula,
                      RESULTS / f"offline_students{'_' + a.tag if a.tag else ''}.json",
                      (False,) if a.no_pcgrad else (False, True), a.tag)
    elif a.part == "throughput":
        part_throughput(a.games, a.teacher_steps, a.encoder, a.steps or 300, RESULTS / "offline_throughput.json")
    else:
        part_plot(a.steps or 6000, a.seeds[0])


if __name__ == "__main__":
    main()
