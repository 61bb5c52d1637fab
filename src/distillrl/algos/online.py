"""Online policy distillation (Rusu et al. 2016, SPEC §3): while a teacher is still training,
keep its best-scoring checkpoint so far and continually distil it into a student.

:class:`OnlineDistill` drives two ordinary trainers in one process — the teacher's own
trainer (PPO, A2C or DQN from ``distillrl train``) and a :class:`distill.DistillTrainer`
whose teacher is a frozen copy of the best teacher so far. Every ``online.eval_every`` teacher
frames the teacher is evaluated on a fixed list of episodes (in its env family's convention
mode, :mod:`acting.protocols`: greedy on MinAtar, sampled on MiniGrid); when it beats the best
score so far, its weights are copied into the frozen copy (the student's teacher changes only
then, never to a worse checkpoint). The student learns continually: ``online.student_ratio``
of its own frames per teacher frame, from the first evaluation on. The student is evaluated
on the same episodes at the same points, so the two learning curves (``online/teacher_eval``,
``online/student_eval``, ``online/best_eval`` in metrics.csv) are directly comparable.

The run directory is the teacher's run (its checkpoint loads as the teacher, as any ``train``
run); the whole state — both trainers, the frozen best copy, the best score — is in the
checkpoint, so a killed run resumes. At the end the student is also written as
``<run>/student/model.safetensors`` (usable as ``--teacher <run>/student``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from distillrl.acting.evaluation import evaluate_agent, evaluate_modes, score_fields
from distillrl.algos.base import ALGORITHMS
from distillrl.algos.distill import DistillTrainer
from distillrl.algos.distill_config import DistillConfig, LossName
from distillrl.config import Live, knob, to_dict
from distillrl.core import checkpoint
from distillrl.core import knobs as K
from distillrl.core.hparams import HParams
from distillrl.core.stats import ratio_fields
from distillrl.models.agent import Agent
from distillrl.models.fastpolicy import agent_weights
from distillrl.teachers.base import AgentTeacher


@dataclass
class OnlineOptions:
    """Online distillation (with --online-distill)."""

    eval_every: int = knob(50_000, "≥ 1", "teacher frames between evaluations of teacher and student (the best "
                                          "checkpoint is chosen at these points)")
    eval_episodes: int = knob(10, "≥ 1", "episodes per evaluation, in the env family's convention mode (the same "
                                         "episode seeds every time, for both)")
    student_ratio: float = knob(1.0, "> 0", "student environment frames per teacher frame")
    student_size: float | None = K.student_size(None, "student acting parameters as a fraction of the teacher's, at "
                                                      "most (default: the teacher's own network)")
    source: Literal["student", "teacher"] = knob(
        "student", help="where the student's states come from: student (DAgger-like) or teacher (the best copy acts "
                        "ε-greedily)")
    loss: LossName = knob("kl", help="distillation loss (see distill --loss)")
    lr: float = K.lr(1e-3, "student learning rate")


class OnlineDistill:
    """A teacher trainer and a student distilled from its best checkpoint so far, as one trainer.

    A composition, not a subclass: the run loop drives this object through the
    :class:`~distillrl.core.protocol.Trainer` protocol, and it drives its two trainers through
    the same protocol. What the protocol reads (frames, budget, hyper-parameters, network,
    recent returns) is the teacher's: the run directory is the teacher's run."""

    unit = "frames"

    log_every = 1
    """the loop looks after every teacher round (the student follows, evaluation points are checked)"""

    @staticmethod
    def live_hparams(cfg: Any) -> dict[str, Live]:
        """The teacher's (the protocol's hyper-parameters are the teacher trainer's)."""
        return ALGORITHMS[cfg.algo].live_hparams(cfg)

    def __init__(self, cfg: Any):
        o = cfg.online
        self.cfg, self.o = cfg, o
        self.env: str = cfg.env
        self.teacher = ALGORITHMS[cfg.algo](cfg)
        self.algo = f"online-{self.teacher.algo}"
        self.best = copy.deepcopy(self.teacher.agent).eval().requires_grad_(False)
        self.best_teacher = AgentTeacher(self.best, "best-so-far", env=cfg.env)
        dcfg = DistillConfig(env=cfg.env, teacher=["best-so-far"], steps=max(1, int(cfg.steps * o.student_ratio)),
                             seed=cfg.seed + 1, threads=cfg.threads, max_episode_steps=cfg.max_episode_steps,
                             source=o.source, loss=o.loss, lr=o.lr, student_size=o.student_size,
                             eval_episodes=0, net=replace(cfg.net))
        self.student = DistillTrainer(dcfg, teacher=self.best_teacher)
        self.best_score = -math.inf
        self.best_frames = -1
        self.next_eval = o.eval_every
        self.student_debt = 0.0

    # ---- the protocol, answered by the teacher
    @property
    def frames(self) -> int:
        return self.teacher.frames

    @property
    def total_frames(self) -> int:
        return self.teacher.total_frames

    @property
    def updates(self) -> int:
        return self.teacher.updates

    @property
    def hp(self) -> HParams:
        return self.teacher.hp

    @property
    def agent(self) -> Agent:
        return self.teacher.agent

    @property
    def policy(self):
        """The teacher's acting policy (what the run's own evaluation plays)."""
        return self.teacher.policy

    @property
    def n_params(self) -> int:
        return self.teacher.n_params

    def set_hparams(self, **values: float) -> None:
        """The teacher's live hyper-parameters (the student's are its own: ``online.*``)."""
        self.teacher.set_hparams(**values)

    def recent_returns(self) -> list[float]:
        return self.teacher.recent_returns()

    def reseed(self, entropy: Sequence[int]) -> None:
        """Both trainers restart their streams: the teacher from ``entropy``, the student from a
        distinct stream of it."""
        self.teacher.reseed(entropy)
        self.student.reseed([*entropy, 1])

    # ---- the loop
    def _evaluate(self, agent, episodes: int, seed: int):
        """``agent`` (a trainer or the best-so-far teacher) in the env family's convention mode on
        episodes ``seed``, ``seed + 1``, ... (:func:`acting.evaluation.evaluate_agent`)."""
        return evaluate_agent(agent, self.cfg.env, episodes, seed, None, max_episode_steps=self.cfg.max_episode_steps)

    def _score(self, agent) -> float:
        """The mean return on the fixed evaluation episodes (how checkpoints are compared)."""
        return self._evaluate(agent, self.o.eval_episodes, 50_000 + self.cfg.seed).mean

    def advance(self, frames: int) -> list[dict]:
        """Train the teacher ``frames`` more frames (whole iterations), stopping at every
        evaluation point on the way; the student follows."""
        target = self.teacher.frames + frames
        rows: list[dict] = []
        while self.teacher.frames < target:
            rows.extend(self._segment(max(1, min(target, self.next_eval) - self.teacher.frames)))
        return rows

    def step(self) -> list[dict]:
        """One teacher round; the student follows; an evaluation if one is due."""
        return self._segment(1)

    def _segment(self, frames: int) -> list[dict]:
        """The teacher ``frames`` more frames (never past the next evaluation point, which the
        caller guarantees), then the student's share, then the evaluation if it is due."""
        before = self.teacher.frames
        rows = self.teacher.advance(frames)
        if self.best_frames >= 0:  # the student learns once a best checkpoint exists
            self.student_debt += (self.teacher.frames - before) * self.o.student_ratio
            if self.student_debt >= 1:
                s0 = self.student.frames
                srows = self.student.advance(int(self.student_debt))
                self.student_debt -= self.student.frames - s0  # whole iterations: may overshoot a little
                last = srows[-1]
                rows[-1].update({"online/student_frames": self.student.frames,
                                 "online/distill_loss": last.get("losses/distill_loss", math.nan),
                                 "online/agreement": last.get("distill/agreement", math.nan)})
        if self.teacher.frames >= self.next_eval:
            score = self._score(self.teacher)
            if score > self.best_score:
                self.best_score, self.best_frames = score, self.teacher.frames
                self._set_best(self.teacher.agent.state_dict())
            student = self._score(self.student) if self.student.frames > 0 else math.nan
            rows[-1].update({"online/teacher_eval": score, "online/best_eval": self.best_score,
                             "online/best_frames": self.best_frames, "online/student_eval": student,
                             "online/student_frames": self.student.frames})
            self.next_eval = (self.teacher.frames // self.o.eval_every + 1) * self.o.eval_every
        return rows

    def _set_best(self, state: dict) -> None:
        self.best.load_state_dict(state)
        self.best_teacher.fast.set_weights(agent_weights(self.best))  # fused parts of the NumPy mirror are copies

    # ---- state
    def state_dict(self) -> dict:
        t = self.teacher.state_dict()
        return {**t, "online": {"student": self.student.state_dict(), "best": self.best.state_dict(),
                                "best_score": self.best_score, "best_frames": self.best_frames,
                                "next_eval": self.next_eval, "student_debt": self.student_debt}}

    def load_state_dict(self, s: dict) -> None:
        self.teacher.load_state_dict({k: v for k, v in s.items() if k != "online"})
        o = s["online"]
        self._set_best(o["best"])
        self.student.load_state_dict(o["student"])
        self.best_score, self.best_frames = float(o["best_score"]), int(o["best_frames"])
        self.next_eval = int(o["next_eval"])
        self.student_debt = float(o.get("student_debt", 0.0))

    def close(self) -> None:
        self.teacher.close()
        self.student.close()

    # ---- the end of a run
    def finish(self) -> dict:
        """Final evaluation of the last teacher (both modes: the run's score), the best checkpoint
        and the student (the score's mode), on the same episodes."""
        n, seed = self.cfg.eval_episodes, 10_000 + self.cfg.seed
        out: dict = {"online_best_eval": self.best_score, "online_best_frames": self.best_frames,
                     "student_frames": self.student.frames, "student_params": self.student.n_params}
        if n > 0:
            env, cap = self.cfg.env, self.cfg.max_episode_steps
            res = evaluate_modes(self.teacher, env, n, seed, max_episode_steps=cap)
            fields = score_fields(res, env)
            out.update(fields)
            mode = fields["score_mode"]
            for name, agent in (("teacher", None), ("best", self.best_teacher), ("student", self.student)):
                r = res[mode] if agent is None else evaluate_agent(agent, env, n, seed, mode, max_episode_steps=cap)
                out[f"{name}_return"] = r.mean
                out[f"{name}_std"] = float(np.std(r.returns))
            out["mean_return"] = out["teacher_return"]
            out.update(ratio_fields(out["student_return"], out["best_return"]))
        return out

    def export(self, run_dir: Path) -> None:
        """The student as ``run_dir/student/model.safetensors`` (``--teacher <run>/student`` loads it)."""
        d = Path(run_dir) / "student"
        d.mkdir(parents=True, exist_ok=True)
        st = self.student
        checkpoint.save(d / "model.safetensors", {"algo": "distill", "agent": st.agent.state_dict()},
                        {"kind": "distill", "config": to_dict(st.cfg), "agent": st.agent.spec(), "env": self.cfg.env,
                         "frames": st.frames, "online_from": str(run_dir)})


__all__ = ["OnlineDistill", "OnlineOptions"]
