"""ES throughput of `distillrl meta`: perturbations evaluated per second with 0 (in-process), 1 and
2 Ray workers on this machine, alternating order per repeat, and one run on a 2-node loopback
Ray cluster (each node offers 1 CPU, so the two workers land on different nodes).

    python bench/bench_meta_throughput.py --repeats 3 --out bench/results/meta_throughput.json

One evaluation = one antithetic perturbation of θ adapted by K DPG steps on one task and scored
there (the fitness job a worker runs). The rate is evaluations over the time spent in
generations (Ray start-up and the final held-out evaluation excluded: `meta/wall_s`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cli_runs import EXE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from loopback import loopback_cluster  # noqa: E402  (test support: loopback Ray nodes)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from distillrl.core.stats import t_interval  # noqa: E402


def one(run_dir: Path, workers: int, seed: int, frames: int, extra: list[str], env=None, population: int = 16) -> dict:
    if not (run_dir / "summary.json").exists():
        shutil.rmtree(run_dir, ignore_errors=True)
        cmd = [EXE, "meta", "--family", "point-nav", "--method", "es-dpg", "--seed", str(seed), "--steps",
               str(frames), "--population", str(population), "--tasks-per-gen", "2", "--eval-every", "0", "--eval-k", "1",
               "--test-tasks", "4", "--workers", str(workers), "--run-dir", str(run_dir), "--no-progress", "--json",
               *extra]
        t = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if p.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
        print(f"{run_dir.name}: {time.time() - t:.0f} s", flush=True)
    s = json.loads((run_dir / "summary.json").read_text())
    return {"evaluations_per_s": s["evaluations_per_s"], "train_wall_s": s["train_wall_s"],
            "generations": s["generations"], "nodes": s["nodes"], "workers": s["workers"], "run_dir": str(run_dir)}


def cluster(root: Path, frames: int, population: int) -> dict:
    run_dir = root / "cluster-w2-2nodes"
    if (run_dir / "summary.json").exists():
        return one(run_dir, 2, 1, frames, [], population=population)
    with loopback_cluster(1, "bm") as (address, env):
        return one(run_dir, 2, 1, frames, ["--address", address], env=env, population=population)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--frames", type=int, default=150_000)
    ap.add_argument("--population", type=int, default=16)
    ap.add_argument("--workers", nargs="+", default=["0", "1", "2"], help="worker counts to time (1 and 2 needed)")
    ap.add_argument("--runs", default="runs/bench_meta_throughput")
    ap.add_argument("--no-cluster", action="store_true")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    root = Path(a.runs)
    per: dict[str, list[dict]] = {w: [] for w in a.workers}
    for r in range(a.repeats):
        order = [w for w in (["1", "2", "0"] if r % 2 == 0 else ["2", "1", "0"]) if w in per]
        for w in order:
            per[w].append(one(root / f"w{w}-r{r}", int(w), 1, a.frames, [], population=a.population)
                          | {"repeat": r, "position": order.index(w)})
    ratios = [b["evaluations_per_s"] / o["evaluations_per_s"] for o, b in zip(per["1"], per["2"])]
    out = {"command": "python bench/bench_meta_throughput.py " + " ".join(sys.argv[1:]),
           "setup": f"point-nav, es-dpg, K=1, population {a.population} × 2 tasks = {2 * a.population} evaluations per "
                    "generation; 2-core CPU, 1 torch thread per worker",
           "per_workers": per,
           "rate": {w: t_interval([x["evaluations_per_s"] for x in v]) for w, v in per.items()},
           "ratio_2_over_1": t_interval(ratios) | {"per_repeat": ratios, "target": 1.8}}
    lo = out["ratio_2_over_1"]["lo"]
    out["verdict"] = "met" if lo >= 1.8 else "not met"
    if not a.no_cluster:
        out["cluster"] = cluster(root, a.frames, a.population)
    Path(a.out).write_text(json.dumps(out, indent=1))
    print(json.dumps({k: out[k] for k in ("rate", "ratio_2_over_1", "verdict")} | {"cluster": out.get("cluster")},
                     indent=1))


if __name__ == "__main__":
    main()
