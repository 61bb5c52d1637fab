"""The run commands as data: what ``train``, ``kickstart`` and ``distill`` are, for every front end.

A :class:`Kind` names a command's config class, its presets, how a config is completed
(``prepare``), how a trainer is built from it (``factory``) and what is measured at the end
(``finish``). The CLI, population-based training and seed sweeps all build runs through
:func:`build_config` and :func:`run_job`, so a member of a population or a trial of a sweep is
exactly the run the command would make.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import from_dict, load_yaml, validate
from .errors import ConfigError, DistillRLError


@dataclass(frozen=True)
class Kind:
    name: str
    config_cls: Callable[[], type]
    preset: Callable[[str, str], dict] | None
    prepare: Callable[[Any], Any]
    factory: Callable[[Any], Any]
    finish: Callable[[Any, Any], dict]


def kinds() -> dict[str, Kind]:
    from .algos import TrainConfig, make_trainer
    from .algos.distill import DistillConfig, DistillTrainer
    from .algos.offline import DTConfig, DTTrainer, OfflineDistillConfig, OfflineDistillTrainer
    from .kickstart import KickstartConfig, make_kickstart_trainer
    from .presets import preset

    return {
        "train": Kind("train", lambda: TrainConfig, preset, lambda c: c, make_trainer, eval_student),
        "kickstart": Kind("kickstart", lambda: KickstartConfig, preset, _prepare_kickstart, make_kickstart_trainer,
                          _finish_kickstart),
        "distill": Kind("distill", lambda: DistillConfig, None, _prepare_distill, DistillTrainer, _finish_distill),
        # the offline track (datasets only): train --algo dt, distill --offline
        "train-dt": Kind("train", lambda: DTConfig, None, _prepare_dt, DTTrainer, _finish_dt),
        "distill-offline": Kind("distill", lambda: OfflineDistillConfig, None, _prepare_offline_distill,
                                OfflineDistillTrainer, _finish_offline_distill),
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

    from .config import OneLineParser, add_dataclass_args

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
    from .config import apply_args

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
            on_rows: Callable[[Any, list[dict]], None] | None = None) -> dict:
    """Build (and on ``resume`` restore) the trainer, drive it through ``run_dir``, measure, write
    ``summary.json``; return the summary. Bad input raises :class:`errors.DistillRLError`;
    SIGINT raises ``KeyboardInterrupt`` after a checkpoint."""
    from .envs import gym_id
    from .run import drive, prepare_run_dir, restore, write_summary

    if cfg.env:
        gym_id(cfg.env)
    prepare_run_dir(run_dir, resume)
    set_threads(cfg.threads)
    trainer = k.factory(cfg)
    try:
        if resume:
            restore(trainer, run_dir)
        cb = (lambda rows: on_rows(trainer, rows)) if on_rows else None
        summary = drive(trainer, cfg, run_dir, k.name, resume, progress=progress, on_rows=cb)
        summary = {"run_dir": str(run_dir), "env": getattr(trainer, "env", cfg.env), **summary,
                   **k.finish(trainer, cfg)}
        if hasattr(trainer, "export"):
            trainer.export(run_dir)
        write_summary(run_dir, summary)
    finally:
        trainer.close()
    return summary


def set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


# --------------------------------------------------------------------------- per command


def _logits_fn(policy, task: int | None = None):
    """obs → logits of a fast acting policy (for one task of a multi-task agent when ``task``)."""
    import numpy as np

    if getattr(policy, "recurrent", False):
        return RecurrentLogits(policy, task)
    if task is None:
        return lambda obs: policy(obs)[0]
    return lambda obs: policy(obs, np.full(len(obs), task))[0]


class RecurrentLogits:
    """A recurrent acting policy as an evaluation policy: a copy with its own per-slot state."""

    recurrent = True

    def __init__(self, policy, task: int | None = None):
        import copy

        self.policy, self.task = copy.copy(policy), task
        self.policy.h = self.policy.c = None

    def reset(self, mask):
        self.policy.reset(mask)

    def __call__(self, obs, slots):
        import numpy as np

        task = None if self.task is None else np.full(len(obs), self.task)
        return self.policy.step_rows(obs, task, slots)[0]


def eval_student(trainer, cfg) -> dict:
    from .evaluate import evaluate, summarize

    if cfg.eval_episodes <= 0:
        return {}
    if hasattr(trainer, "finish"):  # online distillation: teacher, best checkpoint and student
        return trainer.finish()
    if trainer.n_tasks > 1:
        return eval_tasks(trainer, cfg)
    rets, _ = evaluate(_logits_fn(trainer.policy), cfg.env, cfg.eval_episodes, seed=10_000 + cfg.seed,
                       max_episode_steps=cfg.max_episode_steps)
    return {**summarize(rets), **success(cfg.env, rets)}


def success(env: str, returns) -> dict:
    """Goal-reaching tasks (MiniGrid: a positive return means the goal was reached): the success rate."""
    import numpy as np

    if not env.startswith("minigrid:") or len(returns) == 0:
        return {}
    return {"success_rate": float(np.mean(np.asarray(returns) > 0))}


def teacher_fn(teacher, task: int | None = None):
    import torch

    if getattr(teacher, "recurrent", False):
        return RecurrentLogits(teacher.fast, task)
    fast = getattr(teacher, "outputs_np", None)
    if fast is not None:
        return fast
    if task is None:
        return lambda o: teacher.outputs(o).numpy()
    return lambda o: teacher.outputs(o, torch.full((len(o),), task)).numpy()


def eval_vs_teacher(trainer, cfg, teacher, task: int | None = None) -> dict:
    """Student and teacher, greedy, on the same episode seeds (on task ``task`` when bound)."""
    from .evaluate import evaluate, summarize
    from .kickstart import task_spec

    out: dict = {}
    if cfg.eval_episodes <= 0:
        return out
    seed = 10_000 + cfg.seed
    env = task_spec(cfg.env, task)
    s, _ = evaluate(_logits_fn(trainer.policy, task), env, cfg.eval_episodes, seed=seed,
                    max_episode_steps=cfg.max_episode_steps)
    t, _ = evaluate(teacher_fn(teacher, task), env, cfg.eval_episodes, seed=seed,
                    max_episode_steps=cfg.max_episode_steps)
    ss, ts = summarize(s), summarize(t)
    out.update({"student_return": ss["mean_return"], "student_std": ss["std_return"],
                "teacher_return": ts["mean_return"], "teacher_std": ts["std_return"],
                "score_ratio": ss["mean_return"] / ts["mean_return"] if ts["mean_return"] else float("nan"),
                "episodes": ss["episodes"], "mean_return": ss["mean_return"],
                "student_returns": s.tolist(), "teacher_returns": t.tolist()})
    sr, tr = success(env, s), success(env, t)
    if sr:
        out.update({"success_rate": sr["success_rate"], "teacher_success_rate": tr["success_rate"]})
    return out


def geomean(xs) -> float:
    """Geometric mean (values ≤ 0 count as 1e-3: a task at zero drags the suite down, not to NaN;
    an undefined ratio — a teacher scoring 0 — is left out)."""
    import math

    xs = [max(float(x), 1e-3) for x in xs if math.isfinite(float(x))]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def eval_tasks(trainer, cfg, teachers: dict | None = None) -> dict:
    """A task-set student on every task (greedy, ``eval_episodes`` each, same episode seeds as its
    teacher's), the teacher of each task that has one, and the suite aggregate: the geometric
    and arithmetic means of the student's score as a fraction of its teacher (Rusu et al.)."""
    from .evaluate import evaluate, summarize

    ts, seed = trainer.taskset, 10_000 + cfg.seed
    per = []
    for k, spec in enumerate(ts.specs):
        pol = ts.policy_for_task(lambda x, t: trainer.policy(x, t)[0], k)
        s, _ = evaluate(pol, spec, cfg.eval_episodes, seed=seed, max_episode_steps=cfg.max_episode_steps)
        ss = summarize(s)
        row = {"task": spec, "name": ts.names[k], "student_return": ss["mean_return"], "student_std": ss["std_return"],
               "student_ci95": ss.get("ci95_return")}
        if teachers and k in teachers:
            t, _ = evaluate(teacher_fn(teachers[k]), spec, cfg.eval_episodes, seed=seed,
                            max_episode_steps=cfg.max_episode_steps)
            tm = float(t.mean())
            row.update({"teacher_return": tm, "teacher_std": float(t.std()),
                        "score_ratio": ss["mean_return"] / tm if tm else float("nan")})
        per.append(row)
    out = {"per_task": per, "episodes": cfg.eval_episodes,
           "mean_return": sum(r["student_return"] for r in per) / len(per)}
    ratios = [r["score_ratio"] for r in per if "score_ratio" in r]
    if ratios and len(ratios) == len(per):
        g = geomean(ratios)
        out.update({"score_ratio": g, "geomean_ratio": g,
                    "mean_ratio": sum(ratios) / len(ratios)})
    return out


def _prepare_distill(cfg):
    if not cfg.teacher:
        raise ConfigError("--teacher is required (zoo name, run directory, checkpoint, SB3 .zip or state dict)")
    if not cfg.env:
        from .teachers import load_teacher

        if len(cfg.teacher) != 1:
            raise ConfigError("several teachers: pass --env (the task set they teach)")
        t = load_teacher(cfg.teacher[0], None, cfg.teacher_arch, cfg.tau)
        if not t.env:
            raise ConfigError(f"teacher {cfg.teacher} does not record its environment: pass --env")
        cfg = dataclasses.replace(cfg, env=t.env)
    return cfg


def _finish_distill(trainer, cfg) -> dict:
    """Student vs teacher on the same episodes; for a task set, per task and the suite (the
    parameter fraction is against the teachers' summed acting parameters)."""
    out = {"loss": cfg.loss, "tau": getattr(trainer.teacher, "tau", cfg.tau),
           "teacher_kind": getattr(trainer.teacher, "kind", None), "source": cfg.source, "student_params": trainer.n_params,
           "teacher_params": trainer.teacher.n_params,
           "param_fraction": trainer.n_params / max(1, trainer.teacher.n_params), "updates": trainer.updates}
    if trainer.n_tasks > 1:
        if cfg.eval_episodes <= 0:
            return out
        return {**out, **eval_tasks(trainer, cfg, trainer.teacher.teachers)}
    return {**out, **eval_vs_teacher(trainer, cfg, trainer.teacher)}


def _prepare_kickstart(cfg):
    if not cfg.teacher:
        raise ConfigError("--teacher is required (zoo name, run directory, checkpoint, SB3 .zip or state dict)")
    return cfg


def _finish_kickstart(trainer, cfg) -> dict:
    """Each teacher against the student on the teacher's own task (the whole env if unbound)."""
    out = {"teachers": list(cfg.teacher), "schedule": cfg.schedule, "lambda0": cfg.lambda0}
    if trainer.n_tasks > 1:
        if cfg.eval_episodes <= 0:
            return out
        bound = {task: t for t, task in zip(trainer.teachers, trainer.teacher_tasks) if task is not None}
        return {**out, "teacher_tasks": [trainer.taskset.specs[k] if k is not None else "all"
                                         for k in trainer.teacher_tasks], **eval_tasks(trainer, cfg, bound)}
    per = []
    for i, (t, task) in enumerate(zip(trainer.teachers, trainer.teacher_tasks)):
        r = eval_vs_teacher(trainer, cfg, t, task)
        if i == 0:
            out.update(r)
        if r:
            per.append({"teacher": cfg.teacher[i] if i < len(cfg.teacher) else t.name, "task": task,
                        **{k: r[k] for k in ("student_return", "teacher_return", "score_ratio")}})
    if len(per) > 1:
        out["per_teacher"] = per
    return out


# --------------------------------------------------------------------------- offline (datasets only)


def _prepare_dt(cfg):
    """The environment defaults to the one the (first) dataset was recorded in."""
    validate(cfg)  # bad options before any file is read
    if not cfg.env and cfg.dataset:  # (a dataset made elsewhere: its Minari env_spec, or --env)
        from .seqdata import dataset_env

        cfg = dataclasses.replace(cfg, env=dataset_env(cfg.dataset[0].split("+")[0], cfg.dataset_root))
    return cfg


def _prepare_offline_distill(cfg):
    """The task set defaults to the teachers' environments, in their order."""
    validate(cfg)  # bad options before any teacher is loaded
    if not cfg.env and cfg.teacher:
        from .dt import dt_env

        envs = [dt_env(t) for t in cfg.teacher]
        if all(envs):
            cfg = dataclasses.replace(cfg, env=",".join(envs))
    return cfg


def _finish_dt(trainer, cfg) -> dict:
    """The Decision Transformer conditioned on its target return (greedy, or sampled with
    ``--sample``) against the policy teacher that recorded the data (greedy), on the same
    episode seeds."""
    import numpy as np

    from .algos.offline import dataset_teacher
    from .dt import rollout
    from .envs import env_info
    from .evaluate import evaluate
    from .teachers import load_teacher

    d = trainer.data
    out = {"algo": "dt", "datasets": list(cfg.dataset), "data_episodes": d.n_episodes, "data_steps": d.n_steps,
           "data_mean_return": float(d.returns.mean()), "data_max_return": float(d.returns.max()),
           "target_return": trainer.target_return, "updates": trainer.updates, "tokens_per_s": trainer.tokens_per_s}
    if cfg.eval_episodes <= 0:
        return out
    seed = 10_000 + cfg.seed
    r = rollout(trainer.agent, trainer.taskset, 0, trainer.target_return, cfg.eval_episodes, seed,
                cfg.max_episode_steps, cfg.sample)
    out.update({"dt_return": float(np.mean(r)), "dt_returns": r, "mean_return": float(np.mean(r))})
    src = dataset_teacher(cfg.dataset, cfg.dataset_root)
    if cfg.compare_teacher and src:
        try:
            t = load_teacher(src, env_info(trainer.env))
        except DistillRLError as e:  # the run is done: keep its summary, say why there is no comparison
            return {**out, "data_teacher": src, "teacher_error": str(e)}
        tr, _ = evaluate(teacher_fn(t), trainer.env, cfg.eval_episodes, seed=seed,
                         max_episode_steps=cfg.max_episode_steps)
        out.update({"data_teacher": src, "teacher_return": float(tr.mean()), "teacher_returns": tr.tolist(),
                    "score_ratio": float(np.mean(r) / tr.mean()) if tr.mean() else float("nan")})
    return out


def _finish_offline_distill(trainer, cfg) -> dict:
    """Per task: the student and its Decision-Transformer teacher, both conditioned on the
    teacher's target return, greedy, on the same episode seeds; the suite's geometric mean of
    the student's score as a fraction of its teacher's."""
    import numpy as np

    from .dt import rollout

    tl = trainer.held_out_kls()
    out = {"curriculum": cfg.curriculum, "pcgrad": cfg.pcgrad, "student_params": trainer.n_params,
           "teacher_params": [t.n_params for t in trainer.teachers],
           "param_fraction": trainer.n_params / trainer.teacher_params, "d_model": trainer.d_model,
           "updates": trainer.updates, "tokens_per_s": trainer.tokens_per_s, "kl_evals": trainer.kl_evals,
           "task_counts": np.bincount(trainer.curriculum.history, minlength=trainer.taskset.n_tasks).tolist(),
           "heldout_kl": dict(zip(trainer.names, tl))}
    if trainer.surgery is not None:
        out["pcgrad_projected_share"] = trainer.surgery.projected_share
    if cfg.eval_episodes <= 0:
        return out
    seed = 10_000 + cfg.seed
    per = []
    for k, (name, t) in enumerate(zip(trainer.names, trainer.teachers)):
        target = t.target_return
        s = rollout(trainer.agent, trainer.taskset, k, target, cfg.eval_episodes, seed, cfg.max_episode_steps)
        single = type(trainer.taskset).build(trainer.taskset.specs[k])
        r = rollout(t.model, single, 0, target, cfg.eval_episodes, seed, cfg.max_episode_steps)
        ratio = float(np.mean(s) / np.mean(r)) if np.mean(r) else float("nan")
        per.append({"task": name, "student_return": float(np.mean(s)), "teacher_return": float(np.mean(r)),
                    "score_ratio": ratio, "student_returns": s, "teacher_returns": r})
    ratios = [p["score_ratio"] for p in per]
    out.update({"per_task": per, "geomean_ratio": geomean(ratios), "score_ratio": geomean(ratios),
                "mean_ratio": float(np.mean(ratios))})
    return out
