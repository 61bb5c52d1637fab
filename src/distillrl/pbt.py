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

import copy
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import raytune  # noqa: F401  (sets Ray's environment before Ray is imported)
from .config import dump_yaml, from_dict, to_dict, validate
from .errors import ConfigError, RunDirError
from .population import PBTConfig, explore, initial_values, read_lineage, truncation, welch_better

MEMBER_CKPT = "checkpoints/last.safetensors"


# --------------------------------------------------------------------------- the member (a Ray trial)


def member_dir(exp_dir: str | Path, member: int) -> Path:
    return Path(exp_dir) / "members" / f"member-{member:02d}"


def tuned(config: dict) -> dict[str, float]:
    return {k: float(v) for k, v in config["hparams"].items()}


def restore_member(trainer, state: dict, meta: dict, config: dict) -> bool:
    """Load a checkpoint (the member's own, or a donor's after exploit) and then apply this
    member's hyper-parameters. Returns True when the state came from another member."""
    trainer.load_state_dict(state)
    foreign = int(meta.get("member", -1)) != int(config["member"])
    if foreign:  # a copy: continue with this member's own noise, not the donor's
        s = [int(config["seed"]), trainer.frames, 104729]
        trainer.gen.manual_seed(int(np.random.SeedSequence(s).generate_state(1)[0]))
        trainer.np_rng.bit_generator.state = np.random.default_rng(s).bit_generator.state
    apply_hparams(trainer, config)
    return foreign


def apply_hparams(trainer, config: dict) -> None:
    """The member's tuned values, in effect from the very next update (after any restore)."""
    trainer.set_hparams(**tuned(config))


def _link_or_copy(src: Path, dst: Path) -> None:
    """The checkpoint just written, handed to Ray without writing it a second time (the member's
    ``last.safetensors`` is replaced atomically later, so the link keeps this version)."""
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links
        shutil.copyfile(src, dst)


def member_trainable(config: dict) -> None:
    """One member: build the command's trainer, restore Ray's checkpoint if any, train to the
    end reporting (with a checkpoint) every ``interval`` frames, then evaluate."""
    import ray.tune as tune
    from ray.tune import Checkpoint

    from . import checkpoint as ck
    from .jobs import kind, set_threads
    from .run import MetricsLog, save_checkpoint, write_summary

    k = kind(config["command"])
    cfg = validate(from_dict(k.config_cls(), {**config["base"], "seed": int(config["seed"])}))
    set_threads(cfg.threads)
    mdir = member_dir(config["exp_dir"], config["member"])
    mdir.mkdir(parents=True, exist_ok=True)
    ck.remove_stale_temporaries(mdir / MEMBER_CKPT)
    trainer = k.factory(cfg)
    got = tune.get_checkpoint()
    resumed = got is not None
    foreign = False
    if resumed:
        with got.as_directory() as d:
            state, meta = ck.load(Path(d) / "state.safetensors")
        foreign = restore_member(trainer, state, meta, config)
    else:
        apply_hparams(trainer, config)
    dump_yaml(cfg, mdir / "config.yaml")
    log = MetricsLog(mdir, trainer.frames if resumed else None)
    interval, window, node = int(config["interval"]), int(config["window"]), raytune.node_id()
    with open(mdir / "placement.jsonl", "a") as f:  # where each (re)start of this member ran
        f.write(json.dumps({"time": time.time(), "node": node, "frames": int(trainer.frames), "pid": os.getpid(),
                            "copied": foreign}) + "\n")
    fault = config.get("fault") or {}
    last_row: dict = {}

    def metrics(final: bool) -> dict:
        rr = list(trainer.stats.recent)[-window:]
        out = {"frames": int(trainer.frames), "member": int(config["member"]),
               "return_recent": float(np.mean(rr)) if rr else math.nan, "returns": [float(x) for x in rr],
               "node": node, "final": final, "restored_from_other": foreign}
        out.update({f"hp/{n}": float(v) for n, v in trainer.hp.as_dict().items()})
        out.update({k2: float(v) for k2, v in last_row.items() if k2.startswith("kickstart/lambda")})
        return out

    try:
        while trainer.frames < cfg.steps:
            rows = trainer.advance(min(interval, cfg.steps - trainer.frames))
            log.write(rows)
            if rows:
                last_row = rows[-1]
            if fault and int(fault.get("member", -1)) == int(config["member"]) and \
                    trainer.frames >= int(fault.get("frames", 0)) and not (mdir / "fault-injected").exists():
                (mdir / "fault-injected").write_text(f"crash injected at {trainer.frames} frames\n")
                if fault.get("how", "exit") == "exit":
                    log.close()
                    os._exit(3)  # a hard crash: the worker process dies
                raise RuntimeError(f"injected fault in member {config['member']} at {trainer.frames} frames")
            save_checkpoint(trainer, mdir, cfg, k.name, meta={"member": int(config["member"])})
            with tempfile.TemporaryDirectory(prefix=".handover-", dir=mdir, ignore_cleanup_errors=True) as tmp:
                _link_or_copy(mdir / MEMBER_CKPT, Path(tmp) / "state.safetensors")  # Ray copies it to storage
                tune.report(metrics(trainer.frames >= cfg.steps), checkpoint=Checkpoint.from_directory(tmp))
        log.close()
        summary = {"member": config["member"], "run_dir": str(mdir), "env": cfg.env, "steps": trainer.frames,
                   "node": node, "nodes": sorted({json.loads(x)["node"] for x in
                                                  (mdir / "placement.jsonl").read_text().splitlines() if x}),
                   "hparams": trainer.hp.as_dict(), **k.finish(trainer, cfg)}
        write_summary(mdir, summary)
        final = metrics(True)
        final["eval_return"] = float(summary.get("mean_return", summary.get("student_return", math.nan)))
        tune.report(final)
    finally:
        trainer.close()


