"""The ``distillrl`` command line.

    distillrl train --env ENV [--algo ppo|a2c|dqn|pqn|impala] [--steps N] [--seed S] [--run-dir DIR] [--config FILE.yaml] [--resume]
    distillrl distill --teacher T [--env ENV] [--loss nll|mse|kl|cross_entropy|reverse_kl] [--tau X]
                      [--source teacher|student|dagger|eer] [--student-size F] [--steps N] [--seed S]
    distillrl kickstart --env ENV --teacher T [--teacher T2 ...] [--schedule constant|linear|exp|step|performance]
                        [--lambda0 X] [--steps N] [--seed S] [--run-dir DIR]
    distillrl codistill --env ENV --peers N [--psi X] [--exchange-every K] [--address HOST:PORT] [--in-process]
    distillrl meta --family point-nav|halfcheetah-vel|halfcheetah-dir|ant-dir [--method es-dpg|es-zero|fomaml|multitask]
                   [--k K] [--steps N] [--workers W] [--address HOST:PORT] [--run-dir DIR] [--resume]
    distillrl dataset --teacher T [--env ENV] --episodes N [--epsilon X] [--name ID] [--root DIR]
    distillrl pbt --config FILE.yaml [--population N] [--address HOST:PORT] [--run-dir DIR] [--resume]
    distillrl sweep --seeds 1-5 [--grid KEY=V1,V2] [--address HOST:PORT] [--run-dir DIR] -- COMMAND ARGS...
    distillrl report RUN_DIR... [--out DIR]   (a PBT experiment directory: its winning lineage)
    distillrl analyze effects RUN_DIR...   (what distillation gave: universe / domain / instance, over seeds)
    distillrl export RUN_DIR --out DIR [--episodes N]   (a hub-ready folder: weights, config.json, model card)
    distillrl eval AGENT [--env ENV] [--teacher-arch A] [--episodes N] [--json]   (AGENT: any teacher source)
    distillrl zoo [list|path NAME]
    distillrl envs [--family F]

``--json`` prints one JSON object (the command's summary) as the last line of stdout.
Bad input is one line on stderr and exit code 2; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import sys

from distillrl.cli.run_cmds import (
    cmd_codistill,
    cmd_dataset,
    cmd_distill,
    cmd_kickstart,
    cmd_meta,
    cmd_train,
)
from distillrl.cli.scale_cmds import cmd_pbt, cmd_sweep
from distillrl.cli.tools import cmd_analyze, cmd_demo, cmd_envs, cmd_eval, cmd_export, cmd_report, cmd_zoo
from distillrl.config import die

COMMANDS = {
    "demo": cmd_demo,
    "train": cmd_train,
    "distill": cmd_distill,
    "kickstart": cmd_kickstart,
    "codistill": cmd_codistill,
    "meta": cmd_meta,
    "dataset": cmd_dataset,
    "pbt": cmd_pbt,
    "sweep": cmd_sweep,
    "report": cmd_report,
    "analyze": cmd_analyze,
    "eval": cmd_eval,
    "export": cmd_export,
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
