"""The run commands as data: what ``train``, ``kickstart`` and ``distill`` are, for every front end.

A :class:`Kind` names a command's config class, its presets, how a config is completed
(``prepare``), how a trainer is built from it (``factory``), the live hyper-parameters such a
trainer declares (``live``: listed from the config alone, no trainer built) and what is measured
at the end (``finish``). The CLI, population-based training and seed sweeps all build runs
through :func:`build_config` and :func:`run_job`, so a member of a population or a trial of a
sweep is exactly the run the command would make.

Command lines are read in two steps (:func:`parse_command`): a small pre-parser reads only what
chooses the parser — ``--algo`` (``train``, ``kickstart``), ``--offline`` (``distill``), and where
neither is given the saved config of ``--resume --run-dir`` or ``--config`` — and then the parser
of that command *and* algorithm is built, offering only that learner's options
(``distillrl kickstart --algo ppo --help`` lists no ``--impala.*``).
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from distillrl.acting.cluster import check_address
from distillrl.algos import TrainConfig, make_trainer, train_live_hparams
from distillrl.algos.distill import DistillTrainer
from distillrl.algos.distill_config import DistillConfig
from distillrl.algos.dt import DTConfig, DTTrainer
from distillrl.algos.meta import MetaConfig, MetaTrainer, finish_meta, meta_live_hparams, prepare_meta
from distillrl.algos.kickstart import KickstartConfig, kickstart_live_hparams, make_kickstart_trainer
from distillrl.algos.offline_distill import OfflineDistillConfig, OfflineDistillTrainer
from distillrl.config import (
    Live,
    OneLineParser,
    add_dataclass_args,
    apply_args,
    coerce,
    foreign_options,
    from_dict,
    hints,
    load_yaml,
    validate,
)
from distillrl.datasets.episodes import dataset_env, resolve_root
from distillrl.envs.make import gym_id
from distillrl.errors import ConfigError
from distillrl.core.device import resolve_device
from distillrl.runs.finish import (
    eval_seed,
    eval_student,
    finish_distill,
    finish_dt,
    finish_kickstart,
    finish_offline_distill,
)
from distillrl.runs.loop import Hook, drive
from distillrl.runs.presets import preset
from distillrl.runs.rundir import (
    prepare_run_dir,
    restore,
    undo_if_failed_at_start,
    write_summary,
)
from distillrl.teachers.dt import dt_env
from distillrl.teachers.load import load_teacher


@dataclass(frozen=True)
class Kind:
    name: str
    config_cls: Callable[[], type]
    preset: Callable[[str, str], dict] | None
    prepare: Callable[[Any], Any]
    factory: Callable[[Any], Any]
    finish: Callable[[Any, Any], dict]
    live: Callable[[Any], dict[str, Live]] | None = None
    """the live hyper-parameters of ``factory(cfg)``'s trainer, from ``cfg`` alone"""


def kinds() -> dict[str, Kind]:
    return {
        "train": Kind("train", lambda: TrainConfig, preset, lambda c: c, make_trainer, eval_student,
                      train_live_hparams),
        "kickstart": Kind("kickstart", lambda: KickstartConfig, preset, _prepare_kickstart, make_kickstart_trainer,
                          finish_kickstart, kickstart_live_hparams),
        "meta": Kind("meta", lambda: MetaConfig, None, prepare_meta, MetaTrainer, finish_meta, meta_live_hparams),
        "distill": Kind("distill", lambda: DistillConfig, None, _prepare_distill, DistillTrainer, finish_distill,
                        DistillTrainer.live_hparams),
        # the offline track (datasets only): train --algo dt, distill --offline
        "train-dt": Kind("train", lambda: DTConfig, None, _prepare_dt, DTTrainer, finish_dt, DTTrainer.live_hparams),
        "distill-offline": Kind("distill", lambda: OfflineDistillConfig, None, _prepare_offline_distill,
                                OfflineDistillTrainer, finish_offline_distill, OfflineDistillTrainer.live_hparams),
    }


def kind(name: str) -> Kind:
    ks = kinds()
    if name not in ks:
        raise ConfigError(f"unknown command {name!r}; valid: {', '.join(ks)}")
    return ks[name]


