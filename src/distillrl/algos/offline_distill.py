"""The offline multi-task student: one transformer distilled from Decision-Transformer teachers on
their datasets (KL on context windows), with a task curriculum and optional PCGrad."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from distillrl.algos.dt import (
    DTNetConfig,
    OfflineOptions,
    OfflineTrainer,
    check_data,
    encoder_for,
    windows_loss_mask,
)
from distillrl.config import knob, section
from distillrl.core import knobs as K
from distillrl.core.losses import kl
from distillrl.core.rng import global_stream
from distillrl.datasets.episodes import read_episodes
from distillrl.envs.make import spec_options
from distillrl.envs.tasks import TaskSet, task_name
from distillrl.errors import ConfigError
from distillrl.models.agent import param_count
from distillrl.models.transformer import DecisionTransformer, batch_tensors
from distillrl.teachers.dt import load_dt
from distillrl.terms.curriculum import Curriculum, CurriculumKind, KLNorm, uniform_kl
from distillrl.terms.surgery import PreviousGradientSurgery


@dataclass
class OfflineDistillConfig(OfflineOptions):
    """Distil Decision-Transformer teachers into one small transformer from their datasets (distill --offline)."""

    offline: bool = knob(True, help="offline distillation from datasets (this command); without it, distill runs the "
                                    "online student")
    teacher: list[str] = knob(factory=list, help="one Decision-Transformer teacher (a train --algo dt run directory) "
                                                 "per task, in task order")
    dataset: list[str] = knob(factory=list, help="one dataset per teacher, paired by order (ids of one task joined by "
                                                 "+); default: each teacher's own training data")
    curriculum: CurriculumKind = knob("max-kl", help="which task each update learns from: cycle (fixed order, Rusu et "
                                                     "al.), uniform, or max-kl (the task whose held-out KL is largest)")
    curriculum_every: int = knob(10, "≥ 1", "max-kl: updates between re-measurements of the per-task KL")
    curriculum_norm: KLNorm = knob("raw", help="max-kl: compare the tasks' raw KLs, each relative to its first "
                                               "measurement (initial), or each relative to the KL of a uniform "
                                               "policy over the task's actions, log|A_k| − H(π_Tk) (uniform)")
    pcgrad: bool = knob(False, help="project an update's gradient onto the normal plane of the previous update's when "
                                    "they conflict (PCGrad)")
    tau: float = K.teacher_tau(1.0, "teacher temperature: softmax(logits/τ)")
    held_out: float = knob(0.1, "[0, 0.9]", "share of each task's episodes held out from training (the curriculum's "
                                            "and the log's KL)")
    held_out_windows: int = knob(64, "≥ 1", "held-out context windows per task")
    net: DTNetConfig = section(DTNetConfig)  # the student's (net.max_timestep 0: the teachers' largest table)
    student_size: float | None = K.student_size(0.25, "student parameters as a fraction of the smallest teacher's, at "
                                                      "most; picks net.d_model (None: net.d_model as given)")
    lr: float = K.lr(1e-3, "peak learning rate (AdamW)")

    def check(self) -> None:
        self.net.check()
        if not self.offline:
            raise ConfigError("this is the offline distillation command: drop --offline false")
        if not self.teacher:
            raise ConfigError("--teacher is required: one Decision-Transformer run directory per task")
        if self.dataset and len(self.dataset) != len(self.teacher):
            raise ConfigError(f"--dataset and --teacher pair by order: got {len(self.dataset)} datasets "
                              f"for {len(self.teacher)} teachers")


def student_width(fraction: float, budget: int, make, heads: int = 1) -> int:
    """The widest ``d_model`` (a multiple of ``heads``) whose model ``make(d)`` has at most
    ``fraction × budget`` parameters."""
    best = None
    d = 1
    while d <= 4096:
        if d % heads:
            d += 1
            continue
        m = make(d)
        if param_count(m) > fraction * budget:
            break
        best = d
        d += 1
    if best is None:
        raise ConfigError(f"no student fits in {fraction:g} of the teacher's {budget} parameters; "
                          "lower --net.n-layer / --net.n-head or raise --student-size")
    return best


class OfflineDistillTrainer(OfflineTrainer):
    algo = "dt-distill"

    def __init__(self, cfg: OfflineDistillConfig):
        super().__init__(cfg)
        # weight initialisation (teachers, candidate students, the student) draws from torch's
        # global generator: on the trainer's own stream
        with global_stream(self.gen):
            self._build(cfg)
            self.surgery = PreviousGradientSurgery() if cfg.pcgrad else None
            if self.surgery is not None:
                self.learner.add_grad_hook(self.surgery)
            # held-out windows per task, fixed for the run: the student's inputs, the valid mask and
            # the teacher's logits, built once (max-kl measures them every few updates)
            self.held_batches = []
            for k, ho in enumerate(self.held):
                ends = self.np_rng.integers(ho.n_steps, size=cfg.held_out_windows)
                w = ho.windows(ends, cfg.net.context)
                self.held_batches.append((self._student_inputs(k, w), windows_loss_mask(w),
                                          self._teacher_logits(k, w)))
        self.kl_evals = 0
        """held-out KL measurements the curriculum asked for (what max-kl costs beyond the updates)"""

        def measured() -> list[float]:
            self.kl_evals += 1
            return self.held_out_kls()

        self.uniform_kls = [uniform_kl(tl[m], cfg.tau) for _, m, tl in self.held_batches]
        """KL(π_Tk ‖ uniform over task k's actions) = log|A_k| − H(π_Tk) per task on the fixed held-out
        windows: the KL of a student that knows nothing (max-kl's ``uniform`` normalisation); fixed for
        the run, as the windows and teachers are"""
        self.curriculum = Curriculum(cfg.curriculum, self.taskset.n_tasks, self.np_rng, measured,
                                     cfg.curriculum_every, cfg.curriculum_norm, self.uniform_kls)

    def _build(self, cfg: OfflineDistillConfig) -> None:
        """Teachers, datasets (split into training and held-out episodes), the task set, and the
        widest student within ``student_size`` of the smallest teacher."""
        self.teachers = [load_dt(t, cfg.tau) for t in cfg.teacher]
        datasets = list(cfg.dataset) or [self._teacher_datasets(src, t) for src, t in zip(cfg.teacher, self.teachers)]
        parts = [read_episodes(d, cfg.dataset_root) for d in datasets]
        envs = [e for _, e in parts]
        self.env = cfg.env or ",".join(envs)
        self.taskset = TaskSet.build(self.env, "heads")
        if self.taskset.n_tasks != len(self.teachers):
            raise ConfigError(f"{self.taskset.n_tasks} tasks in {self.env} but {len(self.teachers)} teachers")
        self.train_data, self.held = [], []

        def base(spec: str | None) -> str | None:
            return spec_options(spec)[0] if spec else None

        for k, ((data, denv), t) in enumerate(zip(parts, self.teachers)):
            info, spec = self.taskset.infos[k], self.taskset.specs[k]
            if base(denv) != base(spec) or (t.env and base(t.env) != base(spec)):
                raise ConfigError(f"task {k} is {spec}, but its dataset {datasets[k]} was recorded in {denv} and its "
                                  f"teacher {cfg.teacher[k]} learned {t.env}: pair them in task order")
            check_data(data, info, datasets[k])
            if t.obs_shape != tuple(info.obs_shape) or t.n_actions != info.n_actions:
                raise ConfigError(f"teacher {cfg.teacher[k]} does not fit task {spec}")
            if t.context != cfg.net.context:
                raise ConfigError(f"the student's --net.context ({cfg.net.context}) must equal its teachers' "
                                  f"(teacher {cfg.teacher[k]}: {t.context}): a teacher labels windows of its own length")
            tr, ho = data.split(cfg.held_out, self.np_rng)
            self.train_data.append(tr)
            self.held.append(ho if ho is not None else tr)
        self.names = [task_name(s) for s in self.taskset.specs]
        n = cfg.net
        max_t = n.max_timestep or max(t.model.max_timestep for t in self.teachers)
        scales = [float(t.model.rtg_scale[0]) for t in self.teachers]
        info = self.taskset.info

        def make(d: int) -> DecisionTransformer:
            return DecisionTransformer(info.obs_shape, info.n_actions, self.taskset.n_tasks, d, n.n_layer, n.n_head,
                                       n.context, n.dropout, max_t, scales, self.taskset.legal,
                                       encoder=encoder_for(n, info), layout=info.layout, obs_scale=info.obs_scale)

        self.teacher_params = min(t.n_params for t in self.teachers)
        encoder_for(n, info)  # a bad encoder choice is a one-line error, not "no student fits"
        d = n.d_model if cfg.student_size is None else student_width(cfg.student_size, self.teacher_params, make,
                                                                       n.n_head)
        self.d_model = d
        self._set_agent(make(d))

    @staticmethod
    def _teacher_datasets(source: str, teacher) -> str:
        if not teacher.datasets:
            raise ConfigError(f"{source} does not record its datasets: pass --dataset")
        return "+".join(teacher.datasets)

    def _teacher_logits(self, k: int, w: dict) -> torch.Tensor:
        """Teacher k's logits over the windows [B·K, A] in the student's action space."""
        t = self.teachers[k]
        out = t.logits_window(**batch_tensors(w))
        b, kk, _ = out.shape
        return self.taskset.lift(out.reshape(b * kk, -1), k)

    def _student_inputs(self, k: int, w: dict) -> dict[str, torch.Tensor]:
        """The windows as the student's inputs: observations padded to the common shape, task ids."""
        b, kk = w["actions"].shape
        obs = self.taskset.pad(w["obs"].reshape((b * kk,) + w["obs"].shape[2:]), k)
        return batch_tensors({**w, "obs": obs.reshape((b, kk) + obs.shape[1:])}, k)

    def _kl(self, inputs: dict, mask: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
        """KL(π_T ‖ π_S) averaged over the real (unpadded) positions."""
        s = self.agent(**inputs).reshape(mask.shape[0], -1)
        if s.device.type != "cpu":  # the windows and the teachers' labels were made on the CPU (--device)
            mask, teacher_logits = mask.to(s.device), teacher_logits.to(s.device)
        return kl(s[mask], teacher_logits[mask], self.cfg.tau)

    @torch.no_grad()
    def held_out_kls(self) -> list[float]:
        """KL(π_Tk ‖ π_S) per task on its fixed held-out windows (the student in eval mode)."""
        was = self.agent.training
        self.agent.eval()
        try:
            return [float(self._kl(x, m, tl)) for x, m, tl in self.held_batches]
        finally:
            self.agent.train(was)

    def _updates(self, n: int) -> dict:
        cfg, kk = self.cfg, self.cfg.net.context
        t0 = time.perf_counter()
        loss_sum = 0.0
        chosen = np.zeros(self.taskset.n_tasks)
        proj0 = self.surgery.projected if self.surgery is not None else 0
        for _ in range(n):
            k = self.curriculum.next()
            chosen[k] += 1
            data = self.train_data[k]
            w = data.windows(self.np_rng.integers(data.n_steps, size=cfg.batch_size), kk)
            loss = self._kl(self._student_inputs(k, w), windows_loss_mask(w), self._teacher_logits(k, w))
            self._step({"loss_kl": loss})
            loss_sum += float(loss.detach())
            self.tokens += 3 * int(w["valid"].sum())
        self.train_time += time.perf_counter() - t0
        row = {"frames": self.frames, "losses/kl": loss_sum / n, "charts/lr": self.learner.last_lr,
               "charts/tokens_per_s": self.tokens_per_s}
        for name, v in zip(self.names, self.held_out_kls()):
            row[f"heldout/kl_{name}"] = v
        for name, c in zip(self.names, chosen):
            row[f"curriculum/share_{name}"] = c / n
        if self.surgery is not None:
            row["pcgrad/projected_share"] = (self.surgery.projected - proj0) / n
        return row

    def state_dict(self) -> dict:
        return {**self._base_state(), "algo_state": {"curriculum": self.curriculum.state_dict(),
                                                      "kl_evals": self.kl_evals,
                                                      "target_returns": [t.target_return for t in self.teachers],
                                                      "surgery": self.surgery.state_dict() if self.surgery else {}}}

    def load_state_dict(self, s: dict) -> None:
        self._load_base(s)
        a = s["algo_state"]
        self.curriculum.load_state_dict(a["curriculum"])
        self.kl_evals = int(a["kl_evals"])
        if self.surgery is not None and a["surgery"]:
            self.surgery.load_state_dict(a["surgery"])
