"""PPO (Schulman et al. 2017) and A2C (Mnih et al. 2016, synchronous), composed of the shared
parts: a :class:`collect.Collector` rollout, the GAE estimator on ``[T, N]``, the pure losses
:func:`losses.ppo_loss` / :func:`losses.a2c_loss`, and the shared :class:`learner.Learner`.

A2C is A2C whatever the preset: one epoch over the rollout as a single minibatch (no
clipping, no ratio), with SB3's defaults available (``--ppo.optimizer rmsprop``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch

from distillrl.acting.actors import RolloutWorker
from distillrl.algos.base import EnvTrainer, register
from distillrl.config import Live, knob, live_knobs
from distillrl.core import knobs as K
from distillrl.core.gae import estimate_gae
from distillrl.core.learner import Learner
from distillrl.core.losses import a2c_loss, ppo_loss
from distillrl.core.reward_scale import RewardScaler
from distillrl.errors import ConfigError


@dataclass
class PPOConfig:
    """PPO / A2C settings. Defaults are CleanRL's ppo.py."""

    LIVE: ClassVar[tuple[str, ...]] = ("lr", "ent_coef", "vf_coef", "max_grad_norm", "gamma", "gae_lambda",
                                       "clip_coef")
    """the live hyper-parameters (A2C: all but clip_coef)"""

    num_envs: int = K.num_envs(4)
    num_steps: int = K.num_steps(128)
    num_minibatches: int = knob(4, "≥ 1", "minibatches per epoch (PPO; A2C uses 1)")
    update_epochs: int = knob(4, "≥ 1", "passes over each rollout (PPO; A2C uses 1)")
    lr: float = K.lr(2.5e-4)
    anneal_lr: bool = K.anneal_lr()
    gamma: float = K.gamma()
    gae_lambda: float = knob(0.95, "[0, 1]", "GAE λ")
    clip_coef: float = knob(0.2, "> 0", "surrogate (and value) clipping ε (PPO)")
    clip_vloss: bool = knob(True, help="clip the value loss as in PPO2")
    norm_adv: bool = knob(True, help="normalise advantages per minibatch (PPO)")
    ent_coef: float = K.ent_coef()
    vf_coef: float = K.vf_coef()
    max_grad_norm: float = K.max_grad_norm(0.5)
    target_kl: float | None = knob(None, "> 0", "stop the epochs of an update early once approx. KL exceeds this (PPO)")
    optimizer: Literal["adam", "rmsprop"] = knob(
        "adam", help="adam, or rmsprop (uncentred, α = rmsprop_alpha — SB3's A2C default)")
    optim_eps: float = K.optim_eps()
    rmsprop_alpha: float = K.rmsprop_alpha()
    norm_reward: bool = knob(False, help="scale rewards by the running std of the discounted return, clipped to "
                                         "±reward_clip (CleanRL's NormalizeReward; its MuJoCo setting)")
    reward_clip: float = knob(10.0, "> 0", "with norm_reward: scaled rewards are clipped to ±this")
    pg_coef: float = knob(1.0, "≥ 0", "weight of the policy-gradient loss; 0 with kickstarting is DAgger "
                                      "(student-driven distillation) that still trains the critic — the critic "
                                      "warm-up before an RL hand-off")


def check_ppo(p: PPOConfig, algo: str, recurrent: bool = False) -> None:
    """Cross-field rules (called by the config layer through the run config's ``check``)."""
    if algo == "ppo" and (p.num_envs * p.num_steps) % p.num_minibatches:
        raise ConfigError(f"--ppo.num-envs × --ppo.num-steps ({p.num_envs * p.num_steps}) must be divisible by "
                          f"--ppo.num-minibatches ({p.num_minibatches})")
    if algo == "ppo" and recurrent and p.num_envs % p.num_minibatches:
        raise ConfigError(f"a recurrent agent's minibatches are whole environments: --ppo.num-envs ({p.num_envs}) "
                          f"must be divisible by --ppo.num-minibatches ({p.num_minibatches})")


