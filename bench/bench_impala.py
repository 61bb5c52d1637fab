"""IMPALA and recurrent agents (issue 10): speed to a score, learning, kickstarting, scale, memory.

Every run is an ordinary run directory under ``runs/bench/impala/`` made by the CLI; ``collect``
copies what the tables rest on (config, summary, metrics, actors.json) to
``bench/results/impala/<part>/<run>/`` and writes ``bench/results/impala_<part>.json`` and plots.

* ``main`` — MinAtar Breakout, same network: synchronous PPO (the MinAtar preset) against IMPALA
  with K Ray actors on this 2-core machine, the same frames, alternating per seed. Wall-clock
  seconds (and frames) until the training return (mean of the last 100 episodes) first reaches
  ``--target``; frames per second; the learner's busy share; curves against frames and time.
* ``zoo`` — IMPALA against the zoo's tuned PPO recipe (64 envs, lr 5e-3, entropy 1e-4), 5 seeds;
  IMPALA gets about PPO's wall-clock (6M frames against PPO's 1.5M) and the time to each score is
  compared per seed.
* ``equaltime`` — IMPALA for about PPO's wall-clock in ``main`` (7M frames), same seeds.
* ``actors`` — IMPALA with K = 0 (in-process), 1, 2, 3 actors, one seed, a shorter budget:
  throughput, the learner's busy share and where the rest goes, policy lag.
* ``kickstart`` — IMPALA kickstarted by the zoo teacher against IMPALA from scratch, same
  budget, same seeds.
* ``memory`` — CartPole with the velocities hidden (``?keep=0+2``): PPO with an LSTM against
  the same PPO feed-forward.
* ``cluster`` — a head and a second Ray node on 127.0.0.1 (started and stopped here), IMPALA
  with actors spread over both.

    python bench/bench_impala.py main --seeds 1 2 3
    python bench/bench_impala.py equaltime --seeds 1 2 3
    python bench/bench_impala.py zoo --seeds 1 2 3 4 5
    python bench/bench_impala.py actors
    python bench/bench_impala.py kickstart --seeds 1 2 3
    python bench/bench_impala.py memory --seeds 1 2 3
    python bench/bench_impala.py cluster
    python bench/bench_impala.py collect
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cli_runs import EXE, run, zoo5m
from distillrl.core.stats import paired_difference, t_interval, verdict

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from loopback import loopback_cluster  # noqa: E402  (test support: loopback Ray nodes)

ROOT = Path("runs/bench/impala")
OUT = Path("bench/results")
ENV = "minatar:breakout"
IMPALA = ["--algo", "impala", "--impala.num-envs", "16", "--impala.num-steps", "20", "--impala.lr", "1e-3",
          "--impala.broadcast-every", "2", "--impala.log-every", "20000"]
"""the IMPALA recipe of every Breakout run, picked from short seed-1 runs with one actor (not
kept): 8 or 16 envs per actor, unrolls of 20 or 40, lr 5e-4 or 1e-3, broadcasts every 1 or 2
updates — no clear difference in learning at 0.4–1M frames; 16 envs and broadcasts every 2
updates kept the learner busiest. The learning rate anneals over the run, as PPO's."""
ZOO_PPO = ["--ppo.lr", "0.005", "--ppo.ent-coef", "0.0001", "--ppo.num-envs", "64"]
"""the zoo's tuned PPO recipe for Breakout (src/distillrl/zoo/minatar-breakout/meta.json's command):
64 envs × 128 steps, lr 5e-3 annealed, entropy 1e-4; the ``zoo`` part races IMPALA against it"""
IMPALA_ZOO = ["--algo", "impala", "--impala.num-envs", "32", "--impala.num-steps", "40", "--impala.lr", "3e-3",
              "--impala.ent-coef", "1e-4", "--impala.broadcast-every", "2", "--impala.log-every", "20000"]
