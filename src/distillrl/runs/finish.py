"""What each command measures at the end of a run (its summary's evaluation)."""

from __future__ import annotations

import numpy as np

from distillrl.acting.evaluation import evaluate_agent, evaluate_modes, result_score, score_fields
from distillrl.algos.dt import dataset_teacher
from distillrl.algos.kickstart import task_spec
from distillrl.algos.online import OnlineDistill
from distillrl.config import to_dict
from distillrl.core.stats import geomean, ratio_fields
from distillrl.envs.make import env_info
from distillrl.errors import DistillRLError
from distillrl.teachers.load import load_teacher

SCORE_KEYS = ("score", "score_mode", "greedy_return", "sampled_return", "success_rate", "greedy_success_rate",
              "sampled_success_rate")
"""the score fields (:func:`acting.evaluation.score_fields`) a per-task row repeats"""


def _ratios(rows: list[dict]) -> list[float]:
    return [r["score_ratio"] for r in rows if r.get("score_ratio") is not None]


def suite_ratio_fields(rows: list[dict]) -> dict:
    """The suite's geometric-mean and mean ratio over the tasks that have one."""
    rs = _ratios(rows)
    if not rs:
        return {"score_ratio": None, "geomean_ratio": None, "mean_ratio": None,
                "score_ratio_note": "no ratio: no teacher scored above 0"}
    g = geomean(rs)
    return {"score_ratio": g, "geomean_ratio": g, "mean_ratio": float(np.mean(rs))}


def eval_seed(cfg) -> int:
    """The episodes every summary evaluates on: reset seeds ``10 000 + seed + i``."""
    return 10_000 + cfg.seed


def select_seed(cfg) -> int:
    """The episodes a population chooses its best member on: reset seeds ``1 010 000 + seed + i``,
    apart from the evaluation episodes (:func:`eval_seed`) its summary reports."""
    return eval_seed(cfg) + 1_000_000


def eval_selection(trainer, cfg, episodes: int) -> dict:
    """``episodes`` more episodes in the family's convention mode on :func:`select_seed`'s seeds:
    the score a population ranks its members by, so the best member's reported score (on the
    evaluation episodes) is not the one it was picked on."""
    r = evaluate_agent(trainer, cfg.env, episodes, select_seed(cfg), None, max_episode_steps=cfg.max_episode_steps)
    return {"select_score": result_score(r), "select_mode": r.mode, "select_episodes": episodes,
            "select_returns": r.returns.tolist()}


def eval_student(trainer, cfg) -> dict:
    """The trained agent in both modes on the same episodes: ``score`` in its family's
    convention, the other mode beside it."""
    if cfg.eval_episodes <= 0:
        return {}
    if isinstance(trainer, OnlineDistill):  # teacher, best checkpoint and student
        return trainer.finish()
    if trainer.n_tasks > 1:
        return eval_tasks(trainer, cfg)
    res = evaluate_modes(trainer, cfg.env, cfg.eval_episodes, eval_seed(cfg), max_episode_steps=cfg.max_episode_steps)
    return score_fields(res, cfg.env)


def eval_vs_teacher(trainer, cfg, teacher, task: int | None = None) -> dict:
    """Student (both modes) and teacher (the score's mode) on the same episode seeds (on task
    ``task`` when bound); ``student_return``, ``teacher_return`` and ``score_ratio`` in the
    family's convention mode."""
    out: dict = {}
    if cfg.eval_episodes <= 0:
        return out
    seed, n = eval_seed(cfg), cfg.eval_episodes
    env = task_spec(cfg.env, task)
    res = evaluate_modes(trainer, env, n, seed, task=task, max_episode_steps=cfg.max_episode_steps)
    fields = score_fields(res, env)
    s = res[fields["score_mode"]]
    t = evaluate_agent(teacher, env, n, seed, s.mode, task=task, max_episode_steps=cfg.max_episode_steps)
    ss, ts = s.summary(), t.summary()
    out.update({**fields, "student_return": ss["mean_return"], "student_std": ss["std_return"],
                "teacher_return": ts["mean_return"], "teacher_std": ts["std_return"],
                **ratio_fields(ss["mean_return"], ts["mean_return"]),
                "student_returns": s.returns.tolist(), "teacher_returns": t.returns.tolist()})
    out["teacher_score"] = result_score(t)
    if t.success_rate is not None:
        out["teacher_success_rate"] = t.success_rate
    return out


def eval_tasks(trainer, cfg, teachers: dict | None = None) -> dict:
    """A task-set student on every task (both modes, ``eval_episodes`` each, same episode seeds as
    its teacher's), the teacher of each task that has one (in the score's mode), and the suite
    aggregate: the geometric and arithmetic means of the student's score as a fraction of its
    teacher (Rusu et al.)."""
    seed, n = eval_seed(cfg), cfg.eval_episodes
    res = evaluate_modes(trainer, cfg.env, n, seed, max_episode_steps=cfg.max_episode_steps)
    per = []
    for k, spec in enumerate(trainer.taskset.specs):
        name = trainer.taskset.names[k]
        fields = score_fields({m: r.per_task[name] for m, r in res.items()}, spec)
        s = res[fields["score_mode"]].per_task[name]
        ss = s.summary()
        row = {"task": spec, "name": name, "student_return": ss["mean_return"], "student_std": ss["std_return"],
               "student_ci95": ss.get("ci95_return"), **{k2: fields[k2] for k2 in SCORE_KEYS if k2 in fields}}
        if teachers and k in teachers:
            t = evaluate_agent(teachers[k], spec, n, seed, s.mode, max_episode_steps=cfg.max_episode_steps)
            tm = t.mean
            row.update({"teacher_return": tm, "teacher_std": float(t.returns.std()), "teacher_score": result_score(t),
                        **ratio_fields(ss["mean_return"], tm)})
        per.append(row)
    out = {**score_fields(res, cfg.env), "per_task": per, "episodes": n,
           "mean_return": sum(r["student_return"] for r in per) / len(per)}
    if all("score_ratio" in r for r in per):  # every task has its teacher
        out.update(suite_ratio_fields(per))
    return out


