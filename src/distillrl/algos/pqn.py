"""PQN — parallel Q-learning (Gallici et al. 2024, "Simplifying Deep Temporal Difference Learning").

A value-based learner that runs at the speed of the on-policy ones: many environments acting
ε-greedily, no replay buffer, no target network; Peng's Q(λ) returns computed over each
rollout from the acting network's own values (:func:`returns.q_lambda`), then a few epochs of
minibatch regression of Q(x, a) onto them. LayerNorm in the network (``--net.norm``, on by
default for this learner) is what keeps the bootstrapping stable without a target network.

Why it is here: MinAtar's DQN with one update per frame runs at ≈ 200 frames/s on this CPU
(BENCHMARKS §1), so 5M-frame Q-teachers would take a week; PQN trains them in minutes while
staying a Q-learner (its values are what Rusu et al.'s Q-teacher distillation needs).

Built from the shared parts: a :class:`collect.Collector` rollout acted ε-greedily through the
NumPy mirror, the pure :func:`losses.dqn_loss` (½ squared error) and the shared
:class:`learner.Learner`; extra loss terms (kickstarting) join every minibatch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import numpy as np
import torch

from distillrl.algos.base import EnvTrainer, register
from distillrl.algos.dqn import epsilon_greedy
from distillrl.config import knob
from distillrl.core import knobs as K
from distillrl.core.learner import Learner
from distillrl.core.losses import dqn_loss
from distillrl.core.returns import q_lambda, with_truncation
from distillrl.core.schedules import linear_interp
from distillrl.errors import ConfigError


@dataclass
class PQNConfig:
    """PQN settings. Defaults are the paper's MinAtar configuration (purejaxql pqn_minatar)."""

    LIVE: ClassVar[tuple[str, ...]] = ("lr", "gamma", "q_lambda", "eps_end", "max_grad_norm")
    """the live hyper-parameters"""

    num_envs: int = K.num_envs(128)
    num_steps: int = K.num_steps(32)
    num_minibatches: int = knob(32, "≥ 1", "minibatches per epoch")
    update_epochs: int = knob(2, "≥ 1", "passes over each rollout")
    lr: float = K.lr(5e-4)
    anneal_lr: bool = K.anneal_lr()
    optimizer: Literal["radam", "adam", "rmsprop"] = knob("radam", help="radam (the paper's), adam, or rmsprop")
    gamma: float = K.gamma()
    q_lambda: float = knob(0.65, "[0, 1]", "λ of the Q(λ) returns (0: one-step Q-learning targets)")
    eps_start: float = K.eps_start()
    eps_end: float = K.eps_end(0.05)
    eps_decay: float = knob(0.1, "(0, 1]", "fraction of the run over which ε decays linearly")
    max_grad_norm: float = K.max_grad_norm(10.0)


def check_pqn(p: PQNConfig) -> None:
    """Cross-field rule (called by the config layer through the run config's ``check``)."""
    if (p.num_envs * p.num_steps) % p.num_minibatches:
        raise ConfigError(f"--pqn.num-envs × --pqn.num-steps ({p.num_envs * p.num_steps}) must be divisible by "
                          f"--pqn.num-minibatches ({p.num_minibatches})")


@register("pqn")
class PQNTrainer(EnvTrainer):
    """PQN on a vector env: ε-greedy rollouts, Q(λ) targets, minibatch epochs, no replay."""

    section = "pqn"
    gpu_ok = True  # --device: the rollout moves to the learner's device once per update

    def __init__(self, cfg):
        p = cfg.pqn
        net = replace(cfg.net, norm="layer") if cfg.net.norm == "auto" else cfg.net
        super().__init__(cfg, p.num_envs, p.num_steps, {"value_head": False, "q_head": True, "policy_head": False},
                         net=net)
        self.p = p
        self.learner = Learner(self.agent, p.optimizer, p.lr)
        self.batch_size = p.num_envs * p.num_steps
        self.minibatch_size = self.batch_size // p.num_minibatches

    def epsilon(self) -> float:
        p = self.p
        return linear_interp(self.frames, p.eps_start, self.hp["eps_end"], int(p.eps_decay * self.total_frames))

    def _max_q(self, obs: np.ndarray, task: np.ndarray) -> np.ndarray:
        return self.policy.q_values(obs, task).max(-1)

    def collect_rollout(self):
        """One ε-greedy rollout; ``logits`` holds the acting network's Q-values, ``last_value`` and
        ``trunc_value`` its max over actions (the bootstraps)."""
        eps = self.epsilon()
        act = epsilon_greedy(self.policy, self.taskset, eps, need_q=True)
        return self.collector.collect(act, self.np_rng, self._max_q), eps

    def step(self) -> list[dict]:
        p, hp = self.p, self.hp
        lr = self.lr_now(self.p.anneal_lr)
        ro, eps = self.collect_rollout()
        self.frames += self.batch_size
        self._on_rollout(ro)
        q_next = torch.cat([ro.logits[1:].max(-1).values, ro.last_value[None]], 0)
        rewards = with_truncation(ro.rewards, ro.trunc_value, hp["gamma"])
        ro.returns = q_lambda(rewards, q_next, ro.done, hp["gamma"], hp["q_lambda"])
        ro.advantages = torch.zeros_like(ro.returns)  # unused by a Q-learner; flatten() wants both
        batch = ro.flatten()
        if self.device.type != "cpu":  # one transfer per rollout (--device); the Q(λ) returns ran on the CPU
            batch = batch.to(self.device)
        weights = {"loss_td": 1.0, **self._extra_weights()}
        sums: dict[str, float] = {}
        n = 0
        for _epoch in range(p.update_epochs):
            shuffled = batch.index(torch.randperm(self.batch_size, generator=self.gen))
            for start in range(0, self.batch_size, self.minibatch_size):
                mb = shuffled.slice(start, start + self.minibatch_size)
                out = self.agent(mb.obs, mb.task_id)
                terms = dqn_loss(out.q, mb.actions, mb.returns, huber=False)
                if self.extra_losses:
                    terms.update(self._extra_terms(out, mb))
                self.learner.step(terms, weights, lr, hp["max_grad_norm"])
                self.updates += 1
                n += 1
                self._accumulate(sums, terms)
        self.sync_policy()
        return [self._row(sums, n, {"charts/epsilon": eps, "charts/learning_rate": lr})]
