"""The PPO loop's own cost: distillrl's trainer against the *floor* of the same work, in one run.

The floor of one PPO iteration is what no implementation can avoid:
  * the environment steps: ``num_steps`` vector steps of ``num_envs`` environments with
    random actions (the same :class:`envs.FastVectorEnv`), and
  * the ``update_epochs × num_minibatches`` optimisation steps on minibatches of the rollout
    size: forward, the PPO loss, backward, global-norm clipping and the (fused) Adam step,
    with the same network, on one torch thread.
Floor frames/s = frames per iteration ÷ (env time + optimisation time). Everything else the
trainer does — acting (a forward per step), sampling, GAE, minibatch indexing, metrics — is
overhead on top of it. Cases: CleanRL's PPO settings (4 envs × 128 steps, 4 minibatches, 4
epochs) with CleanRL's 64×64 tanh MLP on CartPole and on MinAtar Breakout, and the MinAtar
network at the MinAtar preset (32 envs × 128 steps, minibatches of 512, 4 epochs).

    python bench/bench_floor.py [--iters 12] [--repeats 3] [--out bench/results/floor.json]

Each repeat measures floor then trainer, alternating; medians are reported. Timings are
wall-clock on a shared machine: read the ratio, not the absolute numbers.
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
from distillrl.envs.make import env_info, make_vec  # noqa: E402
from distillrl.core.learner import make_optimizer  # noqa: E402
from distillrl.core.losses import ppo_loss  # noqa: E402
from distillrl.models.agent import Agent
from distillrl.models.nets import NetConfig  # noqa: E402

CLEANRL = dict(num_envs=4, num_steps=128, num_minibatches=4, update_epochs=4, lr=2.5e-4, anneal_lr=True, gamma=0.99,
               gae_lambda=0.95, clip_coef=0.2, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5)
MINATAR_PRESET = {**CLEANRL, "num_envs": 32, "num_steps": 128, "num_minibatches": 8, "lr": 5e-4}
CASES = [
    ("CartPole, CleanRL MLP", "gym:CartPole-v1", NetConfig(hidden=(64, 64)), CLEANRL),
    ("Breakout, CleanRL MLP", "minatar:breakout", NetConfig(arch="mlp", hidden=(64, 64)), CLEANRL),
    ("Breakout, MinAtar net (preset)", "minatar:breakout", NetConfig(arch="minatar"), MINATAR_PRESET),
]


def floor_sps(spec: str, net: NetConfig, p: dict, iters: int) -> dict:
    n, T = p["num_envs"], p["num_steps"]
    envs = make_vec(spec, n)
    obs, _ = envs.reset(seed=0)
    info = env_info(spec)
    rng = np.random.default_rng(0)
    acts = rng.integers(0, info.n_actions, (iters + 1, T, n))
    buf = np.empty((T, n) + info.obs_shape, obs.dtype)
    agent = Agent(info, net, generator=torch.Generator().manual_seed(0))
    opt = make_optimizer(agent.parameters(), "adam", p["lr"], 1e-5)
    params = list(agent.parameters())
    B = n * T
    mb = B // p["num_minibatches"]
    t_env = t_opt = 0.0
    for it in range(iters + 1):  # iteration 0 warms up
        t0 = time.perf_counter()
        for t in range(T):
            buf[t] = obs
            obs, *_ = envs.step(acts[it, t])
        t1 = time.perf_counter()
        flat = torch.from_numpy(buf.reshape((B,) + info.obs_shape))
        a = torch.from_numpy(acts[it].reshape(-1))
        z = torch.zeros(B)
        adv = torch.from_numpy(rng.normal(size=B).astype(np.float32))
        t2 = time.perf_counter()
        for _ in range(p["update_epochs"]):
            for s in range(0, B, mb):
                sl = slice(s, s + mb)
                out = agent(flat[sl])
                terms = ppo_loss(out.logits, out.value, a[sl], z[sl], z[sl], adv[sl], adv[sl], p["clip_coef"])
                loss = terms["loss_pg"] + p["vf_coef"] * terms["loss_value"] + p["ent_coef"] * terms["loss_entropy"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, p["max_grad_norm"], foreach=True)
                opt.step()
        t3 = time.perf_counter()
        if it:
            t_env += t1 - t0
            t_opt += t3 - t2
    frames = iters * B
    return {"sps": frames / (t_env + t_opt), "env_s": t_env / iters, "opt_s": t_opt / iters}


def trainer_sps(spec: str, net: NetConfig, p: dict, iters: int) -> float:
    B = p["num_envs"] * p["num_steps"]
    cfg = TrainConfig(env=spec, steps=(iters + 1) * B, seed=0, ppo=PPOConfig(**p), net=net)
    tr = make_trainer(cfg)
    tr.advance(B)  # warm-up iteration
    t = time.perf_counter()
    tr.advance(iters * B)
    return iters * B / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=12, help="timed PPO iterations per measurement")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="bench/results/floor.json")
    args = ap.parse_args()
    res = {"command": " ".join(["python"] + sys.argv), "torch": torch.__version__, "threads": 1, "cases": []}
    for name, spec, net, p in CASES:
        iters = max(2, args.iters // (8 if p["num_envs"] > 4 else 1))
        fl, tr = [], []
        for _ in range(args.repeats):
            fl.append(floor_sps(spec, net, p, iters))
            tr.append(trainer_sps(spec, net, p, iters))
        f_med = statistics.median(x["sps"] for x in fl)
        t_med = statistics.median(tr)
        row = {"case": name, "env": spec, "settings": p, "iters": iters, "floor_sps": [x["sps"] for x in fl],
               "floor_env_s_per_iter": statistics.median(x["env_s"] for x in fl),
               "floor_opt_s_per_iter": statistics.median(x["opt_s"] for x in fl),
               "trainer_sps": tr, "floor_median": f_med, "trainer_median": t_med, "fraction_of_floor": t_med / f_med}
        res["cases"].append(row)
        print(f"{name:32s} floor {f_med:8.0f} fps  trainer {t_med:8.0f} fps  = {t_med / f_med:.0%} of the floor",
              flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
