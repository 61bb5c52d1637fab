"""IMPALA (Espeholt et al. 2018): actors act with the weights they last received, one learner
corrects for the lag with V-trace (SPEC §4) — the learner of the kickstarting paper.

The acting half is :mod:`actors` (in-process with ``--actors 0``, Ray actors otherwise); the
learning half is this trainer: it takes rollouts as they come (``batch_rollouts`` of them per
update), runs the agent once over them (one pass over each frame, against PPO's four), computes
V-trace targets ``v_s`` and advantages ``ρ_s (r_s + γ v_{s+1} − V(x_s))`` with the *current*
policy and values (:func:`returns.vtrace`), and steps the shared :class:`learner.Learner` on the
A3C-form losses (:func:`losses.a2c_loss`) plus any extra terms — kickstarting's teachers label
each rollout in ``on_rollout`` exactly as for PPO. After every update the weights are broadcast
to the actors.

Recurrent agents (``--net.lstm H``) run over each rollout as a whole sequence from the state the
actor recorded at its start (``Rollout.state0``), reset where episodes start.

Logged per row: ``impala/policy_lag`` (learner updates since the acting weights; mean and max),
``impala/learner_busy`` (share of the row's wall-clock time the learner spent learning — teachers'
labelling, the forward and backward pass, V-trace, the optimiser step — the rest
``impala/wait`` blocked on the next rollout, ``impala/unpack`` turning rollouts into tensors, ``impala/broadcast`` sending weights, ``impala/overhead`` the rest:
metric rows and checkpoints), the truncated importance weights (``impala/rho_mean``, ``impala/rho_clipped``: the
share of steps where π/μ > ρ̄), ``impala/actor_restarts`` and ``impala/actors``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch

from distillrl.acting.actors import (
    LocalPool,
    RayPool,
    RolloutWorker,
    WorkerSpec,
    worker_seed,
)
from distillrl.acting.cluster import init_ray
from distillrl.algos.base import EnvTrainer, check_task_envs, register
from distillrl.config import knob
from distillrl.core import knobs as K
from distillrl.core.data import Rollout
from distillrl.core.learner import Learner
from distillrl.core.losses import a2c_loss
from distillrl.core.returns import vtrace, with_truncation
from distillrl.errors import ConfigError
from distillrl.models.agent import AgentOutput
from distillrl.models.rollout import rollout_forward


@dataclass
class ImpalaConfig:
    """IMPALA settings (actors: --actors, --address). Defaults: the paper's Atari unroll (20)
    with MinAtar-sized batches and PPO's optimiser."""

    LIVE: ClassVar[tuple[str, ...]] = ("lr", "ent_coef", "vf_coef", "max_grad_norm", "gamma")
    """the live hyper-parameters"""

    num_envs: int = K.num_envs(16, "environments per actor")
    num_steps: int = K.num_steps(20, "unroll length: steps per environment per rollout")
    batch_rollouts: int = knob(1, "≥ 1", "rollouts per learner update (side by side: a batch of batch_rollouts × "
                                         "num_envs × num_steps frames)")
    queue: int = knob(2, "≥ 1", "rollout requests in flight per actor: the bounded queue (back-pressure; policy lag "
                                "grows with it)")
    order: Literal["fixed", "first"] = knob("fixed", help="fixed: rollouts taken round-robin over the actors "
                                                          "(reproducible from the seed); first: whichever is ready "
                                                          "first (no waiting on a slow actor; not reproducible)")
    lr: float = K.lr(1e-3)
    anneal_lr: bool = K.anneal_lr()
    gamma: float = K.gamma()
    rho_bar: float = knob(1.0, "> 0", "V-trace truncation ρ̄ of the importance weights in the targets and the policy "
                                      "gradient")
    c_bar: float = knob(1.0, "> 0", "V-trace truncation c̄ of the trace coefficients")
    vtrace_lambda: float = knob(1.0, "[0, 1]", "λ on the trace coefficients c_t = λ·min(c̄, π/μ) (1: the paper's "
                                               "V-trace)")
    ent_coef: float = K.ent_coef()
    vf_coef: float = K.vf_coef()
    max_grad_norm: float = K.max_grad_norm(0.5)
    optimizer: Literal["adam", "rmsprop"] = knob(
        "adam", help="adam, or rmsprop (uncentred, α = rmsprop_alpha; the paper's)")
    optim_eps: float = K.optim_eps()
    rmsprop_alpha: float = K.rmsprop_alpha()
    actor_cpus: float | None = knob(None, "> 0", "CPUs each Ray actor reserves (default: the cluster's CPUs ÷ actors, "
                                                 "at most 1)")
    broadcast_every: int = knob(2, "≥ 1", "learner updates between weight broadcasts to Ray actors (putting the "
                                          "weights in Ray's store costs ≈ 1 ms; actors keep acting with the last "
                                          "weights they got in between; the in-process actor always has the latest)")
    max_restarts: int = knob(10, "≥ 0", "actors that may die and be replaced before the run fails")
    log_every: int = K.log_every(10_000)


