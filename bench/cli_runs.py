"""One CLI run for the bench scripts: skipped when it has finished, resumed when it has a checkpoint."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

EXE = str(Path(sys.executable).with_name("distillrl"))


def merge_json(out: Path, entries: dict, indent: int = 2) -> None:
    """Write ``entries`` merged over the JSON object in ``out`` (atomically). Several invocations
    (e.g. one per core) may share one results file: the read-merge-write holds an exclusive lock
    on its folder, so no one's entries are lost."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        res = {**(json.loads(out.read_text()) if out.exists() else {}), **entries}
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(res, indent=indent) + "\n")
        tmp.replace(out)
    finally:
        os.close(fd)  # releases the lock


def zoo5m(game: str) -> str:
    """The zoo teacher the tables of issues 3–10 were made with: the first, 5M-frame PPO teachers
    (``minatar-<game>-5m``; Freeway's is still the zoo's ``minatar-freeway``)."""
    return "minatar-freeway" if game == "freeway" else f"minatar-{game}-5m"


def run(kind: str, run_dir: Path, args: list[str]) -> dict:
    """``distillrl KIND ARGS --run-dir RUN_DIR --json``; returns its summary (printed in one line)."""
    if (run_dir / "summary.json").exists():
        return json.loads((run_dir / "summary.json").read_text())
    resume = ["--resume"] if (run_dir / "checkpoints/last.safetensors").exists() else []
    cmd = [EXE, kind, *args, "--run-dir", str(run_dir), *resume, "--no-progress", "--json"]
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    s = json.loads(p.stdout.strip().splitlines()[-1])
    score = s.get("student_return", s.get("mean_return", float("nan")))
    suite = f", suite {s['geomean_ratio']:.3f}" if "geomean_ratio" in s else ""
    print(f"{run_dir}: {score:.2f}{suite} in {time.time() - t:.0f}s", flush=True)
    return s
