"""Policy distillation (Rusu et al. 2016; Czarnecki et al. 2019 — SPEC §2–3).

A frozen teacher labels states; a student is trained to match it with one of the losses in
:mod:`losses`. Where the states come from is the *source*:

* ``teacher`` — the teacher acts ε-greedily (ε = 0.05); observations and teacher outputs go
  to a replay buffer; the student learns from uniform minibatches (Rusu et al.);
* ``student`` — the student acts (sampling its policy); the teacher labels every visited
  state (DAgger-like; Czarnecki et al.'s practical default);
* ``dagger`` — each step the teacher acts with probability β, decayed linearly 1 → 0 over
  ``beta_decay_frames``; all labelled states are aggregated in the buffer;
* ``eer`` — expected-entropy-regularised distillation: on-policy student rollouts, the
  per-state cross-entropy H_t = H(π_T(x_t) ‖ π_S(x_t)) plus the policy-gradient term
  −log π_S(a_t|x_t)·Σ_{i≥t} γ^{i−t}(−H_i) — the full gradient of E_{π_S}[Σ_t H_t]. The
  returns have their rollout mean subtracted (a constant baseline keeps the gradient unbiased;
  without it the term, of size ~H/(1−γ), swamps the distillation term).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from . import losses as L
from .actor import sample_gumbel
from .envs import env_info
from .nets import Agent, NetConfig, param_count
from .returns import gae
from .teachers import Teacher, load_teacher
from .trainer import Trainer, make_adam

SOURCES = ("teacher", "student", "dagger", "eer")


@dataclass
class DistillConfig:
    """Distil a teacher into a student (optionally much smaller)."""

    teacher: str = ""
    """teacher: zoo name, run directory, SB3 .zip, or state-dict path (with teacher_arch)"""
    teacher_arch: str | None = None
    """architecture of a state-dict teacher: cleanrl-ppo, cleanrl-dqn, cleanrl-ppo-atari, cleanrl-dqn-atari"""
    env: str = ""
    """environment (default: the teacher's own, when it records one)"""
    loss: str = "kl"
    """nll, mse, kl, cross_entropy or reverse_kl (SPEC §2)"""
    tau: float | None = None
    """teacher temperature: softmax(outputs/τ); default 0.01 for Q-teachers (Rusu), 1 for policy teachers"""
    source: str = "student"
    """where states come from: teacher, student, dagger, eer"""
    student_size: float | None = None
    """student parameters as a fraction of the teacher's (e.g. 0.25, 0.07, 0.04); overrides net.width"""
    steps: int = 200_000
    """environment frames to collect"""
    seed: int = 1
    """random seed"""
    threads: int = 1
    """torch CPU threads"""
    num_envs: int = 8
    """parallel environments"""
    rollout_steps: int = 16
    """steps per environment between update rounds"""
    updates_per_round: int = 2
    """gradient updates after each collection round"""
    batch_size: int = 128
    """minibatch size"""
    buffer_size: int = 100_000
    """replay capacity in states (teacher / student / dagger sources)"""
    lr: float = 1e-3
    """learning rate"""
    optimizer: str = "adam"
    """adam or rmsprop"""
    max_grad_norm: float = 1.0
    """global gradient-norm clip (≤ 0 disables)"""
    teacher_eps: float = 0.05
    """ε of the teacher's ε-greedy behaviour (teacher source)"""
    beta_decay_frames: int = 100_000
    """dagger: frames over which β (probability that the teacher acts) decays from 1 to 0"""
    eer_gamma: float = 0.99
    """eer: discount of the entropy 'reward'"""
    eer_coef: float = 1.0
    """eer: weight of the policy-gradient term (returns are baselined by their batch mean)"""
    max_episode_steps: int | None = None
    """cap on episode length"""
    eval_episodes: int = 30
    """evaluation episodes for student and teacher (same episode seeds)"""
    checkpoint_every: int = 100_000
    """frames between checkpoints"""
    save_replay: bool = True
    """include the replay buffer in checkpoints (exact resume)"""
    actor: str = "auto"
    """acting backend: auto, numpy, torch"""
    net: NetConfig = field(default_factory=NetConfig)


def width_for_fraction(info, net: NetConfig, target: int, q_head: bool = False) -> tuple[float, int]:
    """Width multiplier whose student has the parameter count closest to ``target``."""
    def count(w: float) -> int:
        cfg = NetConfig(**{**net.__dict__, "width": w})
        with torch.device("meta"):  # shapes only: skips the (QR-based) orthogonal initialisation
            return param_count(Agent(info, cfg, value_head=False, q_head=q_head))

    lo, hi = 1e-3, 8.0
    for _ in range(40):
        mid = math.sqrt(lo * hi)
        if count(mid) < target:
            lo = mid
        else:
            hi = mid
    best = min((lo, hi), key=lambda w: abs(count(w) - target))
    return best, count(best)


class DistillTrainer(Trainer):
    """Drives distillation through the shared :class:`trainer.Trainer` interface."""

    algo = "distill"

    def __init__(self, cfg: DistillConfig, teacher: Teacher | None = None):
        if cfg.loss not in L.DISTILL_LOSSES:
            raise ValueError(f"unknown loss {cfg.loss!r}; valid: {', '.join(L.DISTILL_LOSSES)}")
        if cfg.source not in SOURCES:
            raise ValueError(f"unknown source {cfg.source!r}; valid: {', '.join(SOURCES)}")
        info = env_info(cfg.env)
        self.teacher = teacher or load_teacher(cfg.teacher, info, cfg.teacher_arch, cfg.tau)
        self.teacher.check_env(info)
        self.tau = cfg.tau if cfg.tau is not None else self.teacher.tau
        net = cfg.net
        teacher_agent = getattr(self.teacher, "agent", None)
        if teacher_agent is not None and net.arch == "auto":  # same family as the teacher
            net = NetConfig(**{**teacher_agent.cfg.__dict__, "width": net.width})
        if cfg.student_size is not None:
            if not 0 < cfg.student_size <= 4:
                raise ValueError("student_size must be a fraction in (0, 4]")
            w, _ = width_for_fraction(info, net, int(round(cfg.student_size * self.teacher.n_params)))
            net = NetConfig(**{**net.__dict__, "width": w})
        super().__init__(dataclasses.replace(cfg, net=net), cfg.num_envs, {"value_head": False})
        self.cfg = cfg
        params = list(self.agent.parameters())
        self.opt = make_adam(params, cfg.lr) if cfg.optimizer == "adam" else \
            torch.optim.RMSprop(params, lr=cfg.lr, alpha=0.95, eps=0.01, centered=True, foreach=True)
        self.params = params
        n, A = cfg.num_envs, self.info.n_actions
        cap = cfg.buffer_size
        self.buf_obs = np.zeros((cap,) + self.info.obs_shape, self.envs.single_observation_space.dtype)
        self.buf_out = np.zeros((cap, A), np.float32)
        self.buf_pos = self.buf_size = 0
        T = cfg.rollout_steps
        self.r_obs = np.zeros((T, n) + self.info.obs_shape, self.buf_obs.dtype)
        self.r_act = np.zeros((T, n), np.int64)
        self.r_done = np.zeros((T, n), np.float32)

    def beta(self) -> float:
        if self.cfg.source == "teacher":
            return 1.0
        if self.cfg.source == "dagger":
            return max(0.0, 1.0 - self.frames / max(1, self.cfg.beta_decay_frames))
        return 0.0

    def _teacher_np(self, obs: np.ndarray) -> np.ndarray:
        f = getattr(self.teacher, "outputs_np", None)
        return f(obs) if f is not None else self.teacher.outputs(obs).numpy()

    def _collect(self) -> np.ndarray:
        """One round of ``rollout_steps`` vector steps; returns teacher outputs [T, N, A]."""
        cfg, n = self.cfg, self.cfg.num_envs
        beta = self.beta()
        outs = np.zeros((cfg.rollout_steps, n, self.info.n_actions), np.float32)
        for t in range(cfg.rollout_steps):
            obs = self.obs
            self.r_obs[t] = obs
            t_out = self._teacher_np(obs)
            outs[t] = t_out
            s_logits, _ = self.actor(obs)
            a_student, _ = sample_gumbel(s_logits, self.np_rng)
            a_teacher = t_out.argmax(-1)
            if cfg.source == "teacher":
                explore = self.np_rng.random(n) < cfg.teacher_eps
                a_teacher = np.where(explore, self.np_rng.integers(0, self.info.n_actions, n), a_teacher)
            use_t = self.np_rng.random(n) < beta
            a = np.where(use_t, a_teacher, a_student)
            self.obs, _, term, trunc, info = self.envs.step(a)
            self.r_act[t] = a
            self.r_done[t] = term | trunc
            if info:
                self._record_episodes(info)
        self.frames += cfg.rollout_steps * n
        return outs

    def _push(self, obs: np.ndarray, outs: np.ndarray) -> None:
        k = len(obs)
        idx = (self.buf_pos + np.arange(k)) % self.cfg.buffer_size
        self.buf_obs[idx] = obs
        self.buf_out[idx] = outs
        self.buf_pos = int((self.buf_pos + k) % self.cfg.buffer_size)
        self.buf_size = min(self.buf_size + k, self.cfg.buffer_size)

    def distill_loss(self, student_logits: torch.Tensor, teacher_out: torch.Tensor,
                     reduction: L.Reduction = "mean") -> torch.Tensor:
        c = self.cfg
        if c.loss == "nll":
            return L.nll(student_logits, teacher_out, reduction)
        if c.loss == "mse":
            return L.mse(student_logits, teacher_out, reduction)
        if c.loss == "kl":
            return L.kl(student_logits, teacher_out, self.tau, reduction)
        p = L.teacher_probs(teacher_out, self.tau)
        if c.loss == "cross_entropy":
            return L.cross_entropy(student_logits, p, reduction)
        return L.reverse_kl(student_logits, p, reduction)

    def _step_opt(self, loss: torch.Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.params, self.cfg.max_grad_norm)
        self.opt.step()
        self.updates += 1

    def step(self) -> list[dict]:
        c = self.cfg
        outs = self._collect()
        T, n = c.rollout_steps, c.num_envs
        flat_obs = self.r_obs.reshape((T * n,) + self.info.obs_shape)
        flat_out = outs.reshape(T * n, -1)
        sums: dict[str, float] = {}
        if c.source == "eer":
            obs_t = torch.from_numpy(flat_obs.copy())
            t_out = torch.from_numpy(flat_out)
            acts = torch.from_numpy(self.r_act.reshape(-1))
            with torch.no_grad():
                h = L.cross_entropy(self.agent(obs_t).logits, L.teacher_probs(t_out, self.tau), "none")
            ret = gae(-h.reshape(T, n), torch.zeros(T, n), torch.from_numpy(self.r_done), torch.zeros(n),
                      c.eer_gamma, 1.0).reshape(-1)
            ret = ret - ret.mean()  # a constant baseline: unbiased, far lower variance
            for _ in range(c.updates_per_round):
                idx = torch.from_numpy(self.np_rng.integers(0, T * n, min(c.batch_size, T * n)))
                logits = self.agent(obs_t[idx]).logits
                ce = L.cross_entropy(logits, L.teacher_probs(t_out[idx], self.tau), "mean")
                logp = torch.log_softmax(logits, -1).gather(-1, acts[idx, None]).squeeze(-1)
                pg = -(logp * ret[idx]).mean()
                self._step_opt(ce + c.eer_coef * pg)
                sums["loss_distill"] = sums.get("loss_distill", 0.0) + float(ce.detach())
                sums["loss_pg"] = sums.get("loss_pg", 0.0) + float(pg.detach())
        else:
            self._push(flat_obs, flat_out)
            for _ in range(c.updates_per_round):
                idx = self.np_rng.integers(0, self.buf_size, c.batch_size)
                obs_t = torch.from_numpy(self.buf_obs[idx])
                t_out = torch.from_numpy(self.buf_out[idx])
                loss = self.distill_loss(self.agent(obs_t).logits, t_out)
                self._step_opt(loss)
                sums["loss_distill"] = sums.get("loss_distill", 0.0) + float(loss.detach())
                sums["loss_pg"] = 0.0
        with torch.no_grad():  # agreement with the teacher on this round's states
            s = self.agent(torch.from_numpy(flat_obs[: 4 * c.batch_size].copy())).logits.argmax(-1).numpy()
        agree = float((s == flat_out[: 4 * c.batch_size].argmax(-1)).mean())
        row = self._episode_metrics()
        row.update({"loss_distill": sums["loss_distill"] / c.updates_per_round,
                    "loss_pg": sums["loss_pg"] / c.updates_per_round, "agreement": agree, "beta": self.beta()})
        return [row]

    def state_dict(self) -> dict:
        s = self._base_state()
        s.update({"optim": self.opt.state_dict(), "buf_pos": self.buf_pos, "buf_size": self.buf_size})
        if self.cfg.save_replay:
            s["buf_obs"] = self.buf_obs[: self.buf_size]
            s["buf_out"] = self.buf_out[: self.buf_size]
        return s

    def load_state_dict(self, s: dict) -> None:
        self._load_base_state(s)
        self.opt.load_state_dict(s["optim"])
        if "buf_obs" in s:
            k = int(s["buf_size"])
            self.buf_obs[:k] = s["buf_obs"]
            self.buf_out[:k] = s["buf_out"]
            self.buf_pos, self.buf_size = int(s["buf_pos"]), k
