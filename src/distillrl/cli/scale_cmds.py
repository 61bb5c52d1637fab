"""Populations and sweeps: pbt, sweep."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from distillrl.cli.common import common_flags
from distillrl.config import OneLineParser, die
from distillrl.errors import DistillRLError

# Local imports by design: `distillrl --help` imports every cli module and must stay fast and free
# of torch and Ray, so each command imports what it runs (runs, scale, report, datasets, teachers,
# numpy, rich) inside its own function. Only the standard library, errors and config sit here.

PBT_EPILOG = """experiment YAML (distillrl pbt --print-config [train|kickstart|distill|meta] writes a commented one):
  command: kickstart          what each member runs: train, kickstart, distill or meta
  population: 4               members (≥ 2)
  config: {...}               the command's own keys, as in its --config YAML (env, steps, teacher, ...)
  pbt: {...}                  interval (frames between ready points), selection (ttest|truncation|none),
                              window, pvalue, quantile, select_episodes, resample_probability, factors, burn_in,
                              init (prior|config), seed, max_failures, cpus_per_member
  priors:                     the tuned hyper-parameters, each {min, max, log}
    lr: {min: 1.0e-4, max: 2.0e-3, log: true}

At a ready point a member that exploits copies its donor's whole state: weights, optimizer,
hyper-parameters and its frame counter, so that member's curve may jump: the first metric row
after the copy names the donor and its frames (columns pbt/copied_from, pbt/copied_at)."""


def cmd_pbt(argv: list[str]) -> int:
    """Population-based training of train/kickstart/distill/meta runs on Ray Tune (see distillrl.pbt)."""
    p = OneLineParser(prog="distillrl pbt", description=cmd_pbt.__doc__, epilog=PBT_EPILOG,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="experiment YAML: command, population, config, pbt, priors (see below; "
                   "--print-config writes a commented template)")
    p.add_argument("--stop", metavar="RUN", help="stop the population in experiment directory RUN: its distillrl "
                   "driver and the Ray processes it started (nothing else on the machine), and exit; "
                   "--resume continues it later")
    p.add_argument("--print-config", nargs="?", const="kickstart", metavar="COMMAND",
                   help="print a commented experiment YAML for COMMAND (train, kickstart, distill or meta; default "
                   "kickstart) with every key, its default and domain, and exit")
    p.add_argument("--population", type=int, default=None, help="members (overrides the file) [≥ 2]")
    p.add_argument("--address", default=None,
                   help="join the Ray cluster at HOST:PORT (default: start Ray on this machine)")
    p.add_argument("--run-dir", default=None, help="experiment directory (default: runs/pbt-<env>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the experiment in --run-dir (Ray Tune restore)")
    common_flags(p)
    ns = p.parse_args(argv)
    from distillrl.runs.rundir import emit

    if ns.stop:
        from distillrl.scale.raytune import stop_session

        if not (Path(ns.stop) / "pbt.yaml").is_file():
            die("distillrl pbt", f"--stop: {ns.stop} holds no PBT experiment (pbt.yaml)")
        st = stop_session(Path(ns.stop), driver_too=True)
        sys.stdout.write(f"stopped {st['stopped']} processes of {ns.stop}" + ("" if st["session"] else
                         " (it recorded no Ray session)") + "; continue it with --resume\n")
        return 0
    if ns.print_config:
        from distillrl.scale.pbt import live_names
        from distillrl.scale.population import COMMANDS, yaml_template

        if ns.print_config not in COMMANDS:
            die("distillrl pbt", f"--print-config: unknown command {ns.print_config!r}; valid: {', '.join(COMMANDS)}")
        sys.stdout.write(yaml_template(ns.print_config, live_names(ns.print_config)))
        return 0
    if not ns.config and not ns.resume:
        die("distillrl pbt", "--config FILE.yaml is required (distillrl pbt --print-config writes a template)")
    if ns.resume and not ns.run_dir:
        die("distillrl pbt", "--resume needs --run-dir")
    try:
        from distillrl.scale.pbt import load_pbt_config, run_pbt

        if ns.resume:
            if not (Path(ns.run_dir) / "pbt.yaml").is_file():
                die("distillrl pbt", f"cannot resume: {ns.run_dir} holds no PBT experiment (pbt.yaml)")
            cfg = load_pbt_config(Path(ns.run_dir) / "pbt.yaml")
        else:
            cfg = load_pbt_config(ns.config, ns.population)
        env = str(cfg.config.get("env", "env")).replace(":", "-").replace("/", "-")
        run_dir = Path(ns.run_dir or f"runs/pbt-{env}-{time.strftime('%Y%m%d-%H%M%S')}")
        summary = run_pbt(cfg, run_dir, ns.address, ns.resume, progress=not ns.no_progress)
    except DistillRLError as e:
        die("distillrl pbt", str(e))
    finally:
        from distillrl.scale.raytune import shutdown_ray

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
    common_flags(p)
    ns = p.parse_args(own)
    from distillrl.runs.rundir import emit

    if not rest:
        die("distillrl sweep", "name the command to sweep after --, e.g. distillrl sweep --seeds 1-3 -- kickstart ...")
    try:
        from distillrl.scale.sweep import run_sweep

        summary = run_sweep(rest[0], rest[1:], ns.seeds, ns.grid, Path(ns.run_dir) if ns.run_dir else None,
                            ns.address, ns.cpus_per_run, ns.max_failures, ns.resume, progress=not ns.no_progress)
    except DistillRLError as e:
        die("distillrl sweep", str(e))
    finally:
        from distillrl.scale.raytune import shutdown_ray

        shutdown_ray()
    emit(summary, ns.json)
    return 0 if not summary["failed"] else 1
