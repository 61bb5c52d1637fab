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
import math
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np
import torch

from .. import losses as L
from ..collect import Action
from ..config import validate
from ..data import Batch
from ..errors import ConfigError
from ..fastpolicy import sample_gumbel
from ..iekd import IEKDConfig, IEKDTerm
from ..kdcontrols import ClassStats, controlled
from ..learner import Learner
from ..nets import Agent, AgentOutput, NetConfig, acting_param_count
from ..replay import ReplayBuffer
from ..schedules import linear_decay
from ..tasks import MASK, TaskSet
from ..teachers import Teacher, TeacherArch, TeacherSet, load_task_teacher, load_teacher, parse_task_teachers
from ..trainer import RunConfig, Trainer, check_task_envs, estimate_gae, register

LossName = Literal["nll", "mse", "mse_logits", "kl", "cross_entropy", "reverse_kl"]
Source = Literal["teacher", "student", "dagger", "eer"]


@dataclass(frozen=True)
class DistillLoss:
    """A distillation loss: per-sample value from the student's outputs and the teacher's raw
    outputs at temperature τ; ``cost`` is its divergence form (EER's per-step cost)."""

    fn: Callable[[AgentOutput, torch.Tensor, float], torch.Tensor]
    q_student: bool = False
    cost: Callable[[AgentOutput, torch.Tensor, float], torch.Tensor] | None = None


def _kl(out, t, tau):
    return L.kl(out.logits, t, tau, "none")


def _rkl(out, t, tau):
    return L.reverse_kl(out.logits, L.teacher_probs(t, tau), "none")


def _mse(s, t):
    """Regression on the actions the sample's task has (task-set padding carries :data:`tasks.MASK`)."""
    mask = t > MASK / 2
    return L.mse(s, t, "none", None if bool(mask.all()) else mask)


LOSSES: dict[str, DistillLoss] = {
    "nll": DistillLoss(lambda out, t, tau: L.nll(out.logits, t, "none")),
    "mse": DistillLoss(lambda out, t, tau: _mse(out.q, t), q_student=True),
    "mse_logits": DistillLoss(lambda out, t, tau: _mse(out.logits, t)),
    "kl": DistillLoss(_kl, cost=_kl),
    "cross_entropy": DistillLoss(lambda out, t, tau: L.cross_entropy(out.logits, L.teacher_probs(t, tau), "none"),
                                 cost=_kl),
    "reverse_kl": DistillLoss(_rkl, cost=_rkl),
}