# --------------------------------------------------------------------------- the scheduler


def _make_scheduler(cfg: PBTConfig, lineage: Path, total_frames: int):
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining

    class DistillRLPBT(PopulationBasedTraining):
        """Ray Tune's PBT with distillrl's decisions (see the module docstring)."""

        def __init__(self):
            o = cfg.pbt
            # hyperparam_mutations is required by Ray and used only for its logging: explore
            # itself is population.explore (bounded by the priors).
            super().__init__(time_attr="frames", metric="return_recent", mode="max",
                             perturbation_interval=o.interval, burn_in_period=o.burn_in,
                             hyperparam_mutations={"hparams": {n: tune.uniform(p.min, p.max)
                                                               for n, p in cfg.priors.items()}},
                             quantile_fraction=min(o.quantile, 0.5), resample_probability=o.resample_probability,
                             perturbation_factors=tuple(o.factors), log_config=False, synch=False)
            self.opts, self.priors = o, cfg.priors
            self.lineage_path = str(lineage)
            self.total_frames = total_frames
            self.rng = np.random.default_rng([o.seed, 11])
            self._decision: dict = {}

        # -- records
        def _record(self, event: dict) -> None:
            event = {"time": time.time(), **event}
            with open(self.lineage_path, "a") as f:
                f.write(json.dumps(event) + "\n")
                f.flush()
                os.fsync(f.fileno())

        @staticmethod
        def _member(trial) -> int:
            return int(trial.config["member"])

        # -- selection
        def _checkpoint_or_exploit(self, trial, controller, upper, lower):
            """Choose a donor for ``trial`` (or none) and exploit it.

            Ray's version asks upper-quantile trials to save here. A distillrl member reports a
            checkpoint with every ready result, so nothing is saved here: the donor's latest
            registered checkpoint is what is copied, and a member without one is never a donor
            (ray-project/ray#27170)."""
            state = self._trial_state[trial]
            res = state.last_result or {}
            final = bool(res.get("final")) or int(res.get("frames", 0)) >= self.total_frames
            base = {"event": "ready", "frames": int(res.get("frames", 0)), "member": self._member(trial),
                    "score": _num(res.get("return_recent")), "selection": self.opts.selection}
            donor, ev = None, dict(base)
            if final:
                ev["reason"] = "final"
            elif self.opts.selection == "truncation":
                # population.truncation (tested alone) over the members' last ready scores
                scores = {t: st.last_score for t, st in self._trial_state.items()
                          if st.last_score is not None and not math.isnan(st.last_score) and not t.is_finished()}
                lower, upper = truncation(scores, self.opts.quantile)
                ev.update(bottom=trial in lower, top=trial in upper)
                if trial in lower:
                    donor = upper[int(self.rng.integers(len(upper)))]
            else:  # ttest: a random other member, copied if significantly better
                others = [t for t in self._trial_state if t is not trial and not t.is_finished()]
                if others:
                    cand = others[int(self.rng.integers(len(others)))]
                    cres = self._trial_state[cand].last_result or {}
                    better, p = welch_better(cres.get("returns", []), res.get("returns", []), self.opts.pvalue)
                    ev.update(candidate=self._member(cand), candidate_score=_num(cres.get("return_recent")),
                              candidate_frames=int(cres.get("frames", 0)), p=_num(p))
                    donor = cand if better else None
                    ev["reason"] = "significantly better" if better else "not better"
            if donor is not None and donor.checkpoint is None:
                ev["reason"], donor = "donor has no checkpoint yet", None
            if donor is None:
                self._record({**ev, "decision": "keep"})
                return
            self._trial_state[donor].last_checkpoint = donor.checkpoint
            self._decision = {**ev, "donor": self._member(donor)}
            self._record({**self._decision, "decision": "copy"})
            self._exploit(controller, trial, donor)

        # -- explore
        def _get_new_config(self, trial, trial_to_clone):
            donor_vals = {n: float(v) for n, v in trial_to_clone.config["hparams"].items()}
            new_vals, ops = explore(donor_vals, self.priors, self.rng, self.opts.factors,
                                    self.opts.resample_probability)
            new_config = copy.deepcopy(trial.config)  # the recipient keeps its identity and seed
            new_config["hparams"] = new_vals
            self._decision.update({"old": {n: float(v) for n, v in trial.config["hparams"].items()},
                                   "donor_values": donor_vals, "new": new_vals, "ops": ops})
            return new_config, {"hparams": ops}

        def _exploit(self, controller, trial, trial_to_clone):
            super()._exploit(controller, trial, trial_to_clone)
            d = self._trial_state[trial_to_clone].last_result or {}
            self._record({**self._decision, "event": "exploit", "donor_frames": int(d.get("frames", 0))})
            self._decision = {}

    return DistillRLPBT()


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