def _pre_parser() -> argparse.ArgumentParser:
    """Reads only what chooses a command's parser; every other argument is left for that parser."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--algo")
    p.add_argument("--offline", nargs="?", const="true")
    p.add_argument("--config")
    p.add_argument("--run-dir")
    p.add_argument("--resume", action="store_true")
    return p


def _saved_config(pre: argparse.Namespace) -> dict:
    """The config a command continues or starts from: the run directory's on ``--resume``, else
    ``--config``'s ({} when neither is readable: the command's own config loading reports it)."""
    path = None
    if pre.resume and pre.run_dir:
        path = Path(pre.run_dir) / "config.yaml"
    elif pre.config:
        path = Path(pre.config)
    try:
        return load_yaml(path) if path is not None and path.is_file() else {}
    except ConfigError:
        return {}


def command_kind(command: str, argv: Sequence[str]) -> tuple[Kind, str | None]:
    """The :class:`Kind` and the algorithm ``distillrl COMMAND ARGV`` runs, read by the pre-parser:
    ``--algo`` (``train --algo dt``: the Decision Transformer's own command), ``--offline``
    (``distill``), else what the saved config (``--resume --run-dir``, ``--config``) says."""
    pre, _ = _pre_parser().parse_known_args(list(argv))
    algo, offline = pre.algo, pre.offline
    if algo is None and offline is None:
        saved = _saved_config(pre)
        algo, offline = saved.get("algo"), saved.get("offline")
    if command == "train" and algo == "dt":
        return kind("train-dt"), "dt"
    if command == "distill":
        if offline is not None and coerce(offline, bool, "--offline", from_text=True):
            return kind("distill-offline"), None
        return kind("distill"), None
    return kind(command), None if algo is None else str(algo)


def parse_command(command: str | Kind, argv: Sequence[str], raising: bool = False) -> tuple[Kind, argparse.Namespace]:
    """``argv`` parsed by the parser of its command and algorithm (:func:`command_kind`; a
    :class:`Kind` given directly is kept, and only its algorithm is read first)."""
    if isinstance(command, Kind):
        k, algo = command, _pre_parser().parse_known_args(list(argv))[0].algo
    else:
        k, algo = command_kind(command, argv)
    p = command_parser(k, raising, algo)
    ns, extra = p.parse_known_args(list(argv))
    if extra:
        cls = k.config_cls()
        learner = _learner(cls, algo)
        foreign = foreign_options(cls, learner) if learner else {}
        for a in extra:
            name = a.split("=", 1)[0]
            if name in foreign:
                p.error(f"{name} is an option of --algo {' or '.join(foreign[name])}, not of {learner}")
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    return k, ns


def command_parser(k: Kind, raising: bool = False, algo: str | None = None) -> argparse.ArgumentParser:
    """The command's parser: run options + one flag per config field offered for ``algo`` (the
    config's default learner when None or not one of its learners: a bad ``--algo`` is then
    reported by the config layer). ``raising``: errors raise :class:`ConfigError` instead of
    exiting (for commands parsed inside sweeps)."""

    class Raising(OneLineParser):
        def error(self, message):  # type: ignore[override]
            raise ConfigError(f"distillrl {k.name}: {message}")

    cls = k.config_cls()
    p = (Raising if raising else OneLineParser)(prog=f"distillrl {k.name}", description=cls.__doc__)
    p.add_argument("--config", help="YAML file with config keys (flags override it)")
    p.add_argument("--run-dir", help="run directory (default: runs/<command>-<env>-s<seed>-<time>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --run-dir from its last checkpoint (or from frame 0 if it has none)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object (last stdout line)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    if k.name == "distill" and "offline" not in {f.name for f in dataclasses.fields(cls)}:
        p.add_argument("--offline", nargs="?", const="true", default=argparse.SUPPRESS, metavar="BOOL",
                       help="distil Decision-Transformer teachers from their datasets instead (their options: "
                            "distill --offline --help)")
    add_dataclass_args(p, cls, algo=_learner(cls, algo))
    return p


def _learner(cls: type, algo: str | None) -> str | None:
    """The learner a parser of ``cls`` is built for: ``algo`` if it is one of the config's, else its
    default (None for a config without learners)."""
    choices = typing.get_args(hints(cls).get("algo"))
    if not choices:
        return None
    return algo if algo in choices else cls().algo


def build_config(k: Kind, data: dict | None = None, ns: Any = None, run_dir: Path | None = None,
                 resume: bool = False) -> Any:
    """defaults → preset(env, algo) → ``data`` (or the run's saved config on resume) → flags in ``ns``;
    then ``prepare`` and validation."""
    cls = k.config_cls()
    data = dict(data or {})
    if resume and run_dir is not None and (run_dir / "config.yaml").exists():
        data = load_yaml(run_dir / "config.yaml")
    elif ns is not None and getattr(ns, "config", None):
        data = load_yaml(ns.config)
    cfg = cls()
    if k.preset is not None and not resume:
        env = getattr(ns, "env", None) or data.get("env") or cfg.env
        algo = getattr(ns, "algo", None) or data.get("algo") or getattr(cfg, "algo", "ppo")
        cfg = from_dict(cls, k.preset(env, algo), cfg)
    cfg = from_dict(cls, data, cfg)
    if ns is not None:
        cfg = apply_args(cfg, ns)
    return validate(k.prepare(cfg))


def run_job(k: Kind, cfg: Any, run_dir: Path, resume: bool, progress: bool = True,
            hooks: Sequence[Hook] = (), track_group: str | None = None,
            plots: Callable[[Path], list[Path]] | None = None) -> dict:
    """Build (and on ``resume`` restore) the trainer, drive it through ``run_dir`` with the run
    loop (``hooks`` see every chunk's rows after they are written), measure, let the trainer
    export what it has, write ``summary.json``; return the summary. Bad input raises
    :class:`errors.DistillRLError`; SIGINT raises ``KeyboardInterrupt`` after a checkpoint.

    With ``cfg.track`` the run is mirrored to W&B (:mod:`track`) in group ``track_group`` (unless
    ``--wandb-group`` names one); ``plots(run_dir)`` makes the images logged at the end."""
    if cfg.env:
        gym_id(cfg.env)
    if getattr(cfg, "algo", None) == "impala" and getattr(cfg, "address", None) and getattr(cfg, "actors", 0):
        check_address(cfg.address)  # in seconds, before anything is written
    if getattr(cfg, "device", "cpu") != "cpu":
        resolve_device(cfg.device)  # in a moment, before anything is written
    prepare_run_dir(run_dir, resume)
    set_threads(cfg.threads)
    tracker = None
    with undo_if_failed_at_start(run_dir, resume):
        trainer = k.factory(cfg)
        try:
            if resume:
                restore(trainer, run_dir)
            if getattr(cfg, "track", False):
                from distillrl.runs.track import WandbTracker

                tracker = WandbTracker(cfg, run_dir, k.name, group=track_group, resume=resume)
                hooks = [*hooks, tracker]
            summary = drive(trainer, cfg, run_dir, k.name, resume, progress=progress, hooks=hooks)
            summary = {"run_dir": str(run_dir), "env": trainer.env, **summary, **k.finish(trainer, cfg)}
            if getattr(trainer, "device", None) is not None and trainer.device.type != "cpu":
                summary["device"] = str(trainer.device)
            if getattr(cfg, "capture_video", False):
                summary["videos"] = capture_videos(trainer, cfg, run_dir / "videos")
            trainer.export(run_dir)
            write_summary(run_dir, summary)
        except BaseException:
            if tracker is not None:
                tracker.abort()
            raise
        finally:
            trainer.close()
    if tracker is not None:
        tracker.finish(summary, plots(run_dir) if plots is not None else [])
    return summary


def capture_videos(trainer: Any, cfg: Any, out: Path) -> list[str]:
    """``--capture-video``: the trained agent's first ``video_episodes`` evaluation episodes (the
    summary's reset seeds, the family's score mode) as MP4 files under ``out``."""
    from distillrl.acting.evaluation import evaluate_agent

    evaluate_agent(trainer, cfg.env, cfg.video_episodes, eval_seed(cfg), None,
                   max_episode_steps=cfg.max_episode_steps, video_dir=out)
    return sorted(str(p.relative_to(out.parent)) for p in out.rglob("*.mp4"))


def set_threads(n: int) -> None:
    torch.set_num_threads(n)


def _prepare_distill(cfg):
    if not cfg.teacher:
        raise ConfigError("--teacher is required (zoo name, run directory, checkpoint, SB3 .zip or state dict)")
    if not cfg.env:
        if len(cfg.teacher) != 1:
            raise ConfigError("several teachers: pass --env (the task set they teach)")
        t = load_teacher(cfg.teacher[0], None, cfg.teacher_arch, cfg.tau)
        if not t.env:
            raise ConfigError(f"teacher {cfg.teacher} does not record its environment: pass --env")
        cfg = dataclasses.replace(cfg, env=t.env)
    return cfg


def _prepare_kickstart(cfg):
    if not cfg.teacher:
        raise ConfigError("--teacher is required (zoo name, run directory, checkpoint, SB3 .zip or state dict)")
    return cfg


def _prepare_dt(cfg):
    """The environment defaults to the one the (first) dataset was recorded in."""
    validate(cfg)  # bad options before any file is read
    # the datasets' folder is recorded as resolved (--dataset-root, else $MINARI_DATASETS_PATH, else
    # runs/datasets), so a resume reads the same data whatever the environment says then
    cfg = dataclasses.replace(cfg, dataset_root=str(resolve_root(cfg.dataset_root)))
    if not cfg.env and cfg.dataset:  # (a dataset made elsewhere: its Minari env_spec, or --env)
        cfg = dataclasses.replace(cfg, env=dataset_env(cfg.dataset[0].split("+")[0], cfg.dataset_root))
    return cfg


def _prepare_offline_distill(cfg):
    """The task set defaults to the teachers' environments, in their order."""
    validate(cfg)  # bad options before any teacher is loaded
    cfg = dataclasses.replace(cfg, dataset_root=str(resolve_root(cfg.dataset_root)))
    if not cfg.env and cfg.teacher:
        envs = [dt_env(t) for t in cfg.teacher]
        if all(envs):
            cfg = dataclasses.replace(cfg, env=",".join(envs))
    return cfg
