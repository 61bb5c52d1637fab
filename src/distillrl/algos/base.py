"""The environment trainer: the shared base of every learner that acts in environments (PPO,
A2C, DQN, PQN, IMPALA, distillation; kickstarting adds loss terms to one of them).

It satisfies the :class:`distillrl.core.protocol.Trainer` protocol, the one contract every
front end drives (the run loop, population-based training, sweeps, codistillation). A trainer
is advanced by a number of frames (``advance``, whole update rounds of ``step``) and reports
metric rows (one dict per update round or log interval). Its whole state — weights, optimizer, live
hyper-parameters, its own random generators, episode statistics, counters, extra-loss state —
is ``state_dict()`` / ``load_state_dict()``; ``set_hparams(...)`` changes tunable settings for
the very next update.

Each trainer owns its randomness: a ``torch.Generator`` (weight initialisation, minibatch
permutations) and a NumPy ``Generator`` (acting, replay sampling). Library code never seeds or
draws from torch's or NumPy's global generators, so two trainers stepped alternately in one
process give exactly what each gives alone.

What a checkpoint does *not* hold is the environments' internal state (Gymnasium has no safe
way to serialise it). On restore, environments are reset with a seed derived from the run
seed and the restored frame counter, so a resumed run is deterministic given its checkpoint,
but the episodes that were in flight at the checkpoint are discarded (not logged).

Algorithms subclass :class:`EnvTrainer` and register themselves by name (:func:`register`);
:mod:`distillrl.algos` builds a trainer from a config through that registry.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from distillrl.acting.collect import Collector, EpisodeStats
from distillrl.config import Live, knob, live_knobs, validate
from distillrl.core import knobs as K
from distillrl.core.checkpoint import STATE_FORMAT
from distillrl.core.device import resolve_device
from distillrl.core.distributions import ActionDistribution
from distillrl.core.hparams import HParams
from distillrl.core.learner import Learner
from distillrl.core.rng import np_state_from_json, np_state_to_json, reseed, resume_seed
from distillrl.core.schedules import linear_decay
from distillrl.core.terms import LossTerm, metric_name
from distillrl.envs.groups import with_view
from distillrl.envs.make import EnvInfo, split_specs
from distillrl.envs.tasks import TaskSet
from distillrl.errors import CheckpointError, ConfigError, SourceError
from distillrl.models.agent import Agent, AgentOutput, acting_tensors, param_count
from distillrl.models.fastpolicy import Backend, make_fast_policy
from distillrl.models.nets import NetConfig
from distillrl.teachers.zoo import load_agent


@dataclass
class RunConfig:
    """Settings every training run has."""

    env: str = knob("gym:CartPole-v1", help="environment: gym:<id>, minatar:<game>, minigrid:<id>, ale:<game>; "
                                            "several tasks: a,b (see `distillrl envs`)")
    steps: int = K.steps(100_000)
    seed: int = K.seed()
    threads: int = K.threads(1, "torch CPU threads (1 is fastest for small nets and keeps runs bit-reproducible)")
    max_episode_steps: int | None = K.max_episode_steps()
    checkpoint_every: int = K.checkpoint_every(50_000)
    eval_episodes: int = K.eval_episodes(10, "evaluation episodes at the end of training, greedy and sampled; the "
                                             "summary's score follows the env family's convention (0: none)")
    acting: Backend = knob("auto", help="acting backend in rollouts: auto (NumPy mirror where supported), numpy, torch")
    init_from: str = knob("", help="start the network from this run directory, checkpoint or zoo name (weights and "
                                   "observation statistics; optimizer and counters start fresh): fine-tune a "
                                   "distilled student with RL, or continue from a pretrained agent")
    obs_groups: str = knob("", help="observation groups the student reads, comma-separated (e.g. a,b), for "
                                    "environments whose observations are a Dict of named groups (default: every "
                                    "group); see distillrl.envs.groups")
    capture_video: bool = knob(False, help="record greedy/sampled evaluation episodes (the env family's score mode) "
                                           "as MP4 into RUN_DIR/videos at the end (needs moviepy: distillrl[video])")
    video_episodes: int = knob(1, "≥ 1", "--capture-video: episodes recorded (the first of the evaluation's seeds)")
    device: str = knob("cpu", help="where the learner's network and updates run: cpu, cuda, cuda:N, mps or auto "
                                    "(acting stays on the CPU mirror; every learner and extra term)")
    track: bool = knob(False, help="mirror the run to Weights & Biases (metrics, config, summary, plots); "
                                   "TensorBoard stays the default record (needs wandb: distillrl[track])")
    wandb_project: str = knob("distillrl", help="--track: the W&B project")
    wandb_entity: str = knob("", help="--track: the W&B entity (team or user; default: yours)")
    wandb_group: str = knob("", help="--track: the W&B group (default: the PBT experiment or sweep the run belongs "
                                     "to, else none)")
    wandb_mode: Literal["online", "offline", ""] = knob("", help="--track: online, offline (written under "
                                                                 "RUN_DIR/wandb for `wandb sync`), or W&B's own "
                                                                 "default (WANDB_MODE)")


def init_weights(agent: Agent, source: str) -> list[str]:
    """Load ``source``'s network into ``agent`` (``--init-from``): every tensor the two share must
    match in shape; heads only ``agent`` has (a distilled student has no critic) keep their fresh
    initialisation, and are returned. One-line :class:`ConfigError` when the networks do not fit."""
    try:
        src, _ = load_agent(source)
    except (SourceError, FileNotFoundError, CheckpointError) as e:
        raise ConfigError(f"--init-from {source}: {e}") from None
    if src.info.obs_shape != agent.info.obs_shape or src.info.n_actions != agent.info.n_actions \
            or src.info.continuous != agent.info.continuous:
        raise ConfigError(f"--init-from {source}: its network was built for {src.info.spec} "
                          f"({src.info.obs_shape}, {src.info.describe_actions()}), this run's env gives "
                          f"{agent.info.obs_shape}, {agent.info.describe_actions()}")
    if tuple(src.info.view) != tuple(agent.info.view):
        raise ConfigError(f"--init-from {source}: it reads observation groups {','.join(src.info.view) or 'all'}, "
                          f"this run {','.join(agent.info.view) or 'all'}")
    theirs, mine = src.state_dict(), agent.state_dict()
    bad = [k for k in theirs if k in mine and theirs[k].shape != mine[k].shape]
    unknown = [k for k in theirs if k not in mine]
    if bad or unknown:
        what = (f"{bad[0]} is {tuple(theirs[bad[0]].shape)} there, {tuple(mine[bad[0]].shape)} here" if bad
                else f"it has {unknown[0]}, this network has not")
        raise ConfigError(f"--init-from {source}: the networks differ ({what}); use the same --net options")
    missing = [k for k in mine if k not in theirs]
    agent.load_state_dict({**mine, **theirs})
    return missing


def check_task_envs(env: str, num_envs: int, flag: str) -> None:
    """A task set needs at least one environment per task (cross-field rule for the config layer)."""
    k = len(split_specs(env))
    if num_envs < k:
        raise ConfigError(f"{flag} ({num_envs}) must be at least the number of tasks in {env} ({k})")


ALGORITHMS: dict[str, type[EnvTrainer]] = {}


def register(name: str):
    """Class decorator: make a trainer available as ``algo: name``."""
    def deco(cls):
        cls.algo = name
        ALGORITHMS[name] = cls
        return cls
    return deco


class EnvTrainer:
    """Shared machinery: envs, agent, fast acting policy, learner, hyper-parameters, RNG, state.

    Subclasses implement :meth:`step` (one update round) and declare their live
    hyper-parameters statically (:meth:`live_hparams`: by default the ``LIVE`` fields of the
    config section named by ``section``); a learner whose rounds are shorter than a logging
    interval (DQN: one vector-env step) sets ``log_every`` so the run loop looks at it only that
    often."""

    algo: ClassVar[str] = "base"
    unit: ClassVar[str] = "frames"
    section: ClassVar[str] = ""
    """the run config's attribute that holds this learner's options (``ppo``, ``dqn``, ...)"""
    on_policy: ClassVar[bool] = True
    """runs extra terms' ``on_rollout`` before a return estimator"""
    log_every: int = 1
    """frames the run loop advances between two looks (1: after every update round)"""

    def __init__(self, cfg: Any, num_envs: int, num_steps: int, heads: dict, net: NetConfig | None = None):
        validate(cfg)
        self.cfg = cfg
        self.env: str = cfg.env
        self.total_frames = cfg.steps
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.np_rng = np.random.default_rng(cfg.seed)
        net = net or cfg.net
        # a single env is the trivial task set (see distillrl.tasks)
        if getattr(cfg, "rnd", False):  # RND's second value head (the term itself is added by the factory)
            heads = {**heads, "int_value_head": True}
        self.taskset = TaskSet.build(cfg.env, net.task_actions)
        self.envs = self.taskset.make_vec(num_envs, cfg.max_episode_steps)
        self.n_tasks = self.taskset.n_tasks
        # the student reads its view of a Dict observation's groups (--obs-groups; plain Box: as is)
        self.info: EnvInfo = with_view(self.taskset.info, getattr(cfg, "obs_groups", ""))
        if heads.get("q_head") and self.info.continuous:
            raise ConfigError(f"{self.algo} learns Q-values over discrete actions; {cfg.env} has "
                              f"{self.info.describe_actions()}: use --algo ppo or a2c")
        self.agent = Agent(self.info, net, generator=self.gen, **heads)
        if getattr(cfg, "init_from", ""):
            init_weights(self.agent, cfg.init_from)
        self.policy = make_fast_policy(self.agent, cfg.acting)  # the acting mirror: a CPU copy, whatever the device
        self.device = resolve_device(getattr(cfg, "device", "cpu"))
        if self.device.type != "cpu":
            self._check_device(cfg)
            self.agent.to(self.device)
        self._named_params = list(self.agent.named_parameters())  # for sync_policy (hot: after every update)
        self.hp = HParams(self._live(cfg))
        self.stats = EpisodeStats(self.n_tasks)
        self.collector = Collector(self.envs, num_steps, self.stats,
                                   memory=self.policy if self.policy.recurrent else None, dist=self.agent.dist)
        self.collector.reset(cfg.seed)
        self.learner: Learner | None = None
        self.extra_losses: list[LossTerm] = []
        self.frames = 0
        self.updates = 0
        self._t_last = time.perf_counter()
        self._f_last = 0

    # ---- hyper-parameters and extra terms
    @classmethod
    def live_hparams(cls, cfg: Any) -> dict[str, Live]:
        """The live hyper-parameters a trainer of this class declares for ``cfg`` (names, starting
        values, domains) — known without building one. Extra loss terms add their own
        (kickstarting's λs: :func:`distillrl.algos.kickstart.kickstart_live_hparams`)."""
        return live_knobs(getattr(cfg, cls.section))

    def _live(self, cfg: Any) -> dict[str, Live]:
        """What this trainer declares at construction: :meth:`live_hparams`, with any value that
        only the built trainer knows filled in."""
        return self.live_hparams(cfg)

    def set_hparams(self, **values: float) -> None:
        """Change live hyper-parameters; the next update uses them (``trainer.hp.names()`` lists them)."""
        self.hp.set(**values)

    @property
    def dist(self) -> type[ActionDistribution]:
        """The student's action distribution (what its policy head parameterises)."""
        return self.agent.dist

    def outputs(self) -> set[str]:
        a = self.agent
        return ({"logits"} | ({"value"} if a.v is not None else set()) | ({"q"} if a.q is not None else set())
                | ({"value_int"} if a.v_int is not None else set()))

    def add_loss(self, term: LossTerm) -> None:
        """Add an extra loss term; refused (one-line :class:`ConfigError`) where it cannot work."""
        missing = set(term.requires) - self.outputs()
        if missing:
            raise ConfigError(f"loss term {term.name!r} needs the agent's {', '.join(sorted(missing))} output; "
                              f"the {self.algo} agent has only {', '.join(sorted(self.outputs()))}")
        if term.changes_rewards and not self.on_policy:
            raise ConfigError(f"loss term {term.name!r} changes rewards before the return estimator; the {self.algo} "
                              "learner learns from replay and has no such step")
        if any(t.name == term.name for t in self.extra_losses):
            raise ConfigError(f"a loss term named {term.name!r} is already added")
        if self.device.type != "cpu" and not getattr(term, "gpu_ok", False):
            raise ConfigError(f"--device {self.device}: the {term.name} term runs on the CPU only for now")
        term.attach(self)
        self.extra_losses.append(term)

    def _extra_weights(self) -> dict[str, float]:
        w: dict[str, float] = {}
        for t in self.extra_losses:
            w.update(t.weights(self))
        return w

    def _extra_terms(self, out: AgentOutput, mb: Any) -> dict[str, torch.Tensor]:
        terms: dict[str, torch.Tensor] = {}
        for t in self.extra_losses:
            terms.update(t(out, mb))
        return terms

    def _on_rollout(self, rollout: Any) -> None:
        for t in self.extra_losses:
            t.on_rollout(rollout)

    def _on_advantages(self, rollout: Any, **learner_outputs: Any) -> None:
        for t in self.extra_losses:
            t.on_advantages(rollout, **learner_outputs)

    # ---- acting
    def sync_policy(self) -> None:
        """Send the learner's weights to the acting policy (explicitly, as to a remote actor)."""
        named = acting_tensors(self.agent) if self.agent.obs_norm is not None else self._named_params
        self.policy.set_weights({k: p.detach().cpu().numpy() for k, p in named})

    gpu_ok: ClassVar[bool] = False
    """whether this learner moves its updates to ``--device`` (the others run on the CPU only)"""

    def _check_device(self, cfg: Any) -> None:
        """What may run on a non-CPU device: the learners and terms that move their batches there."""
        where = f"--device {getattr(cfg, 'device', '')}"
        if not self.gpu_ok:
            raise ConfigError(f"{where}: the {self.algo} learner runs on the CPU only for now")

    def lr_now(self, anneal: bool) -> float:
        """The live lr, decayed linearly to 0 over the run when ``anneal`` (each learner's ``anneal_lr``)."""
        return self.hp["lr"] * (linear_decay(self.frames, self.total_frames) if anneal else 1.0)

    @property
    def n_params(self) -> int:
        return param_count(self.agent)

    def recent_returns(self) -> list[float]:
        """The last 100 training episodes' returns (any task), oldest first."""
        return list(self.stats.recent)

    def reseed(self, entropy: Sequence[int]) -> None:
        """Restart the torch and NumPy generators from ``entropy`` (see the Trainer protocol)."""
        reseed(self.gen, self.np_rng, entropy)

    # ---- the loop
    def advance(self, frames: int) -> list[dict]:
        """Train for at least ``frames`` more frames (whole update rounds); return metric rows."""
        target = self.frames + frames
        rows: list[dict] = []
        while self.frames < target:
            rows.extend(self.step())
        return rows

    def step(self) -> list[dict]:  # pragma: no cover - abstract
        """One update round of the algorithm; its metric rows."""
        raise NotImplementedError

    def _row(self, loss_sums: dict[str, float], n: int, extra: dict | None = None) -> dict:
        """A metric row: charts/* (episodes, speed), losses/* (means over the round's updates),
        the extra terms' metrics and the live hyper-parameters (hparams/*)."""
        now = time.perf_counter()
        sps = (self.frames - self._f_last) / max(now - self._t_last, 1e-9)
        self._t_last, self._f_last = now, self.frames
        row: dict = {"frames": self.frames, **self.stats.drain(), "charts/updates": self.updates, "charts/sps": sps}
        for k, v in loss_sums.items():
            row[metric_name(k)] = v / max(n, 1)
        if extra:
            row.update(extra)
        if self.n_tasks > 1:  # per-task training return (last 100 episodes of each task)
            for k, name in enumerate(self.taskset.names):
                row[f"tasks/{name}/return_recent"] = self.stats.mean_recent(k)
        for t in self.extra_losses:
            row.update(t.metrics())
        row.update({f"hparams/{k}": v for k, v in self.hp.as_dict().items()})
        return row

    @staticmethod
    def _accumulate(sums: dict[str, float], terms: dict[str, torch.Tensor]) -> None:
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())

    # ---- state
    def _algo_state(self) -> dict:
        return {}

    def _load_algo_state(self, s: dict) -> None:
        pass

    def state_dict(self) -> dict:
        return {
            "format_version": STATE_FORMAT,
            "algo": self.algo,
            "agent": self.agent.state_dict(),
            "learner": self.learner.state_dict() if self.learner is not None else {},
            "hparams": self.hp.state_dict(),
            "frames": self.frames,
            "updates": self.updates,
            "stats": self.stats.state_dict(),
            "rng": {"torch": self.gen.get_state(), "numpy": np_state_to_json(self.np_rng)},
            "extra_losses": {t.name: t.state_dict() for t in self.extra_losses},
            "algo_state": self._algo_state(),
        }

    def load_state_dict(self, s: dict) -> None:
        version = s.get("format_version", 1)
        if version != STATE_FORMAT:
            raise CheckpointError(f"trainer state format {version} cannot be resumed by this version of distillrl "
                                  f"(format {STATE_FORMAT}); it still loads as a teacher and for eval")
        if s["algo"] != self.algo:
            raise CheckpointError(f"the checkpoint is a {s['algo']} trainer, this run is {self.algo}")
        try:
            self.agent.load_state_dict(s["agent"])
            if self.learner is not None:
                self.learner.load_state_dict(s["learner"])
        except (RuntimeError, KeyError, ValueError) as e:
            raise CheckpointError(f"the checkpoint does not fit this run's network or optimizer "
                                  f"({str(e).splitlines()[0][:160]})") from None
        self.hp.load_state_dict(s["hparams"])
        self.frames, self.updates = int(s["frames"]), int(s["updates"])
        self.stats.load_state_dict(s["stats"])
        self.gen.set_state(s["rng"]["torch"])
        self.np_rng.bit_generator.state = np_state_from_json(s["rng"]["numpy"])
        for t in self.extra_losses:
            if t.name in s.get("extra_losses", {}):
                t.load_state_dict(s["extra_losses"][t.name])
        self._load_algo_state(s.get("algo_state", {}))
        self.sync_policy()
        # Environments restart from a seed derived from the restored position (see module doc).
        self.collector.reset(resume_seed(self.cfg.seed, self.frames))
        self._f_last = self.frames
        self._t_last = time.perf_counter()

    def export(self, run_dir: Path) -> None:
        """Extra artefacts at the end of a run: none by default (IMPALA writes its actors' placement)."""

    def close(self) -> None:
        self.envs.close()
