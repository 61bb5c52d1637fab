"""The zoo's published scores over several training seeds of each recipe (issue 27).

Each shipped teacher is one training run (its ``meta.json`` names the exact command and seed).
A reviewer asks whether that run is typical. ``run`` trains the same command again with other
seeds (only its closing evaluation is left out), evaluates each final checkpoint with the zoo's own protocol (``bench/make_zoo.py``: greedy,
100 episodes, reset seeds 0–99) and keeps the scores in ``bench/results/zoo_seeds.json``
(``<name>|<seed>``; a killed invocation continues where it stopped: finished seeds are skipped,
an unfinished run resumes from its checkpoint). ``table`` prints, per entry, the mean over the
training seeds (the shipped one included; its weights are scored again with this protocol where
``meta.json`` used fewer episodes) with its 95 % t-interval over seeds, every seed's
score, where the shipped seed ranks, and the verdict against the entry's reference; it writes
``zoo_seeds_table.json`` and ``zoo_seeds.png``.

    python bench/bench_zoo_seeds.py run --names minatar-breakout minatar-asterix --seeds 2 3 4 5
    python bench/bench_zoo_seeds.py table
"""

from __future__ import annotations

import distillrl  # noqa: F401  (first: caps BLAS threads before NumPy loads)

import argparse
import json
import math
import shlex
import time
from pathlib import Path

import numpy as np

from cli_runs import merge_json, run
from distillrl.core.stats import t_interval, verdict
from distillrl.teachers.zoo import ZOO_DIR

RESULTS = Path("bench/results")
OUT = RESULTS / "zoo_seeds.json"
RUNS = Path("runs/bench/zoo_seeds")
EPISODES = 100
# the current teachers (the `-5m` entries are kept only to reproduce older tables)
DEFAULT = ["minatar-breakout", "minatar-asterix", "minatar-freeway", "minatar-seaquest", "minatar-space_invaders",
           "minatar-breakout-pqn", "minatar-seaquest-pqn", "minatar-space_invaders-pqn", "minigrid-doorkey-8x8",
           "cartpole", "pendulum", "mujoco-halfcheetah", "mujoco-hopper"]


def meta(name: str) -> dict:
    p = ZOO_DIR / name / "meta.json"
    if not p.exists():
        raise SystemExit(f"{name}: not a zoo entry (no {p})")
    return json.loads(p.read_text())


def recipe(name: str) -> tuple[list[str], int]:
    """The train options of ``name``'s recorded command without its seed and run directory, and
    the seed it was trained with. A note after the command (in parentheses) is not part of it."""
    cmd = meta(name)["command"].split("  (", 1)[0]
    words = shlex.split(cmd)
    if words[:2] != ["distillrl", "train"]:
        raise SystemExit(f"{name}: its command is not a `distillrl train` command: {cmd}")
    args, seed, i = [], 1, 2
    while i < len(words):
        if words[i] in ("--seed", "--run-dir", "--eval-episodes"):
            if words[i] == "--seed":
                seed = int(words[i + 1])
            i += 2
            continue
        args.append(words[i])
        i += 1
    return args, seed


def evaluate_run(run_dir: Path, env: str) -> list[float]:
    """The zoo's protocol on a run's last checkpoint (as ``make_zoo.export``)."""
    from distillrl.acting.evaluate import evaluate
    from distillrl.models.fastpolicy import make_fast_policy
    from distillrl.teachers.zoo import load_agent

    agent, _ = load_agent(str(run_dir))
    actor = make_fast_policy(agent)
    rets, _ = evaluate(lambda o: actor(o)[0], env, EPISODES, seed=0, dist=agent.dist)
    return [float(r) for r in rets]


def part_run(names: list[str], seeds: list[int]) -> None:
    res = json.loads(OUT.read_text()) if OUT.exists() else {}
    for name in names:
        m = meta(name)
        args, shipped = recipe(name)
        if m["eval"].get("episodes") != EPISODES and f"{name}|{shipped}" not in res:
            # meta.json scored the shipped weights on fewer episodes: score them with this protocol too,
            # so every seed of the table is measured the same way (the weights are not retrained)
            rets = evaluate_run(ZOO_DIR / name, m["env"])
            entry = {"name": name, "seed": shipped, "env": m["env"], "frames": m.get("frames"), "shipped": True,
                     "score": float(np.mean(rets)), "returns": rets, "meta_score": m["eval"]["mean_return"],
                     "meta_episodes": m["eval"].get("episodes")}
            merge_json(OUT, {f"{name}|{shipped}": entry}, indent=1)
            res[f"{name}|{shipped}"] = entry
            print(f"{name} shipped seed {shipped}: {entry['score']:.2f} on {EPISODES} episodes "
                  f"({entry['meta_score']:.2f} on meta.json's {entry['meta_episodes']})", flush=True)
        for seed in seeds:
            key = f"{name}|{seed}"
            if key in res or seed == shipped:  # the shipped seed is never retrained
                continue
            rd = RUNS / name / f"s{seed}"
            t = time.time()
            # the run's own closing evaluation is skipped: the score is the zoo protocol's, below
            s = run("train", rd, [*args, "--seed", str(seed), "--eval-episodes", "0"])
            rets = evaluate_run(rd, m["env"])
            entry = {"name": name, "seed": seed, "env": m["env"], "frames": s.get("steps"),
                     "score": float(np.mean(rets)), "returns": rets, "train_eval_return": s.get("mean_return"),
                     "wall_s": s.get("wall_s", time.time() - t), "command": " ".join(["distillrl train", *args,
                                                                                        "--seed", str(seed)])}
            merge_json(OUT, {key: entry}, indent=1)
            res[key] = entry
            print(f"{name} seed {seed}: {entry['score']:.2f} (shipped seed {shipped}: "
                  f"{m['eval']['mean_return']:.2f})", flush=True)


