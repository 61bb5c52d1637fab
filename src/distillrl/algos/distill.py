"""Policy distillation (Rusu et al. 2016; Czarnecki et al. 2019 — SPEC §2–3), built from the
shared parts: a data *source*, a distillation *loss* (a table of pure functions, :data:`LOSSES`)
and the shared :class:`learner.Learner`.

A frozen teacher labels states; the student is trained to match it. Where the states come
from is the *source*:

* ``teacher`` — the teacher acts ε-greedily (ε = 0.05); observations and teacher outputs go
  to the replay buffer; the student learns from uniform minibatches (Rusu et al.);
* ``student`` — the student acts (sampling its policy); the teacher labels every visited
  state (DAgger-like; Czarnecki et al.'s practical default);
* ``dagger`` — each step the teacher acts with probability β, decayed linearly 1 → 0 over
  ``beta_decay_frames``; all labelled states are aggregated in the buffer;
* ``eer`` — expected-entropy-regularised distillation (Czarnecki et al.): on-policy student
  rollouts and the gradient of E_{π_S}[Σ_t γ^t ℓ(x_t)] for the per-step cost
  ℓ = the loss's *divergence* (KL(π_T‖π_S) for ``kl``/``cross_entropy``, KL(π_S‖π_T) for
  ``reverse_kl``) — zero where the student matches the teacher. The update is the
  student-driven term ∇ℓ(x_t) plus ``eer_coef`` × a policy-gradient term ∇log π_S(a_t|x_t)·A_t
  whose advantages are on the *per-step scale*: the reward is −(1−γ)·ℓ_t, i.e. the cost-to-go
  is a discounted *average* of future costs rather than their sum, so the term stays the size
  of ℓ instead of ℓ/(1−γ). ``eer_coef = 1/(1−γ)`` gives the exact gradient of the objective;
  the default 1 weights the trajectory term down by (1−γ) (with the unscaled sum it swamped
  the supervised term). A learned cost-to-go V (a value head) is the baseline, bootstrapped
  across rollout ends and truncations (GAE). Trap avoided: with the
  cross-entropy as the cost, its teacher-entropy part is paid on every step, so the
  policy-gradient term rewards ending episodes early (a Breakout student learns to lose the
  ball — measured at 4% of the teacher before this fix).

Losses (``--loss``): ``nll``, ``mse`` (Rusu eq. 2: regresses the teacher's Q-values with a
Q head of the student — needs a Q-teacher; the student acts greedily on its q), ``mse_logits``
(regression on policy logits, explicitly named), ``kl`` (τ on the teacher), ``cross_entropy``,
``reverse_kl``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from distillrl.acting.collect import Action
from distillrl.algos.base import EnvTrainer, register
from distillrl.algos.distill_config import (
    LOSSES,
    DistillConfig,
    load_distill_teachers,
    width_for_fraction,
)
from distillrl.config import Live, live_knobs, validate
from distillrl.core.data import Batch
from distillrl.core.gae import estimate_gae
from distillrl.core.learner import Learner
from distillrl.core.replay import ReplayBuffer
from distillrl.core.schedules import linear_decay
from distillrl.envs.tasks import TaskSet
from distillrl.errors import ConfigError
from distillrl.envs.groups import with_view
from distillrl.models.agent import acting_param_count
from distillrl.models.nets import NetConfig
from distillrl.teachers.base import Teacher
from distillrl.teachers.load import TeacherSet
from distillrl.terms.iekd import IEKDTerm
from distillrl.terms.kdcontrols import ClassStats, controlled, floored_fraction


def _rows(mask: np.ndarray, like: np.ndarray) -> np.ndarray:
    """A per-row mask [N] shaped to broadcast over actions ``like`` ([N] or [N, D])."""
    return mask.reshape(mask.shape + (1,) * (like.ndim - 1))


@register("distill")
class DistillTrainer(EnvTrainer):
    """A data source + a distillation loss + the shared learner."""

    gpu_ok = True  # --device: labels are made on the CPU; each minibatch moves to the device

    on_policy = False

    @classmethod
    def live_hparams(cls, cfg: DistillConfig) -> dict[str, Live]:
        """lr, the teacher temperature ``tau`` (value None when it defaults to the teacher's own),
        max_grad_norm; ``teacher_eps`` with the teacher source, ``eer_coef`` with eer."""
        drop = {"teacher_eps"} if cfg.source != "teacher" else set()
        drop |= {"eer_coef"} if cfg.source != "eer" else set()
        return live_knobs(cfg, [n for n in cfg.LIVE if n not in drop])

    def _live(self, cfg: DistillConfig) -> dict[str, Live]:
        live = self.live_hparams(cfg)
        if live["tau"].value is None:  # the teacher's own temperature
            live["tau"] = dataclasses.replace(live["tau"], value=self.teacher.tau)
        return live

    def __init__(self, cfg: DistillConfig, teacher: Teacher | list | None = None):
        validate(cfg)
        ts = TaskSet.build(cfg.env, cfg.net.task_actions)
        info = with_view(ts.info, cfg.obs_groups)  # what the student reads (its size is counted on it)
        self.teacher = load_distill_teachers(cfg, ts, teacher)
        self.spec = LOSSES[cfg.loss]
        if self.spec.q_student and self.teacher.kind != "q":
            raise ConfigError(f"--loss mse regresses Q-values (Rusu eq. 2) and needs a Q-teacher; {self.teacher.name} "
                              "is a policy teacher — use --loss mse_logits to regress its logits")
        if cfg.loss == "mse_mean" and not info.continuous:
            raise ConfigError(f"--loss mse_mean compares continuous actions; {cfg.env} has {info.describe_actions()} "
                              "(use kl, cross_entropy or nll)")
        if info.continuous and cfg.loss in ("mse", "mse_logits"):
            raise ConfigError(f"--loss {cfg.loss} regresses discrete Q-values or logits; for {cfg.env}'s continuous "
                              "actions use mse_mean, kl, cross_entropy, reverse_kl or nll")
        if self.teacher.kind == "deterministic" and cfg.loss not in ("mse_mean", "nll"):
            raise ConfigError(f"teacher {self.teacher.name} is deterministic (it gives an action, not a distribution): "
                              f"use --loss mse_mean or nll, not {cfg.loss}")
        self.source = cfg.source
        self.on_policy = cfg.source == "eer"
        if self.spec.q_student:
            heads = {"value_head": False, "q_head": True, "policy_head": False}
        else:
            heads = {"value_head": cfg.source == "eer"}
        net = cfg.net
        members = list(self.teacher.teachers.values()) if isinstance(self.teacher, TeacherSet) else [self.teacher]
        teacher_agent = getattr(members[0], "agent", None)
        if teacher_agent is not None and net.arch == "auto":  # same family as the teacher
            net = NetConfig(**{**teacher_agent.cfg.__dict__, "width": net.width, "task_input": net.task_input,
                               "task_actions": net.task_actions, "downsample": net.downsample})
        if cfg.student_size is not None:
            w, _ = width_for_fraction(info, net, int(round(cfg.student_size * self.teacher.n_params)), heads)
            net = NetConfig(**{**net.__dict__, "width": w})
        super().__init__(dataclasses.replace(cfg, net=net), cfg.num_envs, cfg.rollout_steps, heads, net=net)
        self.learner = Learner(self.agent, cfg.optimizer, cfg.lr)
        self.buffer = None
        if cfg.source != "eer":
            dtype = self.envs.single_observation_space.dtype
            action = ((self.info.n_actions,), np.float32) if self.info.continuous else ((), np.int64)
            self.buffer = ReplayBuffer(cfg.buffer_size, {"obs": (self.info.obs_shape, dtype), "action": action,
                                                         "teacher": ((self.agent.head_size,), np.float32)},
                                       n_tasks=self.n_tasks)
        self._t_cache: list[np.ndarray] = []
        if cfg.kd_control != "none" and self.info.continuous:
            raise ConfigError(f"--kd-control {cfg.kd_control} works on discrete actions (classes); {self.env} has "
                              f"{self.info.describe_actions()}")
        self.kd_stats = ClassStats(self.info.n_actions) if cfg.kd_control != "none" else None
        if cfg.ie_kd:
            self.add_loss(IEKDTerm(cfg.iekd))

    @property
    def n_params(self) -> int:
        return acting_param_count(self.agent)

    # ---- acting
    def beta(self) -> float:
        """Probability that the teacher acts: 1 (teacher), decaying (dagger), 0 (student, eer)."""
        if self.source == "teacher":
            return 1.0
        if self.source == "dagger":
            return linear_decay(self.frames, self.cfg.beta_decay_frames)
        return 0.0

    def _teacher_np(self, obs: np.ndarray, task: np.ndarray) -> np.ndarray:
        if isinstance(self.teacher, TeacherSet):
            return self.teacher.outputs_np(obs, task)
        f = getattr(self.teacher, "outputs_np", None)
        if f is not None:
            return f(obs)
        return self.teacher.outputs(obs, torch.from_numpy(np.asarray(task))).numpy()

    def _act(self, obs: np.ndarray, task: np.ndarray, rng: np.random.Generator) -> Action:
        n, beta = len(obs), self._beta
        if beta > 0:
            t_out = self._teacher_np(obs, task)
            self._t_cache.append(t_out)
            a_t = self.teacher.dist.np_mode(t_out)
            if self.source == "teacher":
                explore = rng.random(n) < self.hp["teacher_eps"]
                a_t = np.where(_rows(explore, a_t), self.taskset.random_actions(task, rng), a_t)
            if beta >= 1.0:
                return Action(a_t, t_out, None)
        logits, value = self.policy(obs, task)
        a = self.policy.dist.np_sample(logits, rng)
        if beta > 0:
            a = np.where(_rows(rng.random(n) < beta, a), a_t, a)
        return Action(a, logits, value)

    def _labels(self, ro) -> torch.Tensor:
        """Teacher outputs [T, N, A] for the rollout (cached from acting, else one batched forward)."""
        T, n = ro.shape
        if len(self._t_cache) == T:
            out = torch.from_numpy(np.stack(self._t_cache))
        else:
            flat = ro.obs.reshape((T * n,) + tuple(ro.obs.shape[2:]))
            out = torch.from_numpy(self._teacher_np(flat.numpy(), ro.task_id.reshape(-1).numpy())).reshape(T, n, -1)
        self._t_cache = []
        return out

    # ---- learning
    def step(self) -> list[dict]:
        cfg, hp = self.cfg, self.hp
        self._beta = self.beta()
        lr = self.lr_now(cfg.anneal_lr)
        value_fn = self.policy.value if self.source == "eer" else None
        ro = self.collector.collect(self._act, self.np_rng, value_fn)
        self.frames += ro.rewards.numel()
        t_out = self._labels(ro)
        T, n = ro.shape
        sums: dict[str, float] = {}
        weights = {"loss_distill": 1.0}
        if self.source == "eer":
            batch = self._eer_batch(ro, t_out)
            weights.update({"loss_pg": hp["eer_coef"], "loss_value": cfg.eer_vf_coef})
        else:
            self.buffer.add(obs=ro.obs.reshape((T * n,) + tuple(ro.obs.shape[2:])).numpy(),
                            action=ro.actions.reshape((T * n,) + tuple(ro.actions.shape[2:])).numpy(),
                            teacher=t_out.reshape(T * n, -1).numpy(),
                            task_id=ro.task_id.reshape(-1).numpy())
        weights.update(self._extra_weights())
        tau = hp["tau"]
        kd_extra: dict = {}
        if self.kd_stats is not None:  # Tang et al.'s controls: statistics over every labelled state
            probs = self.dist.from_teacher(t_out.reshape(T * n, -1).float(), tau).probs
            self.kd_stats.update(probs)
            if cfg.kd_control == "instance":  # how often m̄ alone would have changed the teacher's decision
                kd_extra = {"distill/instance_floored": floored_fraction(probs, self.kd_stats.mean_conf())}
        for _ in range(cfg.updates_per_round):
            if self.source == "eer":
                idx = torch.from_numpy(self.np_rng.integers(0, T * n, min(cfg.batch_size, T * n)))
                mb = batch.index(idx)
                teacher = mb.extras["teacher"]
            else:
                s = self.buffer.sample(cfg.batch_size, self.np_rng, self._minibatch_task())
                mb = Batch(obs=s["obs"], actions=s["action"], task_id=s["task_id"])
                teacher = s["teacher"]
            if self.kd_stats is not None:  # the controlled target as log-probabilities at τ = 1 (Categorical:
                # Tang et al.'s classes), made on the CPU where the statistics are
                p = controlled(self.dist.from_teacher(teacher.float(), tau).probs, cfg.kd_control, self.kd_stats)
                teacher, tau_fn = p.clamp(min=1e-12).log(), 1.0
            else:
                tau_fn = tau
            if self.device.type != "cpu":  # one transfer per minibatch (--device); labels were made on the CPU
                mb, teacher = mb.to(self.device), teacher.to(self.device)
            out = self.agent(mb.obs, mb.task_id)
            terms = {"loss_distill": self.spec.fn(out, teacher, tau_fn, self.dist).mean()}
            if self.source == "eer":
                logp = self.agent.distribution(out.logits).log_prob(mb.actions)
                terms["loss_pg"] = -(logp * mb.advantages).mean()
                terms["loss_value"] = 0.5 * ((out.value - mb.returns) ** 2).mean()
            if self.extra_losses:
                terms.update(self._extra_terms(out, mb))
            self.learner.step(terms, weights, lr, hp["max_grad_norm"])
            self.updates += 1
            self._accumulate(sums, terms)
        self.agent.update_obs_norm(ro.obs)  # a student with its own observation statistics
        self.sync_policy()
        k = min(4 * cfg.batch_size, T * n)  # agreement with the teacher on this round's states
        flat_obs = ro.obs.reshape((T * n,) + tuple(ro.obs.shape[2:]))[:k]
        with torch.no_grad():
            s_act = self.agent.distribution(self.agent(flat_obs, ro.task_id.reshape(-1)[:k]).logits).mode().cpu()
        t_act = self.teacher.dist(t_out.reshape(T * n, -1)[:k].float()).mode()
        if self.info.continuous:  # mean squared distance of the student's mean action to the teacher's
            extra = {"distill/action_mse": float(((s_act - t_act) ** 2).sum(-1).mean())}
        else:
            extra = {"distill/agreement": float((s_act == t_act).float().mean())}
        return [self._row(sums, cfg.updates_per_round, {**extra, **kd_extra, "distill/beta": self._beta,
                                                        "charts/learning_rate": lr})]

    def _minibatch_task(self) -> int | None:
        """Rusu et al.: with a task set each minibatch comes from one task's buffer, tasks in turn
        (a task with nothing stored yet is skipped)."""
        if self.n_tasks == 1 or self.cfg.task_minibatch == "mixed":
            return None
        for i in range(self.n_tasks):
            k = (self.updates + i) % self.n_tasks
            if self.buffer.sizes[k]:
                return k
        return None

    def _eer_batch(self, ro, t_out: torch.Tensor) -> Batch:
        """On-policy batch with cost-to-go advantages: reward −(1−γ)·ℓ_t, ℓ = the loss's divergence."""
        T, n = ro.shape
        gamma = self.cfg.eer_gamma
        flat_obs = ro.obs.reshape((T * n,) + tuple(ro.obs.shape[2:]))
        with torch.no_grad():
            out = self.agent(flat_obs, ro.task_id.reshape(-1))
            cost = self.spec.cost(out, t_out.reshape(T * n, -1).to(out.logits.device), self.hp["tau"],
                                  self.dist).cpu().reshape(T, n)  # cpu(): the estimator runs there (--device)
        ro.rewards = -(1.0 - gamma) * cost
        ro.extras["teacher"] = t_out
        self._on_rollout(ro)
        estimate_gae(ro, gamma, self.cfg.eer_lambda)
        return ro.flatten()

    def _algo_state(self) -> dict:
        s = {}
        if self.buffer is not None and self.cfg.save_replay:
            s["replay"] = self.buffer.state_dict()
        if self.kd_stats is not None:
            s["kd_stats"] = self.kd_stats.state_dict()
        return s

    def _load_algo_state(self, s: dict) -> None:
        if "replay" in s and self.buffer is not None:
            self.buffer.load_state_dict(s["replay"])
        if "kd_stats" in s and self.kd_stats is not None:
            self.kd_stats.load_state_dict(s["kd_stats"])
