"""A MuJoCo teacher at work: distillation into smaller students, and kickstarting against a
matched from-scratch run.

``distill``: the teacher (a distillrl PPO run) is distilled, student-driven with the KL between
Gaussians, into students whose acting parameters are ``--sizes`` of the teacher's; each student
and the teacher play the same 30 greedy episodes; % of teacher = student return / teacher return.

``kickstart``: students kickstarted from the teacher (linear λ over ``--decay`` frames) against
from-scratch PPO runs with the same settings and seeds (``--scratch`` run directories, e.g. the
teacher's own seeds). Reported: the frames at which each run's training return (mean of its last
100 episodes) first reaches 50 / 75 / 90 / 100 % of the teacher's score (None: not within the
budget), and the final 30-episode score.

    python bench/bench_continuous_teacher.py distill --teacher runs/bench_ppo_continuous/HalfCheetah-v5/ours-s1 \
        --env gym:HalfCheetah-v5 --sizes 0.25 0.07 --seeds 1 2 3 --frames 300000 --out bench/results/distill_halfcheetah.json
    python bench/bench_continuous_teacher.py kickstart --teacher runs/hopper/ppo-s1 --env gym:Hopper-v5 \
        --scratch runs/hopper/ppo-s1 runs/hopper/ppo-s2 runs/hopper/ppo-s3 --seeds 1 2 3 --frames 500000 \
        --out bench/results/kickstart_hopper.json

``--teacher`` is a run directory or a zoo name (``mujoco-hopper``: its score is the zoo's published
30-episode greedy score). ``--scratch-seeds`` trains the from-scratch runs here, with the same
preset, seeds and ``--scratch-frames`` (the zoo recipe: 1M), instead of reading ``--scratch``
directories:

    python bench/bench_continuous_teacher.py kickstart --teacher mujoco-hopper --env gym:Hopper-v5 \
        --scratch-seeds 1 2 3 4 5 --seeds 1 2 3 4 5 --frames 500000 --out bench/results/kickstart_hopper.json
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
from pathlib import Path


EXE = str(Path(sys.executable).with_name("distillrl"))
FRACTIONS = (0.5, 0.75, 0.9, 1.0)


def run(args: list[str], run_dir: Path) -> dict:
    if not (run_dir / "summary.json").exists():
        p = subprocess.run([EXE, *args, "--run-dir", str(run_dir), "--no-progress", "--json"], capture_output=True,
                           text=True)
        if p.returncode != 0:
            raise SystemExit(f"failed: {' '.join(args)}\n{p.stderr[-2000:]}")
    return json.loads((run_dir / "summary.json").read_text())


def ci(xs) -> dict:
    """Mean and 95 % t-interval over seeds (:func:`distillrl.core.stats.t_interval`), JSON-safe:
    fewer than 2 finite values give no ``lo``/``hi`` (none: ``mean`` None)."""
    from distillrl.core.stats import t_interval

    t = t_interval([x for x in xs if x is not None])
    if t["n"] < 2:
        return {"mean": t["mean"] if t["n"] else None, "n": t["n"]}
    return t


def frames_to(run_dir: Path, target: float) -> dict:
    with open(run_dir / "metrics.csv") as f:
        rows = [(float(r["frames"]), float(r["charts/return_recent"])) for r in csv.DictReader(f)
                if r.get("charts/return_recent") not in (None, "", "nan")]
    out = {}
    for x in FRACTIONS:
        hit = next((fr for fr, ret in rows if math.isfinite(ret) and ret >= x * target), None)
        out[f"{int(x * 100)}%"] = hit
    return out


def distill(a) -> None:
    runs = Path(a.runs)
    res = {"teacher": a.teacher, "env": a.env, "frames": a.frames, "per_size": {}}
    for size in a.sizes:
        per = {}
        for seed in a.seeds:
            args = ["distill", "--teacher", a.teacher, "--env", a.env, "--student-size", str(size), "--steps",
                    str(a.frames), "--seed", str(seed), "--eval-episodes", "30", *a.extra]
            s = run(args, runs / f"distill-{size}-s{seed}")
            per[str(seed)] = {"student_return": s["student_return"], "teacher_return": s["teacher_return"],
                              "student_sampled_return": s.get("sampled_return"),
                              "ratio": s["student_return"] / s["teacher_return"], "student_params": s["student_params"],
                              "teacher_params": s["teacher_params"], "param_fraction": s["param_fraction"],
                              "command": "distillrl " + " ".join(args)}
            print(size, seed, round(per[str(seed)]["ratio"], 3), flush=True)
        res["per_size"][str(size)] = {"per_seed": per, "ratio": ci([v["ratio"] for v in per.values()]),
                                      "student_return": ci([v["student_return"] for v in per.values()])}
        Path(a.out).write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v["ratio"] for k, v in res["per_size"].items()}, indent=1))


def kickstart(a) -> None:
    runs = Path(a.runs)
    if (Path(a.teacher) / "summary.json").exists():
        g = json.loads((Path(a.teacher) / "summary.json").read_text())["mean_return"]
    else:  # a zoo name: its published greedy score (30 episodes, reset seeds 0-29)
        from distillrl.teachers.zoo import zoo_meta

        g = zoo_meta(a.teacher)["eval"]["mean_return"]
    res = {"teacher": a.teacher, "teacher_score": g, "env": a.env, "frames": a.frames, "decay": a.decay,
           "scratch_frames": a.scratch_frames if a.scratch_seeds else None, "kickstart": {}, "scratch": {}}
    for seed in a.seeds:
        args = ["kickstart", "--teacher", a.teacher, "--env", a.env, "--steps", str(a.frames), "--seed", str(seed),
                "--schedule", "linear", "--decay-frames", str(a.decay), "--eval-episodes", "30", *a.extra]
        rd = runs / f"kickstart-s{seed}"
        s = run(args, rd)
        res["kickstart"][str(seed)] = {"frames_to": frames_to(rd, g), "score": s["mean_return"],
                                       "command": "distillrl " + " ".join(args)}
        print("kickstart", seed, res["kickstart"][str(seed)], flush=True)
        Path(a.out).write_text(json.dumps(res, indent=1))
    scratch = list(map(Path, a.scratch))
    for seed in a.scratch_seeds:
        args = ["train", "--env", a.env, "--steps", str(a.scratch_frames), "--seed", str(seed), "--eval-episodes", "30"]
        rd = runs / f"scratch-s{seed}"
        run(args, rd)
        print("scratch", seed, flush=True)
        scratch.append(rd)
    for rd in scratch:
        s = json.loads((rd / "summary.json").read_text())
        res["scratch"][rd.name] = {"frames_to": frames_to(rd, g), "score": s["mean_return"], "budget": s["steps"]}
    for who in ("kickstart", "scratch"):
        runs_ = res[who].values()
        res[f"{who}_summary"] = {"score": ci([v["score"] for v in runs_]),
                                 **{k: ci([v["frames_to"][k] for v in runs_]) for k in
                                    (f"{int(x * 100)}%" for x in FRACTIONS)},
                                 "reached": {f"{int(x * 100)}%": sum(v["frames_to"][f"{int(x * 100)}%"] is not None
                                                                     for v in runs_) for x in FRACTIONS}}
    # matched speed-up: the from-scratch run of the same seed ÷ the kickstarted one, frames to each
    # fraction, over the seeds where both got there
    by_seed = {rd.name.rsplit("-s", 1)[-1]: res["scratch"][rd.name] for rd in scratch}
    res["speedup"] = {}
    for x in FRACTIONS:
        k = f"{int(x * 100)}%"
        pairs = {seed: (by_seed[seed]["frames_to"][k], v["frames_to"][k]) for seed, v in res["kickstart"].items()
                 if seed in by_seed}
        ratios = {seed: sc / ks for seed, (sc, ks) in pairs.items() if sc is not None and ks is not None}
        res["speedup"][k] = {"per_seed": ratios, "ratio": ci(list(ratios.values())), "pairs": len(pairs),
                             "scratch_missed_kickstart_reached": sum(sc is None and ks is not None
                                                                     for sc, ks in pairs.values())}
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(json.dumps({k: res[k] for k in ("kickstart_summary", "scratch_summary", "speedup")}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["distill", "kickstart"])
    ap.add_argument("--teacher", required=True)
    ap.add_argument("--env", required=True)
    ap.add_argument("--sizes", type=float, nargs="+", default=[0.25, 0.07])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--frames", type=int, default=300_000)
    ap.add_argument("--decay", type=int, default=250_000)
    ap.add_argument("--scratch", nargs="*", default=[], help="from-scratch run directories to compare with")
    ap.add_argument("--scratch-seeds", type=int, nargs="*", default=[], help="train the from-scratch runs here")
    ap.add_argument("--scratch-frames", type=int, default=1_000_000)
    ap.add_argument("--extra", nargs="*", default=[], help="more distillrl options (after --)")
    ap.add_argument("--runs", default="runs/bench_continuous_teacher")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    a.runs = str(Path(a.runs) / a.what / a.env.split(":")[-1])
    Path(a.runs).mkdir(parents=True, exist_ok=True)
    (distill if a.what == "distill" else kickstart)(a)


if __name__ == "__main__":
    main()
