"""Reading results and agents: report, eval, zoo, envs, demo."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from distillrl.cli.common import common_flags
from distillrl.cli.run_cmds import cmd_kickstart, cmd_train
from distillrl.config import Domain, OneLineParser, die
from distillrl.errors import ConfigError, DistillRLError

# Local imports by design: `distillrl --help` imports every cli module and must stay fast and free
# of torch and Ray, so each command imports what it runs (runs, scale, report, datasets, teachers,
# numpy, rich) inside its own function. Only the standard library, errors and config sit here.


def cmd_analyze(argv: list[str]) -> int:
    p = OneLineParser(prog="distillrl analyze",
                      description="Analyses over run directories. effects: Tang et al.'s attribution of what "
                                  "distillation gave the student (universe / domain / instance) from five distill "
                                  "runs per seed: --loss nll, --kd-control universe|domain|instance, and --loss kl.")
    p.add_argument("analysis", choices=["effects"], help="which analysis")
    p.add_argument("runs", nargs="+", help="distillation run directories (or a sweep's folder), one per seed and "
                                           "target, all of one teacher and env")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(argv)
    from distillrl.report.effects import analyze_effects
    from distillrl.runs.rundir import emit

    try:
        res = analyze_effects(ns.runs)
    except DistillRLError as e:
        die("distillrl analyze", str(e))
    for w in res["warnings"]:
        print(f"distillrl analyze: warning: {w}", file=sys.stderr)
    if ns.json:
        emit({k: v for k, v in res.items() if k != "markdown"}, True)
    else:
        print(res["markdown"], end="")
    return 0


def cmd_export(argv: list[str]) -> int:
    p = OneLineParser(prog="distillrl export",
                      description="Write a finished run's agent as a folder ready for the Hugging Face Hub: "
                                  "model.safetensors, config.json (env, frames, seed, the exact command, the "
                                  "evaluation, the teachers it learned from with their own provenance), a README.md "
                                  "model card with a model-index block, and the training curve. The folder is a "
                                  "source again: distillrl eval DIR, --teacher DIR.")
    p.add_argument("run", help="a run directory (with checkpoints/last.safetensors)")
    p.add_argument("--out", required=True, help="the folder to write (new, empty, or an earlier export)")
    p.add_argument("--episodes", type=int, default=30, help="evaluation episodes [≥ 1; default: 30]")
    p.add_argument("--seed", type=int, default=0, help="episode i uses reset seed SEED+i [≥ 0; default: 0]")
    p.add_argument("--sampled", action="store_true", help="evaluate sampled actions (default: greedy)")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(argv)
    from distillrl.report.card import export_run
    from distillrl.runs.rundir import emit

    try:
        Domain.parse("≥ 1").check(ns.episodes, "--episodes")
        Domain.parse("≥ 0").check(ns.seed, "--seed")
        info = export_run(ns.run, ns.out, ns.episodes, ns.seed, greedy=not ns.sampled)
    except DistillRLError as e:
        die("distillrl export", str(e))
    ev = info["eval"]
    if ns.json:
        emit({k: v for k, v in info.items() if k != "run_config"}, True)
    else:
        print(f"wrote {ns.out}: {info['algo']} on {info['env']}, {info['frames']:,} frames, mean_reward "
              f"{ev['mean_reward']:.2f} +/- {ev['std_reward']:.2f} over {ev['episodes']} {ev['mode']} episodes, "
              f"{len(info['teachers'])} teacher(s)")
    return 0


def cmd_report(argv: list[str]) -> int:
    p = OneLineParser(prog="distillrl report", description="Curves, λ traces and speed-up tables from run directories.")
    p.add_argument("runs", nargs="+", help="run directories (seeds of one config are grouped), or PBT experiment "
                                           "directories (with plain runs beside them as the fixed-schedule comparison)")
    p.add_argument("--out", default=None, help="output folder [default: runs/report-<time>]")
    p.add_argument("--target", type=float, default=None, help="score to reach [default: the teacher's score]")
    p.add_argument("--reference", default=None,
                   help="run directory whose group is the speed-up baseline [default: the from-scratch train runs]")
    p.add_argument("--separate", action="store_true",
                   help="runs of several environments or task sets: one report per environment (sub-folders of "
                        "--out) instead of refusing them")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(argv)
    from distillrl.report.build import build_report
    from distillrl.report.pbt import build_pbt_report, is_pbt_experiment
    from distillrl.runs.rundir import emit

    out = ns.out or f"runs/report-{time.strftime('%Y%m%d-%H%M%S')}"
    pbt = [Path(r) for r in ns.runs if is_pbt_experiment(r)]
    try:
        if pbt:  # populations, with any plain runs beside them as the fixed-schedule comparison
            res = build_pbt_report(pbt, [r for r in ns.runs if not is_pbt_experiment(r)], Path(out))
        else:
            res = build_report(ns.runs, out, ns.target, ns.reference, separate=ns.separate)
    except DistillRLError as e:
        die("distillrl report", str(e))
    if ns.json:
        emit(res, True)
    else:
        for where in ([r["out"] for r in res["reports"].values()] if res.get("separate") else [out]):
            print((Path(where) / "report.md").read_text())
            print(f"plots: {where}/*.png")
    return 0


def cmd_eval(argv: list[str]) -> int:
    p = OneLineParser(prog="distillrl eval",
                      description="Evaluate an agent from any source (zoo name, run directory, checkpoint, SB3 .zip, "
                                  "a state dict with --teacher-arch, a Decision Transformer) greedily and sampled, on "
                                  "the same episodes. The score follows the env family's convention: MiniGrid the "
                                  "sampled success rate; MinAtar, Atari and classic control the greedy return.")
    p.add_argument("source", help="zoo name, run directory, checkpoint file, SB3 .zip or state dict")
    p.add_argument("--env", help="environment (default: the one it was trained on, when recorded)")
    p.add_argument("--teacher-arch", "--arch", dest="arch", default=None,
                   help="architecture of a state-dict agent: cleanrl-ppo, cleanrl-dqn, cleanrl-ppo-atari, cleanrl-dqn-atari")
    p.add_argument("--tau", type=float, default=None,
                   help="temperature of sampled actions, softmax(outputs/τ) (> 0; default: 1 for policies, the "
                        "agent's own for Q-agents)")
    p.add_argument("--episodes", type=int, default=30, help="evaluation episodes per mode (and task) [≥ 1; default: 30]")
    p.add_argument("--seed", type=int, default=0, help="episode i uses reset seed SEED+i [≥ 0; default: 0]")
    only = p.add_mutually_exclusive_group()
    only.add_argument("--greedy", action="store_true", help="greedy (argmax) actions only")
    only.add_argument("--stochastic", "--sampled", dest="stochastic", action="store_true",
                      help="sampled actions only")
    p.add_argument("--max-episode-steps", type=int, default=None, help="cap episode length [≥ 1]")
    p.add_argument("--video", default=None, metavar="DIR",
                   help="also record every evaluated episode as MP4 into DIR (<mode>-episode-<i>.mp4; a task set: one "
                        "subfolder per task; needs moviepy: distillrl[video])")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads [≥ 1; default: 1]")
    p.add_argument("--target-return", type=float, default=None,
                   help="Decision Transformers: the return to condition on (default: the one it was trained for)")
    p.add_argument("--task", default=None,
                   help="meta-learned agents (distillrl meta): the task to adapt to, e.g. 1.5 or 0.2/-0.3 (default: the "
                        "run's held-out test tasks)")
    p.add_argument("--k", default=None, help="meta-learned agents: adaptation steps, e.g. 1,3,5 [≥ 1; default: the run's]")
    common_flags(p)
    ns = p.parse_args(argv)
    from distillrl.teachers.meta import meta_spec

    if meta_spec(ns.source) is not None:
        return _eval_meta(ns)
    from distillrl.acting.evaluation import evaluate_modes, score_fields
    from distillrl.acting.protocols import MODES, convention
    from distillrl.runs.kinds import set_threads
    from distillrl.runs.rundir import emit

    try:
        for flag, val, dom in (("--episodes", ns.episodes, "≥ 1"), ("--seed", ns.seed, "≥ 0"),
                               ("--threads", ns.threads, "≥ 1"), ("--tau", ns.tau, "> 0"),
                               ("--max-episode-steps", ns.max_episode_steps, "≥ 1")):
            if val is not None:
                Domain.parse(dom).check(val, flag)
        set_threads(ns.threads)
        agent, env, ts, kind, targets = _eval_source(ns)
    except DistillRLError as e:
        die("distillrl eval", str(e))
    modes = ("greedy",) if ns.greedy else ("sampled",) if ns.stochastic else MODES
    try:
        res = evaluate_modes(agent, env, ns.episodes, ns.seed, modes, taskset=ts, target_return=targets,
                             max_episode_steps=ns.max_episode_steps, video_dir=ns.video)
    except DistillRLError as e:
        die("distillrl eval", str(e))
    steps = sum(r.steps for r in res.values())
    wall = sum(r.wall_s for r in res.values())
    fields = score_fields(res, env)
    summary = {"source": ns.source, "env": env, "kind": kind, **fields, "greedy": fields["score_mode"] == "greedy",
               "modes": {m: r.summary() for m, r in res.items()}, "convention": convention(env).mode,
               "steps": int(steps), "sps": float(steps / max(wall, 1e-9))}
    first = next(iter(res.values()))
    if first.per_task:
        summary["per_task"] = [
            {"task": r.env, "name": name, **score_fields({m: x.per_task[name] for m, x in res.items()}, r.env),
             **({"target_return": r.target_return} if r.target_return is not None else {})}
            for name, r in first.per_task.items()]
    elif first.target_return is not None:
        summary["target_return"] = first.target_return
    if ns.json:
        emit(summary, True)
    else:
        _print_eval(summary)
    return 0


def _eval_meta(ns) -> int:
    """A meta-learned actor: its return on each task before and after K adaptation steps."""
    from distillrl.algos.meta import eval_meta
    from distillrl.runs.kinds import set_threads
    from distillrl.runs.rundir import emit

    try:
        for flag, val, dom in (("--episodes", ns.episodes, "≥ 1"), ("--seed", ns.seed, "≥ 0"),
                               ("--threads", ns.threads, "≥ 1")):
            Domain.parse(dom).check(val, flag)
        try:
            ks = [int(x) for x in ns.k.split(",")] if ns.k else None
        except ValueError:
            raise ConfigError(f"--k takes integers joined by commas (e.g. 1,3,5), not {ns.k!r}") from None
        set_threads(ns.threads)
        summary = eval_meta(ns.source, ns.task, ks, ns.episodes, ns.seed)
    except DistillRLError as e:
        die("distillrl eval", str(e))
    emit(summary, ns.json)
    return 0


def _eval_source(ns):
    """``distillrl eval``'s agent, loaded and checked against its env: (agent, env, task set or
    None, kind, the target returns of a Decision Transformer or None)."""
    import numpy as np

    from distillrl.envs.make import env_info, spec_options, split_specs
    from distillrl.envs.tasks import TaskSet
    from distillrl.teachers.dt import is_dt_source, load_dt
    from distillrl.teachers.load import load_teacher

    if is_dt_source(ns.source):  # a teacher or a multi-task student: each task on its target return
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
        return t, env, ts, "dt", targets
    agent = load_teacher(ns.source, None, ns.arch, ns.tau)
    env = ns.env or agent.env
    if not env:
        raise ConfigError(f"{ns.source} does not record its environment: pass --env")
    if len(split_specs(env)) > 1:  # a multi-task agent: every task on its own
        net = getattr(getattr(agent, "agent", None), "cfg", None)
        ts = TaskSet.build(env, net.task_actions if net is not None else "heads")
        agent.check_env(ts.info)
        return agent, env, ts, agent.kind, None
    agent.check_env(env_info(env))
    return agent, env, None, agent.kind, None


def _print_eval(s: dict) -> None:
    """``distillrl eval``'s table: one row per mode (and task), the score's row marked."""
    from rich.console import Console
    from rich.table import Table

    rows = s.get("per_task") or [s]
    success = any(f"{m}_success_rate" in r for r in rows for m in s["modes"])
    t = Table(title=f"{s['source']} on {s['env']} ({s['kind']}, {s['modes'][next(iter(s['modes']))]['episodes']} "
                    "episodes per mode)")
    if "per_task" in s:
        t.add_column("task")
    for col in ("mode", "mean return ± std" if "per_task" not in s else "mean return", *(("success rate",) if success else ()),
                "score"):
        t.add_column(col)
    for r in rows:
        for m in s["modes"]:
            ret = f"{r[f'{m}_return']:.4g}"
            if "per_task" not in s:
                ret += f" ± {s['modes'][m]['std_return']:.3g}"
            cells = ([r["name"]] if "per_task" in s else []) + [m, ret]
            if success:
                sr = r.get(f"{m}_success_rate")
                cells.append(f"{100 * sr:.0f}%" if sr is not None else "-")
            cells.append(_score_text(r) if m == r["score_mode"] else "")
            t.add_row(*cells)
    Console().print(t)
    what = "success rate" if s.get("success_rate") is not None and s["score"] == s["success_rate"] else "mean return"
    print(f"score: {_score_text(s)} ({s['score_mode']} {what}; the convention for this env is {s['convention']}), "
          f"{s['steps']:,} steps at {s['sps']:,.0f}/s")


def _score_text(r: dict) -> str:
    """A score as a percentage when it is a success rate, else the mean return."""
    if r.get("success_rate") is not None and r["score"] == r["success_rate"]:
        return f"{100 * r['score']:.0f}%"
    return f"{r['score']:.4g}"


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
    from distillrl.runs.rundir import format_table
    from distillrl.teachers.load import load_teacher

    rows = []
    for n, m in entries.items():
        ev = m.get("eval", {})
        score = f"{ev.get('mean_return', float('nan')):.2f} ± {ev.get('std_return', float('nan')):.2f}" if ev else "-"
        # acting parameters (what a distillation summary's teacher_params counts) and all of them
        # (value head included, as in the entry's meta.json)
        rows.append({"name": n, "env": m.get("env", "?"), "algo": m.get("algo", "?"), "frames": f"{m.get('frames', 0):,}",
                     "score (mean ± std)": score, "reference": "-" if m.get("reference") is None else str(m["reference"]),
                     "acting params": f"{load_teacher(n).n_params:,}", "all params": f"{m.get('n_params', 0):,}"})
    sys.stdout.write("distillrl teacher zoo (greedy evaluation; acting params: policy or Q head only, "
                     "as summaries count them)\n\n" + format_table(rows))
    return 0


def cmd_envs(argv: list[str]) -> int:
    p = OneLineParser(prog="distillrl envs", description="List valid environment ids, then the task sets, the "
                      "options an id takes and the form of a user's own environment.")
    p.add_argument("--family", choices=["gym", "minatar", "minigrid", "ale", "meta"],
                   help="one family only (meta: the task families of distillrl meta)")
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
    "?keep=I+J                vector observations: keep only these entries (gym:CartPole-v1?keep=0+2; ranges 0-4)",
    "?group.NAME=I+J&...      vector observations as named groups for privileged teachers "
    "(gym:Hopper-v5?group.pos=0-4&group.vel=5-10; the rest: group rest)",
    "?view=full|agent|both    MiniGrid: the whole grid (default), the agent's 7x7 view, or both as groups full, agent",
    "# continuous control (pip install -e '.[mujoco]')",
    "gym:HalfCheetah-v5 ...   MuJoCo (Hopper, Walker2d, Ant, ...), and gym:Pendulum-v1, "
    "gym:MountainCarContinuous-v0",
    "# meta-learning task families (distillrl meta --family NAME; the task is never observed)",
    "meta:NAME?task=X         one task of a family as an env: meta:halfcheetah-vel?task=1.5, "
    "meta:point-nav?task=0.2/-0.3",
    "# your own environment (Gymnasium's module:id; importing the module registers the id)",
    "gym:MODULE:ID            e.g. gym:mypkg.envs:MyEnv-v0 (MODULE must be importable: PYTHONPATH)",
]


def cmd_demo(argv: list[str]) -> int:
    """Kickstart a MinAtar Breakout student from the shipped zoo teacher next to a from-scratch
    run with the same settings and seed, then write and show the report (a few minutes on a CPU)."""
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
