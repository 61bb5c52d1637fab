"""DQN (Mnih et al. 2015) with the MinAtar paper's settings as defaults: replay, target network,
linear ε schedule, centred RMSProp; optional double-DQN targets. Built from the shared parts:
a one-step :class:`collect.Collector`, the :class:`replay.ReplayBuffer`, the pure
:func:`losses.dqn_loss` and the shared :class:`learner.Learner` (extra loss terms join the TD
loss on each replay minibatch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch

from distillrl.acting.collect import Action
from distillrl.algos.base import EnvTrainer, register
from distillrl.config import knob
from distillrl.core import knobs as K
from distillrl.core.data import Transitions
from distillrl.core.learner import Learner
from distillrl.core.losses import dqn_loss
from distillrl.core.replay import ReplayBuffer
from distillrl.core.returns import td_target
from distillrl.core.schedules import linear_interp


@dataclass
class DQNConfig:
    """DQN settings. Defaults follow the MinAtar paper (Young & Tian 2019)."""

    LIVE: ClassVar[tuple[str, ...]] = ("lr", "gamma", "eps_start", "eps_end", "target_tau", "max_grad_norm")
    """the live hyper-parameters"""
    RENAMED: ClassVar[dict[str, str]] = {"tau": "target_tau"}
    """old option names (configs and checkpoints written before the rename still load)"""

    num_envs: int = K.num_envs(1)
    buffer_size: int = K.buffer_size(100_000)
    batch_size: int = K.batch_size(32)
    lr: float = K.lr(2.5e-4)
    optimizer: Literal["adam", "rmsprop"] = knob(
        "rmsprop", help="adam or rmsprop (centred, α=0.95, ε=0.01 — the MinAtar paper's settings)")
    gamma: float = K.gamma()
    learning_starts: int = knob(5000, "≥ 0", "frames of random play before learning")
    train_freq: int = knob(1, "≥ 1", "vector-env steps between gradient updates")
    gradient_steps: int = knob(1, "≥ 1", "gradient updates each time")
    target_update: int = knob(1000, "≥ 1", "frames between target-network updates")
    target_tau: float = knob(1.0, "(0, 1]", "target-network update rate: θ⁻ ← τ·θ + (1 − τ)·θ⁻ every target_update "
                                            "frames (1 = hard copy; was called tau)")
    eps_start: float = K.eps_start()
    eps_end: float = K.eps_end(0.1)
    eps_decay_frames: int = knob(100_000, "≥ 1", "frames of linear ε decay (after learning_starts)")
    huber: bool = knob(True, help="Huber TD loss (else squared)")
    double: bool = knob(False, help="double DQN targets")
    max_grad_norm: float = K.max_grad_norm(10.0)
    log_every: int = K.log_every(2000)
    save_replay: bool = knob(True, help="include the replay buffer in checkpoints (exact resume; larger files)")


def epsilon_greedy(policy, taskset, eps: float, need_q: bool = False):
    """An ε-greedy act function on a Q agent's acting policy: a uniformly random legal action
    with probability ε, else argmax Q. The Q-values are skipped when every row explores, unless
    ``need_q`` (a learner that bootstraps from them)."""
    def act(obs: np.ndarray, task: np.ndarray, rng: np.random.Generator) -> Action:
        n = len(obs)
        explore = rng.random(n) < eps
        actions = taskset.random_actions(task, rng)
        if need_q or not explore.all():
            q = policy.q_values(obs, task)
        else:
            q = np.zeros((n, taskset.info.n_actions), np.float32)
        return Action(np.where(explore, actions, q.argmax(-1)), q, None)
    return act


@register("dqn")
class DQNTrainer(EnvTrainer):
    on_policy = False
    section = "dqn"
    gpu_ok = True  # --device: each replay minibatch moves to the learner's device; the target network lives there

    def __init__(self, cfg):
        d = cfg.dqn
        super().__init__(cfg, d.num_envs, 1, {"value_head": False, "q_head": True, "policy_head": False})
        self.d = d
        self.log_every = d.log_every  # one round is one vector-env step: the run loop looks once per row
        self.target = type(self.agent)(self.info, cfg.net, value_head=False, q_head=True, policy_head=False,
                                       generator=self.gen)
        self.target.load_state_dict(self.agent.state_dict())
        self.target.requires_grad_(False)
        self.target.to(self.device)
        self.learner = Learner(self.agent, d.optimizer, d.lr)
        obs_space = self.envs.single_observation_space
        self.buffer = ReplayBuffer(d.buffer_size, {
            "obs": (self.info.obs_shape, obs_space.dtype), "next_obs": (self.info.obs_shape, obs_space.dtype),
            "action": ((), np.int64), "reward": ((), np.float32), "terminated": ((), np.float32)},
            n_tasks=self.n_tasks)
        self.env_steps = 0
        self.last_target_update = 0
        self.last_log = 0
        self._sums: dict[str, float] = {}
        self._n = 0

    def epsilon(self) -> float:
        d = self.d
        return linear_interp(self.frames, self.hp["eps_start"], self.hp["eps_end"], d.eps_decay_frames,
                             d.learning_starts)

    def _train_step(self) -> None:
        hp = self.hp
        s = self.buffer.sample(self.d.batch_size, self.np_rng)
        tr = Transitions(s["obs"], s["action"], s["reward"], s["next_obs"], s["terminated"], s["task_id"])
        if self.device.type != "cpu":
            tr = tr.to(self.device)
        with torch.no_grad():
            next_q_t = self.target(tr.next_obs, tr.task_id).q  # masked actions never win the max
            if self.d.double:
                a_star = self.agent(tr.next_obs, tr.task_id).q.argmax(-1, keepdim=True)
                next_q = next_q_t.gather(-1, a_star).squeeze(-1)
            else:
                next_q = next_q_t.max(-1).values
            target = td_target(tr.rewards, next_q, tr.terminated, hp["gamma"])
        out = self.agent(tr.obs, tr.task_id)
        terms = dqn_loss(out.q, tr.actions, target, self.d.huber)
        weights = {"loss_td": 1.0}
        if self.extra_losses:
            terms.update(self._extra_terms(out, tr.as_batch()))
            weights.update(self._extra_weights())
        self.learner.step(terms, weights, hp["lr"], hp["max_grad_norm"])
        self.updates += 1
        self._accumulate(self._sums, terms)
        self._n += 1

    def update_target(self) -> None:
        rate = self.hp["target_tau"]
        with torch.no_grad():
            for pt, p in zip(self.target.parameters(), self.agent.parameters()):
                if rate >= 1.0:
                    pt.copy_(p)
                else:
                    pt.lerp_(p, rate)

    def step(self) -> list[dict]:
        """One vector-env step (plus learning); returns a metric row every ``log_every`` frames."""
        d = self.d
        eps = self.epsilon()
        st = self.collector.step(epsilon_greedy(self.policy, self.taskset, eps), self.np_rng, keep_next_obs=True)
        self.buffer.add(task_id=self.collector.task_ids, obs=st.obs, action=st.action.actions, reward=st.reward,
                        next_obs=st.next_obs, terminated=st.terminated)
        self.frames += self.envs.num_envs
        self.env_steps += 1
        if self.frames >= d.learning_starts and self.env_steps % d.train_freq == 0:
            for _ in range(d.gradient_steps):
                self._train_step()
            self.sync_policy()
        if self.frames - self.last_target_update >= d.target_update:
            self.update_target()
            self.last_target_update = self.frames
        if self.frames - self.last_log >= d.log_every:
            self.last_log = self.frames
            sums = self._sums if self._n else {"loss_td": math.nan, "q_mean": math.nan}
            row = self._row(sums, self._n or 1, {"charts/epsilon": eps, "charts/learning_rate": self.hp["lr"]})
            self._sums, self._n = {}, 0
            return [row]
        return []

    def _algo_state(self) -> dict:
        s = {"target": self.target.state_dict(), "env_steps": self.env_steps,
             "last_target_update": self.last_target_update, "last_log": self.last_log,
             "loss_sums": dict(self._sums), "loss_n": self._n}
        if self.d.save_replay:
            s["replay"] = self.buffer.state_dict()
        return s

    def _load_algo_state(self, s: dict) -> None:
        self.target.load_state_dict(s["target"])
        self.env_steps = int(s["env_steps"])
        self.last_target_update = int(s["last_target_update"])
        self.last_log = int(s["last_log"])
        self._sums, self._n = dict(s.get("loss_sums", {})), int(s.get("loss_n", 0))
        if "replay" in s:
            self.buffer.load_state_dict(s["replay"])
