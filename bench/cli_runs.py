"""One CLI run for the bench scripts: skipped when it has finished, resumed when it has a checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

EXE = str(Path(sys.executable).with_name("distillrl"))


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
