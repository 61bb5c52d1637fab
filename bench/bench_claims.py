"""The papers' claims reproduced with the zoo's teachers (issue: teachers worth learning from).

* ``zoo``: train the zoo's teachers from scratch with their recorded recipes (``TEACHERS``),
  export them (``bench/make_zoo.py``: 100 greedy episodes) and keep each run's config,
  metrics and summary under ``bench/results/zoo/<name>/`` (the from-scratch curves the
  kickstarting speed-up is measured against).
* ``losses``: Rusu et al.'s loss study with the PQN Q-teachers: NLL, MSE on Q-values and KL
  at τ ∈ {0.01, 0.1, 1}, teacher-driven data (ε = 0.05), a student of the teacher's size,
  equal frames, several seeds; score as % of the teacher on the same 30 greedy episodes.
* ``compression``: the policy teachers into students at ≈25 %, 7 % and 4 % of their acting
  parameters (student-driven, KL at τ = 1, 4 Adam updates of 128 states per 128 frames, lr 1e-3
  annealed to 0 over the run — on Freeway at 7 %/300k frames, 4 updates per round gave 96.5 %
  of the teacher against 94.5 % with 2, NLL 94.3 %, KL τ = 0.1 91.8 %, one seed each); every ``--eval-every`` frames the student is
  evaluated on the same 30 greedy episodes as its teacher, so each run is a score-vs-frames
  curve.
* ``qspeed``: frames/s of PQN against the MinAtar paper's DQN, alternating in one process.
* ``kickstart``: the paper's speed-up: frames a kickstarted student needs to reach its teacher's
  final training return, against the frames the teacher's own from-scratch run needed to reach
  it (its curve in ``bench/results/zoo``); plus the student's final greedy score as % of the
  teacher's on the same episodes.
* ``scratch``: the kickstart speed-up's matched baseline: from-scratch runs with the students'
  recipe, budget and schedule length (``bench/results/claims_kickstart_scratch.json``).

Results go to ``bench/results/claims_<part>.json`` after every run; finished entries are
skipped on a rerun (so a killed invocation continues where it stopped).

    python bench/bench_claims.py zoo
    python bench/bench_claims.py losses --games breakout space_invaders --seeds 1 2 3
    python bench/bench_claims.py compression --games breakout asterix freeway seaquest space_invaders --seeds 1 2 3
    python bench/bench_claims.py kickstart --games breakout space_invaders asterix --seeds 1 2 3
    python bench/bench_claims.py scratch --games breakout --seeds 1 2 3 4 5
    python bench/bench_claims.py qspeed
"""

from __future__ import annotations

import distillrl  # noqa: F401  (first: caps BLAS threads before NumPy loads)

import argparse
import csv
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from cli_runs import merge_json, run

torch.set_num_threads(1)
EVAL = 30
RESULTS = Path("bench/results")
RUNS = Path("runs/bench/claims")

# PPO for the policy teachers: the MinAtar preset (128 steps, 8 minibatches, 4 epochs, clip 0.2,
# lr annealed) with purejaxql's MinAtar PPO choices — 64 envs, lr 5e-3, entropy 1e-4. On Breakout
# it reached a training return of 20.8 after 750k frames where the preset (lr 5e-4, entropy 0.01)
# was at 6.5 (pilots in bench/results/zoo/pilots).
PPO_RECIPE = ["--ppo.lr", "0.005", "--ppo.ent-coef", "0.0001", "--ppo.num-envs", "64"]
# The zoo's teachers: name -> (env, frames, train options). Every run: --seed 1, 100 eval episodes.
TEACHERS: dict[str, tuple[str, int, list[str]]] = {
    **{f"minatar-{g}": (f"minatar:{g}", 5_000_000, PPO_RECIPE) for g in ("breakout", "asterix", "seaquest",
                                                                      "space_invaders")},
    "minatar-breakout-pqn": ("minatar:breakout", 5_000_000, ["--algo", "pqn"]),
    "minatar-space_invaders-pqn": ("minatar:space_invaders", 5_000_000, ["--algo", "pqn"]),
    "minatar-seaquest-pqn": ("minatar:seaquest", 5_000_000, ["--algo", "pqn"]),
}


