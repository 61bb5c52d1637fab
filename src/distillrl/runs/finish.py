"""What each command measures at the end of a run (its summary's evaluation)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from distillrl.config import from_dict, load_yaml, validate
from distillrl.errors import ConfigError, DistillRLError
from distillrl.acting.policies import logits_fn, success, teacher_fn
from distillrl.algos.online import OnlineDistill
from distillrl.core.stats import geomean


def eval_student(trainer, cfg) -> dict:
    from distillrl.acting.evaluate import evaluate, summarize

    if cfg.eval_episodes <= 0:
        return {}
    if isinstance(trainer, OnlineDistill):  # teacher, best checkpoint and student
        return trainer.finish()
    if trainer.n_tasks > 1:
        return eval_tasks(trainer, cfg)
    rets, _ = evaluate(logits_fn(trainer.policy), cfg.env, cfg.eval_episodes, seed=10_000 + cfg.seed,
                       max_episode_steps=cfg.max_episode_steps)
    return {**summarize(rets), **success(cfg.env, rets)}


def eval_vs_teacher(trainer, cfg, teacher, task: int | None = None) -> dict:
    """Student and teacher, greedy, on the same episode seeds (on task ``task`` when bound)."""
    from distillrl.acting.evaluate import evaluate, summarize
    from distillrl.algos.kickstart import task_spec

    out: dict = {}
    if cfg.eval_episodes <= 0:
        return out
    seed = 10_000 + cfg.seed
    env = task_spec(cfg.env, task)
    s, _ = evaluate(logits_fn(trainer.policy, task), env, cfg.eval_episodes, seed=seed,
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


def eval_tasks(trainer, cfg, teachers: dict | None = None) -> dict:
    """A task-set student on every task (greedy, ``eval_episodes`` each, same episode seeds as its
    teacher's), the teacher of each task that has one, and the suite aggregate: the geometric
    and arithmetic means of the student's score as a fraction of its teacher (Rusu et al.)."""
    from distillrl.acting.evaluate import evaluate, summarize

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


def finish_distill(trainer, cfg) -> dict:
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


def finish_kickstart(trainer, cfg) -> dict:
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


def finish_dt(trainer, cfg) -> dict:
    """The Decision Transformer conditioned on its target return (greedy, or sampled with
    ``--sample``) against the policy teacher that recorded the data (greedy), on the same
    episode seeds."""
    import numpy as np

    from distillrl.algos.dt import dataset_teacher
    from distillrl.acting.sequence import rollout
    from distillrl.envs.make import env_info
    from distillrl.acting.evaluate import evaluate
    from distillrl.teachers.load import load_teacher

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


def finish_offline_distill(trainer, cfg) -> dict:
    """Per task: the student and its Decision-Transformer teacher, both conditioned on the
    teacher's target return, greedy, on the same episode seeds; the suite's geometric mean of
    the student's score as a fraction of its teacher's."""
    import numpy as np

    from distillrl.acting.sequence import rollout

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
