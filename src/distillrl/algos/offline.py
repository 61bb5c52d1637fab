"""Learning from datasets only: Decision-Transformer teachers and the multi-task transformer student.

* :class:`DTTrainer` (``distillrl train --algo dt --dataset ID[+ID…]``): one task's Decision
  Transformer (:mod:`dt`) trained by cross-entropy on the dataset's actions, over context
  windows sampled uniformly by their last step. AdamW (β = 0.9, 0.95) with weight decay on every
  tensor of two or more dimensions — embeddings included, unlike minGPT's rule — a linear
  warm-up and global-norm clipping: Chen et al.'s recipe at CPU scale.
* :class:`OfflineDistillTrainer` (``distillrl distill --offline --teacher DT … --dataset …``):
  one smaller transformer for all tasks (seed 004), trained with KL(π_Tk ‖ π_S) on windows of
  task k's data run through both teacher k and the student. Each update learns from one
  task, chosen by the curriculum (:mod:`curriculum`: cycle, uniform, or the task whose teacher
  the student disagrees with most on a held-out batch); gradient surgery against the previous
  update (:mod:`surgery`, PCGrad) is a switchable hook of the shared learner. It compares each
  update with the one before it, whichever task that came from: under ``cycle`` every pair
  crosses tasks, under ``max-kl`` most pairs share one (the task changes only at re-measurements).

"Frames" of these runs are gradient updates: ``--steps`` counts updates, checkpoints and
metrics are indexed by them, and runs at equal ``--steps`` are compared at equal gradient steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from ..curriculum import Curriculum, CurriculumKind
from ..dt import DecisionTransformer, batch_tensors, load_dt, param_count
from ..errors import CheckpointError, ConfigError
from ..learner import Learner
from ..losses import kl
from ..schedules import linear_interp
from ..seqdata import Episodes, dataset_info, read_episodes
from ..surgery import PreviousGradientSurgery
from ..tasks import TaskSet, task_name
from ..trainer import STATE_FORMAT, _np_state_from_json, _np_state_to_json


@dataclass
class DTNetConfig:
    """The transformer's shape."""

    d_model: int = 64
    """embedding width {≥ 1}"""
    n_layer: int = 2
    """transformer layers {≥ 1}"""
    n_head: int = 4
    """attention heads (d_model must be a multiple) {≥ 1}"""
    context: int = 10
    """K: steps per context window (3K tokens) {≥ 1}"""
    dropout: float = 0.1
    """dropout on embeddings, attention and feed-forward {[0, 1)}"""
    max_timestep: int = 0
    """size of the timestep embedding (later steps share the last); 0: 1.5 × the longest episode in the data {≥ 0}"""
    encoder: Literal["auto", "linear", "conv"] = "auto"
    """observation embedding: linear (flattened), conv (a 3×3 convolution first; images), auto (conv for images)"""

    def check(self) -> None:
        if self.d_model % self.n_head:
            raise ConfigError(f"--net.d-model ({self.d_model}) must be a multiple of --net.n-head ({self.n_head})")


@dataclass
class OfflineOptions:
    """What every offline run has."""

    env: str = ""
    """environment (default: the one the datasets were recorded in)"""
    dataset_root: str = "runs/datasets"
    """folder of Minari datasets (MINARI_DATASETS_PATH layout; see distillrl dataset)"""
    steps: int = 3000
    """gradient updates {≥ 1}"""
    seed: int = 1
    """random seed (weights, dropout, window sampling, curriculum, evaluation episodes) {≥ 0}"""
    threads: int = 1
    """torch CPU threads {≥ 1}"""
    batch_size: int = 64
    """context windows per update {≥ 1}"""
    lr: float = 6e-4
    """peak learning rate (AdamW) {> 0}"""
    warmup_steps: int = 200
    """linear learning-rate warm-up {≥ 0}"""
    weight_decay: float = 0.1
    """AdamW weight decay on weight matrices {≥ 0}"""
    max_grad_norm: float = 1.0
    """global-norm clip (0 disables) {≥ 0}"""
    log_every: int = 100
    """updates per metrics row {≥ 1}"""
    checkpoint_every: int = 1000
    """updates between checkpoints {≥ 1}"""
    eval_episodes: int = 10
    """evaluation episodes at the end, per task (0: none) {≥ 0}"""
    max_episode_steps: int | None = None
    """cap on evaluation episode length (None: the env's own) {≥ 1}"""
    net: DTNetConfig = field(default_factory=DTNetConfig)


