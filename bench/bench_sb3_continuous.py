"""An SB3 SAC teacher trained inside VecNormalize (made here with SB3), distilled into a
distillrl PPO-architecture student (separate 64-64 tanh actor and critic, Gaussian policy).

The teacher is trained by Stable-Baselines3 itself (SAC, ``MlpPolicy``, VecNormalize on
observations) and saved the way SB3 users save it: ``model.zip`` and ``vec_normalize.pkl`` side
by side. distillrl loads it without unpickling (the VecNormalize statistics through a closed
unpickler that runs nothing) and distils it, student-driven, with the KL between the student's
Gaussian and the teacher's squashed Gaussian read as the Gaussian it linearises to. Scores: 30
greedy episodes on the same seeds for teacher and student, normalised against a uniform-random
policy as in bench_privileged.py.

    python bench/bench_sb3_continuous.py --seeds 1 2 3 --out bench/results/sb3_sac_pendulum.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_privileged import random_return  # noqa: E402

EXE = str(Path(sys.executable).with_name("distillrl"))


def make_teacher(d: Path, steps: int, seed: int) -> dict:
    if (d / "model.zip").exists():
        return json.loads((d / "teacher.json").read_text())
    import gymnasium as gym
    import torch
    from stable_baselines3 import SAC
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    torch.set_num_threads(1)
    d.mkdir(parents=True, exist_ok=True)
    venv = VecNormalize(DummyVecEnv([lambda: gym.make("Pendulum-v1")]), norm_reward=False)
    t0 = time.time()
    model = SAC("MlpPolicy", venv, seed=seed, verbose=0)
    model.learn(steps)
    model.save(d / "model.zip")
    venv.save(d / "vec_normalize.pkl")
    info = {"algo": "SAC (stable-baselines3 defaults, MlpPolicy)", "vecnormalize": "observations",
            "steps": steps, "seed": seed, "train_s": time.time() - t0}
    (d / "teacher.json").write_text(json.dumps(info))
    return info


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--teacher-steps", type=int, default=20_000)
    ap.add_argument("--frames", type=int, default=30_000)
    ap.add_argument("--runs", default="runs/bench_sb3_continuous")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    runs = Path(a.runs)
    info = make_teacher(runs / "sac", a.teacher_steps, 0)
    rand = random_return(30, 0)
    res = {"teacher": info, "random_return": rand, "frames": a.frames, "per_seed": {}}
    for seed in a.seeds:
        rd = runs / f"student-s{seed}"
        cmd = [EXE, "distill", "--teacher", str(runs / "sac" / "model.zip"), "--env", "gym:Pendulum-v1",
               "--steps", str(a.frames), "--seed", str(seed), "--loss", "kl", "--eval-episodes", "30",
               "--run-dir", str(rd), "--no-progress", "--json"]
        if not (rd / "summary.json").exists():
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(p.stderr[-2000:])
        s = json.loads((rd / "summary.json").read_text())
        t, st = s["teacher_return"], s["student_return"]
        res["per_seed"][str(seed)] = {"student_return": st, "teacher_return": t, "student_params": s["student_params"],
                                      "teacher_params": s["teacher_params"],
                                      "normalised": (st - rand) / (t - rand), "command": " ".join(cmd[1:])}
        Path(a.out).write_text(json.dumps(res, indent=1))
        print(seed, res["per_seed"][str(seed)]["normalised"], flush=True)
    from distillrl.core.stats import t_interval

    res["summary"] = {"normalised": t_interval([v["normalised"] for v in res["per_seed"].values()]),
                      "teacher_return": float(np.mean([v["teacher_return"] for v in res["per_seed"].values()]))}
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(json.dumps(res["summary"]))


if __name__ == "__main__":
    main()