def command(name: str) -> str:
    env, steps, extra = TEACHERS[name]
    return " ".join(["distillrl train --env", env, "--steps", str(steps), "--seed 1 --eval-episodes 100", *extra,
                     "--run-dir", f"runs/zoo/{name}"])


def load(out: Path) -> dict:
    return json.loads(out.read_text()) if out.exists() else {}


def save(out: Path, res: dict) -> None:
    """Write ``res`` merged over what is on disk (several invocations, e.g. one per game, may
    share an output file)."""
    merge_json(out, res)


# --------------------------------------------------------------------------- zoo
def keep_run(run_dir: Path, name: str) -> None:
    """Copy what a table rests on (config, metrics, summary) out of the ignored runs/ folder."""
    dst = RESULTS / "zoo" / name
    dst.mkdir(parents=True, exist_ok=True)
    for f in ("config.yaml", "metrics.csv", "summary.json"):
        if (run_dir / f).exists():
            shutil.copy2(run_dir / f, dst / f)


def part_zoo(names: list[str]) -> None:
    for name in names or list(TEACHERS):
        env, steps, extra = TEACHERS[name]
        rd = Path("runs/zoo") / name
        run("train", rd, ["--env", env, "--steps", str(steps), "--seed", "1", "--eval-episodes", "100", *extra])
        subprocess.run([sys.executable, str(Path(__file__).with_name("make_zoo.py")), str(rd), "--command",
                        command(name)], check=True)
        keep_run(rd, name)


# --------------------------------------------------------------------------- distillation runs
def distill_run(teacher: str, env: str, seed: int, steps: int, eval_every: int, **kw) -> dict:
    """One in-process distillation; the student is evaluated every ``eval_every`` frames on the
    teacher's 30 episodes (same reset seeds)."""
    from distillrl.algos.distill_config import DistillConfig
    from distillrl.algos.distill import DistillTrainer
    from distillrl.acting.evaluate import evaluate

    cfg = DistillConfig(teacher=[teacher], env=env, steps=steps, seed=seed, **kw)
    tr = DistillTrainer(cfg)
    t, _ = evaluate(lambda o: tr.teacher.outputs(o).numpy(), env, EVAL, seed=1000 * seed)
    curve, wall = [], 0.0
    while tr.frames < steps:
        t0 = time.perf_counter()
        tr.advance(min(eval_every, steps - tr.frames))
        wall += time.perf_counter() - t0
        s, _ = evaluate(lambda o: tr.policy(o)[0], env, EVAL, seed=1000 * seed)
        curve.append([tr.frames, float(s.mean())])
        print(f"  {teacher} {kw} seed {seed}: {tr.frames:,} frames: {s.mean():.2f} / {t.mean():.2f}", flush=True)
    tm = float(t.mean())
    return {"teacher": teacher, "seed": seed, "steps": steps, "updates": tr.updates, "wall_s": wall,
            "student_params": tr.n_params, "teacher_params": tr.teacher.n_params,
            "param_fraction": tr.n_params / tr.teacher.n_params, "teacher_return": tm,
            "student_return": curve[-1][1], "ratio": curve[-1][1] / tm if tm else math.nan,
            "curve": curve, "teacher_kind": tr.teacher.kind, "tau": tr.teacher.tau,
            **{k: v for k, v in kw.items() if k != "net"}}


LOSSES = [("nll", None), ("mse", None), ("kl", 0.01), ("kl", 0.1), ("kl", 1.0)]


def part_losses(games, seeds, steps, out: Path) -> None:
    res = load(out)
    for game in games:
        for loss, tau in LOSSES:
            for seed in seeds:
                key = f"{game}|{loss}|{tau}|{seed}"
                if key in res:
                    continue
                kw = {"loss": loss, "source": "teacher"}
                if tau is not None:
                    kw["tau"] = tau
                res[key] = {"game": game, **distill_run(f"minatar-{game}-pqn", f"minatar:{game}", seed, steps,
                                                        steps, **kw)}
                save(out, res)