@dataclass
class DTConfig(OfflineOptions):
    """Train a Decision Transformer (Chen et al.) from an offline dataset (train --algo dt)."""

    algo: Literal["dt"] = "dt"
    """dt: Decision Transformer from --dataset (other learners: see train without --algo dt)"""
    dataset: list[str] = field(default_factory=list)
    """Minari dataset id(s) of the one task, concatenated (several flags or a+b), e.g. distillrl/breakout-expert-v0"""
    target_return: float | None = None
    """return the evaluation conditions on (default: the best episode return in the data) {(-inf, inf)}"""
    sample: bool = False
    """evaluation samples actions from the policy (default: greedy)"""
    compare_teacher: bool = True
    """also evaluate the policy teacher that recorded the (first) dataset, on the same episode seeds"""

    def check(self) -> None:
        self.net.check()
        if not self.dataset:
            raise ConfigError("--dataset is required (a Minari dataset id; make one with distillrl dataset)")


@dataclass
class OfflineDistillConfig(OfflineOptions):
    """Distil Decision-Transformer teachers into one small transformer from their datasets (distill --offline)."""

    offline: bool = True
    """offline distillation from datasets (this command); without it, distill runs the online student"""
    teacher: list[str] = field(default_factory=list)
    """one Decision-Transformer teacher (a train --algo dt run directory) per task, in task order"""
    dataset: list[str] = field(default_factory=list)
    """one dataset per teacher, paired by order (ids of one task joined by +); default: each teacher's own training data"""
    curriculum: CurriculumKind = "max-kl"
    """which task each update learns from: cycle (fixed order, Rusu et al.), uniform, or max-kl (the largest held-out KL, seed 004)"""
    curriculum_every: int = 10
    """max-kl: updates between re-measurements of the per-task KL {≥ 1}"""
    pcgrad: bool = False
    """project an update's gradient onto the normal plane of the previous update's when they conflict (PCGrad)"""
    tau: float = 1.0
    """teacher temperature: softmax(logits/τ) {> 0}"""
    held_out: float = 0.1
    """share of each task's episodes held out from training (the curriculum's and the log's KL) {[0, 0.9]}"""
    held_out_windows: int = 64
    """held-out context windows per task {≥ 1}"""
    net: DTNetConfig = field(default_factory=DTNetConfig)
    """the student's shape (net.max_timestep 0: the teachers' largest timestep table)"""
    student_size: float | None = 0.25
    """student parameters as a fraction of the smallest teacher's, at most; picks net.d_model (None: net.d_model as given) {(0, 4]}"""
    lr: float = 1e-3
    """peak learning rate (AdamW) {> 0}"""

    def check(self) -> None:
        self.net.check()
        if not self.offline:
            raise ConfigError("this is the offline distillation command: drop --offline false")
        if not self.teacher:
            raise ConfigError("--teacher is required: one Decision-Transformer run directory per task")
        if self.dataset and len(self.dataset) != len(self.teacher):
            raise ConfigError(f"--dataset and --teacher pair by order: got {len(self.dataset)} datasets "
                              f"for {len(self.teacher)} teachers")


# --------------------------------------------------------------------------- shared machinery


class _Stats:
    """What the run loop's progress bar reads (no episodes are played while training)."""

    recent: list[float] = []


def _windows_loss_mask(w: dict) -> torch.Tensor:
    return torch.from_numpy(w["valid"]).reshape(-1)


def _lr_at(cfg, step: int) -> float:
    """Linear warm-up to ``cfg.lr`` over ``cfg.warmup_steps`` updates, then constant."""
    return cfg.lr * linear_interp(step + 1, 0.0, 1.0, cfg.warmup_steps)


class _OfflineTrainer:
    """Counters, RNGs, learner and checkpoint state shared by the two offline trainers."""

    algo = "offline"

    def __init__(self, cfg, model: DecisionTransformer):
        self.cfg = self.d = cfg  # ``d.log_every``: the run loop's chunk
        self.agent = model
        self.learner = Learner(model, "adamw", cfg.lr, weight_decay=cfg.weight_decay)
        self.frames = 0
        """gradient updates made (the run loop's "frames")"""
        self.stats = _Stats()
        self.n_params = param_count(model)
        self.train_time = 0.0
        self.tokens = 0

    @property
    def updates(self) -> int:
        return self.frames

    def _step(self, terms: dict) -> None:
        """One update on the ``loss_*`` terms at the warm-up schedule's learning rate."""
        weights = {k: 1.0 for k in terms if k.startswith("loss_")}
        self.learner.step(terms, weights, _lr_at(self.cfg, self.frames), self.cfg.max_grad_norm)
        self.frames += 1

    def _base_state(self) -> dict:
        return {"format_version": STATE_FORMAT, "algo": self.algo, "agent": self.agent.state_dict(),
                "learner": self.learner.state_dict(), "frames": self.frames,
                "rng": {"torch": torch.get_rng_state(), "numpy": _np_state_to_json(self.np_rng)},
                "train_time": self.train_time, "tokens": self.tokens}

    def _load_base(self, s: dict) -> None:
        if s.get("format_version") != STATE_FORMAT or s.get("algo") != self.algo:
            raise CheckpointError(f"the checkpoint is a {s.get('algo')} run (format {s.get('format_version')}), "
                                  f"this run is {self.algo}")
        try:
            self.agent.load_state_dict(s["agent"])
            self.learner.load_state_dict(s["learner"])
        except (RuntimeError, KeyError, ValueError) as e:
            raise CheckpointError(f"the checkpoint does not fit this run's network: {str(e).splitlines()[0]}") from None
        self.frames = int(s["frames"])
        torch.set_rng_state(s["rng"]["torch"])
        self.np_rng.bit_generator.state = _np_state_from_json(s["rng"]["numpy"])
        self.train_time, self.tokens = float(s["train_time"]), int(s["tokens"])

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / max(self.train_time, 1e-9)

    def close(self) -> None:
        pass


