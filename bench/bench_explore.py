"""Exploration and co-training (issue 12): RND, codistillation, IE-KD and the three-effects analysis.

* ``rnd``: a sparse-reward MiniGrid task (default DoorKey-16x16, the agent's 7×7 view) —
  PPO, PPO + RND, and a student kickstarted from the zoo's DoorKey-8x8 teacher with and
  without RND (a denser sibling task's teacher, as in Schmitt et al.'s laser-tag result),
  equal frames. Per run: the training curve, frames until the training return (mean of the
  last 100 episodes) first reaches 0.5 — most episodes succeed — and the greedy success rate
  over 30 episodes at the end.
* ``codistill``: N peers on a MinAtar game with ψ = 1 against the same N peers with ψ = 0
  (independent runs, identical otherwise), equal frames per peer: final greedy score, frames
  to a target (the independent peers' mean final training return) and churn.
* ``iekd``: IE-KD against plain KL distillation (the compression recipe of bench_claims.py) at
  7 % and 4 % student size.
* ``effects``: Tang et al.'s controls for one distillation: hard labels (NLL on the argmax),
  universe, domain, instance-removed and full KL; the share of the KD gain each level explains.

Results: ``bench/results/explore_<part>.json`` (finished entries are skipped on a rerun);
each run's config, metrics and summary under ``bench/results/explore/<part>/``.

    python bench/bench_explore.py rnd --seeds 1 2 3
    python bench/bench_explore.py codistill --peers 2 4 --seeds 1 2 3 --exchange-every 128
    python bench/bench_explore.py iekd --games asterix seaquest --seeds 1 2 3
    python bench/bench_explore.py iekd-sweep --games seaquest --sizes 0.07 --seeds 101 102
    python bench/bench_explore.py effects --games asterix --seeds 1 2 3
    python bench/bench_explore.py effects --setting losses --games space_invaders --seeds 1 2 3
"""

from __future__ import annotations

import distillrl  # noqa: F401  (first: caps BLAS threads before NumPy loads)

import argparse
import dataclasses
import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from bench_claims import PPO_RECIPE, curve, distill_run, first_reach, load, save
from cli_runs import EXE, run

torch.set_num_threads(1)
RESULTS = Path("bench/results")
RUNS = Path("runs/bench/explore")
DOORKEY16 = "minigrid:MiniGrid-DoorKey-16x16-v0?view=agent"
RND_VARIANTS = {
    "ppo": ("train", []),
    "ppo+rnd": ("train", ["--rnd"]),
    # issue 27: the extrinsic discount separated from RND (RND's default γ_ext is the paper's 0.999)
    "ppo-g999": ("train", ["--ppo.gamma", "0.999"]),
    "ppo+rnd-g99": ("train", ["--rnd", "--intrinsic.gamma-ext", "0.99"]),
    # σ_R over a moving window of rollouts (--intrinsic.return-norm ema)
    "ppo+rnd-ema": ("train", ["--rnd", "--intrinsic.return-norm", "ema"]),
    "ppo+rnd-ema-g99": ("train", ["--rnd", "--intrinsic.return-norm", "ema", "--intrinsic.gamma-ext", "0.99"]),
    "kickstart+rnd": ("kickstart", ["--rnd", "--teacher", "minigrid-doorkey-8x8"]),
    "kickstart": ("kickstart", ["--teacher", "minigrid-doorkey-8x8"]),
}


def keep(run_dir: Path, part: str, name: str) -> None:
    """Copy what a table rests on (config, metrics, summary) out of the ignored runs/ folder."""
    dst = RESULTS / "explore" / part / name
    dst.mkdir(parents=True, exist_ok=True)
    for f in ("config.yaml", "metrics.csv", "summary.json", "actors.json"):
        if (run_dir / f).exists():
            shutil.copy2(run_dir / f, dst / f)


# --------------------------------------------------------------------------- RND
def sampled_success(run_dir: Path, env: str, episodes: int = 30) -> float:
    """Success rate of the run's final agent *sampling* its policy (MiniGrid's usual protocol: a
    memoryless greedy policy loops forever in states it cannot tell apart), 30 episodes."""
    p = subprocess.run([EXE, "eval", str(run_dir), "--env", env, "--episodes", str(episodes), "--stochastic",
                        "--json"], capture_output=True, text=True, check=True)
    return float(json.loads(p.stdout.strip().splitlines()[-1])["success_rate"])


