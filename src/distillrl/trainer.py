"""The trainer object every front end drives: CLI, kickstarting, PBT on Ray Tune.

A trainer is advanced by a number of frames (``advance``), reports metric rows (one dict per
update or log interval), and saves/restores its whole state (``state_dict`` /
``load_state_dict``): weights, optimizer, RNG streams, schedules and counters.

What a checkpoint does *not* hold is the environments' internal state (Gymnasium has no safe
way to serialise it). On restore, environments are reset with a seed derived from the run
seed and the restored frame counter, so a resumed run is deterministic given its checkpoint,
but the episodes that were in flight at the checkpoint are discarded (not logged).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from .actor import make_actor
from .envs import EnvInfo, env_info, make_vec
from .nets import Agent, NetConfig, param_count


@dataclass
class PPOConfig:
    """PPO (Schulman et al. 2017). Defaults are CleanRL's ppo.py."""

    num_envs: int = 4
    """parallel environments"""
    num_steps: int = 128
    """steps per environment per rollout"""
    num_minibatches: int = 4
    """minibatches per epoch"""
    update_epochs: int = 4
    """passes over each rollout"""
    lr: float = 2.5e-4
    """Adam learning rate"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over the run"""
    gamma: float = 0.99
    """discount"""
    gae_lambda: float = 0.95
    """GAE λ"""
    clip_coef: float = 0.2
    """surrogate (and value) clipping ε"""
    clip_vloss: bool = True
    """clip the value loss as in PPO2"""
    norm_adv: bool = True
    """normalise advantages per minibatch"""
    ent_coef: float = 0.01
    """entropy bonus weight"""
    vf_coef: float = 0.5
    """value loss weight"""
    max_grad_norm: float = 0.5
    """global gradient-norm clip"""
    target_kl: float | None = None
    """stop the epochs of an update early once approx. KL exceeds this"""
    adam_eps: float = 1e-5
    """Adam ε"""


@dataclass
class DQNConfig:
    """DQN (Mnih et al. 2015). Defaults follow the MinAtar paper (Young & Tian 2019)."""

    num_envs: int = 1
    """parallel environments"""
    buffer_size: int = 100_000
    """replay capacity in transitions"""
    batch_size: int = 32
    """minibatch size"""
    lr: float = 2.5e-4
    """learning rate"""
    optimizer: str = "rmsprop"
    """adam or rmsprop (centred, α=0.95, ε=0.01 — the MinAtar paper's settings)"""
    gamma: float = 0.99
    """discount"""
    learning_starts: int = 5000
    """frames of random play before learning"""
    train_freq: int = 1
    """vector-env steps between gradient updates"""
    gradient_steps: int = 1
    """gradient updates each time"""
    target_update: int = 1000
    """frames between target-network updates"""
    tau: float = 1.0
    """target update rate (1 = hard copy)"""
    eps_start: float = 1.0
    """initial ε of ε-greedy"""
    eps_end: float = 0.1
    """final ε"""
    eps_decay_frames: int = 100_000
    """frames of linear ε decay (after learning_starts)"""
    huber: bool = True
    """Huber TD loss (else squared)"""
    double: bool = False
    """double DQN targets"""
    max_grad_norm: float = 10.0
    """global gradient-norm clip (≤ 0 disables)"""
    log_every: int = 2000
    """frames between metric rows"""
    save_replay: bool = True
    """include the replay buffer in checkpoints (exact resume; larger files)"""


@dataclass
class TrainConfig:
    """Train a PPO, A2C or DQN agent."""

    env: str = "gym:CartPole-v1"
    """environment: gym:<id>, minatar:<game>, minigrid:<id>, ale:<game> (see `distillrl envs`)"""
    algo: str = "ppo"
    """learner: ppo, a2c (A3C-form loss, synchronous; uses the ppo.* settings) or dqn"""
    steps: int = 100_000
    """environment frames to train for"""
    seed: int = 1
    """random seed (weights, sampling, environments)"""
    threads: int = 1
    """torch CPU threads (1 is fastest for small nets and keeps runs bit-reproducible)"""
    max_episode_steps: int | None = None
    """cap on episode length (None: the env's own limit)"""
    checkpoint_every: int = 50_000
    """frames between checkpoints"""
    eval_episodes: int = 10
    """greedy evaluation episodes at the end of training (0: none)"""
    actor: str = "auto"
    """acting backend in rollouts: auto (NumPy mirror where supported), numpy, torch"""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    dqn: DQNConfig = field(default_factory=DQNConfig)
    net: NetConfig = field(default_factory=NetConfig)


ALGOS = ("ppo", "a2c", "dqn")


