"""Reading results and agents: report, eval, zoo, envs, demo."""

from __future__ import annotations

import sys
from pathlib import Path

from distillrl.cli.common import common_flags
from distillrl.cli.run_cmds import cmd_kickstart, cmd_train
from distillrl.config import OneLineParser, die
from distillrl.errors import ConfigError


def cmd_report(argv: list[str]) -> int:
    p = OneLineParser(prog="distillrl report", description="Curves, λ traces and speed-up tables from run directories.")
    p.add_argument("runs", nargs="+", help="run directories (seeds of one config are grouped), or PBT experiment "
                                           "directories (with plain runs beside them as the fixed-schedule comparison)")
    p.add_argument("--out", default=None, help="output folder [default: runs/report-<time>]")
    p.add_argument("--target", type=float, default=None, help="score to reach [default: the teacher's score]")
    p.add_argument("--reference", default=None,
                   help="run directory whose group is the speed-up baseline [default: the from-scratch train runs]")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(argv)
    import time

    from distillrl.report.build import build_report
    from distillrl.runs.rundir import emit

    out = ns.out or f"runs/report-{time.strftime('%Y%m%d-%H%M%S')}"
    from distillrl.errors import DistillRLError
    from distillrl.report.pbt import build_pbt_report, is_pbt_experiment

    pbt = [Path(r) for r in ns.runs if is_pbt_experiment(r)]
    try:
        if pbt:  # populations, with any plain runs beside them as the fixed-schedule comparison
            res = build_pbt_report(pbt, [r for r in ns.runs if not is_pbt_experiment(r)], Path(out))
        else:
            res = build_report(ns.runs, out, ns.target, ns.reference)
    except DistillRLError as e:
        die("distillrl report", str(e))
    if ns.json:
        emit(res, True)
    else:
        print((Path(out) / "report.md").read_text())
        print(f"plots: {Path(out)}/*.png")
    return 0


def cmd_eval(argv: list[str]) -> int:
    p = OneLineParser(prog="distillrl eval",
                      description="Evaluate an agent from any source (greedy by default): zoo name, run directory, "
                                  "checkpoint, SB3 .zip, or a state dict with --teacher-arch.")
    p.add_argument("source", help="zoo name, run directory, checkpoint file, SB3 .zip or state dict")
    p.add_argument("--env", help="environment (default: the one it was trained on, when recorded)")
    p.add_argument("--teacher-arch", "--arch", dest="arch", default=None,
                   help="architecture of a state-dict agent: cleanrl-ppo, cleanrl-dqn, cleanrl-ppo-atari, cleanrl-dqn-atari")
    p.add_argument("--tau", type=float, default=None, help="temperature for Q-agents when --stochastic (> 0)")
    p.add_argument("--episodes", type=int, default=30, help="evaluation episodes [≥ 1; default: 30]")
    p.add_argument("--seed", type=int, default=0, help="episode i uses reset seed SEED+i [≥ 0; default: 0]")
    p.add_argument("--stochastic", action="store_true", help="sample actions instead of argmax")
    p.add_argument("--max-episode-steps", type=int, default=None, help="cap episode length [≥ 1]")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads [≥ 1; default: 1]")
    p.add_argument("--target-return", type=float, default=None,
                   help="Decision Transformers: the return to condition on (default: the one it was trained for)")
    common_flags(p)
    ns = p.parse_args(argv)
    import time

    import numpy as np

    from distillrl.acting.evaluate import evaluate, summarize
    from distillrl.acting.policies import success, teacher_fn
    from distillrl.config import Domain
    from distillrl.envs.make import env_info, split_specs
    from distillrl.errors import DistillRLError
    from distillrl.runs.kinds import set_threads
    from distillrl.runs.rundir import emit
    from distillrl.teachers.dt import is_dt_source
    from distillrl.teachers.load import load_teacher

    try:
        for flag, val, dom in (("--episodes", ns.episodes, "≥ 1"), ("--seed", ns.seed, "≥ 0"),
                               ("--threads", ns.threads, "≥ 1"), ("--tau", ns.tau, "> 0"),
                               ("--max-episode-steps", ns.max_episode_steps, "≥ 1")):
            if val is not None:
                Domain.parse(dom).check(val, flag)
        set_threads(ns.threads)
    except DistillRLError as e:
        die("distillrl eval", str(e))
    if is_dt_source(ns.source):
        return _eval_dt(ns)
    try:
        agent = load_teacher(ns.source, None, ns.arch, ns.tau)
        env = ns.env or agent.env
        if not env:
            raise ConfigError(f"{ns.source} does not record its environment: pass --env")
        if len(split_specs(env)) > 1:  # a multi-task agent: every task on its own
            return _eval_tasks(agent, env, ns)
        agent.check_env(env_info(env))
    except DistillRLError as e:
        die("distillrl eval", str(e))
    fn = teacher_fn(agent)
    if ns.stochastic and not agent.recurrent:  # sample from the agent's policy (softmax(q/τ) for a Q-agent)
        fn = lambda o: np.log(np.clip(agent.probs(o).numpy(), 1e-12, None))  # noqa: E731
    t0 = time.perf_counter()
    rets, lens = evaluate(fn, env, ns.episodes, seed=ns.seed, greedy=not ns.stochastic,
                          max_episode_steps=ns.max_episode_steps)
    wall = time.perf_counter() - t0
    summary = {"source": ns.source, "env": env, "kind": agent.kind, **summarize(rets), **success(env, rets),
               "steps": int(lens.sum()),
               "sps": float(lens.sum() / max(wall, 1e-9)), "greedy": not ns.stochastic}
    emit(summary, ns.json)
    return 0