def part_rnd(env: str, variants: list[str], seeds, steps: int, decay: int, out: Path) -> None:
    res = load(out)
    for key, r in res.items():  # entries made before the sampled evaluation was added
        if "sampled_success_rate" not in r:
            rd = RUNS / "rnd" / f"{r['variant'].replace('+', '_')}_s{r['seed']}_{r['steps'] // 1000}k"
            r["sampled_success_rate"] = sampled_success(rd, r["env"])
            save(out, {key: r})
    for seed in seeds:
        for v in variants:
            key = f"{env}|{v}|{seed}|{steps}"
            if key in res:
                continue
            kind, extra = RND_VARIANTS[v]
            if kind == "kickstart":
                extra = [*extra, "--decay-frames", str(decay)]
            name = f"{v.replace('+', '_')}_s{seed}_{steps // 1000}k"
            if env != DOORKEY16:  # other tasks' runs get their own folders
                name = f"{env.split(':')[-1].split('?')[0].replace('MiniGrid-', '').lower()}_{name}"
            rd = RUNS / "rnd" / name
            s = run(kind, rd, ["--env", env, "--steps", str(steps), "--seed", str(seed), "--eval-episodes", "30",
                               *extra])
            x, y = curve(rd)
            keep(rd, "rnd", name)
            res[key] = {"env": env, "variant": v, "seed": seed, "steps": steps,
                        "frames_to_0.5": first_reach(x, y, 0.5), "frames_to_first_success": first_reach(x, y, 1e-9),
                        "success_rate": s.get("success_rate"), "mean_return": s.get("mean_return", s.get("student_return")),
                        "sampled_success_rate": sampled_success(rd, env),
                        "final_train_return": float(y[np.isfinite(y)][-1]) if np.isfinite(y).any() else 0.0,
                        "curve": [[float(a), float(b) if np.isfinite(b) else 0.0] for a, b in zip(x, y)],
                        "wall_s": s.get("wall_s"), "sps": s.get("sps")}
            save(out, res)


# --------------------------------------------------------------------------- codistillation
def part_codistill(game: str, peers_list, seeds, steps: int, exchange: int, psis, burn_in: int, out: Path) -> None:
    res = load(out)
    tag = f"|burn{burn_in}" if burn_in else ""
    for n in peers_list:
        for seed in seeds:
            for psi in psis:
                key = f"{game}|{n}|{psi}|{seed}|{steps}" + (tag if psi else "")
                if key in res:
                    continue
                rd = RUNS / "codistill" / (f"{game}_n{n}_psi{psi:g}_s{seed}_{steps // 1000}k"
                                           + (f"_burn{burn_in // 1000}k" if burn_in and psi else ""))
                if not (rd / "summary.json").exists():
                    resume = ["--resume"] if (rd / "config.yaml").exists() else []
                    cmd = [EXE, "codistill", "--env", f"minatar:{game}", "--peers", str(n), "--psi", str(psi),
                           "--exchange-every", str(exchange), "--steps", str(steps), "--seed", str(seed),
                           "--burn-in", str(burn_in if psi else 0),
                           "--eval-episodes", "30", *PPO_RECIPE, "--run-dir", str(rd), *resume, "--no-progress",
                           "--json"]
                    t = time.time()
                    p = subprocess.run(cmd, capture_output=True, text=True)
                    if p.returncode:
                        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
                    print(f"{rd}: {time.time() - t:.0f}s", flush=True)
                s = json.loads((rd / "summary.json").read_text())
                curves = []
                for i in range(n):
                    x, y = curve(rd / f"peer{i}")
                    keep(rd / f"peer{i}", "codistill", f"{rd.name}/peer{i}")
                    curves.append([[float(a), float(b) if np.isfinite(b) else 0.0] for a, b in zip(x, y)])
                shutil.copy2(rd / "summary.json", RESULTS / "explore" / "codistill" / rd.name / "summary.json")
                res[key] = {"game": game, "peers": n, "psi": psi, "seed": seed, "steps_per_peer": steps,
                            "burn_in": burn_in if psi else 0,
                            "exchange_every": exchange, "peer_returns": s["peer_returns"],
                            "mean_return": s["mean_return"], "churn": s["churn"], "churn_pairs": s["churn_pairs"],
                            "churn_states": s["churn_states"], "wall_s": s["wall_s"], "nodes": s.get("nodes"),
                            "curves": curves}
                save(out, res)


# --------------------------------------------------------------------------- IE-KD and the three effects
def part_iekd(games, sizes, seeds, steps: int, explore: float | None, out: Path,
              inherit: float | None = None) -> None:
    """Plain KL and IE-KD; with ``explore`` (and/or ``inherit``) only IE-KD with those weights
    (``iekd-explore0``: the inheritance half alone; ``iekd-i<a>-e<b>``: the tuned weights)."""
    from distillrl.terms.iekd import IEKDConfig

    if explore is None and inherit is None:
        methods, weights = ["kl", "iekd"], None
    else:
        d = IEKDConfig()
        weights = IEKDConfig(inherit=d.inherit if inherit is None else inherit,
                             explore=d.explore if explore is None else explore)
        methods = [f"iekd-explore{explore:g}" if inherit is None else
                   f"iekd-i{weights.inherit:g}-e{weights.explore:g}"]
    res = load(out)
    for game in games:
        for size in sizes:
            for seed in seeds:
                for method in methods:
                    key = f"{game}|{size}|{method}|{seed}|{steps}"
                    if key in res:
                        continue
                    kw = {} if method == "kl" else {"ie_kd": True}
                    if weights is not None:
                        kw["iekd"] = weights
                    r = distill_run(f"minatar-{game}", f"minatar:{game}", seed, steps, steps, student_size=size,
                                    updates_per_round=4, anneal_lr=True, **kw)
                    if "iekd" in r:
                        r["iekd"] = dataclasses.asdict(r["iekd"])
                    res[key] = {"game": game, "size": size, "method": method, **r}
                    save(out, res)


