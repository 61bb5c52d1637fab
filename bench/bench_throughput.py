"""Training throughput: distillrl vs Stable-Baselines3, same run, same settings.

PPO with CleanRL's defaults (4 envs, 128-step rollouts, 4 minibatches, 4 epochs, lr 2.5e-4
annealed, GAE 0.95, clip 0.2, ent 0.01, vf 0.5, grad-clip 0.5, Adam ε 1e-5): a 64×64 tanh
MLP (separate actor and critic, as both libraries do by default) on CartPole-v1, and the
MinAtar network (conv 16×3×3 → FC 128, shared by policy and value) on MinAtar Breakout,
given to SB3 as a features extractor. DQN with the same settings in both. Each pair is run
``--repeats`` times, alternating, and the ratio of medians is reported. torch uses 1 thread.
Also: SPS ÷ the raw random-action env SPS (single env, no learning).

    python bench/bench_throughput.py [--frames 20480] [--repeats 3] [--out bench/results/throughput.json]
"""

from __future__ import annotations

import distillrl  # noqa: F401  (first: caps BLAS threads before NumPy loads)

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn

torch.set_num_threads(1)

from distillrl.envs.make import gym_id, make_env_fn  # noqa: E402
from distillrl.models.nets import NetConfig  # noqa: E402
from distillrl.algos import DQNConfig, PPOConfig, TrainConfig, make_trainer  # noqa: E402

CLEANRL_PPO = dict(num_envs=4, num_steps=128, num_minibatches=4, update_epochs=4, lr=2.5e-4, anneal_lr=True,
                   gamma=0.99, gae_lambda=0.95, clip_coef=0.2, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5)


# --------------------------------------------------------------------------- SB3 side


class MinAtarExtractor:
    """Built lazily so the module imports without SB3."""

    @staticmethod
    def cls():
        from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

        class _Ext(BaseFeaturesExtractor):
            def __init__(self, observation_space, features_dim=128):
                super().__init__(observation_space, features_dim)
                c = observation_space.shape[-1]
                self.conv = nn.Conv2d(c, 16, 3)
                self.fc = nn.Linear(16 * 8 * 8, features_dim)

            def forward(self, obs):
                x = obs.float().permute(0, 3, 1, 2)
                return torch.relu(self.fc(torch.relu(self.conv(x)).flatten(1)))

        return _Ext


def sb3_env(spec, n, seed=0):
    from stable_baselines3.common.env_util import make_vec_env

    return make_vec_env(make_env_fn(spec), n_envs=n, seed=seed)


def sb3_ppo(spec: str, minatar_net: bool, seed: int = 0):
    """SB3's PPO with CleanRL's settings: the MinAtar network as a features extractor, or the
    64×64 tanh MLP (separate actor and critic)."""
    from stable_baselines3 import PPO

    p = CLEANRL_PPO
    if minatar_net:
        pk = dict(features_extractor_class=MinAtarExtractor.cls(), net_arch=[])
    else:
        pk = dict(net_arch=dict(pi=[64, 64], vf=[64, 64]), activation_fn=nn.Tanh)
    lr = p["lr"]
    return PPO("MlpPolicy", sb3_env(spec, p["num_envs"], seed), n_steps=p["num_steps"],
               batch_size=p["num_envs"] * p["num_steps"] // p["num_minibatches"], n_epochs=p["update_epochs"],
               learning_rate=lambda f: lr * f, gamma=p["gamma"], gae_lambda=p["gae_lambda"],
               clip_range=p["clip_coef"], ent_coef=p["ent_coef"], vf_coef=p["vf_coef"],
               max_grad_norm=p["max_grad_norm"], policy_kwargs=pk, device="cpu", seed=seed, verbose=0)


def sb3_ppo_sps(spec: str, frames: int) -> float:
    p = CLEANRL_PPO
    model = sb3_ppo(spec, spec.startswith("minatar"))
    model.learn(p["num_envs"] * p["num_steps"])  # warm-up iteration
    t = time.perf_counter()
    model.learn(frames, reset_num_timesteps=False)
    return frames / (time.perf_counter() - t)


def dqn_settings(spec: str) -> dict:
    if spec.startswith("minatar"):  # the MinAtar paper's settings (our preset)
        return dict(buffer_size=100_000, batch_size=32, lr=2.5e-4, gamma=0.99, learning_starts=1000, train_freq=1,
                    target_update=1000, eps_start=1.0, eps_end=0.1, eps_decay_frames=5000, max_grad_norm=10.0,
                    optimizer="rmsprop")
    return dict(buffer_size=10_000, batch_size=32, lr=1e-4, gamma=0.99, learning_starts=1000, train_freq=4,
                target_update=1000, eps_start=1.0, eps_end=0.05, eps_decay_frames=5000, max_grad_norm=10.0,
                optimizer="adam")