def part_compression(games, seeds, sizes, steps, eval_every, downsample: int, out: Path) -> None:
    from distillrl.models.nets import NetConfig

    res = load(out)
    for game in games:
        for size in sizes:
            for seed in seeds:
                key = (f"{game}|{size}|{seed}" + (f"|ds{downsample}" if downsample else "")
                       + (f"|{steps}" if steps != 1_000_000 else ""))
                if key in res:
                    continue
                res[key] = {"game": game, "size": size, "downsample": downsample,
                            **distill_run(f"minatar-{game}", f"minatar:{game}", seed, steps, eval_every,
                                          student_size=size, updates_per_round=4, anneal_lr=True,
                                          net=NetConfig(downsample=downsample))}
                save(out, res)


# --------------------------------------------------------------------------- kickstarting
def curve(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    x = np.array([float(r["frames"]) for r in rows])
    y = np.array([float(r["charts/return_recent"]) if r["charts/return_recent"] not in ("", "nan") else math.nan
                  for r in rows])
    return x, y


def first_reach(x: np.ndarray, y: np.ndarray, target: float) -> float:
    ok = np.nonzero(y >= target)[0]
    return float(x[ok[0]]) if len(ok) else math.nan


def width_args(width: float) -> tuple[str, list[str]]:
    """A student wider than the zoo's network (issue 27: Schmitt et al.'s students were larger than
    their teachers): the key/run-folder tag and the option. Width 1 keeps the records' old keys."""
    return ("", []) if width == 1.0 else (f"|w{width:g}", ["--net.width", f"{width:g}"])


def part_kickstart(games, seeds, steps, decay, out: Path, schedule: str = "linear", width: float = 1.0) -> None:
    res = load(out)
    wtag, wargs = width_args(width)
    for game in games:
        name = f"minatar-{game}"
        tx, ty = curve(RESULTS / "zoo" / name)
        final = float(ty[np.isfinite(ty)][-1])  # the teacher's final training return (last 100 episodes)
        t_frames = first_reach(tx, ty, final)
        # the performance schedule (QDagger) has no decay length: λ follows the student's score
        tag = f"|{schedule}" if schedule != "linear" else ("" if decay == 1_000_000 else f"|decay{decay}")
        tag += wtag
        for seed in seeds:
            key = f"{game}|{seed}{tag}"
            if key in res:
                continue
            rd = RUNS / "kickstart" / game / (f"s{seed}" + tag.replace("|", "_"))
            s = run("kickstart", rd, ["--env", f"minatar:{game}", "--teacher", name, "--steps", str(steps),
                                      "--seed", str(seed), "--schedule", schedule,
                                      *(["--decay-frames", str(decay)] if schedule == "linear" else []),
                                      "--eval-episodes", "100", *TEACHERS[name][2], *wargs])  # the teacher's own recipe
            sx, sy = curve(rd)
            s_frames = first_reach(sx, sy, final)
            res[key] = {"game": game, "seed": seed, "decay": decay if schedule == "linear" else None, "width": width,
                        "schedule": schedule, "teacher_final_return": final, "teacher_frames": t_frames,
                        "student_frames": s_frames, "speedup": t_frames / s_frames if s_frames else math.nan,
                        "student_return": s.get("student_return"), "teacher_return": s.get("teacher_return"),
                        "pct_teacher": 100 * s["student_return"] / s["teacher_return"] if s.get("teacher_return")
                        else math.nan, "curve": [[float(a), float(b)] for a, b in zip(sx, sy)]}
            save(out, res)


def part_scratch(games, seeds, steps, out: Path, width: float = 1.0) -> None:
    """The kickstart speed-up's matched baseline (issue 27): the same PPO recipe, network, budget
    and learning-rate schedule length as the kickstarted students of ``part_kickstart``, with no
    teacher. Frames to the teacher's final training return are then compared seed for seed."""
    res = load(out)
    wtag, wargs = width_args(width)
    for game in games:
        name = f"minatar-{game}"
        tx, ty = curve(RESULTS / "zoo" / name)
        final = float(ty[np.isfinite(ty)][-1])
        for seed in seeds:
            key = f"{game}|{seed}|scratch{wtag}"
            if key in res:
                continue
            rd = RUNS / "scratch" / game / f"s{seed}{wtag.replace('|', '_')}"
            s = run("train", rd, ["--env", f"minatar:{game}", "--steps", str(steps), "--seed", str(seed),
                                  "--eval-episodes", "100", *TEACHERS[name][2], *wargs])
            sx, sy = curve(rd)
            res[key] = {"game": game, "seed": seed, "steps": steps, "width": width, "teacher_final_return": final,
                        "frames_to_final": first_reach(sx, sy, final), "final_return": s.get("mean_return"),
                        "curve": [[float(a), float(b)] for a, b in zip(sx, sy)]}
            save(out, res)


def part_qspeed(repeats: int, out: Path) -> None:
    """Frames/s of the two Q-learners on MinAtar Breakout with their MinAtar settings, alternating
    in one process: DQN (the paper's: one update of 32 per frame, replay, target net) and PQN
    (128 envs × 32 steps, 2 epochs of 32 minibatches). Timed after a warm-up (DQN: past
    learning_starts)."""
    from distillrl.algos import TrainConfig, make_trainer
    from distillrl.config import from_dict
    from distillrl.runs.presets import preset

    env = "minatar:breakout"
    res: dict = {"dqn": [], "pqn": []}
    for _ in range(repeats):
        for algo, warm, timed in (("dqn", 6_000, 4_000), ("pqn", 4096 * 2, 4096 * 10)):
            tr = make_trainer(from_dict(TrainConfig, {**preset(env, algo), "env": env, "algo": algo, "seed": 1}))
            tr.advance(warm)
            f0, t0 = tr.frames, time.perf_counter()
            tr.advance(timed)
            res[algo].append((tr.frames - f0) / (time.perf_counter() - t0))
            tr.close()
            print(f"  {algo}: {res[algo][-1]:,.0f} frames/s", flush=True)
    res["ratio_of_medians"] = float(np.median(res["pqn"]) / np.median(res["dqn"]))
    save(out, res)
    print(f"PQN / DQN frames/s: {res['ratio_of_medians']:.1f}×")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parts", nargs="+", choices=["zoo", "losses", "compression", "kickstart", "scratch", "qspeed"])
    ap.add_argument("--games", nargs="+", default=["breakout"])
    ap.add_argument("--teachers", nargs="*", default=[], help="zoo: which TEACHERS entries (default: all)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--sizes", type=float, nargs="+", default=[0.25, 0.07, 0.04])
    ap.add_argument("--steps", type=int, default=None, help="frames per run (losses 300k, compression 1M, "
                                                             "kickstart 2M)")
    ap.add_argument("--eval-every", type=int, default=250_000)
    ap.add_argument("--downsample", type=int, default=0, help="compression: the students' --net.downsample "
                                                              "(stride-2 convs before the FC)")
    ap.add_argument("--decay", type=int, default=1_000_000, help="kickstart: frames until λ = 0 (linear)")
    ap.add_argument("--schedule", default="linear", choices=["linear", "performance"],
                    help="kickstart: the λ schedule (performance: QDagger's, from the student's score)")
    ap.add_argument("--width", type=float, default=1.0, help="kickstart, scratch: the student's --net.width "
                                                              "(2: about 4× the teacher's parameters)")
    a = ap.parse_args()
    for part in a.parts:
        if part == "zoo":
            part_zoo(a.teachers)
        elif part == "losses":
            part_losses(a.games, a.seeds, a.steps or 300_000, RESULTS / "claims_losses.json")
        elif part == "compression":
            part_compression(a.games, a.seeds, a.sizes, a.steps or 1_000_000, a.eval_every, a.downsample,
                             RESULTS / "claims_compression.json")
        elif part == "qspeed":
            part_qspeed(3, RESULTS / "claims_qspeed.json")
        elif part == "kickstart":
            part_kickstart(a.games, a.seeds, a.steps or 2_000_000, a.decay, RESULTS / "claims_kickstart.json",
                           a.schedule, a.width)
        elif part == "scratch":
            part_scratch(a.games, a.seeds, a.steps or 2_000_000, RESULTS / "claims_kickstart_scratch.json", a.width)


if __name__ == "__main__":
    main()