def part_iekd_sweep(games, sizes, seeds, steps: int, inherits, explores, out: Path) -> None:
    """IE-KD's two weights on a grid, on tuning seeds (not the seeds the comparison reports)."""
    for i in inherits:
        for e in explores:
            part_iekd(games, sizes, seeds, steps, e, out, inherit=i)


EFFECTS = {"hard": {"loss": "nll"}, "universe": {"kd_control": "universe"}, "domain": {"kd_control": "domain"},
           "instance_removed": {"kd_control": "instance"}, "full": {}}


def part_effects(games, size: float, seeds, steps: int, setting: str, variants, out: Path) -> None:
    """``setting`` compression: the policy teacher into a student of ``size`` (the compression
    recipe); losses: Rusu et al.'s loss study — the PQN Q-teacher (softmax(q/τ), τ = 1), teacher-driven
    data, a student of the teacher's size (where KL beat NLL by most in §10)."""
    res = load(out)
    for game in games:
        for seed in seeds:
            for name in variants:
                kw = EFFECTS[name]
                if setting == "losses":
                    key = f"{game}|pqn|{name}|{seed}|{steps}"
                    if key in res:
                        continue
                    res[key] = {"game": game, "size": 1.0, "setting": setting, "variant": name,
                                **distill_run(f"minatar-{game}-pqn", f"minatar:{game}", seed, steps, steps,
                                              source="teacher", tau=1.0, **kw)}
                else:
                    key = f"{game}|{size}|{name}|{seed}|{steps}"
                    if key in res:
                        continue
                    res[key] = {"game": game, "size": size, "setting": setting, "variant": name,
                                **distill_run(f"minatar-{game}", f"minatar:{game}", seed, steps, steps,
                                              student_size=size, updates_per_round=4, anneal_lr=True, **kw)}
                save(out, res)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["rnd", "codistill", "iekd", "iekd-sweep", "effects"])
    ap.add_argument("--env", default=DOORKEY16, help="rnd: the sparse task")
    ap.add_argument("--variants", nargs="+", default=list(RND_VARIANTS), choices=list(RND_VARIANTS))
    ap.add_argument("--games", nargs="+", default=None)
    ap.add_argument("--peers", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--exchange-every", type=int, default=32)
    ap.add_argument("--psi", type=float, nargs="+", default=[1.0, 0.0], help="codistill: ψ values (0: independent)")
    ap.add_argument("--burn-in", type=int, default=0, help="codistill: frames before the term switches on")
    ap.add_argument("--sizes", type=float, nargs="+", default=[0.07, 0.04])
    ap.add_argument("--iekd-explore", type=float, default=None, help="iekd: ablation with this exploration weight")
    ap.add_argument("--iekd-inherit", type=float, default=None, help="iekd: IE-KD with this inheritance weight")
    ap.add_argument("--grid-inherit", type=float, nargs="+", default=[0.1, 1.0], help="iekd-sweep: inheritance weights")
    ap.add_argument("--grid-explore", type=float, nargs="+", default=[0.0, 0.05, 0.5],
                    help="iekd-sweep: exploration weights")
    ap.add_argument("--size", type=float, default=0.07, help="effects: the student's size")
    ap.add_argument("--setting", choices=["compression", "losses"], default="compression",
                    help="effects: which distillation to explain")
    ap.add_argument("--effects", nargs="+", default=list(EFFECTS), choices=list(EFFECTS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--decay", type=int, default=300_000, help="rnd: kickstarting's λ reaches 0 here")
    a = ap.parse_args()
    if a.part == "rnd":
        part_rnd(a.env, a.variants, a.seeds, a.steps or 600_000, a.decay, RESULTS / "explore_rnd.json")
    elif a.part == "codistill":
        part_codistill((a.games or ["breakout"])[0], a.peers, a.seeds, a.steps or 300_000, a.exchange_every,
                       a.psi, a.burn_in, RESULTS / "explore_codistill.json")
    elif a.part == "iekd":
        part_iekd(a.games or ["asterix", "seaquest"], a.sizes, a.seeds, a.steps or 300_000, a.iekd_explore,
                  RESULTS / "explore_iekd.json", inherit=a.iekd_inherit)
    elif a.part == "iekd-sweep":
        part_iekd_sweep(a.games or ["seaquest"], a.sizes, a.seeds, a.steps or 300_000, a.grid_inherit,
                        a.grid_explore, RESULTS / "explore_iekd_sweep.json")
    else:
        part_effects(a.games or ["asterix"], a.size, a.seeds, a.steps or 300_000, a.setting, a.effects,
                     RESULTS / "explore_effects.json")


if __name__ == "__main__":
    main()