@dataclass
class DistillConfig(RunConfig):
    """Distil a teacher into a student (optionally much smaller)."""

    env: str = ""
    """environment (default: the teacher's own, when it records one)"""
    steps: int = 200_000
    """environment frames to collect {≥ 1}"""
    checkpoint_every: int = 100_000
    """frames between checkpoints (the first is written after the first update) {≥ 1}"""
    eval_episodes: int = 30
    """evaluation episodes for student and teacher (same episode seeds) {≥ 0}"""
    teacher: list[str] = field(default_factory=list)
    """teacher: zoo name, run directory, checkpoint, SB3 .zip, or state dict (with teacher_arch); for a task set one per task as TASK=SOURCE (e.g. minatar:breakout=minatar-breakout), or zoo for each task's zoo teacher"""
    teacher_arch: TeacherArch | None = None
    """architecture of a state-dict teacher"""
    loss: LossName = "kl"
    """nll, mse (Q-values; needs a Q-teacher), mse_logits, kl, cross_entropy or reverse_kl (SPEC §2)"""
    tau: float | None = None
    """teacher temperature: softmax(outputs/τ); default 0.01 for Q-teachers (Rusu), 1 for policy teachers {> 0}"""
    source: Source = "student"
    """where states come from: teacher, student, dagger, eer"""
    student_size: float | None = None
    """student acting parameters as a fraction of the teacher's — of the teachers' sum for a task set — at most (e.g. 0.25, 0.07, 0.04); overrides net.width {(0, 4]}"""
    num_envs: int = 8
    """parallel environments {≥ 1}"""
    rollout_steps: int = 16
    """steps per environment between update rounds {≥ 1}"""
    updates_per_round: int = 2
    """gradient updates after each collection round {≥ 1}"""
    batch_size: int = 128
    """minibatch size {≥ 1}"""
    buffer_size: int = 100_000
    """replay capacity in states (teacher / student / dagger sources) {≥ 1}"""
    lr: float = 1e-3
    """learning rate (live) {> 0}"""
    anneal_lr: bool = False
    """decay the learning rate linearly to 0 over the run (a final fine-tuning of the student's argmax)"""
    optimizer: Literal["adam", "rmsprop"] = "adam"
    """adam or rmsprop (centred, as Rusu et al.)"""
    max_grad_norm: float = 1.0
    """global gradient-norm clip (0 disables) {≥ 0}"""
    teacher_eps: float = 0.05
    """ε of the teacher's ε-greedy behaviour (teacher source; live) {[0, 1]}"""
    beta_decay_frames: int = 100_000
    """dagger: frames over which β (probability that the teacher acts) decays from 1 to 0 {≥ 1}"""
    eer_gamma: float = 0.99
    """eer: discount of the per-step cost {[0, 1)}"""
    eer_lambda: float = 0.95
    """eer: GAE λ of the cost-to-go advantages {[0, 1]}"""
    eer_coef: float = 1.0
    """eer: weight of the policy-gradient term (live) {≥ 0}"""
    eer_vf_coef: float = 0.5
    """eer: weight of the cost-to-go value loss {≥ 0}"""
    task_minibatch: Literal["one", "mixed"] = "one"
    """task sets, replay sources: one (each minibatch from one task's buffer, tasks in turn — Rusu et al.) or mixed (uniform over all stored states)"""
    save_replay: bool = True
    """include the replay buffer in checkpoints (exact resume)"""
    net: NetConfig = field(default_factory=NetConfig)
    ie_kd: bool = False
    """add inheritance/exploration feature losses (Huang et al.'s IE-KD; see the iekd.* options; needs a distillrl-agent teacher)"""
    iekd: IEKDConfig = field(default_factory=IEKDConfig)
    kd_control: Literal["none", "universe", "domain", "instance"] = "none"
    """replace the teacher's targets by one of Tang et al.'s controls (distillrl.kdcontrols): universe (label smoothing of its argmax), domain (its class-mean distributions), instance (its per-state confidence removed); needs --loss kl or cross_entropy"""

    def check(self) -> None:
        if self.kd_control != "none":
            if self.loss not in ("kl", "cross_entropy"):
                raise ConfigError(f"--kd-control replaces soft targets: use --loss kl or cross_entropy, not {self.loss}")
            if self.source == "eer":
                raise ConfigError("--kd-control works with the replay sources (teacher, student, dagger), not eer")
        if self.net.lstm > 0:
            raise ConfigError("--net.lstm: distillation learns from single frames; a recurrent student needs "
                              "kickstarting (distillrl kickstart), not distill")
        if self.env:
            check_task_envs(self.env, self.num_envs, "--num-envs")
        if self.source == "eer" and LOSSES[self.loss].cost is None:
            raise ConfigError(f"--source eer needs a divergence loss (kl, cross_entropy or reverse_kl), not {self.loss}")


def width_for_fraction(info, net: NetConfig, target: int, heads: dict | None = None) -> tuple[float, int]:
    """Width multiplier of the largest student whose acting-parameter count is at most ``target``
    (the smallest possible student when even that is larger)."""
    heads = heads or {"value_head": False}

    def count(w: float) -> int:
        cfg = NetConfig(**{**net.__dict__, "width": w})
        with torch.device("meta"):  # shapes only
            return acting_param_count(Agent(info, cfg, **heads))

    lo, hi = 1e-3, 8.0
    for _ in range(40):
        mid = math.sqrt(lo * hi)
        if count(mid) < target:
            lo = mid
        else:
            hi = mid
    best = hi if count(hi) <= target else lo
    return best, count(best)