def finish_distill(trainer, cfg) -> dict:
    """Student vs teacher on the same episodes; for a task set, per task and the suite (the
    parameter fraction is against the teachers' summed acting parameters)."""
    out = {"loss": cfg.loss, "tau": getattr(trainer.teacher, "tau", cfg.tau),
           "teacher_kind": getattr(trainer.teacher, "kind", None), "source": cfg.source, "student_params": trainer.n_params,
           "teacher_params": trainer.teacher.n_params,
           "param_fraction": trainer.n_params / max(1, trainer.teacher.n_params), "updates": trainer.updates,
           # the variant that ran (IE-KD's feature losses; Tang et al.'s control of the teacher's targets)
           "ie_kd": bool(cfg.ie_kd), "kd_control": cfg.kd_control}
    if cfg.ie_kd:
        out["iekd"] = to_dict(cfg.iekd)
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
    """The Decision Transformer conditioned on its target return, in both modes (``dt_return`` in
    the mode ``--sample`` names, ``score`` in the family's convention), against the policy
    teacher that recorded the data (in the score's mode), on the same episode seeds."""
    d = trainer.data
    out = {"algo": "dt", "datasets": list(cfg.dataset), "data_episodes": d.n_episodes, "data_steps": d.n_steps,
           "data_mean_return": float(d.returns.mean()), "data_max_return": float(d.returns.max()),
           "target_return": trainer.target_return, "updates": trainer.updates, "tokens_per_s": trainer.tokens_per_s}
    if cfg.eval_episodes <= 0:
        return out
    seed, n = eval_seed(cfg), cfg.eval_episodes
    res = evaluate_modes(trainer, trainer.env, n, seed, target_return=trainer.target_return,
                         max_episode_steps=cfg.max_episode_steps)
    fields = score_fields(res, trainer.env)
    r = res["sampled" if cfg.sample else "greedy"]
    out.update({**fields, "dt_return": r.mean, "dt_returns": r.returns.tolist()})
    src = dataset_teacher(cfg.dataset, cfg.dataset_root)
    if cfg.compare_teacher and src:
        try:
            t = load_teacher(src, env_info(trainer.env))
        except DistillRLError as e:  # the run is done: keep its summary, say why there is no comparison
            return {**out, "data_teacher": src, "teacher_error": str(e)}
        tr = evaluate_agent(t, trainer.env, n, seed, fields["score_mode"], max_episode_steps=cfg.max_episode_steps)
        m = fields["mean_return"]
        out.update({"data_teacher": src, "teacher_return": tr.mean, "teacher_returns": tr.returns.tolist(),
                    "teacher_score": result_score(tr),
                    **ratio_fields(m, tr.mean)})
        if tr.success_rate is not None:
            out["teacher_success_rate"] = tr.success_rate
    return out


def finish_offline_distill(trainer, cfg) -> dict:
    """Per task: the student (both modes) and its Decision-Transformer teacher (the score's
    mode), both conditioned on the teacher's target return, on the same episode seeds; the
    suite's geometric mean of the student's score as a fraction of its teacher's."""
    tl = trainer.held_out_kls()
    out = {"curriculum": cfg.curriculum, "pcgrad": cfg.pcgrad, "student_params": trainer.n_params,
           "teacher_params": [t.n_params for t in trainer.teachers],
           "param_fraction": trainer.n_params / trainer.teacher_params, "d_model": trainer.d_model,
           "updates": trainer.updates, "tokens_per_s": trainer.tokens_per_s, "kl_evals": trainer.kl_evals,
           "task_counts": np.bincount(trainer.curriculum.history, minlength=trainer.taskset.n_tasks).tolist(),
           "heldout_kl": dict(zip(trainer.names, tl)),
           "heldout_kl_uniform": dict(zip(trainer.names, trainer.uniform_kls))}
    if trainer.surgery is not None:
        out["pcgrad_projected_share"] = trainer.surgery.projected_share
    if cfg.eval_episodes <= 0:
        return out
    seed, n = eval_seed(cfg), cfg.eval_episodes
    targets = [t.target_return for t in trainer.teachers]
    res = evaluate_modes(trainer, trainer.env, n, seed, target_return=targets, max_episode_steps=cfg.max_episode_steps)
    per = []
    for k, (name, t) in enumerate(zip(trainer.names, trainer.teachers)):
        spec, key = trainer.taskset.specs[k], trainer.taskset.names[k]
        fields = score_fields({m: r.per_task[key] for m, r in res.items()}, spec)
        s = res[fields["score_mode"]].per_task[key]
        r = evaluate_agent(t, spec, n, seed, s.mode, target_return=targets[k], max_episode_steps=cfg.max_episode_steps)
        per.append({"task": name, "student_return": s.mean, "teacher_return": r.mean, "teacher_score": result_score(r),
                    **ratio_fields(s.mean, r.mean),
                    "student_returns": s.returns.tolist(), "teacher_returns": r.returns.tolist(),
                    **{k2: fields[k2] for k2 in SCORE_KEYS if k2 in fields}})
    out.update({**score_fields(res, trainer.env), "episodes": n, "per_task": per, **suite_ratio_fields(per)})
    return out
