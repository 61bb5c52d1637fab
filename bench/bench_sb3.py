"""Kickstarting inside Stable-Baselines3 (``distillrl.sb3``) against SB3 alone (issue 28).

* ``learn``: SB3 ``KickstartPPO`` (teacher: a zoo teacher, λ linear 1 → 0) vs SB3 ``PPO`` with the
  same hyper-parameters, seeds and budget. A callback records after every rollout the mean return
  of the last 10 training episodes; reported: frames until it first reaches each target (the
  teacher's score, and fractions of it), per seed, and the final greedy score (``evaluate_policy``,
  30 episodes). CartPole-v1 uses RL Zoo's tuned PPO settings for CartPole; MinAtar Breakout SB3's
  PPO defaults with 8 envs and an MLP on the flattened 10×10×4 observation.
* ``overhead``: frames/s of ``KickstartPPO`` ÷ ``PPO`` on CartPole, alternating in one process,
  one torch thread, ``--repeats`` repeats after a warm-up (the term's cost: one teacher forward on
  each minibatch plus the cross-entropy and its backward).

Results: ``bench/results/sb3_kickstart.json`` (merged per env/seed; finished entries are skipped).

    python bench/bench_sb3.py learn --env cartpole --seeds 1 2 3 4 5
    python bench/bench_sb3.py learn --env breakout --seeds 1 2 3 4 5
    python bench/bench_sb3.py overhead --repeats 5
"""

from __future__ import annotations

import distillrl  # noqa: F401  (first: caps BLAS threads before NumPy loads)

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

OUT = Path("bench/results/sb3_kickstart.json")

# RL Zoo's hyperparams/ppo.yml for CartPole-v1 (n_timesteps 1e5)
ZOO_CARTPOLE = dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
                    learning_rate=1e-3, clip_range=0.2)
SETUPS = {
    "cartpole": {"gym_id": "CartPole-v1", "spec": "gym:CartPole-v1", "teacher": "cartpole", "n_envs": 8,
                 "ppo": ZOO_CARTPOLE, "steps": 100_000, "decay": 50_000},
    "breakout": {"gym_id": None, "spec": "minatar:breakout", "teacher": "minatar-breakout", "n_envs": 8,
                 "ppo": dict(n_steps=128, batch_size=256), "steps": 500_000, "decay": 250_000},
}


def load() -> dict:
    return json.loads(OUT.read_text()) if OUT.exists() else {}


def save(res: dict) -> None:
    res = {**load(), **res}
    tmp = OUT.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(res, indent=1) + "\n")
    tmp.replace(OUT)


def make_env(setup: dict, n_envs: int, seed: int):
    from stable_baselines3.common.env_util import make_vec_env

    if setup["gym_id"]:
        return make_vec_env(setup["gym_id"], n_envs=n_envs, seed=seed)
    from distillrl.envs.make import make_env_fn

    return make_vec_env(make_env_fn(setup["spec"]), n_envs=n_envs, seed=seed)


def build(kind: str, setup: dict, seed: int):
    from stable_baselines3 import PPO

    from distillrl.sb3 import KickstartPPO

    env = make_env(setup, setup["n_envs"], seed)
    kw = dict(seed=seed, device="cpu", verbose=0, **setup["ppo"])
    if kind == "kickstart":
        return KickstartPPO("MlpPolicy", env, teachers=[setup["teacher"]], schedule="linear",
                            decay_frames=setup["decay"], **kw)
    return PPO("MlpPolicy", env, **kw)


def curve_callback(points: list):
    from stable_baselines3.common.callbacks import BaseCallback

    class Curve(BaseCallback):
        def _on_rollout_end(self) -> None:
            buf = list(self.model.ep_info_buffer)[-10:]
            if buf:
                points.append([int(self.model.num_timesteps), float(np.mean([e["r"] for e in buf]))])

        def _on_step(self) -> bool:
            return True

    return Curve()


def teacher_score(setup: dict) -> float:
    from distillrl.teachers.zoo import zoo_meta

    return float(zoo_meta(setup["teacher"])["eval"]["mean_return"])


def part_learn(env_name: str, seeds: list[int]) -> None:
    from stable_baselines3.common.evaluation import evaluate_policy

    setup = SETUPS[env_name]
    res = load()
    target = teacher_score(setup)
    for seed in seeds:
        for kind in ("sb3", "kickstart"):
            key = f"{env_name}|{kind}|{seed}"
            if key in res:
                continue
            model = build(kind, setup, seed)
            points: list = []
            t0 = time.perf_counter()
            model.learn(setup["steps"], callback=curve_callback(points))
            wall = time.perf_counter() - t0
            ev_env = make_env(setup, 1, 10_000 + seed)
            rets, _ = evaluate_policy(model, ev_env, n_eval_episodes=30, deterministic=True, return_episode_rewards=True)
            reach = {}
            for frac in (0.5, 0.9, 1.0):
                hit = next((f for f, r in points if r >= frac * target), None)
                reach[f"{frac:g}"] = hit
            res[key] = {"env": env_name, "kind": kind, "seed": seed, "steps": setup["steps"], "teacher_score": target,
                        "frames_to": reach, "final_greedy": float(np.mean(rets)), "wall_s": wall,
                        "curve": points}
            save(res)
            print(f"{key}: to teacher {reach['1']}, final {np.mean(rets):.2f}, {wall:.0f}s", flush=True)


def part_overhead(repeats: int) -> None:
    torch.set_num_threads(1)
    setup = SETUPS["cartpole"]
    sps: dict[str, list[float]] = {"sb3": [], "kickstart": []}
    for r in range(repeats):
        for kind in ("sb3", "kickstart"):
            model = build(kind, {**setup, "decay": 10**9}, 100 + r)  # λ never reaches 0: the term is always on
            model.learn(2_048)  # warm-up (teacher loading, first allocations)
            t0, f0 = time.perf_counter(), model.num_timesteps
            model.learn(16_384, reset_num_timesteps=False)
            sps[kind].append((model.num_timesteps - f0) / (time.perf_counter() - t0))
            print(f"  {kind}: {sps[kind][-1]:,.0f} frames/s", flush=True)
    ratios = [k / s for k, s in zip(sps["kickstart"], sps["sb3"])]
    save({"overhead": {"sps": sps, "ratio_per_repeat": ratios,
                       "ratio_of_medians": float(np.median(sps["kickstart"]) / np.median(sps["sb3"])),
                       "settings": "CartPole-v1, RL Zoo PPO settings, 8 envs, 16,384 timed frames, 1 torch thread"}})
    print(f"KickstartPPO / PPO frames/s: {np.median(sps['kickstart']) / np.median(sps['sb3']):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["learn", "overhead"])
    ap.add_argument("--env", choices=list(SETUPS), default="cartpole")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.part == "learn":
        part_learn(a.env, a.seeds)
    else:
        part_overhead(a.repeats)


if __name__ == "__main__":
    main()