def load_distill_teachers(cfg: DistillConfig, ts: TaskSet, given: Teacher | list | None = None) -> Teacher:
    """The teacher of a distillation: one teacher for one env; for a task set, one teacher per
    task (``TASK=SOURCE`` items, ``zoo``, or one teacher fitting every task) as a :class:`TeacherSet`."""
    if isinstance(given, TeacherSet):
        given.check_env(ts.info)
        return given
    srcs = given if isinstance(given, list) else ([given] if given is not None else
                                                  ([cfg.teacher] if isinstance(cfg.teacher, str) else list(cfg.teacher)))
    if not srcs:
        raise ConfigError("--teacher is required (zoo name, run directory, checkpoint, SB3 .zip or state dict)")
    pairs = parse_task_teachers(srcs, ts)
    if ts.n_tasks == 1:
        if len(pairs) != 1:
            raise ConfigError(f"distilling one environment takes one --teacher, got {len(pairs)}")
        t = load_teacher(pairs[0][1], ts.info, cfg.teacher_arch, cfg.tau)
        if t.recurrent:
            raise ConfigError(f"teacher {t.name} is recurrent; distillation learns from single frames and cannot "
                              "carry its state (kickstart with it instead: distillrl kickstart --teacher ...)")
        return t
    bound: dict[int, Teacher] = {}
    for task, src in pairs:
        t = load_task_teacher(src, ts, task, cfg.teacher_arch, cfg.tau)
        for k in ([task] if task is not None else range(ts.n_tasks)):
            if k in bound:
                raise ConfigError(f"two teachers for task {ts.specs[k]}; give one per task")
            bound[k] = t
    missing = [ts.specs[k] for k in range(ts.n_tasks) if k not in bound]
    if missing:
        raise ConfigError(f"no teacher for task(s) {', '.join(missing)}: give one per task as TASK=SOURCE")
    return TeacherSet(bound, ts)