# --------------------------------------------------------------------------- the experiment


def load_pbt_config(path: str | Path, population: int | None = None) -> PBTConfig:
    from .config import load_yaml
    from .population import pbt_config_from_dict

    data = load_yaml(path)
    if population is not None:
        data["population"] = population
    return pbt_config_from_dict(data)


def resolve(cfg: PBTConfig) -> tuple[Any, Any]:
    """The command's resolved config (presets, validation) and the hyper-parameters a trainer of
    it declares; an unknown tuned name fails here, before Ray starts."""
    from .jobs import build_config, kind

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
    trainer = k.factory(base)
    try:
        names = trainer.hp.names()
        defaults = trainer.hp.as_dict()
        unknown = [n for n in cfg.priors if n not in names]
        if unknown:
            raise ConfigError(f"unknown hyper-parameter {unknown[0]!r} for a {cfg.command} trainer; it has: "
                              f"{', '.join(names)}")
        for n, p in cfg.priors.items():  # a prior outside the trainer's own domain is refused too
            trainer.hp.set(**{n: p.min})
            trainer.hp.set(**{n: p.max})
        trainer.hp.set(**defaults)
    finally:
        trainer.close()
    return base, defaults


def run_pbt(cfg: PBTConfig, exp_dir: Path, address: str | None = None, resume: bool = False,
            progress: bool = True) -> dict:
    """Run (or with ``resume`` continue) the population in ``exp_dir``; return the summary."""
    from ray import tune

    from .checkpoint import atomic_write_text

    exp_dir = exp_dir.resolve()
    if resume:
        if not (exp_dir / "pbt.yaml").exists():
            raise RunDirError(f"cannot resume: {exp_dir} holds no PBT experiment (pbt.yaml)")
    elif exp_dir.exists() and any(exp_dir.iterdir()):
        raise RunDirError(f"experiment directory {exp_dir} already exists and is not empty; "
                          "use --resume to continue it or choose another --run-dir")
    base, defaults = resolve(cfg)
    if cfg.pbt.init == "config":  # the config's values, clipped into the priors
        init = [{n: cfg.priors[n].clip(defaults[n]) for n in cfg.priors} for _ in range(cfg.population)]
    else:
        init = initial_values(cfg.priors, cfg.population, cfg.pbt.seed)
    info = raytune.init_ray(address)
    per = raytune.cpus_per_trial(cfg.pbt.cpus_per_member, cfg.population, info["cpus"])
    n_at_once = raytune.at_once(info["cpus"], per, cfg.population)
    exp_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        import yaml

        atomic_write_text(exp_dir / "pbt.yaml", yaml.safe_dump({**to_dict(cfg), "config": cfg.config,
                                                               "inject_fault": cfg.inject_fault,
                                                               "priors": {n: to_dict(p) for n, p in cfg.priors.items()}},
                                                              sort_keys=False))
    lineage = exp_dir / "lineage.jsonl"
    scheduler = _make_scheduler(cfg, lineage, base.steps)
    import sys

    sys.stderr.write(f"distillrl pbt: {cfg.population} members of `{cfg.command}` on {base.env}, "
                     f"{base.steps:,} frames each; Ray {info['address']} ({info['nodes']} node(s), "
                     f"{info['cpus']} CPUs): {per:g} CPU per member, {n_at_once} at once\n")
    def short(n: str) -> str:
        return "λ_shared" if n == "lambda_shared" else f"λ'_{n[7:]}" if n.startswith("lambda_") else n

    cols = [("frames", "frames"), ("return", "return_recent")] + \
           [(short(n), f"hp/{n}") for n in cfg.priors] + \
           [(f"λ_{i}", f"kickstart/lambda_{i}") for i in range(len(getattr(base, "teacher", []) or []))
            if cfg.command == "kickstart"]
    table = raytune.make_table_callback(f"PBT population ({cfg.command}, {base.env})", cols, base.steps, progress)
    trainable = tune.with_resources(member_trainable, {"cpu": per})
    t0 = time.perf_counter()
    if resume and tune.Tuner.can_restore(str(exp_dir)):
        tuner = tune.Tuner.restore(str(exp_dir), trainable, resume_unfinished=True, resume_errored=True)
    else:
        # One trial per member; a member's identity (member, label, seed) never changes, its
        # hyper-parameters (config["hparams"]) are what the scheduler copies and perturbs.
        seed0 = base.seed
        space = {"member": tune.grid_search(list(range(cfg.population))),
                 "label": tune.sample_from(lambda c: f"member-{c['member']:02d}"),
                 "seed": tune.sample_from(lambda c: seed0 + c["member"]),
                 "hparams": {n: tune.sample_from(lambda c, n=n: init[c["member"]][n]) for n in cfg.priors},
                 "command": cfg.command, "base": to_dict(base), "exp_dir": str(exp_dir),
                 "interval": cfg.pbt.interval, "window": cfg.pbt.window, "fault": cfg.inject_fault}
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
    scores = [m.get("mean_return", math.nan) for m in members]
    finite = [s for s in scores if s is not None and not math.isnan(s)]
    best = int(np.nanargmax(scores)) if finite else None
    events = read_lineage(exp_dir)
    summary = {"experiment": str(exp_dir), "command": cfg.command, "population": cfg.population,
               "selection": cfg.pbt.selection, "wall_s": wall, "cpus_per_member": per, "at_once": n_at_once,
               "ray": info, "members_finished": len(finite), "errors": errors,
               "exploits": sum(1 for e in events if e.get("event") == "exploit"),
               "ready_points": sum(1 for e in events if e.get("event") == "ready"),
               "scores": scores, "best_member": best,
               "best_return": scores[best] if best is not None else math.nan,
               "best_hparams": members[best].get("hparams") if best is not None else None,
               "mean_return": float(np.mean(finite)) if finite else math.nan}
    if best is not None and "teacher_return" in members[best]:
        summary["best_teacher_return"] = members[best]["teacher_return"]
        summary["best_score_ratio"] = members[best].get("score_ratio")
    from .run import write_summary

    write_summary(exp_dir, summary)
    return summary
