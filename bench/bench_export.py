"""The size and contents of an exported model card (issue 28): ``distillrl export`` on a
kickstarted MinAtar Breakout student (bench_claims.py kickstart, seed 4, λ → 0 at 250k), its
files and their sizes, and the time the export takes (the 30-episode evaluation included).
The card's README.md and config.json are kept under bench/results/export_card/ (model.safetensors
is not: it is rebuilt by the command).

    python bench/bench_export.py --run runs/bench/claims/kickstart/breakout/s4_decay250000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

EXE = str(Path(sys.executable).with_name("distillrl"))
OUT = Path("bench/results/export_card")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="runs/bench/claims/kickstart/breakout/s4_decay250000")
    ap.add_argument("--episodes", type=int, default=30)
    a = ap.parse_args()
    card = Path("runs/bench/export") / Path(a.run).name
    shutil.rmtree(card, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([EXE, "export", a.run, "--out", str(card), "--episodes", str(a.episodes)], check=True)
    wall = time.perf_counter() - t
    files = {f.name: f.stat().st_size for f in sorted(card.iterdir())}
    cfg = json.loads((card / "config.json").read_text())
    OUT.mkdir(parents=True, exist_ok=True)
    for f in ("README.md", "config.json"):
        shutil.copy2(card / f, OUT / f)
    res = {"run": a.run, "command": f"distillrl export {a.run} --out {card} --episodes {a.episodes}",
           "wall_s": wall, "files": files, "total_bytes": sum(files.values()), "params": cfg["params"],
           "eval": {k: cfg["eval"][k] for k in ("mode", "episodes", "mean_reward", "std_reward")},
           "config_keys": sorted(cfg), "teachers": [t.get("source") for t in cfg["teachers"]]}
    (OUT / "summary.json").write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
