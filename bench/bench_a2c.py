"""A2C is A2C: distillrl's A2C against Stable-Baselines3's A2C on CartPole-v1, same settings, same run.

Settings (SB3's A2C defaults with RL-Zoo's CartPole choices): 8 envs × 5 steps, one update per
rollout, RMSProp (α 0.99, ε 1e-5, uncentred) at a constant lr 7e-4, γ 0.99, GAE λ 1 (n-step
returns), no entropy bonus, grad-norm clip 0.5, 64×64 tanh actor and critic, no advantage
normalisation. SB3's value loss is the MSE without ½, so distillrl's ``vf_coef`` 1.0 matches
SB3's 0.5. Each seed trains ``--frames`` frames in both libraries (alternating), then plays 30
greedy episodes (reset seeds 0–29).

    python bench/bench_a2c.py [--frames 200000] [--seeds 1 2 3] [--out bench/results/a2c_vs_sb3.json]
"""

from __future__ import annotations

import distillrl  # noqa: F401  (first: caps BLAS threads before NumPy loads)

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)

from distillrl.algos import PPOConfig, TrainConfig, make_trainer  # noqa: E402
from distillrl.envs.make import make_env_fn  # noqa: E402
from distillrl.acting.evaluate import evaluate  # noqa: E402
from distillrl.models.nets import NetConfig  # noqa: E402

SPEC = "gym:CartPole-v1"
A2C = dict(num_envs=8, num_steps=5, lr=7e-4, anneal_lr=False, gamma=0.99, gae_lambda=1.0, ent_coef=0.0, vf_coef=1.0,
           max_grad_norm=0.5, optimizer="rmsprop", optim_eps=1e-5, rmsprop_alpha=0.99)


def ours(seed: int, frames: int) -> dict:
    cfg = TrainConfig(env=SPEC, algo="a2c", steps=frames, seed=seed, ppo=PPOConfig(**A2C), net=NetConfig(hidden=(64, 64)))
    tr = make_trainer(cfg)
    t = time.perf_counter()
    tr.advance(frames)
    wall = time.perf_counter() - t
    rets, _ = evaluate(lambda o: tr.policy(o)[0], SPEC, 30, seed=0)
    return {"seed": seed, "greedy_return": float(rets.mean()), "train_return_recent": tr.stats.mean_recent(),
            "sps": frames / wall, "updates": tr.updates}


def sb3(seed: int, frames: int) -> dict:
    from stable_baselines3 import A2C as SB3A2C
    from stable_baselines3.common.env_util import make_vec_env
    from torch import nn

    env = make_vec_env(make_env_fn(SPEC), n_envs=A2C["num_envs"], seed=seed)
    model = SB3A2C("MlpPolicy", env, n_steps=A2C["num_steps"], learning_rate=A2C["lr"], gamma=A2C["gamma"],
                   gae_lambda=A2C["gae_lambda"], ent_coef=A2C["ent_coef"], vf_coef=0.5, max_grad_norm=A2C["max_grad_norm"],
                   rms_prop_eps=A2C["optim_eps"], use_rms_prop=True, normalize_advantage=False,
                   policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64]), activation_fn=nn.Tanh),
                   device="cpu", seed=seed, verbose=0)
    t = time.perf_counter()
    model.learn(frames)
    wall = time.perf_counter() - t

    def pol(o):
        with torch.no_grad():
            return model.policy.get_distribution(torch.from_numpy(o)).distribution.logits.numpy()

    rets, _ = evaluate(pol, SPEC, 30, seed=0)
    ep = [e["r"] for e in model.ep_info_buffer]
    return {"seed": seed, "greedy_return": float(rets.mean()), "train_return_recent": float(np.mean(ep)) if ep else None,
            "sps": frames / wall, "updates": frames // (A2C["num_envs"] * A2C["num_steps"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=200_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--out", default="bench/results/a2c_vs_sb3.json")
    args = ap.parse_args()
    res = {"command": " ".join(["python"] + sys.argv), "settings": A2C, "distillrl": [], "sb3": []}
    for s in args.seeds:
        res["distillrl"].append(ours(s, args.frames))
        res["sb3"].append(sb3(s, args.frames))
        print(f"seed {s}: distillrl {res['distillrl'][-1]}  sb3 {res['sb3'][-1]}", flush=True)
    for k in ("distillrl", "sb3"):
        res[f"{k}_median_greedy"] = statistics.median(r["greedy_return"] for r in res[k])
        res[f"{k}_median_sps"] = statistics.median(r["sps"] for r in res[k])
    res["sps_ratio"] = res["distillrl_median_sps"] / res["sb3_median_sps"]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"median greedy return: distillrl {res['distillrl_median_greedy']:.1f}, SB3 {res['sb3_median_greedy']:.1f}; "
          f"speed ratio {res['sps_ratio']:.2f}×")


if __name__ == "__main__":
    main()
