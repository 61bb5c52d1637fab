"""The ``distillrl`` command line.

    distillrl train --env ENV [--algo ppo|a2c|dqn|pqn|impala] [--steps N] [--seed S] [--run-dir DIR] [--config FILE.yaml] [--resume]
    distillrl distill --teacher T [--env ENV] [--loss nll|mse|kl|cross_entropy|reverse_kl] [--tau X]
                      [--source teacher|student|dagger|eer] [--student-size F] [--steps N] [--seed S]
    distillrl kickstart --env ENV --teacher T [--teacher T2 ...] [--schedule constant|linear|exp|step|performance]
                        [--lambda0 X] [--steps N] [--seed S] [--run-dir DIR]
    distillrl codistill --env ENV --peers N [--psi X] [--exchange-every K] [--address HOST:PORT] [--in-process]
    distillrl dataset --teacher T [--env ENV] --episodes N [--epsilon X] [--name ID] [--root DIR]
    distillrl pbt --config FILE.yaml [--population N] [--address HOST:PORT] [--run-dir DIR] [--resume]
    distillrl sweep --seeds 1-5 [--grid KEY=V1,V2] [--address HOST:PORT] [--run-dir DIR] -- COMMAND ARGS...
    distillrl report RUN_DIR... [--out DIR]   (a PBT experiment directory: its winning lineage)
    distillrl eval AGENT [--env ENV] [--teacher-arch A] [--episodes N] [--json]   (AGENT: any teacher source)
    distillrl zoo [list|path NAME]
    distillrl envs [--family F]

``--json`` prints one JSON object (the command's summary) as the last line of stdout.
Bad input is one line on stderr and exit code 2; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import OneLineParser, die
from .errors import ConfigError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object (last stdout line)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


# --------------------------------------------------------------------------- train / distill / kickstart


def _run_command(name: str, argv: list[str]) -> int:
    from .jobs import command_parser, kind

    k = kind(name)
    return _train_like(command_parser(k).parse_args(argv), k)


def _flag_value(argv: list[str], flag: str) -> str | None:
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def _saved_config(argv: list[str]) -> dict:
    """The config a command continues or starts from: the run directory's on ``--resume``, else
    ``--config``'s ({} when neither is readable: the command's own parser reports it)."""
    from .config import load_yaml

    path = None
    if "--resume" in argv and _flag_value(argv, "--run-dir"):
        path = Path(_flag_value(argv, "--run-dir")) / "config.yaml"
    elif _flag_value(argv, "--config"):
        path = Path(_flag_value(argv, "--config"))
    try:
        data = load_yaml(path) if path is not None and path.is_file() else {}
    except Exception:  # unreadable: left to the command's own config loading (one-line error)
        return {}
    return data if isinstance(data, dict) else {}


def cmd_train(argv: list[str]) -> int:
    # --algo dt learns from a dataset: its own options (distillrl.algos.offline.DTConfig); a run
    # being resumed, or a --config file, says so by its algo
    algo = _flag_value(argv, "--algo") or _saved_config(argv).get("algo")
    return _run_command("train-dt" if algo == "dt" else "train", argv)


def cmd_distill(argv: list[str]) -> int:
    # --offline: distil Decision-Transformer teachers from their datasets (OfflineDistillConfig)
    offline = any(a == "--offline" or (a.startswith("--offline=") and a.split("=", 1)[1].lower() in ("true", "1", "yes"))
                  for a in argv) or _saved_config(argv).get("offline") is True
    return _run_command("distill-offline" if offline else "distill", argv)


def cmd_kickstart(argv: list[str]) -> int:
    return _run_command("kickstart", argv)


def _train_like(ns, k) -> int:
    """Shared driver: config → validation → run dir → trainer (restored on --resume) → drive → finish.

    Only :class:`errors.DistillRLError` (bad input) becomes a one-line message with exit 2;
    any other exception is a bug and keeps its traceback.
    """
    from .errors import DistillRLError
    from .jobs import build_config, run_job
    from .run import default_run_dir, emit, prepare_run_dir

    prog = f"distillrl {k.name}"
    run_dir = Path(ns.run_dir) if ns.run_dir else None
    if ns.resume and run_dir is None:
        die(prog, "--resume needs --run-dir")
    try:
        if ns.resume:
            prepare_run_dir(run_dir, True)
        cfg = build_config(k, ns=ns, run_dir=run_dir, resume=ns.resume)
        run_dir = run_dir or default_run_dir(k.name, cfg.env, cfg.seed)
        summary = run_job(k, cfg, run_dir, ns.resume, progress=not ns.no_progress)
    except DistillRLError as e:
        die(prog, str(e))
    except KeyboardInterrupt as e:
        sys.stderr.write(f"{prog}: {e or 'interrupted'}; resume with --resume --run-dir {run_dir}\n")
        return 130
    emit(summary, ns.json)
    return 0


def cmd_codistill(argv: list[str]) -> int:
    """N peers on their own seeds, each distilling the mean of the others' stale policies (see distillrl.codistill)."""
    import time

    from .codistill import CodistillConfig, run_codistill
    from .errors import DistillRLError
    from .jobs import Kind, build_config, command_parser
    from .presets import preset
    from .run import emit

    k = Kind("codistill", lambda: CodistillConfig, preset, lambda c: c, None, None)  # type: ignore[arg-type]
    ns = command_parser(k).parse_args(argv)
    prog = "distillrl codistill"
    if ns.resume and not ns.run_dir:
        die(prog, "--resume needs --run-dir")
    try:
        cfg = build_config(k, ns=ns, run_dir=Path(ns.run_dir) if ns.run_dir else None, resume=ns.resume)
        run_dir = Path(ns.run_dir or f"runs/codistill-{cfg.env.replace(':', '-')}-s{cfg.seed}-{time.strftime('%Y%m%d-%H%M%S')}")
        summary = run_codistill(cfg, run_dir, ns.resume, progress=not ns.no_progress)
    except DistillRLError as e:
        die(prog, str(e))
    summary = {k2: v for k2, v in summary.items() if k2 != "per_peer"} | {
        "per_peer": [{k3: v3 for k3, v3 in r.items() if k3 != "returns"} for r in summary["per_peer"]]}
    emit(summary, ns.json)
    return 0


