"""DQN (Mnih et al. 2015) with the MinAtar paper's settings as defaults: replay, target network,
linear ε schedule, centred RMSProp. Optional double-DQN targets.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .data import Transitions
from .losses import dqn_loss
from .returns import td_target
from .trainer import Trainer, TrainConfig, make_adam


class ReplayBuffer:
    """Circular buffer of transitions in NumPy (observations keep the env's dtype)."""

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], obs_dtype, rng: np.random.Generator):
        self.capacity = capacity
        self.obs = np.zeros((capacity,) + obs_shape, obs_dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.float32)
        self.pos = 0
        self.size = 0
        self.rng = rng

    def add(self, obs, actions, rewards, next_obs, terminated) -> None:
        n = len(actions)
        idx = (self.pos + np.arange(n)) % self.capacity
        self.obs[idx] = obs
        self.next_obs[idx] = next_obs
        self.actions[idx] = actions
        self.rewards[idx] = rewards
        self.terminated[idx] = terminated
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int) -> Transitions:
        idx = self.rng.integers(0, self.size, batch_size)
        return Transitions(
            obs=torch.from_numpy(self.obs[idx]),
            actions=torch.from_numpy(self.actions[idx]),
            rewards=torch.from_numpy(self.rewards[idx]),
            next_obs=torch.from_numpy(self.next_obs[idx]),
            terminated=torch.from_numpy(self.terminated[idx]),
        )

    def state_dict(self) -> dict:
        n = self.size
        return {"obs": self.obs[:n], "next_obs": self.next_obs[:n], "actions": self.actions[:n],
                "rewards": self.rewards[:n], "terminated": self.terminated[:n], "pos": self.pos, "size": n}

    def load_state_dict(self, s: dict) -> None:
        n = int(s["size"])
        for k in ("obs", "next_obs", "actions", "rewards", "terminated"):
            getattr(self, k)[:n] = s[k]
        self.pos, self.size = int(s["pos"]), n


class DQNTrainer(Trainer):
    algo = "dqn"

    def __init__(self, cfg: TrainConfig):
        d = cfg.dqn
        super().__init__(cfg, d.num_envs, {"value_head": False, "q_head": True, "policy_head": False})
        self.d = d
        self.target = type(self.agent)(self.info, cfg.net, value_head=False, q_head=True, policy_head=False)
        self.target.load_state_dict(self.agent.state_dict())
        self.target.requires_grad_(False)
        if d.optimizer == "rmsprop":
            self.opt = torch.optim.RMSprop(self.agent.parameters(), lr=d.lr, alpha=0.95, eps=0.01, centered=True,
                                           foreach=True)
        elif d.optimizer == "adam":
            self.opt = make_adam(self.agent.parameters(), lr=d.lr)
        else:
            raise ValueError(f"unknown optimizer {d.optimizer!r}; valid: adam, rmsprop")
        self.buffer = ReplayBuffer(d.buffer_size, self.info.obs_shape, self.envs.single_observation_space.dtype,
                                   self.np_rng)
        self.env_steps = 0
        self.last_target_update = 0
        self.last_log = 0
        self.params = list(self.agent.parameters())
        self._loss_sum, self._q_sum, self._n = 0.0, 0.0, 0

    def epsilon(self) -> float:
        d = self.d
        f = (self.frames - d.learning_starts) / max(1, d.eps_decay_frames)
        f = min(max(f, 0.0), 1.0)
        return d.eps_start + f * (d.eps_end - d.eps_start)

    def act(self, obs: np.ndarray, eps: float) -> np.ndarray:
        n = len(obs)
        explore = self.np_rng.random(n) < eps
        actions = self.np_rng.integers(0, self.info.n_actions, n)
        if not explore.all():
            greedy = self.actor.q_values(obs).argmax(-1)
            actions = np.where(explore, actions, greedy)
        return actions

    def train_step(self) -> None:
        d = self.d
        tr = self.buffer.sample(d.batch_size)
        with torch.no_grad():
            next_q_t = self.target(tr.next_obs).q
            if d.double:
                a_star = self.agent(tr.next_obs).q.argmax(-1, keepdim=True)
                next_q = next_q_t.gather(-1, a_star).squeeze(-1)
            else:
                next_q = next_q_t.max(-1).values
            target = td_target(tr.rewards, next_q, tr.terminated, d.gamma)
        terms = dqn_loss(self.agent(tr.obs).q, tr.actions, target, d.huber)
        self.opt.zero_grad(set_to_none=True)
        terms["loss_td"].backward()
        if d.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.params, d.max_grad_norm)
        self.opt.step()
        self.updates += 1
        self._loss_sum += float(terms["loss_td"].detach())
        self._q_sum += float(terms["q_mean"])
        self._n += 1

    def update_target(self) -> None:
        tau = self.d.tau
        with torch.no_grad():
            if tau >= 1.0:
                for pt, p in zip(self.target.parameters(), self.agent.parameters()):
                    pt.copy_(p)
            else:
                for pt, p in zip(self.target.parameters(), self.agent.parameters()):
                    pt.lerp_(p, tau)

    def step(self) -> list[dict]:
        """One vector-env step (plus learning); returns a metric row every ``log_every`` frames."""
        d = self.d
        eps = self.epsilon()
        actions = self.act(self.obs, eps)
        next_obs, rew, term, trunc, info = self.envs.step(actions)
        real_next = next_obs
        if info:
            self._record_episodes(info)
            real_next = next_obs.copy()
            rows = info["_final_obs"]
            real_next[rows] = info["final_obs"][rows]
        self.buffer.add(self.obs, actions, rew, real_next, term.astype(np.float32))
        self.obs = next_obs
        self.frames += self.envs.num_envs
        self.env_steps += 1
        if self.frames >= d.learning_starts and self.env_steps % d.train_freq == 0:
            for _ in range(d.gradient_steps):
                self.train_step()
        if self.frames - self.last_target_update >= d.target_update:
            self.update_target()
            self.last_target_update = self.frames
        if self.frames - self.last_log >= d.log_every:
            self.last_log = self.frames
            row = self._episode_metrics()
            row.update({"loss_td": self._loss_sum / self._n if self._n else float("nan"),
                        "q_mean": self._q_sum / self._n if self._n else float("nan"),
                        "epsilon": eps})
            self._loss_sum, self._q_sum, self._n = 0.0, 0.0, 0
            return [row]
        return []

    def state_dict(self) -> dict:
        s = self._base_state()
        s.update({"optim": self.opt.state_dict(), "target": self.target.state_dict(), "env_steps": self.env_steps,
                  "last_target_update": self.last_target_update, "last_log": self.last_log})
        if self.d.save_replay:
            s["replay"] = self.buffer.state_dict()
        return s

    def load_state_dict(self, s: dict) -> None:
        self._load_base_state(s)
        self.opt.load_state_dict(s["optim"])
        self.target.load_state_dict(s["target"])
        self.env_steps = int(s["env_steps"])
        self.last_target_update = int(s["last_target_update"])
        self.last_log = int(s["last_log"])
        if "replay" in s:
            self.buffer.load_state_dict(s["replay"])