@dataclass
class ActorOptions:
    """Where IMPALA's actors run."""

    actors: int = knob(2, "≥ 0", "IMPALA: rollout actors as Ray processes (0: act in the learner's process, no Ray). "
                                 "Each actor is a process with its own envs and network copy that wants about one "
                                 "core, and the learner wants one: on 2 cores K = 2 was fastest (+13% over K = 1, "
                                 "twice the policy lag) and K = 3 already slower; Ray's start costs ≈ 8–10 s",
                       algos=("impala",))
    address: str | None = knob(None, help="IMPALA: join the Ray cluster at HOST:PORT (default: start Ray on this "
                                          "machine)", algos=("impala",))


def check_impala(cfg) -> None:
    """Cross-field rules (called through the run config's ``check``)."""
    check_task_envs(cfg.env, cfg.impala.num_envs, "--impala.num-envs")
    if cfg.address and cfg.actors == 0:
        raise ConfigError("--address places actors on a Ray cluster; --actors 0 has none (give --actors K ≥ 1)")


@register("impala")
class ImpalaTrainer(EnvTrainer):
    """The IMPALA learner: V-trace on rollouts from a pool of actors."""

    section = "impala"
    gpu_ok = True  # --device: each learner batch (the actors' rollouts, labelled) moves to the device once

    def __init__(self, cfg):
        p = cfg.impala
        super().__init__(cfg, p.num_envs, p.num_steps, {"value_head": True})
        self.p = p
        self.learner = Learner(self.agent, p.optimizer, p.lr, p.optim_eps, alpha=p.rmsprop_alpha, centered=False)
        self.n_actors = cfg.actors
        self.pool: LocalPool | RayPool | None = None  # started at the first update (after any restore)
        self.restarts_before = 0  # actor replacements in earlier sessions of this run

    # ---- actors
    def _weights(self):
        """What the pool broadcasts: views of the live parameters for the in-process actor; one
        flat copy for Ray actors (a single buffer: ≈ 10× cheaper to put than a dict of arrays)."""
        if self.n_actors == 0:
            return {k: p.detach().cpu().numpy() for k, p in self._named_params}  # cpu(): a no-op on the CPU
        return torch.nn.utils.parameters_to_vector(self.agent.parameters()).detach().cpu().numpy()

    def _start_pool(self) -> None:
        cfg, p = self.cfg, self.p
        if self.n_actors == 0:
            worker = RolloutWorker(self.collector, self.policy, self.np_rng, self.agent.head_size)
            self.pool = LocalPool(worker)
        else:
            found = init_ray(cfg.address)
            cpus = p.actor_cpus or max(0.01, min(1.0, math.floor(100 * found["cpus"] / self.n_actors) / 100))
            spec = self.agent.spec()
            frames = self.frames

            def spec_for(i: int, generation: int) -> WorkerSpec:
                return WorkerSpec(cfg.env, cfg.net.task_actions, spec, p.num_envs, p.num_steps, cfg.max_episode_steps,
                                  cfg.acting, worker_seed(cfg.seed, i, generation, frames), i)

            self.pool = RayPool(spec_for, self.n_actors, p.queue, p.order, cpus, p.max_restarts)
        self.pool.broadcast(self._weights(), self.updates)

    @property
    def actor_restarts(self) -> int:
        return self.restarts_before + (self.pool.restarts if self.pool is not None else 0)

    # ---- learning
    def _forward(self, ro: Rollout) -> tuple[AgentOutput, AgentOutput]:
        """The agent over the whole rollout (with gradients) and its output at x_T (the bootstrap)."""
        return rollout_forward(self.agent, ro)

    def learn(self, ro: Rollout, lr: float) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        """One V-trace update on ``ro`` (already labelled by the extra terms' ``on_rollout``);
        returns the loss terms and diagnostics."""
        hp = self.hp
        T, n = ro.shape
        if self.device.type != "cpu":  # one transfer per update (--device); the labels travel with it
            ro = ro.to(self.device)
        out, last_out = self._forward(ro)
        last = last_out.value
        actions = ro.actions.reshape((T * n,) + tuple(ro.actions.shape[2:]))
        target_logp = self.agent.distribution(out.logits.detach()).log_prob(actions).view(T, n)
        ratio = (target_logp - ro.logp).exp()
        gamma = hp["gamma"]
        vs, pg_adv, rho = vtrace(ro.logp, target_logp, with_truncation(ro.rewards, ro.trunc_value, gamma),
                                 out.value.detach().view(T, n), ro.done, last.detach(), gamma,
                                 self.p.rho_bar, self.p.c_bar, self.p.vtrace_lambda)
        ro.advantages, ro.returns = pg_adv, vs
        self._on_advantages(ro, out=out, last_int=last_out.value_int, target_logp=target_logp)
        batch = ro.flatten()
        terms = a2c_loss(out.logits, out.value, batch.actions, batch.advantages, batch.returns, dist=self.agent.dist)
        if self.extra_losses:
            terms.update(self._extra_terms(out, batch))
        weights = {"loss_pg": 1.0, "loss_value": hp["vf_coef"], "loss_entropy": hp["ent_coef"],
                   **self._extra_weights()}
        self.learner.step(terms, weights, lr, hp["max_grad_norm"])
        diag = {"rho_mean": float(rho.mean()), "rho_clipped": float((ratio > self.p.rho_bar).float().mean())}
        return terms, diag

    def step(self) -> list[dict]:
        if self.pool is None:
            self._start_pool()
        t_start = time.perf_counter()
        target = self.frames + self.p.log_every
        sums: dict[str, float] = {}
        diags: dict[str, float] = {}
        lags: list[int] = []
        acting = [0.0, 0]  # actors' own seconds and frames (their speed, whatever the learner waits for)
        n = 0
        wait = learn = unpack = bcast = 0.0
        while self.frames < target:
            t0 = time.perf_counter()
            got = [self.pool.next() for _ in range(self.p.batch_rollouts)]
            t1 = time.perf_counter()
            ros = []
            for g in got:
                ro = g["rollout"] if isinstance(g["rollout"], Rollout) else Rollout.from_numpy(g["rollout"])
                if g["episodes"] is not None:
                    self.stats.record(*g["episodes"])
                lags.append(self.updates - ro.version)
                ros.append(ro)
                acting[0] += g["seconds"]
                acting[1] += ro.shape[0] * ro.shape[1]
            lr = self.lr_now(self.p.anneal_lr)
            t2 = time.perf_counter()
            for r in ros:
                self._on_rollout(r)  # extra terms label each actor's rollout (a recurrent teacher follows its envs)
            ro = Rollout.cat(ros)
            self.frames += ro.shape[0] * ro.shape[1]
            terms, diag = self.learn(ro, lr)
            t3 = time.perf_counter()
            learn += t3 - t2
            unpack += t2 - t1
            self.updates += 1
            n += 1
            self._accumulate(sums, terms)
            for k, v in diag.items():
                diags[k] = diags.get(k, 0.0) + v
            if self.n_actors == 0 or self.updates % self.p.broadcast_every == 0:
                self.pool.broadcast(self._weights(), self.updates)
            bcast += time.perf_counter() - t3
            wait += t1 - t0
        if self.n_actors:  # the in-process actor's policy is the trainer's, already up to date
            self.sync_policy()
        wall = max(time.perf_counter() - t_start, 1e-9)
        extra = {"charts/learning_rate": lr,
                 "impala/policy_lag": float(np.mean(lags)), "impala/policy_lag_max": float(np.max(lags)),
                 "impala/learner_busy": learn / wall, "impala/wait": wait / wall,
                 "impala/unpack": unpack / wall, "impala/broadcast": bcast / wall,
                 "impala/overhead": max(0.0, 1.0 - (learn + wait + unpack + bcast) / wall),
                 "impala/actor_restarts": self.actor_restarts, "impala/actors": self.n_actors,
                 "impala/nodes": len(self.pool.nodes),
                 "impala/actor_fps": acting[1] / max(acting[0], 1e-9),
                 **{f"impala/{k}": v / n for k, v in diags.items()}}
        return [self._row(sums, n, extra)]

    def placement(self) -> dict:
        """Where the actors ran: ``{node id: actors}`` (``local`` for the in-process actor)."""
        return dict(self.pool.nodes) if self.pool is not None else {}

    def export(self, run_dir) -> None:
        """``actors.json`` beside the summary: the actors, the nodes they were placed on, restarts."""
        (Path(run_dir) / "actors.json").write_text(json.dumps(
            {"actors": self.n_actors, "address": self.cfg.address or "local", "nodes": self.placement(),
             "actor_restarts": self.actor_restarts}, indent=1))

    # ---- state
    def _algo_state(self) -> dict:
        return {"actor_restarts": self.actor_restarts}

    def _load_algo_state(self, s: dict) -> None:
        self.restarts_before = int(s.get("actor_restarts", 0))
        if self.pool is not None:  # actors restart from the restored position
            self.pool.close()
            self.pool = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        super().close()
