"""Policy distillation's configuration: losses, data sources, the student's size, its teachers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, ClassVar, Literal

import torch

from distillrl.algos.base import RunConfig, check_task_envs
from distillrl.config import knob, section
from distillrl.core import knobs as K
from distillrl.core import losses as L
from distillrl.core.distributions import ActionDistribution, Categorical
from distillrl.envs.tasks import MASK, TaskSet
from distillrl.envs.make import split_specs
from distillrl.errors import ConfigError
from distillrl.models.agent import Agent, AgentOutput, acting_param_count
from distillrl.models.nets import NetConfig
from distillrl.teachers.base import Teacher, TeacherArch
from distillrl.teachers.load import (
    TeacherSet,
    load_task_teacher,
    load_teacher,
    parse_task_teachers,
)
from distillrl.terms.iekd import IEKDConfig

LossName = Literal["nll", "mse", "mse_logits", "mse_mean", "kl", "cross_entropy", "reverse_kl"]


Source = Literal["teacher", "student", "dagger", "eer"]


LossFn = Callable[[AgentOutput, torch.Tensor, float, type[ActionDistribution]], torch.Tensor]


@dataclass(frozen=True)
class DistillLoss:
    """A distillation loss: per-sample value from the student's outputs and the teacher's raw
    outputs at temperature τ, both read through the student's action distribution class
    (default Categorical); ``cost`` is its divergence form (EER's per-step cost)."""

    fn: LossFn
    q_student: bool = False
    cost: LossFn | None = None


def _kl(out, t, tau, dist=Categorical):
    return L.kl(out.logits, t, tau, "none", dist=dist)


def _rkl(out, t, tau, dist=Categorical):
    return L.reverse_kl(out.logits, dist.from_teacher(t, tau).target(), "none", dist=dist)


def _ce(out, t, tau, dist=Categorical):
    return L.cross_entropy(out.logits, dist.from_teacher(t, tau).target(), "none", dist=dist)


def _nll(out, t, tau, dist=Categorical):
    return L.nll(out.logits, t, "none", dist=dist)


def _mse(s, t):
    """Regression on the actions the sample's task has (task-set padding carries :data:`tasks.MASK`)."""
    mask = t > MASK / 2
    return L.mse(s, t, "none", None if bool(mask.all()) else mask)


def _mse_mean(out, t, tau, dist=Categorical):
    return L.action_mse(out.logits, t, "none", dist=dist)


LOSSES: dict[str, DistillLoss] = {
    "mse_mean": DistillLoss(_mse_mean),
    "nll": DistillLoss(_nll),
    "mse": DistillLoss(lambda out, t, tau, dist=Categorical: _mse(out.q, t), q_student=True),
    "mse_logits": DistillLoss(lambda out, t, tau, dist=Categorical: _mse(out.logits, t)),
    "kl": DistillLoss(_kl, cost=_kl),
    "cross_entropy": DistillLoss(_ce, cost=_kl),
    "reverse_kl": DistillLoss(_rkl, cost=_rkl),
}


@dataclass
class DistillConfig(RunConfig):
    """Distil a teacher into a student (optionally much smaller)."""

    LIVE: ClassVar[tuple[str, ...]] = ("lr", "tau", "max_grad_norm", "teacher_eps", "eer_coef")
    """the live hyper-parameters (teacher_eps with the teacher source only, eer_coef with eer only)"""

    env: str = knob("", help="environment (default: the teacher's own, when it records one)")
    steps: int = K.steps(200_000, "environment frames to collect")
    checkpoint_every: int = K.checkpoint_every(100_000)
    eval_episodes: int = K.eval_episodes(30, "evaluation episodes for student and teacher (same episode seeds)")
    teacher: list[str] = knob(factory=list, help="teacher: zoo name, run directory, checkpoint, SB3 .zip, or state "
                                                 "dict (with teacher_arch); for a task set one per task as "
                                                 "TASK=SOURCE (e.g. minatar:breakout=minatar-breakout), or zoo for "
                                                 "each task's zoo teacher")
    teacher_arch: TeacherArch | None = knob(None, help="architecture of a state-dict teacher")
    teacher_obs_groups: str = K.teacher_obs_groups("the teacher")
    loss: LossName = knob("kl", help="nll (−log π_S of the teacher's argmax), mse (squared error of Q-values; needs a "
                                     "Q-teacher), mse_logits (of logits), mse_mean (squared error of mean actions; continuous actions, "
                                     "rsl_rl's behaviour cloning), kl (KL(π_T ‖ π_S)), cross_entropy "
                                     "(H(π_T, π_S)) or reverse_kl (KL(π_S ‖ π_T)); π_T = softmax(teacher outputs / τ)")
    tau: float | None = K.teacher_tau(None, "teacher temperature: softmax(outputs/τ); default 0.01 for Q-teachers "
                                            "(Rusu), 1 for policy teachers")
    source: Source = knob("student", help="where states come from: teacher, student, dagger, eer")
    student_size: float | None = K.student_size(None, "student acting parameters as a fraction of the teacher's — of "
                                                      "the teachers' sum for a task set — at most (e.g. 0.25, 0.07, "
                                                      "0.04); overrides net.width")
    num_envs: int = K.num_envs(8)
    rollout_steps: int = knob(16, "≥ 1", "steps per environment between update rounds")
    updates_per_round: int = knob(2, "≥ 1", "gradient updates after each collection round")
    batch_size: int = K.batch_size(128)
    buffer_size: int = K.buffer_size(100_000, "replay capacity in states (teacher / student / dagger sources)")
    lr: float = K.lr(1e-3)
    anneal_lr: bool = knob(False, help="decay the learning rate linearly to 0 over the run (a final fine-tuning of "
                                       "the student's argmax)")
    optimizer: Literal["adam", "rmsprop"] = knob("adam", help="adam or rmsprop (centred, as Rusu et al.)")
    max_grad_norm: float = K.max_grad_norm(1.0)
    teacher_eps: float = knob(0.05, "[0, 1]", "ε of the teacher's ε-greedy behaviour (teacher source)")
    beta_decay_frames: int = knob(100_000, "≥ 1", "dagger: frames over which β (probability that the teacher acts) "
                                                  "decays from 1 to 0")
    eer_gamma: float = knob(0.99, "[0, 1)", "eer: discount of the per-step cost")
    eer_lambda: float = knob(0.95, "[0, 1]", "eer: GAE λ of the cost-to-go advantages")
    eer_coef: float = knob(1.0, "≥ 0", "eer: weight of the policy-gradient term")
    eer_vf_coef: float = knob(0.5, "≥ 0", "eer: weight of the cost-to-go value loss")
    task_minibatch: Literal["one", "mixed"] = knob(
        "one", help="task sets, replay sources: one (each minibatch from one task's buffer, tasks in turn — Rusu et "
                    "al.) or mixed (uniform over all stored states)")
    save_replay: bool = knob(True, help="include the replay buffer in checkpoints (exact resume)")
    net: NetConfig = section(NetConfig)
    ie_kd: bool = knob(False, help="add inheritance/exploration feature losses (Huang et al.'s IE-KD; see the iekd.* "
                                   "options; needs a distillrl-agent teacher)")
    iekd: IEKDConfig = section(IEKDConfig)
    kd_control: Literal["none", "universe", "domain", "instance"] = knob(
        "none", help="replace the teacher's targets by one of Tang et al.'s controls (distillrl.kdcontrols): universe "
                     "(label smoothing of its argmax), domain (its class-mean distributions), instance (its per-state "
                     "confidence removed); needs --loss kl or cross_entropy")

    def check(self) -> None:
        if self.teacher_obs_groups and len(split_specs(self.env)) > 1:
            raise ConfigError("--teacher-obs-groups: observation groups work with one environment, not a task set")
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


def teacher_temperature(cfg: DistillConfig) -> float:
    """The teacher temperature a distillation of ``cfg`` starts from: ``tau``, or when unset the
    teacher's own (0.01 for Q-teachers, 1 for policy teachers; the teachers are loaded)."""
    if cfg.tau is not None:
        return cfg.tau
    return load_distill_teachers(cfg, TaskSet.build(cfg.env, cfg.net.task_actions)).tau


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
        t = load_teacher(pairs[0][1], ts.info, cfg.teacher_arch, cfg.tau, obs_groups=cfg.teacher_obs_groups)
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
