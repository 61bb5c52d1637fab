"""Learning check: `distillrl train --env gym:CartPole-v1 --steps 100000` with no other options,
5 seeds, greedy evaluation (30 episodes each). Target: median ≥ 500.

    python bench/bench_cartpole.py [--seeds 1 2 3 4 5] [--out bench/results/cartpole.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--out", default="bench/results/cartpole.json")
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("distillrl"))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for s in args.seeds:
            cmd = [exe, "train", "--env", "gym:CartPole-v1", "--steps", "100000", "--seed", str(s),
                   "--run-dir", f"{tmp}/s{s}", "--eval-episodes", "30", "--json", "--no-progress"]
            p = subprocess.run(cmd, capture_output=True, text=True, check=True)
            r = json.loads(p.stdout.strip().splitlines()[-1])
            results.append({"seed": s, "mean_return": r["mean_return"], "sps": r["sps"],
                            "wall_s": r["wall_s"]})
            print(f"seed {s}: greedy mean return {r['mean_return']:.1f} ({r['wall_s']:.0f} s)", flush=True)
    med = statistics.median(r["mean_return"] for r in results)
    out = {"command": "distillrl train --env gym:CartPole-v1 --steps 100000 --seed S (S = "
                      + " ".join(map(str, args.seeds)) + "), greedy eval 30 episodes",
           "runs": results, "median_of_seed_means": med, "target": 500}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"median over seeds: {med}")


if __name__ == "__main__":
    main()
