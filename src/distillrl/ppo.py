"""PPO, composed of a rollout :class:`Collector`, the pure :func:`losses.ppo_loss` and an update.

The rollout loop is written by hand (not SB3's) because it is the hot path of every
distillation method: acting through the NumPy mirror of the agent (:mod:`actor`), Gumbel-max
sampling instead of ``torch.distributions``, and preallocated NumPy storage.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .actor import sample_gumbel
from .data import Batch
from .losses import a2c_loss, ppo_loss
from .returns import gae
from .trainer import Trainer, TrainConfig, make_adam


class Collector:
    """Runs the current agent in a vector env for ``num_steps`` and returns a flat :class:`Batch`."""

    def __init__(self, trainer: Trainer, num_steps: int, gamma: float, gae_lambda: float):
        self.t = trainer
        self.num_steps, self.gamma, self.lam = num_steps, gamma, gae_lambda
        n = trainer.envs.num_envs
        obs_shape = trainer.info.obs_shape
        dtype = trainer.envs.single_observation_space.dtype
        self.obs = np.zeros((num_steps, n) + obs_shape, dtype)
        self.actions = np.zeros((num_steps, n), np.int64)
        self.logp = np.zeros((num_steps, n), np.float32)
        self.values = np.zeros((num_steps, n), np.float32)
        self.rewards = np.zeros((num_steps, n), np.float32)
        self.dones = np.zeros((num_steps, n), np.float32)

    def collect(self) -> Batch:
        t, actor, envs, rng = self.t, self.t.actor, self.t.envs, self.t.np_rng
        obs = t.obs
        for step in range(self.num_steps):
            self.obs[step] = obs
            logits, value = actor(obs)
            a, logp = sample_gumbel(logits, rng)
            obs, rew, term, trunc, info = envs.step(a)
            self.actions[step] = a
            self.logp[step] = logp
            self.values[step] = value
            self.rewards[step] = rew
            self.dones[step] = term | trunc
            if info:
                t._record_episodes(info)
                cut = trunc & ~term
                if cut.any():  # bootstrap truncated episodes from V(final obs)
                    v_final = actor.value(info["final_obs"][cut])
                    self.rewards[step, cut] += self.gamma * v_final
        t.obs = obs
        last_value = torch.from_numpy(actor.value(obs))
        values = torch.from_numpy(self.values)
        adv = gae(torch.from_numpy(self.rewards), values, torch.from_numpy(self.dones), last_value,
                  self.gamma, self.lam)
        flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
        task_id = torch.from_numpy(np.tile(envs.task_ids, self.num_steps))
        return Batch(
            obs=torch.from_numpy(flat(self.obs)).clone(),
            actions=torch.from_numpy(flat(self.actions)).clone(),
            logp=torch.from_numpy(flat(self.logp)).clone(),
            values=flat(values).clone(),
            advantages=flat(adv),
            returns=flat(adv + values),
            extras={"task_id": task_id},
        )


def total_loss(terms: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    """Σ weight·term over the ``loss_*`` terms (a missing weight means 1)."""
    return sum(weights.get(k, 1.0) * v for k, v in terms.items() if k.startswith("loss_"))


class PPOTrainer(Trainer):
    """PPO (or A2C with ``update_epochs=1, num_minibatches=1, loss='a2c'``) on a vector env."""

    algo = "ppo"

    def __init__(self, cfg: TrainConfig, loss: str = "ppo"):
        p = cfg.ppo
        super().__init__(cfg, p.num_envs, {"value_head": True})
        self.p = p
        self.loss_kind = loss
        self.algo = loss
        self.opt = make_adam(self.agent.parameters(), lr=p.lr, eps=p.adam_eps)
        self.collector = Collector(self, p.num_steps, p.gamma, p.gae_lambda)
        self.batch_size = p.num_envs * p.num_steps
        if self.batch_size % p.num_minibatches:
            raise ValueError(f"num_envs*num_steps ({self.batch_size}) must be divisible by num_minibatches")
        self.minibatch_size = self.batch_size // p.num_minibatches
        self.params = [q for q in self.agent.parameters()]

    def lr_now(self) -> float:
        if not self.p.anneal_lr:
            return self.p.lr
        return self.p.lr * max(0.0, 1.0 - self.frames / max(1, self.total_frames))

    def step(self) -> list[dict]:
        p = self.p
        lr = self.lr_now()
        for g in self.opt.param_groups:
            g["lr"] = lr
        batch = self.collector.collect()
        self.frames += self.batch_size
        for term in self.extra_losses:
            term.prepare(batch)
        weights = {"loss_pg": 1.0, "loss_value": p.vf_coef, "loss_entropy": p.ent_coef}
        for term in self.extra_losses:
            w = term.weight(self.frames)
            weights[f"loss_{term.name}"] = w
        sums: dict[str, float] = {}
        n = 0
        for _epoch in range(p.update_epochs):
            perm = torch.randperm(self.batch_size, generator=self.gen)
            stop = False
            for start in range(0, self.batch_size, self.minibatch_size):
                mb = batch.index(perm[start:start + self.minibatch_size])
                out = self.agent(mb.obs)
                if self.loss_kind == "ppo":
                    terms = ppo_loss(out.logits, out.value, mb.actions, mb.logp, mb.values, mb.advantages,
                                     mb.returns, p.clip_coef, p.clip_vloss, p.norm_adv)
                else:
                    terms = a2c_loss(out.logits, out.value, mb.actions, mb.advantages, mb.returns)
                for term in self.extra_losses:
                    terms.update(term(out, mb))
                loss = total_loss(terms, weights)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                if p.max_grad_norm > 0:
                    nn.utils.clip_grad_norm_(self.params, p.max_grad_norm)
                self.opt.step()
                self.updates += 1
                n += 1
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                if p.target_kl is not None and float(terms.get("approx_kl", 0.0)) > p.target_kl:
                    stop = True
                    break
            if stop:
                break
        row = self._episode_metrics()
        row.update({k: v / max(n, 1) for k, v in sums.items()})
        row["lr"] = lr
        for term in self.extra_losses:
            row[f"lambda_{term.name}"] = weights[f"loss_{term.name}"]
        y, v = batch.returns, batch.values
        var_y = float(y.var())
        row["explained_variance"] = math.nan if var_y == 0 else 1.0 - float((y - v).var()) / var_y
        return [row]

    def state_dict(self) -> dict:
        s = self._base_state()
        s["optim"] = self.opt.state_dict()
        return s

    def load_state_dict(self, s: dict) -> None:
        self._load_base_state(s)
        self.opt.load_state_dict(s["optim"])
