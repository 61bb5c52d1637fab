"""The ``distillrl`` command line.

    distillrl train --env ENV [--algo ppo|dqn] [--steps N] [--seed S] [--run-dir DIR] [--config FILE.yaml] [--resume]
    distillrl distill --teacher T [--env ENV] [--loss nll|mse|kl|cross_entropy|reverse_kl] [--tau X]
                      [--source teacher|student|dagger|eer] [--student-size F] [--steps N] [--seed S]
    distillrl kickstart --env ENV --teacher T [--teacher T2 ...] [--schedule constant|linear|exp|step|performance]
                        [--lambda0 X] [--steps N] [--seed S] [--run-dir DIR]
    distillrl report RUN_DIR... [--out DIR]
    distillrl eval AGENT [--env ENV] [--teacher-arch A] [--episodes N] [--json]   (AGENT: any teacher source)
    distillrl zoo [list|path NAME]
    distillrl envs [--family F]

``--json`` prints one JSON object (the command's summary) as the last line of stdout.
Bad input is one line on stderr and exit code 2; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .config import OneLineParser, add_dataclass_args, apply_args, die, from_dict, load_yaml
from .errors import ConfigError


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
    from .algos import TrainConfig, make_trainer
    from .presets import preset

    ns = _parse_run_command("train", TrainConfig, argv)
    return _train_like(ns, "train", TrainConfig, preset, lambda cfg: cfg, make_trainer, _eval_student)


def _parse_run_command(name: str, cls, argv: list[str]) -> argparse.Namespace:
    """Parser of a command that makes a run directory: run options + one flag per config field."""
    p = OneLineParser(prog=f"distillrl {name}", description=cls.__doc__)
    _run_options(p)
    add_dataclass_args(p, cls)
    return p.parse_args(argv)


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML file with config keys (flags override it)")
    p.add_argument("--run-dir", help="run directory (default: runs/<command>-<env>-s<seed>-<time>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --run-dir from its last checkpoint (or from frame 0 if it has none)")
    _common(p)


def _logits_fn(policy, task: int | None = None):
    """obs → logits of a fast acting policy (for one task of a multi-task agent when ``task``)."""
    import numpy as np

    if task is None:
        return lambda obs: policy(obs)[0]
    return lambda obs: policy(obs, np.full(len(obs), task))[0]


def _eval_student(trainer, cfg) -> dict:
    from .evaluate import evaluate, summarize

    if cfg.eval_episodes <= 0:
        return {}
    rets, _ = evaluate(_logits_fn(trainer.policy), cfg.env, cfg.eval_episodes, seed=10_000 + cfg.seed,
                       max_episode_steps=cfg.max_episode_steps)
    return summarize(rets)


def _train_like(ns, kind: str, cls, preset_fn, prepare, factory, finish) -> int:
    """Shared driver: config → validation → run dir → trainer (restored on --resume) → drive → finish.

    Only :class:`errors.DistillRLError` (bad input) becomes a one-line message with exit 2;
    any other exception is a bug and keeps its traceback.
    """
    from .config import validate
    from .envs import gym_id
    from .errors import DistillRLError
    from .run import default_run_dir, drive, emit, prepare_run_dir, restore, write_summary

    prog = f"distillrl {kind}"
    run_dir = Path(ns.run_dir) if ns.run_dir else None
    if ns.resume and run_dir is None:
        die(prog, "--resume needs --run-dir")
    try:
        if ns.resume:
            prepare_run_dir(run_dir, True)
        cfg = validate(prepare(build_config(cls, ns, run_dir, ns.resume, preset_fn)))
        gym_id(cfg.env)
        run_dir = run_dir or default_run_dir(kind, cfg.env, cfg.seed)
        prepare_run_dir(run_dir, ns.resume)
        _set_threads(cfg.threads)
        trainer = factory(cfg)
        if ns.resume:
            restore(trainer, run_dir)
    except DistillRLError as e:
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


# --------------------------------------------------------------------------- distill


def cmd_distill(argv: list[str]) -> int:
    from .algos.distill import DistillConfig, DistillTrainer

    ns = _parse_run_command("distill", DistillConfig, argv)

    def prepare(cfg):
        if not cfg.teacher:
            raise ConfigError("--teacher is required (zoo name, run directory, checkpoint, SB3 .zip or state dict)")
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


def _teacher_fn(teacher, task: int | None = None):
    import torch

    fast = getattr(teacher, "outputs_np", None)
    if fast is not None:
        return fast
    if task is None:
        return lambda o: teacher.outputs(o).numpy()
    return lambda o: teacher.outputs(o, torch.full((len(o),), task)).numpy()


def _eval_vs_teacher(trainer, cfg, teacher, task: int | None = None) -> dict:
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
    t, _ = evaluate(_teacher_fn(teacher, task), env, cfg.eval_episodes, seed=seed,
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

    torch.set_num_threads(n)


# --------------------------------------------------------------------------- kickstart


def cmd_kickstart(argv: list[str]) -> int:
    from .kickstart import KickstartConfig, make_kickstart_trainer
    from .presets import preset

    ns = _parse_run_command("kickstart", KickstartConfig, argv)

    def prepare(cfg):
        if not cfg.teacher:
            raise ConfigError("--teacher is required (zoo name, run directory, checkpoint, SB3 .zip or state dict)")
        return cfg

    def finish(trainer, cfg):
        """Each teacher against the student on the teacher's own task (the whole env if unbound)."""
        out = {"teachers": list(cfg.teacher), "schedule": cfg.schedule, "lambda0": cfg.lambda0}
        per = []
        for i, (t, task) in enumerate(zip(trainer.teachers, trainer.teacher_tasks)):
            r = _eval_vs_teacher(trainer, cfg, t, task)
            if i == 0:
                out.update(r)
            if r:
                per.append({"teacher": cfg.teacher[i] if i < len(cfg.teacher) else t.name, "task": task,
                            **{k: r[k] for k in ("student_return", "teacher_return", "score_ratio")}})
        if len(per) > 1:
            out["per_teacher"] = per
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
    from .errors import DistillRLError

    try:
        res = build_report(ns.runs, out, ns.target, ns.reference)
    except DistillRLError as e:
        die("distillrl report", str(e))
    if ns.json:
        emit(res, True)
    else:
        print((Path(out) / "report.md").read_text())
        print(f"plots: {Path(out) / 'curves.png'}")
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
    _common(p)
    ns = p.parse_args(argv)
    import time

    import numpy as np

    from .config import Domain
    from .envs import env_info
    from .errors import DistillRLError
    from .evaluate import evaluate, summarize
    from .run import emit
    from .teachers import load_teacher

    try:
        for flag, val, dom in (("--episodes", ns.episodes, "≥ 1"), ("--seed", ns.seed, "≥ 0"),
                               ("--threads", ns.threads, "≥ 1"), ("--tau", ns.tau, "> 0"),
                               ("--max-episode-steps", ns.max_episode_steps, "≥ 1")):
            if val is not None:
                Domain.parse(dom).check(val, flag)
        _set_threads(ns.threads)
        agent = load_teacher(ns.source, None, ns.arch, ns.tau)
        env = ns.env or agent.env
        if not env:
            raise ConfigError(f"{ns.source} does not record its environment: pass --env")
        agent.check_env(env_info(env))
    except DistillRLError as e:
        die("distillrl eval", str(e))
    fn = _teacher_fn(agent)
    if ns.stochastic:  # sample from the agent's policy (softmax(q/τ) for a Q-agent)
        fn = lambda o: np.log(np.clip(agent.probs(o).numpy(), 1e-12, None))  # noqa: E731
    t0 = time.perf_counter()
    rets, lens = evaluate(fn, env, ns.episodes, seed=ns.seed, greedy=not ns.stochastic,
                          max_episode_steps=ns.max_episode_steps)
    wall = time.perf_counter() - t0
    summary = {"source": ns.source, "env": env, "kind": agent.kind, **summarize(rets), "steps": int(lens.sum()),
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
