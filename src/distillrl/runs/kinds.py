"""The run commands as data: what ``train``, ``kickstart`` and ``distill`` are, for every front end.

A :class:`Kind` names a command's config class, its presets, how a config is completed
(``prepare``), how a trainer is built from it (``factory``) and what is measured at the end
(``finish``). The CLI, population-based training and seed sweeps all build runs through
:func:`build_config` and :func:`run_job`, so a member of a population or a trial of a sweep is
exactly the run the command would make.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillrl.config import from_dict, load_yaml, validate
from distillrl.envs.make import gym_id
from distillrl.errors import ConfigError
from distillrl.runs.finish import (
    eval_student,
    finish_distill,
    finish_dt,
    finish_kickstart,
    finish_offline_distill,
)
from distillrl.runs.loop import Hook, drive
from distillrl.runs.rundir import prepare_run_dir, restore, write_summary


@dataclass(frozen=True)
class Kind:
    name: str
    config_cls: Callable[[], type]
    preset: Callable[[str, str], dict] | None
    prepare: Callable[[Any], Any]
    factory: Callable[[Any], Any]
    finish: Callable[[Any, Any], dict]


def kinds() -> dict[str, Kind]:
    from distillrl.algos import TrainConfig, make_trainer
    from distillrl.algos.distill import DistillTrainer
    from distillrl.algos.distill_config import DistillConfig
    from distillrl.algos.dt import DTConfig, DTTrainer
    from distillrl.algos.kickstart import KickstartConfig, make_kickstart_trainer
    from distillrl.algos.offline_distill import (
        OfflineDistillConfig,
        OfflineDistillTrainer,
    )
    from distillrl.runs.presets import preset

    return {
        "train": Kind("train", lambda: TrainConfig, preset, lambda c: c, make_trainer, eval_student),
        "kickstart": Kind("kickstart", lambda: KickstartConfig, preset, _prepare_kickstart, make_kickstart_trainer,
                          finish_kickstart),
        "distill": Kind("distill", lambda: DistillConfig, None, _prepare_distill, DistillTrainer, finish_distill),
        # the offline track (datasets only): train --algo dt, distill --offline
        "train-dt": Kind("train", lambda: DTConfig, None, _prepare_dt, DTTrainer, finish_dt),
        "distill-offline": Kind("distill", lambda: OfflineDistillConfig, None, _prepare_offline_distill,
                                OfflineDistillTrainer, finish_offline_distill),
    }


def kind(name: str) -> Kind:
    ks = kinds()
    if name not in ks:
        raise ConfigError(f"unknown command {name!r}; valid: {', '.join(ks)}")
    return ks[name]


def command_parser(k: Kind, raising: bool = False):
    """The command's parser: run options + one flag per config field. ``raising``: errors raise
    :class:`ConfigError` instead of exiting (for commands parsed inside sweeps)."""
    import argparse

    from distillrl.config import OneLineParser, add_dataclass_args

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
    add_dataclass_args(p, cls)
    assert isinstance(p, argparse.ArgumentParser)
    return p


def build_config(k: Kind, data: dict | None = None, ns: Any = None, run_dir: Path | None = None,
                 resume: bool = False) -> Any:
    """defaults → preset(env, algo) → ``data`` (or the run's saved config on resume) → flags in ``ns``;
    then ``prepare`` and validation."""
    from distillrl.config import apply_args

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
            hooks: Sequence[Hook] = ()) -> dict:
    """Build (and on ``resume`` restore) the trainer, drive it through ``run_dir`` with the run
    loop (``hooks`` see every chunk's rows after they are written), measure, let the trainer
    export what it has, write ``summary.json``; return the summary. Bad input raises
    :class:`errors.DistillRLError`; SIGINT raises ``KeyboardInterrupt`` after a checkpoint."""
    if cfg.env:
        gym_id(cfg.env)
    prepare_run_dir(run_dir, resume)
    set_threads(cfg.threads)
    trainer = k.factory(cfg)
    try:
        if resume:
            restore(trainer, run_dir)
        summary = drive(trainer, cfg, run_dir, k.name, resume, progress=progress, hooks=hooks)
        summary = {"run_dir": str(run_dir), "env": trainer.env, **summary, **k.finish(trainer, cfg)}
        trainer.export(run_dir)
        write_summary(run_dir, summary)
    finally:
        trainer.close()
    return summary


def set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def _prepare_distill(cfg):
    if not cfg.teacher:
        raise ConfigError("--teacher is required (zoo name, run directory, checkpoint, SB3 .zip or state dict)")
    if not cfg.env:
        from distillrl.teachers.load import load_teacher

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
    if not cfg.env and cfg.dataset:  # (a dataset made elsewhere: its Minari env_spec, or --env)
        from distillrl.datasets.episodes import dataset_env

        cfg = dataclasses.replace(cfg, env=dataset_env(cfg.dataset[0].split("+")[0], cfg.dataset_root))
    return cfg


def _prepare_offline_distill(cfg):
    """The task set defaults to the teachers' environments, in their order."""
    validate(cfg)  # bad options before any teacher is loaded
    if not cfg.env and cfg.teacher:
        from distillrl.teachers.dt import dt_env

        envs = [dt_env(t) for t in cfg.teacher]
        if all(envs):
            cfg = dataclasses.replace(cfg, env=",".join(envs))
    return cfg