"""IMPALA's recipe in the ``zoo`` race: the fastest to a return of 5 in wall-clock of six 1–1.5M-frame
pilots on seed 100 (not a race seed; bench/results/impala/zoo-pilot/): the §9 recipe, entropy 1e-4,
lr 2e-3 or 3e-3, 64 envs, or 32 envs × unrolls of 40 (this one: ≈ 44k frames/s). Every pilot sat on
Breakout's plateau near 5 by 1M frames; PPO's zoo recipe passed 15 in the same pilot."""
TARGETS = (5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 15.0)
"""training returns at which the time-to-score is read (the issue's example is 8)"""
MEMORY_ENV = "gym:CartPole-v1?keep=0+2"
MEMORY_PPO = ["--ppo.num-envs", "8", "--ppo.num-steps", "32", "--ppo.num-minibatches", "1", "--ppo.update-epochs", "20",
              "--ppo.lr", "1e-3", "--ppo.ent-coef", "0.0", "--ppo.gae-lambda", "0.8", "--ppo.gamma", "0.98",
              "--net.activation", "relu"]
"""RL Baselines3 Zoo's RecurrentPPO settings for CartPoleNoVel-v1 (8 envs × 32 steps, one minibatch,
20 epochs, λ 0.8, γ 0.98, lr 1e-3 annealed, no entropy bonus, ReLU); the zoo also normalises
observations, which we do not"""


# --------------------------------------------------------------------------- runs


def part_main(seeds: list[int], steps: int, actors: int) -> None:
    for s in seeds:
        common = ["--env", ENV, "--steps", str(steps), "--seed", str(s), "--eval-episodes", "30",
                  "--checkpoint-every", "500000"]
        run("train", ROOT / "main" / f"ppo-s{s}", common)
        run("train", ROOT / "main" / f"impala-k{actors}-s{s}", [*common, *IMPALA, "--actors", str(actors)])


def part_zoo(seeds: list[int], ppo_steps: int, impala_steps: int, actors: int) -> None:
    """IMPALA against the zoo's tuned PPO recipe (issue 29), alternating per seed. IMPALA gets
    about PPO's wall-clock (it runs ≈ 3× the frames per second), not its frames, so that the
    time to each score is read inside both runs; its learning rate anneals over its own budget."""
    for s in seeds:
        common = ["--env", ENV, "--seed", str(s), "--eval-episodes", "30", "--checkpoint-every", "1000000"]
        run("train", ROOT / "zoo" / f"ppo-s{s}", [*common, "--steps", str(ppo_steps), *ZOO_PPO])
        run("train", ROOT / "zoo" / f"impala-k{actors}-s{s}",
            [*common, "--steps", str(impala_steps), *IMPALA_ZOO, "--actors", str(actors)])


def part_equaltime(seeds: list[int], steps: int, actors: int) -> None:
    """IMPALA given PPO's wall-clock instead of its frames (``main``'s PPO took ≈ 7 minutes)."""
    for s in seeds:
        run("train", ROOT / "main" / f"impala-k{actors}-{steps / 1e6:g}M-s{s}",
            ["--env", ENV, "--steps", str(steps), "--seed", str(s), "--eval-episodes", "30",
             "--checkpoint-every", "1000000", *IMPALA, "--actors", str(actors)])


def part_actors(ks: list[int], steps: int) -> None:
    for k in ks:
        run("train", ROOT / "actors" / f"impala-k{k}", ["--env", ENV, "--steps", str(steps), "--seed", "1",
                                                         "--eval-episodes", "0", *IMPALA, "--actors", str(k)])