def _check_data(data: Episodes, taskset_info, source: str) -> None:
    if tuple(data.obs.shape[1:]) != tuple(taskset_info.obs_shape):
        raise ConfigError(f"dataset {source} has observations of shape {tuple(data.obs.shape[1:])} but "
                          f"{taskset_info.spec} gives {tuple(taskset_info.obs_shape)}")
    if data.actions.max() >= taskset_info.n_actions or data.actions.min() < 0:
        raise ConfigError(f"dataset {source} has actions outside {taskset_info.spec}'s {taskset_info.n_actions}")


def _encoder(net: DTNetConfig, info) -> str:
    if net.encoder == "conv" and len(info.obs_shape) != 3:
        raise ConfigError(f"--net.encoder conv takes images; {info.spec} gives observations of shape {info.obs_shape}")
    if net.encoder != "auto":
        return net.encoder
    return "conv" if len(info.obs_shape) == 3 else "linear"


def _max_timestep(cfg_net: DTNetConfig, lengths) -> int:
    return cfg_net.max_timestep or int(1.5 * max(int(x) for x in lengths)) + 1


# --------------------------------------------------------------------------- Decision-Transformer teacher


class DTTrainer(_OfflineTrainer):
    algo = "dt"

    def __init__(self, cfg: DTConfig):
        torch.manual_seed(cfg.seed)
        self.np_rng = np.random.default_rng(cfg.seed)
        data, env = read_episodes(list(cfg.dataset), cfg.dataset_root, cfg.env or None)
        self.env = cfg.env or env  # a variant of the recorded env (e.g. with options) may be named
        self.taskset = TaskSet.build(self.env)
        if self.taskset.n_tasks != 1:
            raise ConfigError("a Decision-Transformer teacher learns one task: --env names one environment")
        info = self.taskset.info
        _check_data(data, info, "+".join(cfg.dataset))
        self.data = data
        self.rtg_scale = max(float(np.abs(data.returns).max()), 1.0)
        self.target_return = cfg.target_return if cfg.target_return is not None else float(data.returns.max())
        n = cfg.net
        model = DecisionTransformer(info.obs_shape, info.n_actions, 1, n.d_model, n.n_layer, n.n_head, n.context,
                                    n.dropout, _max_timestep(n, data.lengths), [self.rtg_scale],
                                    encoder=_encoder(n, info), layout=info.layout, obs_scale=info.obs_scale)
        super().__init__(cfg, model)

    def advance(self, n: int) -> list[dict]:
        cfg, k = self.cfg, self.cfg.net.context
        t0 = time.perf_counter()
        loss_sum = acc_sum = 0.0
        for _ in range(n):
            w = self.data.windows(self.np_rng.integers(self.data.n_steps, size=cfg.batch_size), k)
            b = batch_tensors(w)
            logits = self.agent(**b).reshape(-1, self.agent.n_actions)
            m = _windows_loss_mask(w)
            target = b["actions"].reshape(-1)
            ce = torch.nn.functional.cross_entropy(logits[m], target[m])
            self._step({"loss_ce": ce})
            loss_sum += float(ce.detach())
            acc_sum += float((logits[m].argmax(-1) == target[m]).float().mean())
            self.tokens += 3 * int(m.sum())
        self.train_time += time.perf_counter() - t0
        return [{"frames": self.frames, "losses/ce": loss_sum / n, "charts/action_accuracy": acc_sum / n,
                 "charts/lr": self.learner.last_lr, "charts/tokens_per_s": self.tokens_per_s}]

    def state_dict(self) -> dict:
        return {**self._base_state(), "algo_state": {"target_return": self.target_return, "rtg_scale": self.rtg_scale,
                                                      "datasets": list(self.cfg.dataset)}}

    def load_state_dict(self, s: dict) -> None:
        self._load_base(s)


