"""BENCHMARKS §1–5 re-measured for two versions of the code in one run: the current tree and an
older commit (default: d7770ed, the code before the core redesign of issue 7).

The old commit's ``src/`` is extracted (``git archive``) into a temporary folder; every
measurement runs in a fresh subprocess with ``PYTHONPATH`` pointing at one version's ``src``,
old and new alternating, so both see the same machine conditions. Same venv, same packages.

Parts:
  throughput  distillrl PPO and DQN frames/s (bench_throughput's settings: CleanRL PPO, MinAtar-paper
              DQN) on CartPole and MinAtar Breakout, and SB3's in the same repeats (ratio vs SB3)
  cartpole    `distillrl train --env gym:CartPole-v1 --steps 100000 --seed S`, greedy 30 episodes
  distill     distillation frames/s (Breakout, defaults) and frames to 95% of the teacher
  kickstart   kickstart overhead: frames/s with one teacher ÷ without (Breakout, MinAtar preset)

    python bench/compare_versions.py [--old d7770ed] [--parts ...] [--repeats 3] [--out bench/results/compare_versions.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs inside the measured version; works with both APIs (0.1: distillrl.trainer / distillrl.distill,
# 0.2: distillrl.algos / distillrl.algos.distill).
SNIPPET = r'''
import distillrl, json, sys, time
import torch
torch.set_num_threads(1)
try:
    from distillrl.algos import TrainConfig, PPOConfig, DQNConfig, make_trainer
    from distillrl.algos.distill import DistillConfig, DistillTrainer
    NEW = True
except ImportError:
    from distillrl.trainer import TrainConfig, PPOConfig, DQNConfig, make_trainer
    from distillrl.distill import DistillConfig, DistillTrainer
    NEW = False
from distillrl.nets import NetConfig
what, spec, frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}  # bench_throughput's, passed in
def timed(tr, warm, frames):
    tr.advance(warm)
    t = time.perf_counter()
    tr.advance(frames)
    return frames / (time.perf_counter() - t)
def policy(tr):
    return (lambda o: tr.policy(o)[0]) if NEW else (lambda o: tr.actor(o)[0])
out = {}
if what == "ppo":
    net = NetConfig(hidden=(64, 64)) if spec.startswith("gym") else NetConfig(arch="minatar")
    out["sps"] = timed(make_trainer(TrainConfig(env=spec, steps=frames + 512, seed=0, ppo=PPOConfig(**settings), net=net)), 512, frames)
elif what == "dqn":
    d = settings
    net = NetConfig(hidden=(64, 64), activation="relu") if spec.startswith("gym") else NetConfig(arch="minatar")
    tr = make_trainer(TrainConfig(env=spec, algo="dqn", steps=frames + d["learning_starts"], seed=0,
                                  dqn=DQNConfig(**d, log_every=10**9), net=net))
    out["sps"] = timed(tr, d["learning_starts"], frames)
elif what == "distill_sps":
    tr = DistillTrainer(DistillConfig(teacher="minatar-breakout", env=spec, steps=10**7, seed=1))
    out["sps"] = timed(tr, 4096, frames)
elif what == "distill_speed":
    from distillrl.evaluate import evaluate
    from distillrl.teachers import load_teacher
    tr = DistillTrainer(DistillConfig(teacher="minatar-breakout", env=spec, steps=10**7, seed=1))
    teacher = load_teacher("minatar-breakout")
    t_score = float(evaluate(lambda o: teacher.outputs(o).numpy(), spec, 30, seed=77)[0].mean())
    train_s, reached = 0.0, None
    while tr.frames < frames:
        t0 = time.perf_counter()
        tr.advance(25_088)
        train_s += time.perf_counter() - t0
        sc = float(evaluate(policy(tr), spec, 30, seed=77)[0].mean())
        if sc >= 0.95 * t_score:
            reached = tr.frames
            break
    out.update({"frames_to_95": reached, "train_wall_s": train_s, "teacher_return": t_score, "student_return": sc})
elif what == "kickstart_overhead":
    from distillrl.config import from_dict
    from distillrl.kickstart import KickstartConfig, make_kickstart_trainer
    from distillrl.presets import preset
    wo = timed(make_trainer(from_dict(TrainConfig, {**preset(spec, "ppo"), "env": spec})), 4096, frames)
    w = timed(make_kickstart_trainer(from_dict(KickstartConfig, {**preset(spec, "ppo"), "env": spec,
                                                                   "teacher": ["minatar-breakout"]})), 4096, frames)
    out.update({"sps_without": wo, "sps_with_teacher": w, "ratio": w / wo})
print(json.dumps(out))
'''

SB3_SNIPPET = r'''
import sys, json
sys.path.insert(0, sys.argv[4])
import bench_throughput as b
what, spec, frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
print(json.dumps({"sps": (b.sb3_ppo_sps if what == "ppo" else b.sb3_dqn_sps)(spec, frames)}))
'''


def run(src: Path, code: str, *args, timeout: int = 3600) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONHASHSEED": "0"}
    p = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=env,
                       timeout=timeout, cwd=ROOT)
    if p.returncode:
        raise RuntimeError(f"{args} with {src} failed:\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def cartpole(src: Path, seed: int, tmp: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONHASHSEED": "0"}
    d = tmp / f"cp-{src.parent.name}-{seed}-{time.time_ns()}"
    p = subprocess.run([sys.executable, "-m", "distillrl.cli", "train", "--env", "gym:CartPole-v1", "--steps", "100000",
                        "--seed", str(seed), "--run-dir", str(d), "--eval-episodes", "30", "--json", "--no-progress"],
                       capture_output=True, text=True, env=env, check=True)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    return {"seed": seed, "mean_return": r["mean_return"], "sps": r["sps"], "wall_s": r["wall_s"]}


def med(xs):
    return statistics.median(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", default="d7770ed")
    ap.add_argument("--parts", nargs="+", default=["throughput", "cartpole", "distill", "kickstart"],
                    choices=["throughput", "cartpole", "distill", "kickstart"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--out", default="bench/results/compare_versions.json")
    args = ap.parse_args()
    out_path = Path(args.out)
    res = json.loads(out_path.read_text()) if out_path.exists() else {}
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=ROOT).stdout.strip() + " (+ working tree)"
    res.update({"command": " ".join(["python"] + sys.argv), "old": args.old})
    res.setdefault("new_by_part", {}).update({p: head for p in args.parts})

    def save():
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(res, indent=2) + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "old").mkdir()
        arch = subprocess.run(["git", "archive", args.old, "src"], capture_output=True, cwd=ROOT, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp / "old")], input=arch, check=True)
        versions = {"old": tmp / "old" / "src", "new": ROOT / "src"}
        if "throughput" in args.parts:
            sys.path.insert(0, str(ROOT / "bench"))
            import bench_throughput as bt  # the settings of §1 (this process runs the new tree)

            rows = []
            for algo, spec, frames in [("ppo", "gym:CartPole-v1", 20480), ("ppo", "minatar:breakout", 20480),
                                       ("dqn", "gym:CartPole-v1", 5000), ("dqn", "minatar:breakout", 5000)]:
                got = {"old": [], "new": [], "sb3": []}
                settings = json.dumps(bt.CLEANRL_PPO if algo == "ppo" else bt.dqn_settings(spec))
                for _ in range(args.repeats):
                    for v, src in versions.items():
                        got[v].append(run(src, SNIPPET, algo, spec, frames, settings)["sps"])
                    got["sb3"].append(run(versions["new"], SB3_SNIPPET, algo, spec, frames, ROOT / "bench")["sps"])
                row = {"algo": algo, "env": spec, "frames": frames, **{f"{k}_sps": v for k, v in got.items()},
                       "new_over_old": med(got["new"]) / med(got["old"]),
                       "old_over_sb3": med(got["old"]) / med(got["sb3"]), "new_over_sb3": med(got["new"]) / med(got["sb3"])}
                rows.append(row)
                print(f"{algo} {spec}: new/old {row['new_over_old']:.2f}  new/sb3 {row['new_over_sb3']:.2f}  "
                      f"old/sb3 {row['old_over_sb3']:.2f}", flush=True)
            res["throughput"] = rows
            save()
        if "cartpole" in args.parts:
            runs = {"old": [], "new": []}
            for s in args.seeds:
                for v, src in versions.items():
                    runs[v].append(cartpole(src, s, tmp))
                    print(f"cartpole {v} seed {s}: {runs[v][-1]}", flush=True)
            res["cartpole"] = {v: {"runs": r, "median_return": med([x["mean_return"] for x in r]),
                                   "median_wall_s": med([x["wall_s"] for x in r])} for v, r in runs.items()}
            save()
        if "distill" in args.parts:
            sps = {"old": [], "new": []}
            for _ in range(args.repeats):
                for v, src in versions.items():
                    sps[v].append(run(src, SNIPPET, "distill_sps", "minatar:breakout", 49152)["sps"])
            speed = {v: run(src, SNIPPET, "distill_speed", "minatar:breakout", 1_000_000) for v, src in versions.items()}
            res["distill"] = {"sps": sps, "new_over_old": med(sps["new"]) / med(sps["old"]), "speed": speed}
            print("distill", res["distill"], flush=True)
            save()
        if "kickstart" in args.parts:
            ks = {"old": [], "new": []}
            for _ in range(args.repeats):
                for v, src in versions.items():
                    ks[v].append(run(src, SNIPPET, "kickstart_overhead", "minatar:breakout", 49152))
            res["kickstart_overhead"] = {v: {"runs": r, "median_ratio": med([x["ratio"] for x in r])}
                                         for v, r in ks.items()}
            print("kickstart", {v: x["median_ratio"] for v, x in res["kickstart_overhead"].items()}, flush=True)
            save()
    save()
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