class LossTerm(Protocol):
    """An extra loss plugged into a learner (kickstarting, RND, ...).

    ``prepare`` runs once per rollout (e.g. to label it with teacher outputs, stored in
    ``batch.extras``); ``__call__`` returns named ``loss_*`` terms (and diagnostics) for a
    minibatch; ``weight(frames)`` is the coefficient of each ``loss_*`` term it returns.
    """

    name: str

    def prepare(self, batch: Any) -> None: ...

    def __call__(self, out: Any, mb: Any) -> dict[str, torch.Tensor]: ...

    def weight(self, frames: int) -> float: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class Trainer:
    """Shared machinery: envs, agent, counters, episode statistics, RNG, checkpoints."""

    algo = "base"

    def __init__(self, cfg: TrainConfig, num_envs: int, agent_kwargs: dict):
        self.cfg = cfg
        self.total_frames = cfg.steps
        torch.manual_seed(cfg.seed)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.np_rng = np.random.default_rng(cfg.seed)
        self.envs = make_vec(cfg.env, num_envs, cfg.max_episode_steps)
        self.info: EnvInfo = env_info(cfg.env, self.envs.envs[0])
        self.agent = Agent(self.info, cfg.net, **agent_kwargs)
        self.actor = make_actor(self.agent, cfg.actor)
        self.frames = 0
        self.updates = 0
        self.episodes = 0
        self.recent_returns: deque[float] = deque(maxlen=100)
        self.extra_losses: list[LossTerm] = []
        self._new_returns: list[float] = []
        self._new_lengths: list[float] = []
        self._t_last = time.perf_counter()
        self._f_last = 0
        self.obs = self._reset_envs(cfg.seed)

    # ---- helpers
    def _reset_envs(self, seed: int) -> np.ndarray:
        obs, _ = self.envs.reset(seed=seed)
        return obs

    def _record_episodes(self, info: dict) -> None:
        if "episode_return" in info:
            rows = info["_final_obs"]
            for r, l in zip(info["episode_return"][rows], info["episode_length"][rows]):
                self._new_returns.append(float(r))
                self._new_lengths.append(float(l))
                self.recent_returns.append(float(r))
                self.episodes += 1

    def _episode_metrics(self) -> dict[str, float]:
        now = time.perf_counter()
        sps = (self.frames - self._f_last) / max(now - self._t_last, 1e-9)
        self._t_last, self._f_last = now, self.frames
        out = {
            "frames": self.frames,
            "updates": self.updates,
            "episodes": self.episodes,
            "episode_return": float(np.mean(self._new_returns)) if self._new_returns else math.nan,
            "episode_length": float(np.mean(self._new_lengths)) if self._new_lengths else math.nan,
            "return_recent": float(np.mean(self.recent_returns)) if self.recent_returns else math.nan,
            "sps": sps,
        }
        self._new_returns, self._new_lengths = [], []
        return out

    def add_loss(self, term: LossTerm) -> None:
        self.extra_losses.append(term)

    @property
    def n_params(self) -> int:
        return param_count(self.agent)

    def advance(self, frames: int) -> list[dict]:
        """Train for at least ``frames`` more frames (whole iterations); return metric rows."""
        target = self.frames + frames
        rows = []
        while self.frames < target:
            rows.extend(self.step())
        return rows

    def step(self) -> list[dict]:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- state
    def _base_state(self) -> dict:
        return {
            "algo": self.algo,
            "agent": self.agent.state_dict(),
            "frames": self.frames,
            "updates": self.updates,
            "episodes": self.episodes,
            "recent_returns": list(self.recent_returns),
            "rng": {"torch_global": torch.get_rng_state(), "gen": self.gen.get_state(),
                    "numpy": _np_state_to_json(self.np_rng)},
            "extra_losses": {t.name: t.state_dict() for t in self.extra_losses},
        }

    def _load_base_state(self, s: dict) -> None:
        if s["algo"] != self.algo:
            raise ValueError(f"checkpoint is for {s['algo']}, trainer is {self.algo}")
        self.agent.load_state_dict(s["agent"])
        self.actor.sync()
        self.frames, self.updates, self.episodes = int(s["frames"]), int(s["updates"]), int(s["episodes"])
        self.recent_returns = deque(s["recent_returns"], maxlen=100)
        torch.set_rng_state(s["rng"]["torch_global"])
        self.gen.set_state(s["rng"]["gen"])
        self.np_rng.bit_generator.state = _np_state_from_json(s["rng"]["numpy"])
        for t in self.extra_losses:
            if t.name in s.get("extra_losses", {}):
                t.load_state_dict(s["extra_losses"][t.name])
        # Environments restart from a seed derived from the restored position (see module doc).
        self.obs = self._reset_envs(resume_seed(self.cfg.seed, self.frames))
        self._f_last = self.frames
        self._t_last = time.perf_counter()

    def state_dict(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def load_state_dict(self, state: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        self.envs.close()


def resume_seed(seed: int, frames: int) -> int:
    """Environment reset seed after restoring at ``frames``: deterministic, distinct per position,
    and inside [0, 2**31) because some envs (MinAtar) seed a legacy 32-bit RandomState."""
    return (seed * 1_000_003 + 7919 * (frames + 1)) % (2**31 - 1)


def _np_state_to_json(rng: np.random.Generator) -> dict:
    st = rng.bit_generator.state
    # PCG64 holds 128-bit ints; JSON in Python keeps big ints exactly, but store as str to be safe.
    return {"bit_generator": st["bit_generator"], "state": {k: str(v) for k, v in st["state"].items()},
            "has_uint32": st["has_uint32"], "uinteger": st["uinteger"]}


def _np_state_from_json(d: dict) -> dict:
    return {"bit_generator": d["bit_generator"], "state": {k: int(v) for k, v in d["state"].items()},
            "has_uint32": d["has_uint32"], "uinteger": d["uinteger"]}


def make_adam(params, lr: float, eps: float = 1e-8) -> torch.optim.Adam:
    """Adam, fused where this torch supports it on CPU (≈3× cheaper steps for small nets)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, eps=eps, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, eps=eps)


def make_trainer(cfg: TrainConfig) -> Trainer:
    if cfg.algo in ("ppo", "a2c"):
        from .ppo import PPOTrainer

        return PPOTrainer(cfg, loss=cfg.algo)
    if cfg.algo == "dqn":
        from .dqn import DQNTrainer

        return DQNTrainer(cfg)
    raise ValueError(f"unknown algo {cfg.algo!r}; valid: {', '.join(ALGOS)}")