def cmd_dataset(argv: list[str]) -> int:
    """Record a teacher's episodes as a Minari dataset (see distillrl.offline)."""
    p = OneLineParser(prog="distillrl dataset", description=cmd_dataset.__doc__)
    p.add_argument("--teacher", required=True, help="zoo name, run directory, checkpoint, SB3 .zip or state dict")
    p.add_argument("--env", default=None, help="environment (default: the teacher's own)")
    p.add_argument("--episodes", type=int, default=100, help="episodes to record [≥ 1]")
    p.add_argument("--epsilon", type=float, default=0.0, help="ε-greedy noise on the teacher's actions [0, 1]")
    p.add_argument("--seed", type=int, default=0, help="episode i is reset with seed + i [≥ 0]")
    p.add_argument("--name", default=None, help="dataset id, [namespace/]name-v0 (default: distillrl/<env>-<teacher>-eps<ε>-v0)")
    p.add_argument("--root", default="runs/datasets", help="datasets folder (Minari's MINARI_DATASETS_PATH layout)")
    p.add_argument("--teacher-arch", default=None, help="architecture of a state-dict teacher")
    _common(p)
    ns = p.parse_args(argv)
    import re

    from .errors import DistillRLError
    from .offline import write_dataset
    from .run import emit

    try:
        if ns.seed < 0:
            raise ConfigError(f"--seed must be ≥ 0, got {ns.seed}")
        name = ns.name
        if name is None:
            base = re.sub(r"[^A-Za-z0-9_\-]+", "_", f"{ns.env or 'own'}-{Path(ns.teacher).name}-eps{ns.epsilon:g}")
            name = f"distillrl/{base}-v0"
        summary = write_dataset(ns.teacher, ns.env, ns.episodes, name, ns.root, ns.epsilon, ns.seed, ns.teacher_arch,
                                progress=not ns.no_progress)
    except DistillRLError as e:
        die("distillrl dataset", str(e))
    emit(summary, ns.json)
    return 0


# --------------------------------------------------------------------------- populations and sweeps


def cmd_pbt(argv: list[str]) -> int:
    """Population-based training of train/kickstart/distill runs on Ray Tune (see distillrl.pbt)."""
    p = OneLineParser(prog="distillrl pbt", description=cmd_pbt.__doc__)
    p.add_argument("--config", required=True, help="experiment YAML: command, population, config, pbt, priors")
    p.add_argument("--population", type=int, default=None, help="members (overrides the file) [≥ 2]")
    p.add_argument("--address", default=None,
                   help="join the Ray cluster at HOST:PORT (default: start Ray on this machine)")
    p.add_argument("--run-dir", default=None, help="experiment directory (default: runs/pbt-<env>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the experiment in --run-dir (Ray Tune restore)")
    _common(p)
    ns = p.parse_args(argv)
    import time

    from .errors import DistillRLError
    from .run import emit

    if ns.resume and not ns.run_dir:
        die("distillrl pbt", "--resume needs --run-dir")
    try:
        from .pbt import load_pbt_config, run_pbt

        if ns.resume:
            cfg = load_pbt_config(Path(ns.run_dir) / "pbt.yaml")
        else:
            cfg = load_pbt_config(ns.config, ns.population)
        env = str(cfg.config.get("env", "env")).replace(":", "-").replace("/", "-")
        run_dir = Path(ns.run_dir or f"runs/pbt-{env}-{time.strftime('%Y%m%d-%H%M%S')}")
        summary = run_pbt(cfg, run_dir, ns.address, ns.resume, progress=not ns.no_progress)
    except DistillRLError as e:
        die("distillrl pbt", str(e))
    finally:
        from .raytune import shutdown_ray

        shutdown_ray()
    emit(summary, ns.json)
    return 0 if summary["members_finished"] == cfg.population else 1