def _eval_dt(ns) -> int:
    """``distillrl eval`` of a Decision Transformer (a teacher or a multi-task student): each task
    conditioned on its target return. ``ns`` is :func:`cmd_eval`'s, its numbers already checked."""
    import numpy as np

    from distillrl.acting.evaluate import summarize
    from distillrl.acting.sequence import rollout
    from distillrl.envs.make import spec_options, split_specs
    from distillrl.envs.tasks import TaskSet, task_name
    from distillrl.errors import DistillRLError
    from distillrl.runs.rundir import emit
    from distillrl.teachers.dt import load_dt

    try:
        t = load_dt(ns.source)
        env = ns.env or t.env
        if not env:
            raise ConfigError(f"{ns.source} does not record its environment: pass --env")
        ts = TaskSet.build(env, "heads")
        if (ts.n_tasks != t.model.n_tasks or tuple(ts.info.obs_shape) != t.model.obs_shape
                or ts.info.n_actions != t.model.n_actions or not np.array_equal(ts.legal, t.model.legal.numpy())
                or (t.env and [spec_options(s)[0] for s in split_specs(t.env)]
                    != [spec_options(s)[0] for s in ts.specs])):
            raise ConfigError(f"{ns.source} was trained on {t.env}, not {env}")
        targets = [ns.target_return] * ts.n_tasks if ns.target_return is not None else t.target_returns
        if targets is None or None in targets:
            raise ConfigError(f"{ns.source} does not record its target return: pass --target-return")
    except DistillRLError as e:
        die("distillrl eval", str(e))
    per = {}
    for k in range(ts.n_tasks):
        r = np.asarray(rollout(t.model, ts, k, targets[k], ns.episodes, ns.seed, ns.max_episode_steps, ns.stochastic))
        per[task_name(ts.specs[k])] = {**summarize(r), "target_return": targets[k]}
    summary = {"source": ns.source, "env": env, "kind": "dt", "greedy": not ns.stochastic}
    if ts.n_tasks == 1:
        summary.update(next(iter(per.values())))
    else:
        summary["tasks"] = per
    emit(summary, ns.json)
    return 0


def _eval_tasks(agent, env: str, ns) -> int:
    """``distillrl eval`` of a task-set agent: each task greedily (or sampled) on its own episodes."""
    import numpy as np
    import torch

    from distillrl.acting.evaluate import evaluate, summarize
    from distillrl.envs.tasks import TaskSet
    from distillrl.runs.rundir import emit

    net = getattr(getattr(agent, "agent", None), "cfg", None)
    ts = TaskSet.build(env, net.task_actions if net is not None else "heads")
    agent.check_env(ts.info)
    fn = (lambda x, t: agent.outputs(x, torch.from_numpy(t)).numpy()) if not ns.stochastic else \
        (lambda x, t: np.log(np.clip(agent.probs(x, torch.from_numpy(t)).numpy(), 1e-12, None)))
    per = []
    for k, spec in enumerate(ts.specs):
        rets, _ = evaluate(ts.policy_for_task(fn, k), spec, ns.episodes, seed=ns.seed, greedy=not ns.stochastic,
                           max_episode_steps=ns.max_episode_steps)
        per.append({"task": spec, "name": ts.names[k], **summarize(rets)})
    emit({"source": ns.source, "env": env, "kind": agent.kind, "per_task": per,
          "mean_return": float(np.mean([r["mean_return"] for r in per])), "greedy": not ns.stochastic}, ns.json)
    return 0