def sb3_dqn_sps(spec: str, frames: int) -> float:
    from stable_baselines3 import DQN

    d = dqn_settings(spec)
    pk: dict = {}
    if spec.startswith("minatar"):
        pk = dict(features_extractor_class=MinAtarExtractor.cls(), net_arch=[],
                  optimizer_class=torch.optim.RMSprop, optimizer_kwargs=dict(alpha=0.95, eps=0.01, centered=True))
    else:
        pk = dict(net_arch=[64, 64])
    total = frames + d["learning_starts"]
    model = DQN("MlpPolicy", sb3_env(spec, 1), buffer_size=d["buffer_size"], batch_size=d["batch_size"],
                learning_rate=d["lr"], gamma=d["gamma"], learning_starts=d["learning_starts"],
                train_freq=d["train_freq"], gradient_steps=1, target_update_interval=d["target_update"],
                exploration_initial_eps=d["eps_start"], exploration_final_eps=d["eps_end"],
                exploration_fraction=(d["learning_starts"] + d["eps_decay_frames"]) / total,
                max_grad_norm=d["max_grad_norm"], policy_kwargs=pk, device="cpu", seed=0, verbose=0)
    model.learn(d["learning_starts"])  # fill the buffer up to learning_starts (not timed)
    t = time.perf_counter()
    model.learn(frames, reset_num_timesteps=False)
    return frames / (time.perf_counter() - t)


# --------------------------------------------------------------------------- distillrl side


def ours_ppo_sps(spec: str, frames: int) -> float:
    net = NetConfig(hidden=(64, 64)) if spec.startswith("gym") else NetConfig(arch="minatar")
    cfg = TrainConfig(env=spec, steps=frames + 512, seed=0, ppo=PPOConfig(**CLEANRL_PPO), net=net)
    tr = make_trainer(cfg)
    tr.advance(512)  # warm-up iteration
    t = time.perf_counter()
    tr.advance(frames)
    return frames / (time.perf_counter() - t)


def ours_dqn_sps(spec: str, frames: int) -> float:
    d = dqn_settings(spec)
    net = NetConfig(hidden=(64, 64), activation="relu") if spec.startswith("gym") else NetConfig(arch="minatar")
    cfg = TrainConfig(env=spec, algo="dqn", steps=frames + d["learning_starts"], seed=0,
                      dqn=DQNConfig(**d, log_every=10**9), net=net)
    tr = make_trainer(cfg)
    tr.advance(d["learning_starts"])
    t = time.perf_counter()
    tr.advance(frames)
    return frames / (time.perf_counter() - t)


def raw_env_sps(spec: str, steps: int = 30000) -> float:
    env = gym.make(gym_id(spec), disable_env_checker=True)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    n = env.action_space.n
    acts = rng.integers(0, n, steps)
    t = time.perf_counter()
    for a in acts:
        _, _, te, tr, _ = env.step(int(a))
        if te or tr:
            env.reset()
    return steps / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=20480)
    ap.add_argument("--dqn-frames", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="bench/results/throughput.json")
    ap.add_argument("--only", choices=["ppo", "dqn"], default=None)
    args = ap.parse_args()
    results = {"command": " ".join(["python"] + sys.argv), "machine": platform.processor() or platform.machine(),
               "torch": torch.__version__, "threads": torch.get_num_threads(), "cases": []}
    import stable_baselines3

    results["sb3"] = stable_baselines3.__version__
    cases = []
    if args.only in (None, "ppo"):
        cases += [("ppo", "gym:CartPole-v1", ours_ppo_sps, sb3_ppo_sps, args.frames),
                  ("ppo", "minatar:breakout", ours_ppo_sps, sb3_ppo_sps, args.frames)]
    if args.only in (None, "dqn"):
        cases += [("dqn", "gym:CartPole-v1", ours_dqn_sps, sb3_dqn_sps, args.dqn_frames),
                  ("dqn", "minatar:breakout", ours_dqn_sps, sb3_dqn_sps, args.dqn_frames)]
    for algo, spec, ours, theirs, frames in cases:
        o, s = [], []
        for _ in range(args.repeats):
            o.append(ours(spec, frames))
            s.append(theirs(spec, frames))
        raw = raw_env_sps(spec)
        row = {"algo": algo, "env": spec, "frames": frames, "distillrl_sps": o, "sb3_sps": s,
               "distillrl_median": statistics.median(o), "sb3_median": statistics.median(s),
               "ratio": statistics.median(o) / statistics.median(s), "raw_env_sps": raw,
               "fraction_of_raw_env": statistics.median(o) / raw}
        results["cases"].append(row)
        print(f"{algo:4s} {spec:18s} distillrl {row['distillrl_median']:8.0f} sps  sb3 {row['sb3_median']:8.0f} sps"
              f"  ratio {row['ratio']:.2f}×  raw env {raw:8.0f} sps", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