# --------------------------------------------------------------------------- the multi-task student


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


class OfflineDistillTrainer(_OfflineTrainer):
    algo = "dt-distill"

    def __init__(self, cfg: OfflineDistillConfig):
        torch.manual_seed(cfg.seed)
        self.np_rng = np.random.default_rng(cfg.seed)
        self.teachers = [load_dt(t, cfg.tau) for t in cfg.teacher]
        datasets = list(cfg.dataset) or [self._teacher_datasets(src, t) for src, t in zip(cfg.teacher, self.teachers)]
        parts = [read_episodes(d, cfg.dataset_root) for d in datasets]
        envs = [e for _, e in parts]
        self.env = cfg.env or ",".join(envs)
        self.taskset = TaskSet.build(self.env, "heads")
        if self.taskset.n_tasks != len(self.teachers):
            raise ConfigError(f"{self.taskset.n_tasks} tasks in {self.env} but {len(self.teachers)} teachers")
        self.train_data, self.held = [], []
        from ..envs import spec_options

        def base(spec: str | None) -> str | None:
            return spec_options(spec)[0] if spec else None

        for k, ((data, denv), t) in enumerate(zip(parts, self.teachers)):
            info, spec = self.taskset.infos[k], self.taskset.specs[k]
            if base(denv) != base(spec) or (t.env and base(t.env) != base(spec)):
                raise ConfigError(f"task {k} is {spec}, but its dataset {datasets[k]} was recorded in {denv} and its "
                                  f"teacher {cfg.teacher[k]} learned {t.env}: pair them in task order")
            _check_data(data, info, datasets[k])
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
                                       encoder=_encoder(n, info), layout=info.layout, obs_scale=info.obs_scale)

        self.teacher_params = min(t.n_params for t in self.teachers)
        _encoder(n, info)  # a bad encoder choice is a one-line error, not "no student fits"
        d = n.d_model if cfg.student_size is None else student_width(cfg.student_size, self.teacher_params, make,
                                                                       n.n_head)
        self.d_model = d
        model = make(d)
        super().__init__(cfg, model)
        self.surgery = PreviousGradientSurgery() if cfg.pcgrad else None
        if self.surgery is not None:
            self.learner.add_grad_hook(self.surgery)
        # held-out windows per task, fixed for the run: the student's inputs, the valid mask and
        # the teacher's logits, built once (max-kl measures them every few updates)
        self.held_batches = []
        for k, ho in enumerate(self.held):
            ends = self.np_rng.integers(ho.n_steps, size=cfg.held_out_windows)
            w = ho.windows(ends, n.context)
            self.held_batches.append((self._student_inputs(k, w), _windows_loss_mask(w), self._teacher_logits(k, w)))
        self.kl_evals = 0
        """held-out KL measurements the curriculum asked for (what max-kl costs beyond the updates)"""

        def measured() -> list[float]:
            self.kl_evals += 1
            return self.held_out_kls()

        self.curriculum = Curriculum(cfg.curriculum, self.taskset.n_tasks, self.np_rng, measured,
                                     cfg.curriculum_every)

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

    def advance(self, n: int) -> list[dict]:
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
            loss = self._kl(self._student_inputs(k, w), _windows_loss_mask(w), self._teacher_logits(k, w))
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
        return [row]

    def state_dict(self) -> dict:
        c = self.curriculum
        st = {"history": torch.as_tensor(c.history, dtype=torch.int64), "current": c._current,
              "last_kls": list(c.last_kls) if c.last_kls is not None else []}
        return {**self._base_state(), "algo_state": {"curriculum": st, "kl_evals": self.kl_evals,
                                                      "target_returns": [t.target_return for t in self.teachers],
                                                      "surgery": self.surgery.state_dict() if self.surgery else {}}}

    def load_state_dict(self, s: dict) -> None:
        self._load_base(s)
        a = s["algo_state"]
        c = a["curriculum"]
        self.curriculum.history = [int(x) for x in c["history"].tolist()]
        self.curriculum._current = int(c["current"])
        self.curriculum.last_kls = list(c["last_kls"]) or None
        self.kl_evals = int(a["kl_evals"])
        if self.surgery is not None and a["surgery"]:
            self.surgery.load_state_dict(a["surgery"])


def dataset_teacher(cfg_dataset: list[str], root: str) -> str | None:
    """The policy teacher that recorded the first dataset (from distillrl's sidecar), if known."""
    first = cfg_dataset[0].split("+")[0] if cfg_dataset else None
    return dataset_info(first, root).get("teacher") if first else None


__all__ = ["DTConfig", "DTNetConfig", "DTTrainer", "OfflineDistillConfig", "OfflineDistillTrainer", "student_width",
           "dataset_teacher"]