def cmd_zoo(argv: list[str]) -> int:
    p = OneLineParser(prog="distillrl zoo", description="The shipped teacher zoo.")
    p.add_argument("action", nargs="?", default="list", choices=["list", "path"])
    p.add_argument("name", nargs="?")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(argv)
    from distillrl.runs.rundir import emit
    from distillrl.teachers.zoo import ZOO_DIR, zoo_meta, zoo_names

    if ns.action == "path":
        if not ns.name:
            die("distillrl zoo", "zoo path needs a NAME")
        if ns.name not in zoo_names():
            die("distillrl zoo", f"no zoo entry {ns.name!r}; available: {', '.join(zoo_names()) or 'none'}")
        print(ZOO_DIR / ns.name)
        return 0
    entries = {n: zoo_meta(n) for n in zoo_names()}
    if ns.json:
        emit({"entries": entries}, True)
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(title="distillrl teacher zoo")
    for col in ("name", "env", "algo", "frames", "score (mean ± std)", "reference", "params"):
        t.add_column(col)
    for n, m in entries.items():
        ev = m.get("eval", {})
        score = f"{ev.get('mean_return', float('nan')):.2f} ± {ev.get('std_return', float('nan')):.2f}" if ev else "-"
        t.add_row(n, m.get("env", "?"), m.get("algo", "?"), f"{m.get('frames', 0):,}", score,
                  str(m.get("reference", "-")), f"{m.get('n_params', 0):,}")
    Console().print(t)
    return 0


def cmd_envs(argv: list[str]) -> int:
    p = OneLineParser(prog="distillrl envs", description="List valid environment ids, then the task sets, the "
                      "options an id takes and the form of a user's own environment.")
    p.add_argument("--family", choices=["gym", "minatar", "minigrid", "ale"])
    p.add_argument("--ids-only", action="store_true", help="only the ids, one per line")
    ns = p.parse_args(argv)
    from distillrl.envs.make import list_envs

    for e in list_envs(ns.family):
        print(e)
    if not ns.ids_only:
        print("\n".join(ENV_FORMS))
    return 0


ENV_FORMS = [
    "",
    "# task sets (one student for several tasks; the task id is the position)",
    "minatar:all              the five MinAtar games",
    "ENV,ENV,...              any ids joined by commas (e.g. minatar:breakout,minatar:asterix)",
    "# options, appended to an id",
    "?keep=I+J                vector observations: keep only these entries (gym:CartPole-v1?keep=0+2)",
    "?view=full|agent         MiniGrid: the whole grid (default) or the agent's 7x7 view",
    "# your own environment (Gymnasium's module:id; importing the module registers the id)",
    "gym:MODULE:ID            e.g. gym:mypkg.envs:MyEnv-v0 (MODULE must be importable: PYTHONPATH)",
]


def cmd_demo(argv: list[str]) -> int:
    """Kickstart a MinAtar Breakout student from the shipped zoo teacher next to a from-scratch
    run with the same settings and seed, then write and show the report (a few minutes on a CPU)."""
    import time

    p = OneLineParser(prog="distillrl demo", description=cmd_demo.__doc__)
    p.add_argument("--out", default=None, help="demo folder (default: runs/demo-<time>)")
    p.add_argument("--teacher", default="minatar-breakout", help="zoo teacher [default: minatar-breakout]")
    p.add_argument("--steps", type=int, default=400_000, help="frames per run [default: 400000]")
    p.add_argument("--seed", type=int, default=1)
    ns = p.parse_args(argv)
    from distillrl.teachers.zoo import zoo_meta, zoo_names

    if ns.teacher not in zoo_names():
        die("distillrl demo", f"zoo teacher {ns.teacher!r} is not installed; available: {', '.join(zoo_names()) or 'none'}")
    env = zoo_meta(ns.teacher).get("env", "minatar:breakout")
    out = Path(ns.out or f"runs/demo-{time.strftime('%Y%m%d-%H%M%S')}")
    common = ["--env", env, "--steps", str(ns.steps), "--seed", str(ns.seed), "--eval-episodes", "30"]
    sys.stderr.write(f"[1/3] kickstarting a student from zoo teacher {ns.teacher} on {env} ({ns.steps:,} frames)\n")
    rc = cmd_kickstart(common + ["--teacher", ns.teacher, "--schedule", "linear", "--decay-frames",
                                 str(ns.steps // 2), "--run-dir", str(out / "kickstart")])
    if rc:
        return rc
    sys.stderr.write(f"[2/3] the same student from scratch ({ns.steps:,} frames)\n")
    rc = cmd_train(common + ["--run-dir", str(out / "scratch")])
    if rc:
        return rc
    sys.stderr.write("[3/3] report\n")
    return cmd_report([str(out / "kickstart"), str(out / "scratch"), "--out", str(out / "report")])
