"""The PPO loop's speed against CleanRL's ``ppo.py`` and Stable-Baselines3, same settings, same run.

Sides, each measured in a fresh subprocess with one torch thread, alternating (the order rotates
per repeat):

* **distillrl**: the library's run loop (:func:`distillrl.runs.loop.drive`): metrics.csv and
  TensorBoard rows per chunk, checkpoints, no progress bar — what ``distillrl train`` runs;
* **cleanrl**: CleanRL's ``ppo.py`` *as is* (``bench/peers/cleanrl_ppo.py``, byte-identical to
  github.com/vwxyzjn/cleanrl at the commit in ``bench/peers/README.md``; its SHA-256 is checked
  before each run), started by ``bench/peers/run_cleanrl.py``, which adds only what it needs to
  run here: one torch thread, ``--no-cuda``, a scratch working directory for its ``runs/``, and a
  flattened MinAtar id for the MLP case (CleanRL's MLP takes a flat observation);
* **sb3**: Stable-Baselines3's PPO with the same settings and network.

Frames/s is each side's own training rate: frames ÷ the time from the start of training (after
the environments and the network are built) to its end — CleanRL's own ``SPS`` line, the same
span for the others. The whole-process wall-clock (imports and set-up included) is kept too.

Cases: CleanRL's PPO settings (4 envs × 128 steps, 4 minibatches × 4 epochs, lr 2.5e-4 annealed,
GAE 0.95, clip 0.2, ent 0.01, vf 0.5, grad-clip 0.5) with CleanRL's 64×64 tanh MLP (separate
actor and critic) on CartPole-v1 and on MinAtar Breakout, and the MinAtar network (conv 16×3×3 →
FC 128, shared) on MinAtar Breakout (distillrl vs SB3: CleanRL has no MinAtar network).

    python bench/bench_speed.py [--cases cartpole-mlp breakout-mlp breakout-minatar] [--frames 51200]
                                [--repeats 3] [--before-src /tmp/before/src] [--out bench/results/speed.json]

``--before-src``: also measure the code of another source tree (a worktree of an earlier commit,
``git worktree add /tmp/before <commit>``) as the side ``before``, so a change's speed-up is read
in the same run as the peers.

Needs the ``bench`` extra (``pip install -e '.[bench]'``: tyro for CleanRL's command line, SB3).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER = HERE / "peers" / "cleanrl_ppo.py"
CLEANRL = dict(num_envs=4, num_steps=128, num_minibatches=4, update_epochs=4, lr=2.5e-4, anneal_lr=True, gamma=0.99,
               gae_lambda=0.95, clip_coef=0.2, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5)
"""CleanRL's ppo.py defaults (the same as ``bench_throughput.CLEANRL_PPO``, which builds the SB3 side;
kept here so the parent process need not import torch and SB3 to read them)"""
CASES = {
    "cartpole-mlp": dict(env="gym:CartPole-v1", net="mlp", cleanrl_id="CartPole-v1"),
    "breakout-mlp": dict(env="minatar:breakout", net="mlp", cleanrl_id="MinAtarFlat/Breakout-v1"),
    "breakout-minatar": dict(env="minatar:breakout", net="minatar", cleanrl_id=None),
}
SIDES = ("distillrl", "cleanrl", "sb3", "before")
"""``before``: distillrl's side run from another source tree (``--before-src``, e.g. a worktree of
an earlier commit): the same measurement on the code before a change, in the same run."""


def peer_sha256() -> str:
    m = re.search(r"sha256 ([0-9a-f]{64})", (HERE / "peers" / "README.md").read_text())
    return m.group(1) if m else ""


# --------------------------------------------------------------------------- one measurement (child process)


def one_distillrl(case: dict, frames: int, seed: int) -> dict:
    import distillrl  # noqa: F401  (first: caps BLAS threads before NumPy loads)
    import torch

    torch.set_num_threads(1)
    from distillrl.algos import PPOConfig, TrainConfig, make_trainer
    from distillrl.models.nets import NetConfig
    from distillrl.runs.loop import drive

    net = NetConfig(arch="mlp", hidden=(64, 64)) if case["net"] == "mlp" else NetConfig(arch="minatar")
    cfg = TrainConfig(env=case["env"], steps=frames, seed=seed, ppo=PPOConfig(**CLEANRL), net=net)
    tr = make_trainer(cfg)
    with tempfile.TemporaryDirectory() as d:
        s = drive(tr, cfg, Path(d) / "run", "train", resume=False, progress=False)
    return {"sps": s["sps"], "frames": tr.frames}


def one_sb3(case: dict, frames: int, seed: int) -> dict:
    import distillrl  # noqa: F401
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(HERE))
    from bench_throughput import sb3_ppo

    model = sb3_ppo(case["env"], case["net"] == "minatar", seed)
    t = time.perf_counter()
    model.learn(frames)
    return {"sps": model.num_timesteps / (time.perf_counter() - t), "frames": model.num_timesteps}


def one_cleanrl(case: dict, frames: int, seed: int) -> dict:
    if hashlib.sha256(PEER.read_bytes()).hexdigest() != peer_sha256():
        raise SystemExit(f"{PEER} differs from the CleanRL file recorded in bench/peers/README.md")
    cmd = [sys.executable, str(HERE / "peers" / "run_cleanrl.py"), "--env-id", case["cleanrl_id"],
           "--total-timesteps", str(frames), "--seed", str(seed), "--no-cuda"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"CleanRL failed ({out.returncode}): {out.stderr.strip().splitlines()[-1:]}")
    sps = [int(m) for m in re.findall(r"^SPS: (\d+)$", out.stdout, re.M)]
    if not sps:
        raise SystemExit("CleanRL printed no SPS line")
    return {"sps": float(sps[-1]), "frames": frames // (4 * 128) * 4 * 128}


def child(args) -> None:
    case = CASES[args.case]
    fn = {"distillrl": one_distillrl, "before": one_distillrl, "cleanrl": one_cleanrl, "sb3": one_sb3}[args.side]
    print(json.dumps(fn(case, args.frames, args.seed)), flush=True)


# --------------------------------------------------------------------------- the comparison (parent)


def measure(side: str, case: str, frames: int, seed: int, before_src: str | None = None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if side == "before":
        env["PYTHONPATH"] = before_src
    t = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "one", "--side", side, "--case", case, "--frames", str(frames),
                          "--seed", str(seed)], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if out.returncode:
        raise SystemExit(f"{side} on {case} failed: {out.stderr.strip()[-2000:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["process_wall_s"] = wall
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")
    one = sub.add_parser("one", help="one measurement (what the comparison runs in a subprocess)")
    one.add_argument("--side", choices=SIDES, required=True)
    one.add_argument("--case", choices=list(CASES), required=True)
    one.add_argument("--frames", type=int, required=True)
    one.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    ap.add_argument("--sides", nargs="+", choices=SIDES, default=["distillrl", "cleanrl", "sb3"])
    ap.add_argument("--before-src", help="the src/ folder of the code before a change (adds the side 'before')")
    ap.add_argument("--frames", type=int, default=51200, help="frames per measurement (a multiple of 512)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="bench/results/speed.json")
    args = ap.parse_args()
    if args.cmd == "one":
        return child(args)
    if args.frames <= 0 or args.frames % 512:
        raise SystemExit("--frames must be a positive multiple of 512 (4 envs × 128 steps)")
    if args.repeats < 1:
        raise SystemExit("--repeats must be ≥ 1")
    if args.before_src:
        if not (Path(args.before_src) / "distillrl" / "__init__.py").is_file():
            raise SystemExit(f"--before-src {args.before_src}: no distillrl package there")
        args.before_src = str(Path(args.before_src).resolve())
        if "before" not in args.sides:
            args.sides.append("before")
    elif "before" in args.sides:
        raise SystemExit("the side 'before' needs --before-src")
    sys.path.insert(0, str(HERE.parent / "src"))
    from distillrl.core.stats import fmt, t_interval

    import torch

    results = {"command": " ".join(["python"] + sys.argv), "machine": platform.processor() or platform.machine(),
               "torch": torch.__version__, "threads": 1, "frames": args.frames, "cases": []}
    try:
        results["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                           text=True).stdout.strip()
        if args.before_src:
            results["before_commit"] = subprocess.run(["git", "-C", args.before_src, "rev-parse", "--short", "HEAD"],
                                                      capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    try:
        import stable_baselines3

        results["sb3"] = stable_baselines3.__version__
    except ImportError:
        pass
    for case in args.cases:
        sides = [s for s in args.sides if not (s == "cleanrl" and CASES[case]["cleanrl_id"] is None)]
        runs: dict[str, list[dict]] = {s: [] for s in sides}
        for rep in range(args.repeats):
            order = sides[rep % len(sides):] + sides[:rep % len(sides)]
            for s in order:
                r = measure(s, case, args.frames, seed=1 + rep, before_src=args.before_src)
                r["repeat"] = rep
                runs[s].append(r)
                print(f"{case:18s} repeat {rep} {s:9s} {r['sps']:8.0f} sps  (process {r['process_wall_s']:.1f} s)",
                      flush=True)
        row = {"case": case, **{k: v for k, v in CASES[case].items()}, "runs": runs,
               "median_sps": {s: statistics.median(r["sps"] for r in runs[s]) for s in sides}}
        for peer in sides:
            if peer == "distillrl" or "distillrl" not in sides:
                continue
            ratios = [a["sps"] / b["sps"] for a, b in zip(runs["distillrl"], runs[peer])]
            ci = t_interval(ratios)
            row[f"ratio_vs_{peer}"] = {"per_repeat": ratios, **ci, "interval": "95% Student-t over repeats",
                                       "ratio_of_medians": row["median_sps"]["distillrl"] / row["median_sps"][peer]}
            print(f"{case:18s} distillrl ÷ {peer}: {fmt(ci, 2)}", flush=True)
        results["cases"].append(row)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
