"""Population-based training on Ray Tune (``distillrl pbt``; Jaderberg et al. 2017, SPEC §5).

Each member is an ordinary distillrl run — ``train``, ``kickstart`` or ``distill`` — driven
through the trainer's ``advance`` / ``state_dict`` / ``set_hparams`` calls inside a Ray Tune
function trial. The experiment directory holds::

    pbt.yaml                  the resolved experiment (command, population, options, priors)
    members/member-NN/        each member's run directory (config.yaml, metrics.csv, tb/,
                              checkpoints/last.safetensors, summary.json)
    lineage.jsonl             every ready point: who was compared with whom, the t-test's p,
                              and for each exploit the donor and old → new hyper-parameters
    summary.json              the population's final scores and the best member
    (Ray Tune's own experiment state, for --resume)

**Exploit copies everything.** A member's checkpoint is the trainer's whole state: weights,
optimizer moments, live hyper-parameters, generators and counters (distillrl's safetensors
format, never pickle). The recipient restores the donor's checkpoint and *then* applies its
own new hyper-parameters with ``set_hparams`` — the order matters: restoring after would put
the donor's values back (the bug of ray-project/ray#62173, where perturbed values were silently
lost on restore). Members check in a checkpoint at every ready point, and only members whose
checkpoint the scheduler holds are ever copied (ray-project/ray#27170: exploiting a trial with
no checkpoint restarted the recipient from scratch). After copying, the recipient reseeds its
generators from its own seed, so two members never share their sampling noise.

**Scheduler.** :class:`DistillRLPBT` subclasses Ray Tune's ``PopulationBasedTraining`` rather
than replacing it: Ray keeps pausing and resuming members when they outnumber the CPUs,
tracking checkpoints, and handing the donor's checkpoint to the recipient. We override only the
decisions — the donor (the paper's Welch t-test against one random member, or truncation, from
:mod:`distillrl.population`), the explore step (bounded by the priors, the member keeping its
own identity and seed), and a lineage record of each event.

**Faults.** A member that crashes is restarted by Ray Tune from its last checkpoint
(``max_failures`` times); the rest of the population goes on. A killed ``distillrl pbt`` is
continued with ``--resume`` (Ray Tune's experiment restore): finished members stay finished,
the others continue from their last checkpoints. Ray's experiment state is pickled, so resume
only an experiment directory you trust.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from distillrl.acting.evaluation import summary_score
from distillrl.algos.distill_config import teacher_temperature
from distillrl.config import load_yaml, to_dict
from distillrl.core.checkpoint import atomic_write_text, load_meta
from distillrl.core.hparams import canonical
from distillrl.envs.make import gym_id
from distillrl.errors import CheckpointError, ConfigError, RunDirError
from distillrl.runs.kinds import build_config, kind
from distillrl.runs.rundir import write_summary
from distillrl.scale import raytune  # noqa: F401  (sets Ray's environment before Ray is imported)
from distillrl.scale.legacy import legacy_module_names
from distillrl.scale.pbt_member import MEMBER_CKPT, member_dir, member_trainable
from distillrl.scale.pbt_scheduler import make_scheduler
from distillrl.scale.population import PBTConfig, best_member, initial_values, pbt_config_from_dict, read_lineage


def load_pbt_config(path: str | Path, population: int | None = None) -> PBTConfig:
    data = load_yaml(path)
    if population is not None:
        data["population"] = population
    return pbt_config_from_dict(data)


def live_names(command: str) -> list[str]:
    """The hyper-parameters a population of ``command`` may tune (from the config alone), for the
    example configuration of :func:`population.yaml_template`."""
    k = kind(command)
    data = ({"env": "minatar:breakout"} if command == "train" else {} if command == "meta"
            else {"env": "minatar:breakout", "teacher": ["minatar-breakout"]})
    assert k.live is not None
    return list(k.live(build_config(k, data=data)))


def resolve(cfg: PBTConfig) -> tuple[Any, dict[str, float | None]]:
    """The command's resolved config (presets, validation) and the live hyper-parameters a
    trainer of it declares with their starting values — listed from the config alone (the
    command's :attr:`~distillrl.runs.kinds.Kind.live`; no trainer, no teacher is built). A tuned
    name the trainer does not have, or a prior outside a hyper-parameter's domain, fails here,
    before Ray starts. Priors named by an old name (a DQN's ``tau``) are renamed in ``cfg``.

    A starting value is None where only the built trainer knows it (a distillation's teacher
    temperature left unset: the teacher's own)."""
    k = kind(cfg.command)
    data = dict(cfg.config)
    t = data.get("teacher")  # relative teacher paths mean the caller's directory, on every node
    if isinstance(t, (list, str)):
        abs_t = raytune.absolute_paths([str(v) for v in ([t] if isinstance(t, str) else t)])
        data["teacher"] = abs_t[0] if isinstance(t, str) else abs_t
    base = build_config(k, data=data)
    if cfg.command == "distill" and getattr(base, "source", "") == "teacher":
        raise ConfigError("a population is ranked by the returns of the policy that acts; with source: teacher "
                          "that is the teacher, not the student — use source: student, dagger or eer")
    if cfg.pbt.select_episodes and cfg.command == "meta":
        raise ConfigError("pbt.select_episodes: a meta population is ranked on its held-out tasks, not on "
                          "episodes; leave it 0")
    if base.env:  # an unknown environment fails here too (cheap: no environment is made)
        gym_id(base.env)
    assert k.live is not None
    live = k.live(base)
    cfg.priors = {canonical(n, live): p for n, p in cfg.priors.items()}
    unknown = [n for n in cfg.priors if n not in live]
    if unknown:
        raise ConfigError(f"unknown hyper-parameter {unknown[0]!r} for a {cfg.command} trainer; it has: "
                          f"{', '.join(live)}")
    for n, p in cfg.priors.items():  # a prior outside the hyper-parameter's own domain is refused too
        live[n].domain.check(p.min, f"hyper-parameter {n}")
        live[n].domain.check(p.max, f"hyper-parameter {n}")
    return base, {n: lv.value for n, lv in live.items()}


def config_start(cfg: PBTConfig, base: Any, defaults: dict[str, float | None]) -> dict[str, float]:
    """``init: config``: each tuned hyper-parameter's value in the config, clipped into its prior.
    A distillation's unset teacher temperature is the teacher's own: its teachers are loaded for
    it (the one case that needs more than the config)."""
    values = dict(defaults)
    if any(values[n] is None for n in cfg.priors):
        values["tau"] = teacher_temperature(base)
    return {n: cfg.priors[n].clip(values[n]) for n in cfg.priors}


def resume_points(exp_dir: Path, cfg: PBTConfig) -> str:
    """Where each member continues from: its last checkpoint's frames and ready point."""
    parts = []
    for m in range(cfg.population):
        ck = member_dir(exp_dir, m) / MEMBER_CKPT
        try:
            frames = int(load_meta(ck)["frames"]) if ck.is_file() else 0
        except (CheckpointError, KeyError, ValueError):
            frames = 0
        done = (member_dir(exp_dir, m) / "summary.json").exists()
        parts.append(f"member-{m:02d} " + ("finished" if done else
                                           f"from {frames:,} frames (ready point {frames // cfg.pbt.interval})"
                                           if frames else "from the start"))
    return ", ".join(parts)


def run_pbt(cfg: PBTConfig, exp_dir: Path, address: str | None = None, resume: bool = False,
            progress: bool = True) -> dict:
    """Run (or with ``resume`` continue) the population in ``exp_dir``; return the summary."""
    from ray import tune  # Ray is heavy (1-2 s to import): only when a population runs

    exp_dir = exp_dir.resolve()
    if resume:
        if not (exp_dir / "pbt.yaml").exists():
            raise RunDirError(f"cannot resume: {exp_dir} holds no PBT experiment (pbt.yaml)")
    elif exp_dir.exists() and any(exp_dir.iterdir()):
        raise RunDirError(f"experiment directory {exp_dir} already exists and is not empty; "
                          "use --resume to continue it or choose another --run-dir")
    base, defaults = resolve(cfg)
    if cfg.pbt.init == "config":  # the config's values, clipped into the priors
        init = [config_start(cfg, base, defaults)] * cfg.population
    else:
        init = initial_values(cfg.priors, cfg.population, cfg.pbt.seed)
    if resume:  # a killed driver's Ray processes (its session) go first; a live driver is refused
        st = raytune.stop_session(exp_dir, driver_too=False)
        if st["driver_alive"]:
            raise RunDirError(f"{exp_dir} is still being run (distillrl pid {st['driver']}); stop it first: "
                              f"distillrl pbt --stop {exp_dir}")
        if st["stopped"]:
            sys.stderr.write(f"distillrl pbt: stopped {st['stopped']} Ray processes left by the killed driver\n")
    info = raytune.init_ray(address, log_dir=exp_dir)
    if not address:
        raytune.record_session(exp_dir)
    per = raytune.cpus_per_trial(cfg.pbt.cpus_per_member, cfg.population, info["cpus"])
    n_at_once = raytune.at_once(info["cpus"], per, cfg.population)
    exp_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        atomic_write_text(exp_dir / "pbt.yaml", yaml.safe_dump({**to_dict(cfg), "config": cfg.config,
                                                               "inject_fault": cfg.inject_fault,
                                                               "priors": {n: to_dict(p) for n, p in cfg.priors.items()}},
                                                              sort_keys=False))
    lineage = exp_dir / "lineage.jsonl"
    # A resumed experiment gets a fresh scheduler that does not know which copies were still being
    # restored when it stopped: there every member pauses for a waiting one, as Ray's PBT does,
    # so no donor runs on past (and Ray deletes) a checkpoint a recipient has yet to restore.
    scheduler = make_scheduler(cfg, lineage, base.steps, all_at_once=n_at_once >= cfg.population and not resume)
    sys.stderr.write(f"distillrl pbt: {cfg.population} members of `{cfg.command}` on {base.env}, "
                     f"{base.steps:,} frames each; Ray {info['address']} ({info['nodes']} node(s), "
                     f"{info['cpus']} CPUs): {per:g} CPU per member, {n_at_once} at once\n")
    if resume:
        sys.stderr.write(f"distillrl pbt: resuming {exp_dir}: {resume_points(exp_dir, cfg)}\n")

    def short(n: str) -> str:
        return "λ_shared" if n == "lambda_shared" else f"λ'_{n[7:]}" if n.startswith("lambda_") else n

    cols = [("frames", "frames"), ("return", "return_recent")] + \
           [(short(n), f"hp/{n}") for n in cfg.priors] + \
           [(f"λ_{i}", f"kickstart/lambda_{i}") for i in range(len(getattr(base, "teacher", []) or []))
            if cfg.command == "kickstart"]
    table = raytune.make_table_callback(f"PBT population ({cfg.command}, {base.env})", cols, base.steps, progress)
    trainable = tune.with_resources(tune.with_parameters(member_trainable, exp_dir=str(exp_dir)), {"cpu": per})
    t0 = time.perf_counter()
    # An experiment written before the restructure pickled the old module names (Ray reads them
    # at restore and again when its trials restart).
    with legacy_module_names() if resume else contextlib.nullcontext(), \
            raytune.restored_experiment_checkpoints(
                lambda m: sys.stderr.write(f"distillrl pbt: {m}\n")) if resume else contextlib.nullcontext():
        if resume and tune.Tuner.can_restore(str(exp_dir)):
            tuner = tune.Tuner.restore(str(exp_dir), trainable, resume_unfinished=True, resume_errored=True)
            raytune.replace_scheduler(tuner, scheduler)
        else:
            # One trial per member; a member's identity (member, label, seed) never changes, its
            # hyper-parameters (config["hparams"]) are what the scheduler copies and perturbs.
            seed0 = base.seed
            space = {"member": tune.grid_search(list(range(cfg.population))),
                     "label": tune.sample_from(lambda c: f"member-{c['member']:02d}"),
                     "seed": tune.sample_from(lambda c: seed0 + c["member"]),
                     "hparams": {n: tune.sample_from(lambda c, n=n: init[c["member"]][n]) for n in cfg.priors},
                     "command": cfg.command, "base": to_dict(base), "exp_dir": str(exp_dir),
                     "interval": cfg.pbt.interval, "window": cfg.pbt.window, "fault": cfg.inject_fault,
                     "select_episodes": cfg.pbt.select_episodes}
            tuner = tune.Tuner(
                trainable,
                param_space=space,
                # reuse_actors: after an exploit the member restarts in its live process (no new
                # interpreter, no second torch import) when its thread has stopped; else in a new one.
                tune_config=tune.TuneConfig(scheduler=scheduler, reuse_actors=True),
                run_config=tune.RunConfig(
                    name=exp_dir.name, storage_path=str(exp_dir.parent), verbose=0, callbacks=[table],
                    failure_config=tune.FailureConfig(max_failures=cfg.pbt.max_failures),
                    # Keep every checkpoint when members wait their turn (a waiting recipient may
                    # still need its donor's), else the last few.
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=None if n_at_once < cfg.population else 4)))
        results = tuner.fit()
    wall = time.perf_counter() - t0
    return _summarize(cfg, exp_dir, results, wall, info, per, n_at_once)


def _summarize(cfg: PBTConfig, exp_dir: Path, results, wall: float, info: dict, per: float, n_at_once: int) -> dict:
    members = []
    for i in range(cfg.population):
        p = member_dir(exp_dir, i) / "summary.json"
        if p.exists():
            members.append(json.loads(p.read_text()))
        else:
            members.append({"member": i, "error": "did not finish"})
    errors = [raytune.error_line(r.error) for r in results if r.error is not None]
    scores = [summary_score(m) for m in members]  # each member's score in its env family's convention
    finite = [s for s in scores if s is not None and not math.isnan(s)]
    best_on_eval = int(np.nanargmax(scores)) if finite else None
    # With selection episodes the best member is chosen on them, and reported on its evaluation
    # episodes (an unbiased score); a member without them (killed before) cannot be chosen.
    best, on_select = best_member({i: m for i, m in enumerate(members) if "error" not in m})
    chosen_on = (f"selection episodes ({cfg.pbt.select_episodes} each, apart from the evaluation's)" if on_select
                 else "evaluation episodes")
    events = read_lineage(exp_dir)
    summary = {"experiment": str(exp_dir), "command": cfg.command, "population": cfg.population,
               "selection": cfg.pbt.selection, "wall_s": wall, "cpus_per_member": per, "at_once": n_at_once,
               # finished: wrote its summary (its score is NaN when it evaluated no episodes: eval_episodes 0)
               "ray": info, "members_finished": sum("error" not in m for m in members),
               "members_scored": len(finite), "errors": errors,
               "exploits": sum(1 for e in events if e.get("event") == "exploit"),
               "ready_points": sum(1 for e in events if e.get("event") == "ready"),
               "scores": scores, "best_member": best, "chosen_on": chosen_on,
               "best_score": scores[best] if best is not None else math.nan,
               "score_mode": members[best].get("score_mode", "greedy") if best is not None else None,
               "best_return": members[best].get("mean_return", math.nan) if best is not None else math.nan,
               "best_hparams": members[best].get("hparams") if best is not None else None,
               "mean_score": float(np.mean(finite)) if finite else math.nan,
               "mean_return": float(np.nanmean([m.get("mean_return", math.nan) for m in members]))
               if finite else math.nan}
    if cfg.pbt.select_episodes:
        summary.update(select_scores=[m.get("select_score", math.nan) for m in members],
                       best_member_on_eval=best_on_eval,
                       best_score_on_eval=scores[best_on_eval] if best_on_eval is not None else math.nan)
    if best is not None and "teacher_return" in members[best]:
        summary["best_teacher_return"] = members[best]["teacher_return"]
        summary["best_score_ratio"] = members[best].get("score_ratio")
    write_summary(exp_dir, summary)
    return summary
