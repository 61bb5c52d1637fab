"""PPO with continuous actions: distillrl vs CleanRL's ppo_continuous_action.py, same settings,
same machine, alternating.

Both run CleanRL's MuJoCo recipe (1 env × 2048 steps, 32 minibatches, 10 epochs, lr 3e-4 annealed,
γ 0.99, λ 0.95, clip 0.2, no entropy bonus, vf 0.5, grad-norm 0.5, 64-64 tanh actor and critic,
state-independent log σ, observation and reward normalisation clipped at ±10): distillrl through
its MuJoCo preset (``distillrl train --env gym:<Id>``), the peer as restated in
``bench/peers/cleanrl_ppo_continuous.py``. One torch thread each. For each seed the two runs go
one after the other, the order alternating between seeds. Reported per seed: training frames/s
(evaluation excluded) and the return at equal frames — the mean raw return of the training
episodes that finished in the last 10 % of the budget (the same definition for both). distillrl's
runs also evaluate 30 greedy episodes at the end (its zoo protocol).

    python bench/bench_ppo_continuous.py --env HalfCheetah-v5 --seeds 1 2 3 --frames 1000000 \
        --out bench/results/ppo_continuous_halfcheetah.json
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).with_name("distillrl"))


def tail_return(pairs: list[tuple[float, float]], frames: int, frac: float = 0.1) -> float:
    vals = [r for f, r in pairs if f > (1 - frac) * frames and math.isfinite(r)]
    return float(np.mean(vals)) if vals else math.nan


def ours(env: str, seed: int, frames: int, run_dir: Path) -> dict:
    cmd = [EXE, "train", "--env", f"gym:{env}", "--steps", str(frames), "--seed", str(seed), "--run-dir",
           str(run_dir), "--no-progress", "--json"]
    if run_dir.exists() and (run_dir / "summary.json").exists():
        s = json.loads((run_dir / "summary.json").read_text())
    else:
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"distillrl failed: {p.stderr[-2000:]}")
        s = json.loads(p.stdout.strip().splitlines()[-1])
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    pairs = [(float(r["frames"]), float(r["charts/episode_return"])) for r in rows
             if r.get("charts/episode_return") not in (None, "", "nan")]
    return {"sps": s["sps"], "wall_s": s["wall_s"], "frames": s["steps"], "tail_return": tail_return(pairs, frames),
            "eval_mean": s.get("mean_return"), "eval_ci95": s.get("ci95_return"), "eval_episodes": s.get("episodes"),
            "run_dir": str(run_dir), "command": " ".join(cmd[1:])}


def peer(env: str, seed: int, frames: int, out: Path) -> dict:
    if not out.exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "peers" / "cleanrl_ppo_continuous.py"), "--env-id", env,
                        "--seed", str(seed), "--total-timesteps", str(frames), "--out", str(out)], check=True,
                       capture_output=True)
    d = json.loads(out.read_text())
    return {"sps": d["sps"], "wall_s": d["wall_s"], "frames": d["frames"],
            "tail_return": tail_return([tuple(x) for x in d["episodes"]], frames)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", default="HalfCheetah-v5")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--runs", default="runs/bench_ppo_continuous")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    runs = Path(a.runs) / a.env
    runs.mkdir(parents=True, exist_ok=True)
    out = Path(a.out)
    res = json.loads(out.read_text()) if out.exists() else {}
    res.update({"env": a.env, "frames": a.frames, "machine": "2-core CPU, 1 torch thread per run"})
    per = {int(k): v for k, v in res.get("per_seed", {}).items()}
    for i, seed in enumerate(a.seeds):
        if seed in per and "ours" in per[seed] and "peer" in per[seed]:
            continue
        order = ("ours", "peer") if i % 2 == 0 else ("peer", "ours")
        r = {"order": list(order)}
        for who in order:
            t0 = time.time()
            r[who] = (ours(a.env, seed, a.frames, runs / f"ours-s{seed}") if who == "ours"
                      else peer(a.env, seed, a.frames, runs / f"peer-s{seed}.json"))
            print(f"seed {seed} {who}: {r[who]['sps']:.0f} sps, tail return {r[who]['tail_return']:.1f} "
                  f"({time.time() - t0:.0f} s)", flush=True)
        r["sps_ratio"] = r["ours"]["sps"] / r["peer"]["sps"]
        r["return_diff"] = r["ours"]["tail_return"] - r["peer"]["tail_return"]
        per[seed] = r
        res["per_seed"] = {str(k): v for k, v in sorted(per.items())}
        out.write_text(json.dumps(res, indent=1))
    from distillrl.core.stats import t_interval

    def ci(xs):  # 95 % t-interval over seeds (fewer than 2 values: no lo/hi)
        t = t_interval(xs)
        return t if t["n"] >= 2 else {"mean": t["mean"], "n": t["n"]}

    vals = list(per.values())
    res["summary"] = {"sps_ratio": ci([v["sps_ratio"] for v in vals]),
                      "ours_tail_return": ci([v["ours"]["tail_return"] for v in vals]),
                      "peer_tail_return": ci([v["peer"]["tail_return"] for v in vals]),
                      "return_diff": ci([v["return_diff"] for v in vals]),
                      "ours_eval_return": ci([v["ours"]["eval_mean"] for v in vals])}
    out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res["summary"], indent=1))


if __name__ == "__main__":
    main()