def part_kickstart(seeds: list[int], steps: int, actors: int) -> None:
    for s in seeds:
        run("train", ROOT / "kickstart" / f"scratch-k{actors}-s{s}",
            ["--env", ENV, "--steps", str(steps), "--seed", str(s), "--eval-episodes", "30", *IMPALA,
             "--actors", str(actors), "--checkpoint-every", "500000"])
        run("kickstart", ROOT / "kickstart" / f"kickstart-k{actors}-s{s}",
            ["--env", ENV, "--steps", str(steps), "--seed", str(s), "--eval-episodes", "30", *IMPALA,
             "--actors", str(actors), "--teacher", zoo5m("breakout"), "--schedule", "linear",
             "--decay-frames", str(steps // 2), "--checkpoint-every", "500000"])


def part_memory(seeds: list[int], steps: int) -> None:
    for s in seeds:
        common = ["--env", MEMORY_ENV, "--steps", str(steps), "--seed", str(s), "--eval-episodes", "30", *MEMORY_PPO]
        run("train", ROOT / "memory" / f"lstm-s{s}", [*common, "--net.lstm", "64"])
        run("train", ROOT / "memory" / f"ff-s{s}", common)


def part_cluster(steps: int, actors: int) -> None:
    run_dir = ROOT / "cluster" / f"impala-k{actors}-2nodes"
    if (run_dir / "summary.json").exists():
        return
    with loopback_cluster(2, "bi") as (address, env):
        cmd = [EXE, "train", "--env", ENV, "--steps", str(steps), "--seed", "1", "--eval-episodes", "10", *IMPALA,
               "--actors", str(actors), "--impala.actor-cpus", "1", "--address", address,
               "--run-dir", str(run_dir), "--no-progress", "--json"]
        t = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if p.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
        print(f"{run_dir}: {time.time() - t:.0f}s; placement {(run_dir / 'actors.json').read_text()}", flush=True)


# --------------------------------------------------------------------------- collect


def read_rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def num(r: dict, k: str) -> float:
    try:
        return float(r.get(k, "nan"))
    except ValueError:
        return math.nan


def curve(run_dir: Path) -> dict:
    """frames, wall-clock seconds (Σ Δframes / sps: everything between rows, Ray start included)
    and the training return of every metric row."""
    frames, secs, ret = [], [], []
    t, f0 = 0.0, 0.0
    for r in read_rows(run_dir):
        f = num(r, "frames")
        sps = num(r, "charts/sps")
        t += (f - f0) / sps if sps > 0 else 0.0
        f0 = f
        frames.append(f)
        secs.append(t)
        ret.append(num(r, "charts/return_recent"))
    return {"frames": frames, "seconds": secs, "return": ret}


def first_reach(c: dict, target: float) -> tuple[float | None, float | None]:
    for f, s, r in zip(c["frames"], c["seconds"], c["return"]):
        if r >= target:
            return f, s
    return None, None


def run_figures(run_dir: Path, target: float | None = None) -> dict:
    rows = read_rows(run_dir)
    c = curve(run_dir)
    s = json.loads((run_dir / "summary.json").read_text())
    out = {"run": str(run_dir), "frames": c["frames"][-1], "wall_s": c["seconds"][-1],
           "fps": c["frames"][-1] / c["seconds"][-1], "final_train_return": c["return"][-1],
           "final_greedy": s.get("student_return", s.get("mean_return")), "curve": c}
    if target is not None:
        out["frames_to_target"], out["seconds_to_target"] = first_reach(c, target)
    tail = rows[len(rows) // 5:]  # steady state: without the start-up rows
    for k in ("impala/learner_busy", "impala/wait", "impala/unpack", "impala/broadcast", "impala/overhead",
              "impala/policy_lag", "impala/policy_lag_max", "impala/actor_fps", "impala/rho_mean",
              "impala/rho_clipped", "charts/sps"):
        vals = [num(r, k) for r in tail if not math.isnan(num(r, k))]
        if vals:
            out[k.split("/")[1] + "_steady"] = sum(vals) / len(vals)
    if (run_dir / "actors.json").exists():
        out["actors"] = json.loads((run_dir / "actors.json").read_text())
    return out


def keep(run_dir: Path, part: str) -> None:
    dst = OUT / "impala" / part / run_dir.name
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("config.yaml", "summary.json", "metrics.csv", "actors.json"):
        if (run_dir / name).exists():
            shutil.copy2(run_dir / name, dst / name)


def finished(root: Path, part: str) -> list[Path]:
    """The summaries of the part's finished runs."""
    return sorted((root / part).glob("*/summary.json"))


def run_table(root: Path, part: str) -> list[dict]:
    """Keep the part's runs and return their figures (without curves)."""
    out = []
    for p in finished(root, part):
        keep(p.parent, part)
        out.append({k: v for k, v in run_figures(p.parent).items() if k != "curve"})
    return out


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def time_to_returns(groups: dict, imp_key: str) -> dict:
    """Seconds (and frames) to each training return in ``TARGETS``, IMPALA group ``imp_key``
    against PPO, per seed (PPO and IMPALA of a seed ran back to back); a target PPO never reached
    gives an upper bound on the ratio (IMPALA's time ÷ PPO's whole run), one IMPALA never reached a
    lower bound (IMPALA's whole run ÷ PPO's time)."""
    by_target = {}
    for tg in TARGETS:
        per_seed = {}
        for r in groups.get(imp_key, []):
            seed = r["run"].rsplit("-s", 1)[1]
            q = next((x for x in groups.get("ppo", []) if x["run"].endswith(f"-s{seed}")), None)
            if q is None:
                continue
            fi, ti = first_reach(r["curve"], tg)
            fp, tp = first_reach(q["curve"], tg)
            entry = {"impala_s": ti, "impala_frames": fi, "ppo_s": tp, "ppo_frames": fp}
            if ti is not None and tp is not None:
                entry["ratio"] = ti / tp
            elif ti is not None:
                entry["ratio_below"] = ti / q["wall_s"]  # PPO never reached it in its whole run
            elif tp is not None:
                entry["ratio_above"] = r["wall_s"] / tp  # IMPALA never reached it in its whole run
            per_seed[seed] = entry
        ratios = [e["ratio"] for e in per_seed.values() if "ratio" in e]
        by_target[str(tg)] = {"per_seed": per_seed, "median_ratio": median(ratios),
                              "impala_reached": sum(e["impala_s"] is not None for e in per_seed.values()),
                              "ppo_reached": sum(e["ppo_s"] is not None for e in per_seed.values())}
    return by_target


def race(root: Path, part: str, target: float, plt) -> dict | None:
    """PPO against IMPALA, per seed (``main`` and ``zoo``): speeds, finals, time to each score, plot."""
    for p in finished(root, part):
        keep(p.parent, part)
    # every kept run, so seeds added later (``runs/`` is not in git) join the ones kept before
    runs_ = finished(OUT / "impala", part)
    if not runs_:
        return None
    groups: dict[str, list] = {}
    for p in runs_:
        groups.setdefault(p.parent.name.rsplit("-s", 1)[0], []).append(run_figures(p.parent, target))
    summary = {}
    for g, runs in groups.items():
        summary[g] = {"seeds": len(runs), "fps_median": median([r["fps"] for r in runs]),
                      "wall_s_median": median([r["wall_s"] for r in runs]),
                      "final_train_return_mean": sum(r["final_train_return"] for r in runs) / len(runs),
                      "final_greedy_mean": sum(r["final_greedy"] for r in runs) / len(runs)}
        for k in ("learner_busy_steady", "wait_steady", "unpack_steady", "broadcast_steady", "overhead_steady",
                  "policy_lag_steady", "actor_fps_steady"):
            vals = [r[k] for r in runs if k in r]
            if vals:
                summary[g][k] = sum(vals) / len(vals)
    # time (and frames) to each training return, per seed and pair (PPO and IMPALA of one seed
    # ran one after the other); a target PPO never reached gives an upper bound ("<")
    summary["time_to_return"] = {g: time_to_returns(groups, g) for g in groups if g.startswith("impala")}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for j, (g, runs) in enumerate(sorted(groups.items(), key=lambda kv: kv[0] != "ppo")):
        color = f"C{j}"
        for i, r in enumerate(runs):
            c = r["curve"]
            axes[0].plot([f / 1e6 for f in c["frames"]], c["return"], color=color, alpha=0.7,
                         label=g if i == 0 else None)
            axes[1].plot([t / 60 for t in c["seconds"]], c["return"], color=color, alpha=0.7,
                         label=g if i == 0 else None)
    for ax, xl in zip(axes, ("frames (M)", "wall-clock (min)")):
        ax.axhline(target, ls=":", c="grey")
        ax.set_xlabel(xl)
        ax.set_ylabel("training return (last 100 episodes)")
        ax.legend()
    ppo = "the zoo's tuned PPO" if part == "zoo" else "synchronous PPO"
    fig.suptitle(f"MinAtar Breakout: {ppo} vs IMPALA on 2 cores")
    fig.tight_layout()
    fig.savefig(OUT / f"impala_{part}.png", dpi=110)
    plt.close(fig)
    return {"target": target, "groups": summary,
            "runs": {g: [{k: v for k, v in r.items() if k != "curve"} for r in rs] for g, rs in groups.items()}}


def memory_summary(root: Path, plt) -> dict | None:
    """LSTM against feed-forward on CartPole without velocities: every seed's run, kept under
    bench/results/impala/memory (so seeds run in another session count), final greedy score with a
    95 % t-interval over seeds and the LSTM − feed-forward difference paired by seed; the curves."""
    for p in finished(root, "memory"):
        keep(p.parent, "memory")
    kept = finished(OUT / "impala", "memory")
    if not kept:
        return None
    groups: dict = {}
    for p in kept:
        g, seed = p.parent.name.rsplit("-s", 1)
        groups.setdefault(g, {})[int(seed)] = run_figures(p.parent)
    out: dict = {"interval": "95% t-interval over seeds; the difference paired by seed"}
    for g, rs in sorted(groups.items()):
        seeds = sorted(rs)
        greedy = [rs[s]["final_greedy"] for s in seeds]
        out[g] = {"seeds": seeds, "final_greedy": greedy,
                  "final_train_return": [rs[s]["final_train_return"] for s in seeds],
                  "final_greedy_mean": sum(greedy) / len(greedy), "final_greedy_interval": t_interval(greedy)}
    if "lstm" in groups and "ff" in groups:
        d = paired_difference({s: r["final_greedy"] for s, r in groups["lstm"].items()},
                              {s: r["final_greedy"] for s, r in groups["ff"].items()})
        out["lstm_minus_ff"] = d | {"verdict": verdict(d)}
    fig, ax = plt.subplots(figsize=(6, 4))
    for j, (g, rs) in enumerate(sorted(groups.items())):
        for i, s in enumerate(sorted(rs)):
            c = rs[s]["curve"]
            ax.plot([f / 1e3 for f in c["frames"]], c["return"], color=f"C{j}", alpha=0.7,
                    label=g if i == 0 else None)
    ax.set_xlabel("frames (k)")
    ax.set_ylabel("training return")
    ax.set_title("CartPole, velocities hidden: PPO + LSTM vs feed-forward")
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "impala_memory.png", dpi=110)
    plt.close(fig)
    return out


def kickstart_by_seed(kept: Path) -> dict:
    """Kickstarted vs from-scratch IMPALA over every kept seed (issue 27): final greedy scores with
    95 % t-intervals over seeds, their difference paired by seed, the kickstarted student's % of its
    teacher (same episodes), and per seed the frames each run needed to reach the teacher's score.
    ``report``'s groups split where runs were made by different code versions; seeds pair here."""
    from distillrl.core.stats import paired_difference, t_interval

    runs: dict = {"kickstart": {}, "scratch": {}}
    teacher: dict = {}
    for p in sorted(kept.glob("*/summary.json")):
        kind, seed = p.parent.name.split("-")[0], int(p.parent.name.rsplit("-s", 1)[1])
        s = json.loads(p.read_text())
        runs[kind][seed] = s.get("student_return", s.get("mean_return"))
        if kind == "kickstart":
            teacher[seed] = s["teacher_return"]
    both = sorted(set(runs["kickstart"]) & set(runs["scratch"]))
    ks, sc = ({sd: runs[k][sd] for sd in both} for k in ("kickstart", "scratch"))
    frames = {kind: {str(sd): first_reach(curve(kept / f"{kind}-k1-s{sd}"), teacher[sd])[0] for sd in both}
              for kind in runs}
    return {"seeds": both, "interval": "95% t-interval over seeds; the difference paired by seed",
            "final_greedy": {"kickstart": {str(sd): v for sd, v in ks.items()},
                             "scratch": {str(sd): v for sd, v in sc.items()}},
            "teacher_greedy": {str(sd): teacher[sd] for sd in both},
            "frames_to_teacher_score": frames,
            "kickstart": t_interval(list(ks.values())), "scratch": t_interval(list(sc.values())),
            "kickstart_minus_scratch": paired_difference(ks, sc),
            "kickstart_pct_teacher": t_interval([100 * ks[sd] / teacher[sd] for sd in both])}


def collect(target: float, actors: int, root: Path = ROOT) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res: dict = {}
    for part in ("main", "zoo"):
        r = race(root, part, target, plt)
        if r is not None:
            res[part] = r
    if finished(root, "actors"):
        res["actors"] = run_table(root, "actors")
    ks = finished(root, "kickstart")
    if ks:
        for p in ks:
            keep(p.parent, "kickstart")
        # §5's table (frames to the teacher's score, speed-up vs the from-scratch group) from the
        # kept copies, so it can be re-derived from the repository
        kept = sorted(str(p.parent) for p in (OUT / "impala" / "kickstart").glob("*/summary.json"))
        p = subprocess.run([EXE, "report", *kept, "--out", str(OUT / "impala_kickstart"), "--json"],
                           capture_output=True, text=True)
        if p.returncode:
            raise SystemExit(f"report failed: {p.stderr[-1500:]}")
        res["kickstart"] = json.loads(p.stdout.strip().splitlines()[-1])
        res["kickstart"]["by_seed"] = kickstart_by_seed(OUT / "impala" / "kickstart")
    memory = memory_summary(root, plt)
    if memory:
        res["memory"] = memory
    if finished(root, "cluster"):
        res["cluster"] = run_table(root, "cluster")
    for part, v in res.items():
        (OUT / f"impala_{part}.json").write_text(json.dumps(
            {"command": f"python bench/bench_impala.py {part} ... && python bench/bench_impala.py collect", **(
                v if isinstance(v, dict) else {"runs": v})}, indent=1))
        print(part, json.dumps(v if part not in ("main", "zoo") else v["groups"], indent=1)[:3000])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parts", nargs="+", choices=["main", "zoo", "equaltime", "actors", "kickstart", "memory", "cluster", "collect",
                                                "memory-table"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--steps", type=int, default=None, help="frames per run (default: per part)")
    ap.add_argument("--impala-steps", type=int, default=6_000_000, help="IMPALA's frames in the zoo part")
    ap.add_argument("--actors", type=int, default=1, help="K of the main, kickstart runs")
    ap.add_argument("--target", type=float, default=8.0, help="training return for the time-to-score")
    a = ap.parse_args()
    for part in a.parts:
        if part == "main":
            part_main(a.seeds, a.steps or 3_000_000, a.actors)
        elif part == "zoo":
            part_zoo(a.seeds, a.steps or 1_500_000, a.impala_steps, a.actors)
        elif part == "equaltime":
            part_equaltime(a.seeds, a.steps or 7_000_000, a.actors)
        elif part == "actors":
            part_actors([0, 1, 2, 3], a.steps or 1_000_000)
        elif part == "kickstart":
            part_kickstart(a.seeds, a.steps or 1_000_000, a.actors)
        elif part == "memory":
            part_memory(a.seeds, a.steps or 200_000)
        elif part == "cluster":
            part_cluster(a.steps or 1_000_000, 4)
        elif part == "memory-table":  # the memory part's JSON and plot alone, from every kept seed
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            m = memory_summary(ROOT, plt)
            if m:
                (OUT / "impala_memory.json").write_text(json.dumps(
                    {"command": "python bench/bench_impala.py memory --seeds ... && python bench/bench_impala.py "
                                "memory-table", **m}, indent=1, default=float))
                print(json.dumps(m, indent=1, default=float)[:3000])
        else:
            collect(a.target, a.actors)


if __name__ == "__main__":
    main()