@register("ppo")
class PPOTrainer(EnvTrainer):
    """PPO on a vector env; extra loss terms join every minibatch's loss."""

    loss_kind = "ppo"
    section = "ppo"
    gpu_ok = True  # --device: the rollout moves to the learner's device once per update (step)

    @classmethod
    def live_hparams(cls, cfg) -> dict[str, Live]:
        live = live_knobs(cfg.ppo)
        if cls.loss_kind != "ppo":  # A2C has no clipping
            del live["clip_coef"]
        return live

    def __init__(self, cfg):
        p = cfg.ppo
        super().__init__(cfg, p.num_envs, p.num_steps, {"value_head": True})
        self.p = p
        self.learner = Learner(self.agent, p.optimizer, p.lr, p.optim_eps, alpha=p.rmsprop_alpha, centered=False)
        self.batch_size = p.num_envs * p.num_steps
        self.epochs, self.n_minibatches = (p.update_epochs, p.num_minibatches) if self.loss_kind == "ppo" else (1, 1)
        self.minibatch_size = self.batch_size // self.n_minibatches
        # acting: the same worker IMPALA's actors are, here on the trainer's own envs and generator
        self.worker = RolloutWorker(self.collector, self.policy, self.np_rng, self.agent.head_size)
        # in a task set, per-task statistics (each env's task id; see core.reward_scale)
        self.reward_scaler = RewardScaler(p.num_envs, p.gamma, p.reward_clip,
                                          np.asarray(self.envs.task_ids) if self.n_tasks > 1 else None) if p.norm_reward else None

    def collect_rollout(self):
        """One rollout of the current policy ([T, N], before any estimator)."""
        return self.worker.collect()

    def _minibatches(self, ro, batch):
        """One epoch of ``(minibatch, agent output)`` pairs. Feed-forward: one shuffle per epoch,
        minibatches are contiguous views of it. Recurrent: minibatches are whole environment
        columns (sequences kept whole), re-run from the state their rollout started in."""
        if self.agent.recurrent:
            T, n = ro.shape
            cols = torch.randperm(n, generator=self.gen) if self.n_minibatches > 1 else torch.arange(n)
            per = n // self.n_minibatches
            for start in range(0, n, per):
                idx = cols[start:start + per]
                flat = (torch.arange(T)[:, None] * n + idx[None, :]).reshape(-1)  # time-major, like forward_seq
                out = self.agent.forward_seq(ro.obs[:, idx], ro.task_id[:, idx], tuple(x[idx] for x in ro.state0),
                                             ro.starts[:, idx])
                yield batch.index(flat), out
            return
        shuffled = batch.index(torch.randperm(self.batch_size, generator=self.gen)) if self.n_minibatches > 1 \
            else batch
        for start in range(0, self.batch_size, self.minibatch_size):
            mb = shuffled.slice(start, start + self.minibatch_size) if self.n_minibatches > 1 else batch
            yield mb, self.agent(mb.obs, mb.task_id)

    def _losses(self, out, mb, hp) -> dict[str, torch.Tensor]:
        if self.loss_kind == "ppo":
            return ppo_loss(out.logits, out.value, mb.actions, mb.logp, mb.values, mb.advantages, mb.returns,
                            hp["clip_coef"], self.p.clip_vloss, self.p.norm_adv, dist=self.agent.dist)
        return a2c_loss(out.logits, out.value, mb.actions, mb.advantages, mb.returns, dist=self.agent.dist)

    def step(self) -> list[dict]:
        p, hp = self.p, self.hp
        lr = self.lr_now(self.p.anneal_lr)
        ro = self.collect_rollout()
        self.frames += self.batch_size
        if self.reward_scaler is not None:
            self.reward_scaler.gamma = hp["gamma"]
            ro.rewards = torch.from_numpy(self.reward_scaler.scale(ro.rewards.numpy(), ro.done.numpy()))
        self._on_rollout(ro)  # extra terms: before the estimator (intrinsic rewards, teacher labels)
        estimate_gae(ro, hp["gamma"], hp["gae_lambda"])
        self._on_advantages(ro)  # extra terms: after it (RND's intrinsic advantages)
        batch = ro.flatten()
        if self.device.type != "cpu":  # one transfer per rollout (--device); GAE ran on the CPU
            batch = batch.to(self.device)
        weights = {"loss_pg": p.pg_coef, "loss_value": hp["vf_coef"], "loss_entropy": hp["ent_coef"],
                   **self._extra_weights()}
        max_norm = hp["max_grad_norm"]
        sums: dict[str, float] = {}
        n = 0
        stop = False
        for _epoch in range(self.epochs):
            for mb, out in self._minibatches(ro, batch):
                terms = self._losses(out, mb, hp)
                if self.extra_losses:
                    terms.update(self._extra_terms(out, mb))
                self.learner.step(terms, weights, lr, max_norm)
                self.updates += 1
                n += 1
                self._accumulate(sums, terms)
                if p.target_kl is not None and float(terms.get("approx_kl", 0.0)) > p.target_kl:
                    stop = True
                    break
            if stop:
                break
        # the observation statistics take in this rollout only now: it was acted and learned with the same ones
        self.agent.update_obs_norm(ro.obs)
        self.sync_policy()
        y, v = batch.returns, batch.values
        var_y = float(y.var())
        ev = math.nan if var_y == 0 else 1.0 - float((y - v).var()) / var_y
        return [self._row(sums, n, {"charts/learning_rate": lr, "losses/explained_variance": ev})]


    def _algo_state(self) -> dict:
        return {"reward_scaler": self.reward_scaler.state_dict()} if self.reward_scaler is not None else {}

    def _load_algo_state(self, s: dict) -> None:
        if self.reward_scaler is not None and "reward_scaler" in s:
            self.reward_scaler.load_state_dict(s["reward_scaler"])


@register("a2c")
class A2CTrainer(PPOTrainer):
    """A2C in the A3C form: −log π(a|x)·A − β·H + c_v·(V − R)²/2, one update per rollout."""

    loss_kind = "a2c"