@register("distill")
class DistillTrainer(Trainer):
    """A data source + a distillation loss + the shared learner."""

    on_policy = False

    def __init__(self, cfg: DistillConfig, teacher: Teacher | list | None = None):
        validate(cfg)
        ts = TaskSet.build(cfg.env, cfg.net.task_actions)
        info = ts.info
        self.teacher = load_distill_teachers(cfg, ts, teacher)
        self.spec = LOSSES[cfg.loss]
        if self.spec.q_student and self.teacher.kind != "q":
            raise ConfigError(f"--loss mse regresses Q-values (Rusu eq. 2) and needs a Q-teacher; {self.teacher.name} "
                              "is a policy teacher — use --loss mse_logits to regress its logits")
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
        hp = self.hp
        hp.declare("lr", cfg.lr, "> 0")
        hp.declare("tau", cfg.tau if cfg.tau is not None else self.teacher.tau, "> 0")
        hp.declare("max_grad_norm", cfg.max_grad_norm, "≥ 0")
        if cfg.source == "teacher":
            hp.declare("teacher_eps", cfg.teacher_eps, "[0, 1]")
        if cfg.source == "eer":
            hp.declare("eer_coef", cfg.eer_coef, "≥ 0")
        self.learner = Learner(self.agent, cfg.optimizer, cfg.lr)
        self.buffer = None
        if cfg.source != "eer":
            dtype = self.envs.single_observation_space.dtype
            self.buffer = ReplayBuffer(cfg.buffer_size, {"obs": (self.info.obs_shape, dtype), "action": ((), np.int64),
                                                         "teacher": ((self.info.n_actions,), np.float32)},
                                       n_tasks=self.n_tasks)
        self._t_cache: list[np.ndarray] = []
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
            a_t = t_out.argmax(-1)
            if self.source == "teacher":
                explore = rng.random(n) < self.hp["teacher_eps"]
                a_t = np.where(explore, self.taskset.random_actions(task, rng), a_t)
            if beta >= 1.0:
                return Action(a_t, t_out, None)
        logits, value = self.policy(obs, task)
        a, _ = sample_gumbel(logits, rng)
        if beta > 0:
            a = np.where(rng.random(n) < beta, a_t, a)
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
    def _iterate(self) -> list[dict]:
        cfg, hp = self.cfg, self.hp
        self._beta = self.beta()
        lr = self.lr_now(cfg.anneal_lr)
        value_fn = self.policy.value if self.source == "eer" else None
        ro = self.collector.collect(self._act, self.np_rng, value_fn)
        self.frames += ro.actions.numel()
        t_out = self._labels(ro)
        T, n = ro.shape
        sums: dict[str, float] = {}
        weights = {"loss_distill": 1.0}
        if self.source == "eer":
            batch = self._eer_batch(ro, t_out)
            weights.update({"loss_pg": hp["eer_coef"], "loss_value": cfg.eer_vf_coef})
        else:
            self.buffer.add(obs=ro.obs.reshape((T * n,) + tuple(ro.obs.shape[2:])).numpy(),
                            action=ro.actions.reshape(-1).numpy(), teacher=t_out.reshape(T * n, -1).numpy(),
                            task_id=ro.task_id.reshape(-1).numpy())
        weights.update(self._extra_weights())
        tau = hp["tau"]
        if self.kd_stats is not None:  # Tang et al.'s controls: statistics over every labelled state
            self.kd_stats.update(torch.softmax(t_out.reshape(T * n, -1).float() / tau, -1))
        for _ in range(cfg.updates_per_round):
            if self.source == "eer":
                idx = torch.from_numpy(self.np_rng.integers(0, T * n, min(cfg.batch_size, T * n)))
                mb = batch.index(idx)
                teacher = mb.extras["teacher"]
            else:
                s = self.buffer.sample(cfg.batch_size, self.np_rng, self._minibatch_task())
                mb = Batch(obs=s["obs"], actions=s["action"], task_id=s["task_id"])
                teacher = s["teacher"]
            out = self.agent(mb.obs, mb.task_id)
            if self.kd_stats is None:
                terms = {"loss_distill": self.spec.fn(out, teacher, tau).mean()}
            else:  # the controlled target as log-probabilities at τ = 1
                p = controlled(torch.softmax(teacher.float() / tau, -1), cfg.kd_control, self.kd_stats)
                terms = {"loss_distill": self.spec.fn(out, p.clamp(min=1e-12).log(), 1.0).mean()}
            if self.source == "eer":
                logp = torch.log_softmax(out.logits, -1).gather(-1, mb.actions[:, None]).squeeze(-1)
                terms["loss_pg"] = -(logp * mb.advantages).mean()
                terms["loss_value"] = 0.5 * ((out.value - mb.returns) ** 2).mean()
            if self.extra_losses:
                terms.update(self._extra_terms(out, mb))
            self.learner.step(terms, weights, lr, hp["max_grad_norm"])
            self.updates += 1
            self._accumulate(sums, terms)
        self.sync_policy()
        k = min(4 * cfg.batch_size, T * n)  # agreement with the teacher on this round's states
        flat_obs = ro.obs.reshape((T * n,) + tuple(ro.obs.shape[2:]))[:k]
        with torch.no_grad():
            s_act = self.agent(flat_obs, ro.task_id.reshape(-1)[:k]).logits.argmax(-1)
        agree = float((s_act == t_out.reshape(T * n, -1)[:k].argmax(-1)).float().mean())
        return [self._row(sums, cfg.updates_per_round, {"distill/agreement": agree, "distill/beta": self._beta,
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
            cost = self.spec.cost(out, t_out.reshape(T * n, -1), self.hp["tau"]).reshape(T, n)
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
