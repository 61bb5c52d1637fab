"""Privileged teacher → partial-view student on Pendulum: the teacher (PPO on the full state:
cos θ, sin θ, θ̇) teaches a student that sees only the angle (``?group.angle=0-1&group.vel=2``,
``--obs-groups angle``), which must infer the velocity.

Variants, each on ``--seeds`` seeds:

* ``dagger_ff`` / ``dagger_lstm`` — DAgger (student-driven distillation: kickstarting with no
  policy-gradient loss and a constant λ; the critic is still trained), feed-forward or LSTM;
* ``dagger_lstm+ks_linear`` / ``dagger_lstm+ks_performance`` — the DAgger LSTM student fine-tuned
  with RL (``--init-from``) while λ decays (linear over half the budget, or QDagger's performance
  schedule);
* ``ks_lstm_linear`` — kickstarting an LSTM student from scratch with the linear schedule (no
  DAgger phase, so no critic warm-up) — the hand-off without the fix.

Scores: 30 greedy evaluation episodes (the same episode seeds for all), reported raw and
normalised as (S − R)/(T − R) with T the teacher's and R a uniform-random policy's return on the
same episodes (Pendulum's returns are negative, so a plain ratio would read backwards). Hand-off
drop: the mean training return over the ``--window`` frames after λ first reaches 0 minus that over
the ``--window`` frames before.

    python bench/bench_privileged.py --seeds 1 2 3 --out bench/results/privileged_pendulum.json
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

EXE = str(Path(sys.executable).with_name("distillrl"))
ENV = "gym:Pendulum-v1"
GROUPED = f"{ENV}?group.angle=0-1&group.vel=2"


def run(args: list[str], run_dir: Path) -> dict:
    if not (run_dir / "summary.json").exists():
        p = subprocess.run([EXE, *args, "--run-dir", str(run_dir), "--no-progress", "--json"], capture_output=True,
                           text=True)
        if p.returncode != 0:
            raise SystemExit(f"failed: {' '.join(args)}\n{p.stderr[-2000:]}")
    return json.loads((run_dir / "summary.json").read_text())


def metrics(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


def handoff_drop(run_dir: Path, window: int) -> dict:
    rows = metrics(run_dir)
    t0 = next((float(r["frames"]) for r in rows if float(r.get("kickstart/lambda_0") or 1) == 0.0), None)
    if t0 is None:
        return {"handoff_frame": None}

    def mean(lo, hi):
        v = [float(r["charts/episode_return"]) for r in rows
             if lo < float(r["frames"]) <= hi and r["charts/episode_return"] not in ("", "nan")]
        v = [x for x in v if math.isfinite(x)]
        return float(np.mean(v)) if v else math.nan

    before, after = mean(t0 - window, t0), mean(t0, t0 + window)
    return {"handoff_frame": t0, "before": before, "after": after, "drop": before - after}


def window_mean(run_dir: Path, lo: float, hi: float) -> float:
    v = [float(r["charts/episode_return"]) for r in metrics(run_dir)
         if lo < float(r["frames"]) <= hi and r["charts/episode_return"] not in ("", "nan")]
    v = [x for x in v if math.isfinite(x)]
    return float(np.mean(v)) if v else math.nan


def finetune_start(dagger_dir: Path, rl_dir: Path, frames: int, window: int) -> dict:
    """The other hand-off: DAgger's last ``window`` frames against RL fine-tuning's first."""
    before = window_mean(dagger_dir, frames - window, frames)
    after = window_mean(rl_dir, 0, window)
    return {"start_before": before, "start_after": after, "start_drop": before - after}


def random_return(episodes: int, seed: int) -> float:
    import gymnasium as gym
    rets = []
    for i in range(episodes):
        env = gym.make("Pendulum-v1")
        env.reset(seed=seed + i)
        env.action_space.seed(seed + i)
        done, total = False, 0.0
        while not done:
            _, r, te, tr, _ = env.step(env.action_space.sample())
            total += r
            done = te or tr
        rets.append(total)
    return float(np.mean(rets))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--teacher-frames", type=int, default=100_000)
    ap.add_argument("--frames", type=int, default=50_000, help="each phase's budget")
    ap.add_argument("--window", type=int, default=10_000)
    ap.add_argument("--runs", default="runs/bench_privileged")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    runs = Path(a.runs)
    runs.mkdir(parents=True, exist_ok=True)
    teacher_dir = runs / "teacher"
    t = run(["train", "--env", ENV, "--steps", str(a.teacher_frames), "--seed", "0", "--eval-episodes", "30"],
            teacher_dir)
    rand = random_return(30, 0)
    ppo = ["--ppo.num-envs", "16", "--ppo.num-steps", "128", "--ppo.num-minibatches", "4", "--eval-episodes", "30"]
    base = ["kickstart", "--teacher", str(teacher_dir), "--env", GROUPED, "--teacher-obs-groups", "angle,vel",
            "--obs-groups", "angle", *ppo]
    dagger = ["--ppo.pg-coef", "0", "--schedule", "constant", "--steps", str(a.frames)]
    lstm = ["--net.lstm", "64"]
    res = {"env": GROUPED, "teacher": {"run": str(teacher_dir), "mean_return": t["mean_return"],
                                       "ci95": t["ci95_return"], "episodes": t["episodes"]},
           "random_return": rand, "frames_per_phase": a.frames, "window": a.window, "per_seed": {}}

    def norm(s):
        return (s - rand) / (t["mean_return"] - rand)

    for seed in a.seeds:
        sd = ["--seed", str(seed)]
        r: dict = {}
        for name, extra in (("dagger_ff", []), ("dagger_lstm", lstm)):
            s = run(base + dagger + extra + sd, runs / f"{name}-s{seed}")
            r[name] = {"mean_return": s["mean_return"], "normalised": norm(s["mean_return"])}
        for sched in ("linear", "performance"):
            name = f"dagger_lstm+ks_{sched}"
            s = run(base + lstm + sd + ["--init-from", str(runs / f"dagger_lstm-s{seed}"), "--schedule", sched,
                                        "--decay-frames", str(a.frames // 2), "--steps", str(a.frames)],
                    runs / f"{name}-s{seed}")
            r[name] = {"mean_return": s["mean_return"], "normalised": norm(s["mean_return"]),
                       **handoff_drop(runs / f"{name}-s{seed}", a.window),
                       **finetune_start(runs / f"dagger_lstm-s{seed}", runs / f"{name}-s{seed}", a.frames, a.window)}
        s = run(base + lstm + sd + ["--schedule", "linear", "--decay-frames", str(a.frames // 2),
                                    "--steps", str(a.frames)], runs / f"ks_lstm_linear-s{seed}")
        r["ks_lstm_linear"] = {"mean_return": s["mean_return"], "normalised": norm(s["mean_return"]),
                               **handoff_drop(runs / f"ks_lstm_linear-s{seed}", a.window)}
        res["per_seed"][str(seed)] = r
        Path(a.out).write_text(json.dumps(res, indent=1))
        print(seed, {k: round(v["mean_return"], 1) for k, v in r.items()}, flush=True)

    from distillrl.core.stats import t_interval

    def ci(xs):  # 95 % t-interval over seeds, JSON-safe (fewer than 2 values: no lo/hi)
        t = t_interval([x for x in xs if x is not None])
        return t if t["n"] >= 2 else {"mean": t["mean"] if t["n"] else None, "n": t["n"]}

    names = list(next(iter(res["per_seed"].values())))
    res["summary"] = {n: {"mean_return": ci([v[n]["mean_return"] for v in res["per_seed"].values()]),
                          "normalised": ci([v[n]["normalised"] for v in res["per_seed"].values()]),
                          **{k: ci([v[n].get(k) for v in res["per_seed"].values()])
                             for k in ("drop", "start_drop") if k in next(iter(res["per_seed"].values()))[n]}}
                      for n in names}
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(json.dumps(res["summary"], indent=1))


if __name__ == "__main__":
    main()
