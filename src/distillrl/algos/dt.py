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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch

from distillrl.algos.base import STATE_FORMAT
from distillrl.config import Live, knob, live_knobs, section
from distillrl.core import knobs as K
from distillrl.core.device import resolve_device
from distillrl.core.hparams import HParams
from distillrl.core.learner import Learner
from distillrl.core.rng import (
    global_stream,
    np_state_from_json,
    np_state_to_json,
    reseed,
)
from distillrl.core.schedules import linear_interp
from distillrl.datasets.episodes import Episodes, dataset_info, read_episodes
from distillrl.envs.tasks import TaskSet
from distillrl.errors import CheckpointError, ConfigError
from distillrl.models.agent import param_count
from distillrl.models.transformer import DecisionTransformer, batch_tensors


@dataclass
class DTNetConfig:
    """The transformer's shape."""

    d_model: int = knob(64, "≥ 1", "embedding width")
    n_layer: int = knob(2, "≥ 1", "transformer layers")
    n_head: int = knob(4, "≥ 1", "attention heads (d_model must be a multiple)")
    context: int = knob(10, "≥ 1", "K: steps per context window (3K tokens)")
    dropout: float = knob(0.1, "[0, 1)", "dropout on embeddings, attention and feed-forward")
    max_timestep: int = knob(0, "≥ 0", "size of the timestep embedding (later steps share the last); 0: 1.5 × the "
                                       "longest episode in the data")
    encoder: Literal["auto", "linear", "conv"] = knob(
        "auto", help="observation embedding: linear (flattened), conv (a 3×3 convolution first; images), auto (conv "
                     "for images)")

    def check(self) -> None:
        if self.d_model % self.n_head:
            raise ConfigError(f"--net.d-model ({self.d_model}) must be a multiple of --net.n-head ({self.n_head})")


@dataclass
class OfflineOptions:
    """What every offline run has."""

    LIVE: ClassVar[tuple[str, ...]] = ("lr", "weight_decay")
    """the live hyper-parameters (lr is the peak; the warm-up multiplies it)"""

    env: str = knob("", help="environment (default: the one the datasets were recorded in)")
    dataset_root: str | None = knob(None, help="folder of Minari datasets (default: $MINARI_DATASETS_PATH when set, "
                                               "else runs/datasets; Minari's layout; see distillrl dataset)")
    steps: int = K.steps(3000, "gradient updates")
    seed: int = K.seed(1, "random seed (weights, dropout, window sampling, curriculum, evaluation episodes)")
    threads: int = K.threads()
    batch_size: int = K.batch_size(64, "context windows per update")
    lr: float = K.lr(6e-4, "peak learning rate (AdamW)")
    warmup_steps: int = knob(200, "≥ 0", "linear learning-rate warm-up")
    weight_decay: float = knob(0.1, "≥ 0", "AdamW weight decay on weight matrices")
    max_grad_norm: float = K.max_grad_norm(1.0)
    log_every: int = K.log_every(100, "updates per metrics row")
    checkpoint_every: int = K.checkpoint_every(1000, "updates between checkpoints")
    eval_episodes: int = K.eval_episodes(10, "evaluation episodes at the end, per task (0: none)")
    max_episode_steps: int | None = K.max_episode_steps("cap on evaluation episode length (None: the env's own)")
    device: str = knob("cpu", help="where the transformer and its updates run: cpu, cuda, cuda:N, mps or auto "
                                    "(windows are cut on the CPU and move once per update; teachers label on the CPU)")
    net: DTNetConfig = section(DTNetConfig)


@dataclass
class DTConfig(OfflineOptions):
    """Train a Decision Transformer (Chen et al.) from an offline dataset (train --algo dt)."""

    algo: Literal["dt"] = knob("dt", help="dt: Decision Transformer from --dataset (other learners: see train without "
                                          "--algo dt)")
    dataset: list[str] = knob(factory=list, help="Minari dataset id(s) of the one task, concatenated (several flags "
                                                 "or a+b), e.g. distillrl/breakout-expert-v0")
    target_return: float | None = knob(None, "(-inf, inf)", "return the evaluation conditions on (default: the best "
                                                            "episode return in the data)")
    sample: bool = knob(False, help="the summary's dt_return is the sampled evaluation (default: the greedy one; both "
                                    "are run, and the score follows the env family's convention)")
    compare_teacher: bool = knob(True, help="also evaluate the policy teacher that recorded the (first) dataset, on "
                                            "the same episode seeds")

    def check(self) -> None:
        self.net.check()
        if not self.dataset:
            raise ConfigError("--dataset is required (a Minari dataset id; make one with distillrl dataset)")


