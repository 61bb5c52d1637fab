"""The ``distillrl`` command line.

    distillrl train --env ENV [--algo ppo|dqn] [--steps N] [--seed S] [--run-dir DIR] [--config FILE.yaml] [--resume]
    distillrl distill --teacher T [--env ENV] [--loss nll|mse|kl|cross_entropy|reverse_kl] [--tau X]
                      [--source teacher|student|dagger|eer] [--student-size F] [--steps N] [--seed S]
    distillrl kickstart --env ENV --teacher T [--teacher T2 ...] [--schedule constant|linear|exp|step|performance]
                        [--lambda0 X] [--steps N] [--seed S] [--run-dir DIR]
    distillrl report RUN_DIR... [--out DIR]
    distillrl eval RUN_DIR|ZOO_NAME [--env ENV] [--episodes N] [--json]
    distillrl zoo [list|path NAME]
    distillrl envs [--family F]

``--json`` prints one JSON object (the command's summary) as the last line of stdout.
Errors are one line on stderr with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .config import ConfigError, OneLineParser, add_dataclass_args, apply_args, die, from_dict, load_yaml


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object (last stdout line)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_config(cls, ns: argparse.Namespace, run_dir: Path | None, resume: bool, preset_fn=None):
    """defaults → preset(env, algo) → YAML file (or the run's saved config on resume) → flags."""
    data: dict = {}
    if resume and run_dir is not None and (run_dir / "config.yaml").exists():
        data = load_yaml(run_dir / "config.yaml")
    elif getattr(ns, "config", None):
        data = load_yaml(ns.config)
    cfg = cls()
    if preset_fn is not None and not resume:
        env = getattr(ns, "env", None) or data.get("env") or cfg.env
        algo = getattr(ns, "algo", None) or data.get("algo") or getattr(cfg, "algo", "ppo")
        cfg = from_dict(cls, preset_fn(env, algo), cfg)
    cfg = from_dict(cls, data, cfg)
    return apply_args(cfg, ns)


# --------------------------------------------------------------------------- train


def cmd_train(argv: list[str]) -> int:
    from .presets import preset
    from .trainer import ALGOS, TrainConfig, make_trainer

    ns = _parse_run_command("train", TrainConfig, argv)

    def prepare(cfg):
        if cfg.algo not in ALGOS:
            raise ConfigError(f"unknown algo {cfg.algo!r}; valid: {', '.join(ALGOS)}")
        return cfg

    return _train_like(ns, "train", TrainConfig, preset, prepare, make_trainer, _eval_student)


def _parse_run_command(name: str, cls, argv: list[str]) -> argparse.Namespace:
    """Parser of a command that makes a run directory: run options + one flag per config field."""
    p = OneLineParser(prog=f"distillrl {name}", description=cls.__doc__)
    _run_options(p)
    add_dataclass_args(p, cls)
    return p.parse_args(argv)


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML file with config keys (flags override it)")
    p.add_argument("--run-dir", help="run directory (default: runs/<command>-<env>-s<seed>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its last checkpoint")
    _common(p)


def _eval_student(trainer, cfg) -> dict:
    from .evaluate import evaluate, summarize

    if cfg.eval_episodes <= 0:
        return {}
    rets, _ = evaluate(_logits_fn(trainer.actor), cfg.env, cfg.eval_episodes, seed=10_000 + cfg.seed,
                       max_episode_steps=cfg.max_episode_steps)
    return summarize(rets)


def _train_like(ns, kind: str, cls, preset_fn, prepare, factory, finish) -> int:
    """Shared driver: config → validation → run dir → trainer → drive → finish (evaluation)."""
    from .envs import EnvError, gym_id
    from .run import RunDirError, default_run_dir, drive, emit, prepare_run_dir, write_summary
    from .teachers import TeacherError
    from .zoo import SourceError

    prog = f"distillrl {kind}"
    run_dir = Path(ns.run_dir) if ns.run_dir else None
    if ns.resume and run_dir is None:
        die(prog, "--resume needs --run-dir")
    try:
        cfg = prepare(build_config(cls, ns, run_dir, ns.resume, preset_fn))
        gym_id(cfg.env)
        if cfg.steps <= 0:
            raise ConfigError("--steps must be positive")
        run_dir = run_dir or default_run_dir(kind, cfg.env, cfg.seed)
        prepare_run_dir(run_dir, ns.resume)
        _set_threads(cfg.threads)
        trainer = factory(cfg)
    except (ConfigError, EnvError, RunDirError, TeacherError, SourceError, ValueError, FileNotFoundError) as e:
        die(prog, str(e))
    try:
        summary = drive(trainer, cfg, run_dir, kind, ns.resume, progress=not ns.no_progress)
    except KeyboardInterrupt as e:
        sys.stderr.write(f"{prog}: {e or 'interrupted'}; resume with --resume --run-dir {run_dir}\n")
        return 130
    summary = {"run_dir": str(run_dir), "env": cfg.env, **summary, **finish(trainer, cfg)}
    write_summary(run_dir, summary)
    trainer.close()
    emit(summary, ns.json)
    return 0


def _logits_fn(actor):
    return lambda obs: actor(obs)[0]


# --------------------------------------------------------------------------- distill


def cmd_distill(argv: list[str]) -> int:
    from .distill import DistillConfig, DistillTrainer

    ns = _parse_run_command("distill", DistillConfig, argv)

    def prepare(cfg):
        if not cfg.teacher:
            raise ConfigError("--teacher is required (zoo name, run directory, SB3 .zip or state dict)")
        if not cfg.env:
            from .teachers import load_teacher

            t = load_teacher(cfg.teacher, None, cfg.teacher_arch, cfg.tau)
            if not t.env:
                raise ConfigError(f"teacher {cfg.teacher} does not record its environment: pass --env")
            cfg = dataclasses.replace(cfg, env=t.env)
        return cfg

    return _train_like(ns, "distill", DistillConfig, None, prepare, DistillTrainer, _eval_distill)


def _eval_distill(trainer, cfg) -> dict:
    out = {"loss": cfg.loss, "source": cfg.source, "student_params": trainer.n_params,
           "teacher_params": trainer.teacher.n_params,
           "param_fraction": trainer.n_params / max(1, trainer.teacher.n_params), "updates": trainer.updates}
    return {**out, **_eval_vs_teacher(trainer, cfg, trainer.teacher)}


def _eval_vs_teacher(trainer, cfg, teacher) -> dict:
    """Student and teacher, greedy, on the same episode seeds."""
    from .evaluate import evaluate, summarize

    out: dict = {}
    if cfg.eval_episodes <= 0:
        return out
    seed = 10_000 + cfg.seed
    s, _ = evaluate(_logits_fn(trainer.actor), cfg.env, cfg.eval_episodes, seed=seed,
                    max_episode_steps=cfg.max_episode_steps)
    t, _ = evaluate(lambda o: teacher.outputs(o).numpy(), cfg.env, cfg.eval_episodes, seed=seed,
                    max_episode_steps=cfg.max_episode_steps)
    ss, ts = summarize(s), summarize(t)
    out.update({"student_return": ss["mean_return"], "student_std": ss["std_return"],
                "teacher_return": ts["mean_return"], "teacher_std": ts["std_return"],
                "score_ratio": ss["mean_return"] / ts["mean_return"] if ts["mean_return"] else float("nan"),
                "episodes": ss["episodes"], "mean_return": ss["mean_return"],
                "student_returns": s.tolist(), "teacher_returns": t.tolist()})
    return out


def _set_threads(n: int) -> None:
    import torch

    if n < 1:
        raise ConfigError("--threads must be ≥ 1")
    torch.set_num_threads(n)


# --------------------------------------------------------------------------- kickstart


def cmd_kickstart(argv: list[str]) -> int:
    from .kickstart import KickstartConfig, make_kickstart_trainer
    from .presets import preset

    ns = _parse_run_command("kickstart", KickstartConfig, argv)

    def prepare(cfg):
        if not cfg.teacher:
            raise ConfigError("--teacher is required (zoo name, run directory, SB3 .zip or state dict)")
        if cfg.algo not in ("ppo", "a2c"):
            raise ConfigError(f"kickstarting needs --algo ppo or a2c, not {cfg.algo!r}")
        from .kickstart import SCHEDULES

        if cfg.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {cfg.schedule!r}; valid: {', '.join(SCHEDULES)}")
        return cfg

    def finish(trainer, cfg):
        out = {"teachers": list(cfg.teacher), "schedule": cfg.schedule, "lambda0": cfg.lambda0}
        out.update(_eval_vs_teacher(trainer, cfg, trainer.teachers[0]))
        return out

    return _train_like(ns, "kickstart", KickstartConfig, preset, prepare, make_kickstart_trainer, finish)


def cmd_report(argv: list[str]) -> int:
    p = OneLineParser(prog="distillrl report", description="Curves, λ traces and speed-up tables from run directories.")
    p.add_argument("runs", nargs="+", help="run directories (seeds of one config are grouped)")
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
    try:
        res = build_report(ns.runs, out, ns.target, ns.reference)
    except (ValueError, FileNotFoundError) as e:
        die("distillrl report", str(e))
    if ns.json:
        emit(res, True)
    else:
        print((Path(out) / "report.md").read_text())
        print(f"plots: {Path(out) / 'curves.png'}")
    return 0


# --------------------------------------------------------------------------- eval


def cmd_eval(argv: list[str]) -> int:
    p = OneLineParser(prog="distillrl eval", description="Evaluate a trained agent (greedy by default).")
    p.add_argument("source", help="run directory, checkpoint file or zoo name")
    p.add_argument("--env", help="environment (default: the one it was trained on)")
    p.add_argument("--episodes", type=int, default=30, help="evaluation episodes [default: 30]")
    p.add_argument("--seed", type=int, default=0, help="episode i uses reset seed SEED+i [default: 0]")
    p.add_argument("--stochastic", action="store_true", help="sample actions instead of argmax")
    p.add_argument("--max-episode-steps", type=int, default=None, help="cap episode length")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads [default: 1]")
    _common(p)
    ns = p.parse_args(argv)
    from .envs import EnvError, env_info
    from .evaluate import evaluate, summarize
    from .run import emit
    from .zoo import SourceError, load_agent

    try:
        _set_threads(ns.threads)
        if ns.episodes <= 0:
            raise ConfigError("--episodes must be positive")
        agent, meta = load_agent(ns.source)
        env = ns.env or meta["env"]
        info = env_info(env)
        if info.obs_shape != agent.info.obs_shape or info.n_actions != agent.info.n_actions:
            raise EnvError(f"{ns.source} was trained on {meta['env']} (obs {agent.info.obs_shape}, "
                           f"{agent.info.n_actions} actions); {env} has obs {info.obs_shape}, {info.n_actions} actions")
    except (ConfigError, EnvError, SourceError, ValueError, FileNotFoundError) as e:
        die("distillrl eval", str(e))
    from .actor import make_actor

    actor = make_actor(agent)
    import time

    t0 = time.perf_counter()
    rets, lens = evaluate(_logits_fn(actor), env, ns.episodes, seed=ns.seed, greedy=not ns.stochastic,
                          max_episode_steps=ns.max_episode_steps)
    wall = time.perf_counter() - t0
    summary = {"source": ns.source, "env": env, **summarize(rets), "steps": int(lens.sum()),
               "sps": float(lens.sum() / max(wall, 1e-9)), "greedy": not ns.stochastic}
    emit(summary, ns.json)
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
