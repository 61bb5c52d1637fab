"""The run commands: train, distill, kickstart, codistill, dataset."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from distillrl.cli.common import common_flags
from distillrl.config import OneLineParser, die
from distillrl.errors import ConfigError, DistillRLError

# Local imports by design: `distillrl --help` imports every cli module and must stay fast and free
# of torch and Ray, so each command imports what it runs (runs, scale, report, datasets, teachers,
# numpy, rich) inside its own function. Only the standard library, errors and config sit here.


def _run_command(name: str, argv: list[str]) -> int:
    """``--algo`` (and ``distill``'s ``--offline``) first, then the parser of that command and
    algorithm only (:func:`distillrl.runs.kinds.parse_command`)."""
    from distillrl.runs.kinds import parse_command

    try:
        k, ns = parse_command(name, argv)
    except DistillRLError as e:
        die(f"distillrl {name}", str(e))
    return _train_like(ns, k)


def cmd_train(argv: list[str]) -> int:
    # --algo dt learns from a dataset: its own options (distillrl.algos.dt.DTConfig)
    return _run_command("train", argv)


def cmd_distill(argv: list[str]) -> int:
    # --offline: distil Decision-Transformer teachers from their datasets (OfflineDistillConfig)
    return _run_command("distill", argv)


def cmd_kickstart(argv: list[str]) -> int:
    return _run_command("kickstart", argv)


def cmd_meta(argv: list[str]) -> int:
    """Meta-learning over a task family (ES + DPG adaptation, and baselines): distillrl.algos.meta."""
    return _run_command("meta", argv)


def _train_like(ns, k) -> int:
    """Shared driver: config → validation → run dir → trainer (restored on --resume) → drive → finish.

    Only :class:`errors.DistillRLError` (bad input) becomes a one-line message with exit 2;
    any other exception is a bug and keeps its traceback.
    """
    from distillrl.runs.kinds import build_config, run_job
    from distillrl.runs.rundir import default_run_dir, emit, prepare_run_dir

    prog = f"distillrl {k.name}"
    run_dir = Path(ns.run_dir) if ns.run_dir else None
    if ns.resume and run_dir is None:
        die(prog, "--resume needs --run-dir")
    try:
        if ns.resume:
            prepare_run_dir(run_dir, True)
        cfg = build_config(k, ns=ns, run_dir=run_dir, resume=ns.resume)
        run_dir = run_dir or default_run_dir(k.name, cfg.env, cfg.seed)
        summary = run_job(k, cfg, run_dir, ns.resume, progress=not ns.no_progress, plots=_report_plots)
    except DistillRLError as e:
        die(prog, str(e))
    except KeyboardInterrupt as e:
        sys.stderr.write(f"{prog}: {e or 'interrupted'}; resume with --resume --run-dir {run_dir}\n")
        return 130
    emit(summary, ns.json)
    return 0


def _report_plots(run_dir: Path) -> list[Path]:
    """``distillrl report``'s plots of one run (into RUN_DIR/report), for ``--track`` to log."""
    from distillrl.report.build import build_report

    out = run_dir / "report"
    build_report([run_dir], out)
    return sorted(out.glob("*.png"))


def cmd_codistill(argv: list[str]) -> int:
    """N peers on their own seeds, each distilling the mean of the others' stale policies (see distillrl.codistill)."""
    from distillrl.runs.kinds import Kind, build_config, parse_command
    from distillrl.runs.presets import preset
    from distillrl.runs.rundir import emit
    from distillrl.scale.codistill import CodistillConfig, run_codistill

    k = Kind("codistill", lambda: CodistillConfig, preset, lambda c: c, None, None)  # type: ignore[arg-type]
    _, ns = parse_command(k, argv)
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
    p.add_argument("--root", default=None, help="datasets folder (default: $MINARI_DATASETS_PATH when set, else "
                   "runs/datasets; Minari's layout, so minari.load_dataset finds what is written there)")
    p.add_argument("--teacher-arch", default=None, help="architecture of a state-dict teacher")
    common_flags(p)
    ns = p.parse_args(argv)
    from distillrl.datasets.writer import write_dataset
    from distillrl.runs.rundir import emit

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