def cmd_sweep(argv: list[str]) -> int:
    """Run one command over seeds (and a small grid) as Ray Tune trials:
    distillrl sweep --seeds 1-5 [--grid KEY=V1,V2 ...] [--address A] [--run-dir D] -- COMMAND ARGS..."""
    if "--" in argv:
        i = argv.index("--")
        own, rest = argv[:i], argv[i + 1:]
    else:
        own, rest = argv, []
    p = OneLineParser(prog="distillrl sweep", description=cmd_sweep.__doc__)
    p.add_argument("--seeds", required=True, help="seeds: 1-5, 1,2,3 or 1-3,7")
    p.add_argument("--grid", action="append", default=[], help="KEY=V1,V2 over a config key (repeatable)")
    p.add_argument("--address", default=None, help="join the Ray cluster at HOST:PORT (default: this machine)")
    p.add_argument("--cpus-per-run", type=float, default=1.0, help="CPUs reserved per run [> 0; default: 1]")
    p.add_argument("--max-failures", type=int, default=2, help="restarts of a crashed run (resumed) [≥ 0; default: 2]")
    p.add_argument("--run-dir", default=None, help="sweep directory (default: runs/sweep-<command>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the sweep in --run-dir: finished runs are kept")
    _common(p)
    ns = p.parse_args(own)
    from .errors import DistillRLError
    from .run import emit

    if not rest:
        die("distillrl sweep", "name the command to sweep after --, e.g. distillrl sweep --seeds 1-3 -- kickstart ...")
    try:
        from .sweep import run_sweep

        summary = run_sweep(rest[0], rest[1:], ns.seeds, ns.grid, Path(ns.run_dir) if ns.run_dir else None,
                            ns.address, ns.cpus_per_run, ns.max_failures, ns.resume, progress=not ns.no_progress)
    except DistillRLError as e:
        die("distillrl sweep", str(e))
    finally:
        from .raytune import shutdown_ray

        shutdown_ray()
    emit(summary, ns.json)
    return 0 if not summary["failed"] else 1


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

    from .report import build_report
    from .run import emit

    out = ns.out or f"runs/report-{time.strftime('%Y%m%d-%H%M%S')}"
    from .errors import DistillRLError

    from .report import build_pbt_report, is_pbt_experiment

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


# --------------------------------------------------------------------------- eval


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
    _common(p)
    ns = p.parse_args(argv)
    import time

    import numpy as np

    from .config import Domain
    from .dt import is_dt_source
    from .envs import env_info, split_specs
    from .errors import DistillRLError
    from .evaluate import evaluate, summarize
    from .run import emit
    from .jobs import set_threads, success, teacher_fn
    from .teachers import load_teacher

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

    from .dt import load_dt, rollout
    from .envs import spec_options, split_specs
    from .errors import DistillRLError
    from .evaluate import summarize
    from .run import emit
    from .tasks import TaskSet, task_name

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

    from .evaluate import evaluate, summarize
    from .run import emit
    from .tasks import TaskSet

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


# --------------------------------------------------------------------------- zoo / envs


def cmd_zoo(argv: list[str]) -> int:
    p = OneLineParser(prog="distillrl zoo", description="The shipped teacher zoo.")
    p.add_argument("action", nargs="?", default="list", choices=["list", "path"])
    p.add_argument("name", nargs="?")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(argv)
    from .run import emit
    from .zoo import ZOO_DIR, zoo_meta, zoo_names

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
    p = OneLineParser(prog="distillrl envs", description="List valid environment ids.")
    p.add_argument("--family", choices=["gym", "minatar", "minigrid", "ale"])
    ns = p.parse_args(argv)
    from .envs import list_envs

    for e in list_envs(ns.family):
        print(e)
    return 0


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
    from .zoo import zoo_meta, zoo_names

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


COMMANDS = {
    "demo": cmd_demo,
    "train": cmd_train,
    "distill": cmd_distill,
    "kickstart": cmd_kickstart,
    "codistill": cmd_codistill,
    "dataset": cmd_dataset,
    "pbt": cmd_pbt,
    "sweep": cmd_sweep,
    "report": cmd_report,
    "eval": cmd_eval,
    "zoo": cmd_zoo,
    "envs": cmd_envs,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("\ncommands: " + ", ".join(COMMANDS) + "   (distillrl COMMAND --help)")
        return 0 if argv else 2
    cmd = argv.pop(0)
    if cmd not in COMMANDS:
        die("distillrl", f"unknown command {cmd!r}; valid: {', '.join(COMMANDS)}")
    return COMMANDS[cmd](argv)


if __name__ == "__main__":
    raise SystemExit(main())
