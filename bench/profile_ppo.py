"""Where one PPO iteration's time goes, phase by phase, in the library's run loop.

Wall-clock timers (``perf_counter``, ≈0.1 µs each; no cProfile, whose per-call cost distorts a
loop of small calls) are wrapped around the pieces of one trainer built exactly as
``distillrl train`` builds it, driven by :func:`distillrl.runs.loop.drive` (metrics, TensorBoard,
checkpoints):

* ``env``: the vector environment's ``step``;
* ``act``: the acting policy's forward and the action sampling (per step);
* ``rollout other``: the rest of the rollout (buffers, episode statistics, the behaviour
  log-probabilities, the bootstrap value);
* ``gae``: the estimator; ``batch``: flattening the rollout and the minibatch shuffle/indexing;
* ``forward``: the network on each minibatch; ``loss``: the PPO loss terms;
* ``backward + clip + adam``: :meth:`Learner.step` (weighted sum, backward, global-norm clip,
  optimizer step);
* ``update other``: the rest of the update (metric accumulation, learning-rate schedule, weight
  sync to the acting policy, explained variance, metric rows);
* ``loop``: the run loop's hooks (metrics.csv, TensorBoard, checkpoints).

    python bench/profile_ppo.py [--cases cartpole-mlp breakout-mlp breakout-minatar] [--frames 102400]
                                [--repeats 3] [--before-src /tmp/before/src] [--out bench/results/profile_ppo.json]

Each repeat is a fresh process. ``--before-src``: the same split of the code in another source tree
(a worktree of an earlier commit), alternating with this one repeat by repeat, stored as the
label ``before`` beside ``after``. The JSON keeps every repeat and the medians.
"""

from __future__ import annotations

import distillrl  # noqa: F401  (first: caps BLAS threads before NumPy loads)

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

torch.set_num_threads(1)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_speed import CASES, CLEANRL  # noqa: E402

PHASES = ["env", "act", "rollout other", "gae", "batch", "forward", "loss", "backward + clip + adam",
          "update other", "loop"]


class Timers:
    def __init__(self):
        self.t = {k: 0.0 for k in PHASES}
        self.t["collect"] = 0.0
        self.t["step"] = 0.0

    def wrap(self, name, fn):
        t = self.t

        def timed(*a, **k):
            s = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                t[name] += time.perf_counter() - s

        return timed


def profile_once(case: str, frames: int, seed: int) -> dict:
    from distillrl.algos import PPOConfig, TrainConfig, make_trainer
    from distillrl.algos import ppo as ppo_mod
    from distillrl.models.nets import NetConfig
    from distillrl.runs.loop import drive

    c = CASES[case]
    net = NetConfig(arch="mlp", hidden=(64, 64)) if c["net"] == "mlp" else NetConfig(arch="minatar")
    cfg = TrainConfig(env=c["env"], steps=frames, seed=seed, ppo=PPOConfig(**CLEANRL), net=net)
    tr = make_trainer(cfg)
    T = Timers()
    tr.envs.step = T.wrap("env", tr.envs.step)
    tr.worker._act = T.wrap("act", tr.worker._act)
    tr.collect_rollout = T.wrap("collect", tr.collect_rollout)
    gae0 = ppo_mod.estimate_gae
    ppo_mod.estimate_gae = T.wrap("gae", gae0)
    tr.agent.forward = T.wrap("forward", tr.agent.forward)
    tr._losses = T.wrap("loss", tr._losses)
    tr.learner.step = T.wrap("backward + clip + adam", tr.learner.step)
    mbs = tr._minibatches

    def minibatches(ro, batch):  # time the generator's own work (shuffle, indexing), not the forward inside
        it = mbs(ro, batch)
        while True:
            s = time.perf_counter()
            f0 = T.t["forward"]
            try:
                item = next(it)
            except StopIteration:
                T.t["batch"] += time.perf_counter() - s
                return
            T.t["batch"] += time.perf_counter() - s - (T.t["forward"] - f0)
            yield item

    tr._minibatches = minibatches
    import distillrl.core.data as data_mod

    flat0 = data_mod.Rollout.flatten
    data_mod.Rollout.flatten = T.wrap("batch", flat0)
    tr.step = T.wrap("step", tr.step)
    try:
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            s = drive(tr, cfg, Path(d) / "run", "train", resume=False, progress=False)
            total = time.perf_counter() - t0
    finally:
        ppo_mod.estimate_gae = gae0
        data_mod.Rollout.flatten = flat0
    t = T.t
    t["rollout other"] = t["collect"] - t["env"] - t["act"]
    t["update other"] = (t["step"] - t["collect"] - t["gae"] - t["batch"] - t["forward"] - t["loss"]
                         - t["backward + clip + adam"])
    t["loop"] = total - t["step"]
    iters = tr.frames // (CLEANRL["num_envs"] * CLEANRL["num_steps"])
    return {"frames": tr.frames, "sps": s["sps"], "total_s": total,
            "ms_per_iteration": {k: 1e3 * t[k] / iters for k in PHASES}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    ap.add_argument("--frames", type=int, default=102400)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--before-src", help="the src/ folder of the code before a change")
    ap.add_argument("--out", default="bench/results/profile_ppo.json")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # child: one case, prints JSON
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(profile_once(args.one, args.frames, args.seed)))
        return
    out = Path(args.out)
    doc: dict = {"command": " ".join(["python"] + sys.argv), "frames": args.frames, "splits": {}}
    labels = {"after": None}
    if args.before_src:
        if not (Path(args.before_src) / "distillrl" / "__init__.py").is_file():
            raise SystemExit(f"--before-src {args.before_src}: no distillrl package there")
        labels["before"] = str(Path(args.before_src).resolve())
    for label, src in labels.items():
        try:
            doc["splits"][label] = {"commit": subprocess.run(
                ["git", "-C", src or str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True,
                text=True).stdout.strip(), "cases": {}}
        except OSError:
            doc["splits"][label] = {"cases": {}}
    import os

    for case in args.cases:
        reps: dict[str, list] = {k: [] for k in labels}
        for r in range(args.repeats):  # each repeat a fresh process; the code versions alternate
            order = list(labels) if r % 2 == 0 else list(labels)[::-1]
            for label in order:
                env = dict(os.environ)
                if labels[label]:
                    env["PYTHONPATH"] = labels[label]
                p = subprocess.run([sys.executable, __file__, "--one", case, "--frames", str(args.frames),
                                    "--seed", str(1 + r)], capture_output=True, text=True, env=env)
                if p.returncode:
                    raise SystemExit(p.stderr[-2000:])
                reps[label].append(json.loads(p.stdout.strip().splitlines()[-1]))
        for label in labels:
            med = {k: statistics.median(x["ms_per_iteration"][k] for x in reps[label]) for k in PHASES}
            doc["splits"][label]["cases"][case] = {"repeats": reps[label], "median_ms_per_iteration": med,
                                                   "median_sps": statistics.median(x["sps"] for x in reps[label])}
        for k in PHASES:
            print(f"  {k:24s} " + "  ".join(f"{label} {doc['splits'][label]['cases'][case]['median_ms_per_iteration'][k]:7.2f} ms"
                                           for label in labels))
        print(f"{case}: " + ", ".join(f"{label} {doc['splits'][label]['cases'][case]['median_sps']:.0f} sps"
                                      for label in labels), flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