def windows_loss_mask(w: dict) -> torch.Tensor:
    return torch.from_numpy(w["valid"]).reshape(-1)


class OfflineTrainer:
    """Counters, own random generators, live hyper-parameters, learner and checkpoint state shared
    by the two offline trainers (a :class:`~distillrl.core.protocol.Trainer`).

    Randomness: a ``torch.Generator`` and a NumPy ``Generator`` of the trainer's own, as in the
    environment trainers. Weight initialisation and dropout can only draw from torch's global
    generator, so they run inside :func:`~distillrl.core.rng.global_stream` (the trainer's
    stream swapped in for the block): the global state is left as it was, and a run gives
    exactly what the same seed gave when these trainers seeded the global generator.

    Live hyper-parameters: ``lr`` (the peak; the warm-up multiplies it) and ``weight_decay``."""

    algo = "offline"
    unit = "updates"  # frames counts gradient updates here

    @staticmethod
    def live_hparams(cfg: OfflineOptions) -> dict[str, Live]:
        """``lr`` (the peak) and ``weight_decay``: the config's ``LIVE`` fields."""
        return live_knobs(cfg)

    def __init__(self, cfg):
        self.cfg = cfg
        self.total_frames: int = cfg.steps
        self.log_every: int = cfg.log_every
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.np_rng = np.random.default_rng(cfg.seed)
        self.hp = HParams(self.live_hparams(cfg))
        self.frames = 0
        """gradient updates made (the run loop's "frames")"""
        self.train_time = 0.0
        self.tokens = 0

    def _set_agent(self, model: DecisionTransformer) -> None:
        """The network to train, its learner (AdamW, β = 0.9, 0.95) and its size."""
        self.agent = model
        self.device = resolve_device(self.cfg.device)
        if self.device.type != "cpu":
            model.to(self.device)  # before the optimizer is made: its state follows the parameters
        self.learner = Learner(model, "adamw", self.hp["lr"], weight_decay=self.hp["weight_decay"])
        self.n_params = param_count(model)

    @property
    def updates(self) -> int:
        return self.frames

    def lr_now(self) -> float:
        """The live peak lr after a linear warm-up over ``warmup_steps`` updates."""
        return self.hp["lr"] * linear_interp(self.frames + 1, 0.0, 1.0, self.cfg.warmup_steps)

    def set_hparams(self, **values: float) -> None:
        """Change ``lr`` / ``weight_decay``; the next update uses them."""
        self.hp.set(**values)

    def recent_returns(self) -> list[float]:
        """None: offline training plays no episodes."""
        return []

    def reseed(self, entropy: Sequence[int]) -> None:
        reseed(self.gen, self.np_rng, entropy)

    def advance(self, frames: int) -> list[dict]:
        """``frames`` more updates, in one metric row (dropout on the trainer's own stream)."""
        with global_stream(self.gen):
            return [self._updates(frames)]

    def step(self) -> list[dict]:
        """One logging interval: ``log_every`` updates, one row."""
        return self.advance(self.log_every)

    def _updates(self, n: int) -> dict:  # pragma: no cover - abstract
        """``n`` updates; their metric row (the time spent updating is added to ``train_time``)."""
        raise NotImplementedError

    def _step(self, terms: dict) -> None:
        """One update on the ``loss_*`` terms at the live, warmed-up learning rate."""
        weights = {k: 1.0 for k in terms if k.startswith("loss_")}
        self.learner.set_weight_decay(self.hp["weight_decay"])
        self.learner.step(terms, weights, self.lr_now(), self.cfg.max_grad_norm)
        self.frames += 1

    def _base_state(self) -> dict:
        return {"format_version": STATE_FORMAT, "algo": self.algo, "agent": self.agent.state_dict(),
                "learner": self.learner.state_dict(), "frames": self.frames, "hparams": self.hp.state_dict(),
                "rng": {"torch": self.gen.get_state(), "numpy": np_state_to_json(self.np_rng)},
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
        self.hp.load_state_dict(s.get("hparams", {}))  # checkpoints before live hyper-parameters: the config's
        # the saved "torch" state is the run's stream (before the trainers had their own generator,
        # the global one's state, which was the same stream)
        self.gen.set_state(s["rng"]["torch"])
        self.np_rng.bit_generator.state = np_state_from_json(s["rng"]["numpy"])
        self.train_time, self.tokens = float(s["train_time"]), int(s["tokens"])

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / max(self.train_time, 1e-9)

    def export(self, run_dir: Path) -> None:
        """Nothing beyond the checkpoint."""

    def close(self) -> None:
        pass


def check_data(data: Episodes, taskset_info, source: str) -> None:
    if taskset_info.continuous or data.actions.ndim > 1:
        raise ConfigError(f"dataset {source}: the Decision Transformer predicts discrete actions; "
                          f"{taskset_info.spec} has {taskset_info.describe_actions()}")
    if tuple(data.obs.shape[1:]) != tuple(taskset_info.obs_shape):
        raise ConfigError(f"dataset {source} has observations of shape {tuple(data.obs.shape[1:])} but "
                          f"{taskset_info.spec} gives {tuple(taskset_info.obs_shape)}")
    if data.actions.max() >= taskset_info.n_actions or data.actions.min() < 0:
        raise ConfigError(f"dataset {source} has actions outside {taskset_info.spec}'s {taskset_info.n_actions} "
                          "discrete actions")


def encoder_for(net: DTNetConfig, info) -> str:
    """The observation encoder ``net.encoder`` names for these observations (auto: conv for images)."""
    if net.encoder == "conv" and len(info.obs_shape) != 3:
        raise ConfigError(f"--net.encoder conv takes images; {info.spec} gives observations of shape {info.obs_shape}")
    if net.encoder != "auto":
        return net.encoder
    return "conv" if len(info.obs_shape) == 3 else "linear"


def max_timestep_for(cfg_net: DTNetConfig, lengths) -> int:
    return cfg_net.max_timestep or int(1.5 * max(int(x) for x in lengths)) + 1


class DTTrainer(OfflineTrainer):
    algo = "dt"

    def __init__(self, cfg: DTConfig):
        super().__init__(cfg)
        data, env = read_episodes(list(cfg.dataset), cfg.dataset_root, cfg.env or None)
        self.env: str = cfg.env or env  # a variant of the recorded env (e.g. with options) may be named
        self.taskset = TaskSet.build(self.env)
        if self.taskset.n_tasks != 1:
            raise ConfigError("a Decision-Transformer teacher learns one task: --env names one environment")
        info = self.taskset.info
        check_data(data, info, "+".join(cfg.dataset))
        self.data = data
        self.rtg_scale = max(float(np.abs(data.returns).max()), 1.0)
        self.target_return = cfg.target_return if cfg.target_return is not None else float(data.returns.max())
        n = cfg.net
        with global_stream(self.gen):  # weight initialisation
            model = DecisionTransformer(info.obs_shape, info.n_actions, 1, n.d_model, n.n_layer, n.n_head, n.context,
                                        n.dropout, max_timestep_for(n, data.lengths), [self.rtg_scale],
                                        encoder=encoder_for(n, info), layout=info.layout, obs_scale=info.obs_scale)
        self._set_agent(model)

    def _updates(self, n: int) -> dict:
        cfg, k = self.cfg, self.cfg.net.context
        t0 = time.perf_counter()
        loss_sum = acc_sum = 0.0
        for _ in range(n):
            w = self.data.windows(self.np_rng.integers(self.data.n_steps, size=cfg.batch_size), k)
            b = batch_tensors(w)
            if self.device.type != "cpu":  # one transfer per update (--device)
                b = {key: v.to(self.device) for key, v in b.items()}
            logits = self.agent(**b).reshape(-1, self.agent.n_actions)
            m = windows_loss_mask(w).to(self.device)
            target = b["actions"].reshape(-1)
            ce = torch.nn.functional.cross_entropy(logits[m], target[m])
            self._step({"loss_ce": ce})
            loss_sum += float(ce.detach())
            acc_sum += float((logits[m].argmax(-1) == target[m]).float().mean())
            self.tokens += 3 * int(m.sum())
        self.train_time += time.perf_counter() - t0
        return {"frames": self.frames, "losses/ce": loss_sum / n, "charts/action_accuracy": acc_sum / n,
                "charts/lr": self.learner.last_lr, "charts/tokens_per_s": self.tokens_per_s}

    def state_dict(self) -> dict:
        return {**self._base_state(), "algo_state": {"target_return": self.target_return, "rtg_scale": self.rtg_scale,
                                                      "datasets": list(self.cfg.dataset)}}

    def load_state_dict(self, s: dict) -> None:
        self._load_base(s)


def dataset_teacher(cfg_dataset: list[str], root: str) -> str | None:
    """The policy teacher that recorded the first dataset (from distillrl's sidecar), if known."""
    first = cfg_dataset[0].split("+")[0] if cfg_dataset else None
    return dataset_info(first, root).get("teacher") if first else None