def part_table() -> dict:
    res = json.loads(OUT.read_text()) if OUT.exists() else {}
    names = [n for n in DEFAULT if any(r["name"] == n for r in res.values())]
    out: dict = {"interval": "95% t-interval over training seeds (each seed's score: greedy, 100 episodes, "
                             "reset seeds 0-99)", "entries": {}}
    print("| teacher | reference | training seeds | greedy score per seed (shipped seed **bold**) | mean [95% t-interval "
          "over seeds] | median | seeds at or above the reference | shipped seed's rank | mean ≥ reference |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        m = meta(name)
        _, shipped = recipe(name)
        scores = {shipped: float(m["eval"]["mean_return"])}  # replaced by a 100-episode score where one was made
        scores.update({r["seed"]: r["score"] for r in res.values() if r["name"] == name})
        seeds = sorted(scores)
        xs = [scores[s] for s in seeds]
        iv = t_interval(xs)
        ref = m.get("reference")
        v = verdict(iv, ref) if ref is not None else "–"
        rank = 1 + sum(x > scores[shipped] for x in xs)
        above = sum(x >= ref for x in xs) if ref is not None else None
        median = float(np.median(xs))
        cells = ", ".join(f"**{scores[s]:.2f}**" if s == shipped else f"{scores[s]:.2f}" for s in seeds)
        lo, hi = iv.get("lo", math.nan), iv.get("hi", math.nan)
        print(f"| {name} | {ref if ref is not None else '–'} | {len(xs)} | {cells} | {iv['mean']:.2f} [{lo:.2f}, "
              f"{hi:.2f}] | {median:.2f} | {f'{above}/{len(xs)}' if above is not None else '–'} | {rank} of {len(xs)} | {v} |")
        out["entries"][name] = {"reference": ref, "shipped_seed": shipped, "scores": {str(s): scores[s] for s in seeds},
                                "interval": iv, "median": median, "seeds_at_or_above_reference": above,
                                "verdict": v, "shipped_rank": rank,
                                "shipped_over_mean": scores[shipped] / iv["mean"] if iv["mean"] else math.nan}
    (RESULTS / "zoo_seeds_table.json").write_text(json.dumps(out, indent=1, default=float) + "\n")
    if names:
        plot(out)
    return out


def plot(out: dict) -> None:
    """Every seed's score ÷ the reference (or ÷ the seeds' mean where there is none), the shipped
    seed marked: is the shipped teacher typical of its recipe?"""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(out["entries"])
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(names) + 2), 4))
    for i, name in enumerate(names):
        e = out["entries"][name]
        norm = abs(e["reference"] or e["interval"]["mean"] or 1.0)  # |.|: higher stays better for negative returns
        ys = {int(s): v / norm for s, v in e["scores"].items()}
        ax.scatter([i] * len(ys), list(ys.values()), c="tab:blue", s=18, zorder=2)
        ax.scatter([i], [ys[e["shipped_seed"]]], facecolors="none", edgecolors="tab:red", s=80, zorder=3,
                   label="shipped seed" if i == 0 else None)
        lo, hi = e["interval"].get("lo", math.nan), e["interval"].get("hi", math.nan)
        if math.isfinite(lo):
            ax.plot([i, i], [lo / norm, hi / norm], c="k", lw=1, zorder=1)
    ax.axhline(1.0, c="gray", ls="--", lw=0.8)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("score ÷ reference (÷ |seeds' mean| if none)")
    ax.set_title("The zoo's recipes over training seeds (line: 95% t-interval)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "zoo_seeds.png", dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["run", "table"])
    ap.add_argument("--names", nargs="+", default=DEFAULT, help="zoo entries (default: the current teachers)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[2, 3, 4, 5],
                    help="training seeds to add (an entry's shipped seed is never retrained)")
    a = ap.parse_args()
    if a.part == "run":
        part_run(a.names, a.seeds)
    part_table()


if __name__ == "__main__":
    main()
