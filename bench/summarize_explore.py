"""Tables (markdown, printed) and plots for BENCHMARKS §11 from bench/results/explore_*.json.

    python bench/summarize_explore.py            # every part that has results
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from bench_claims import RESULTS
from bench_claims import load as load_json
from summarize_claims import ci95


def load(name: str) -> dict:
    return load_json(RESULTS / f"explore_{name}.json")


def fmt_frames(xs) -> str:
    """Median frames over seeds; a seed that never got there counts as slowest ('never' if most never did)."""
    xs = [math.inf if (x is None or math.isnan(x)) else x for x in xs]
    reached = sum(np.isfinite(xs))
    med = float(np.median(xs))
    if not np.isfinite(med):
        return f"never ({reached}/{len(xs)} reached it)"
    return f"{med / 1e3:,.0f}k ({reached}/{len(xs)} reached it)"


def mean_curve(curves, grid):
    ys = [np.interp(grid, np.array(c)[:, 0], np.array(c)[:, 1]) for c in curves if len(c)]
    return np.mean(ys, 0) if ys else None


def rnd_table() -> None:
    res = load("rnd")
    if not res:
        return
    by = defaultdict(list)
    for r in res.values():
        by[(r["env"], r["variant"])].append(r)
    print("| task | variant | seeds | success rate, 30 sampled episodes (per seed) | greedy success rate | "
          "frames until training return ≥ 0.5 | frames to the first success | final training return |")
    print("|---|---|---|---|---|---|---|---|")
    for (env, v), rs in sorted(by.items(), key=lambda kv: (kv[0][0], list(RND_ORDER).index(kv[0][1]))):
        sr = [r.get("sampled_success_rate", math.nan) for r in rs]
        gr = [r["success_rate"] or 0.0 for r in rs]
        print(f"| {env.split(':', 1)[1]} | {v} | {len(rs)} | {np.mean(sr):.2f} ({', '.join(f'{s:.2f}' for s in sr)}) | "
              f"{np.mean(gr):.2f} | "
              f"{fmt_frames([r['frames_to_0.5'] for r in rs])} | "
              f"{fmt_frames([r['frames_to_first_success'] for r in rs])} | "
              f"{np.mean([r['final_train_return'] for r in rs]):.3f} |")
    print()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for (env, v), rs in sorted(by.items(), key=lambda kv: list(RND_ORDER).index(kv[0][1])):
        grid = np.linspace(0, max(r["steps"] for r in rs), 200)
        for r in rs:
            c = np.array(r["curve"])
            ax.plot(c[:, 0], c[:, 1], color=RND_ORDER[v], alpha=0.25, lw=0.8)
        ax.plot(grid, mean_curve([r["curve"] for r in rs], grid), color=RND_ORDER[v], lw=2, label=v)
    ax.set_xlabel("frames")
    ax.set_ylabel("training return (last 100 episodes)")
    ax.set_title("DoorKey-16x16 (agent view): mean of seeds, seeds faint")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "explore_rnd.png", dpi=120)
    print("![RND curves](bench/results/explore_rnd.png)\n")


RND_ORDER = {"ppo": "tab:gray", "ppo+rnd": "tab:blue", "kickstart": "tab:orange", "kickstart+rnd": "tab:red"}


def final_train(curve) -> float:
    ys = [y for _, y in curve]
    return float(ys[-1]) if ys else math.nan


def codistill_table() -> None:
    res = load("codistill")
    if not res:
        return
    by = defaultdict(list)
    for r in res.values():
        by[(r["peers"], r["psi"], r.get("burn_in", 0))].append(r)
    print("| peers | ψ | seeds | greedy score, mean over peers (per seed) | frames to the target (80% of the independent "
          "peers' final training return), median over peers | churn, mean [95% CI over seeds] | churn vs independent |")
    print("|---|---|---|---|---|---|---|")
    for n in sorted({k[0] for k in by}):
        ind = by.get((n, 0.0, 0), [])
        # the target: 80% of the independent peers' mean final training return (so they all reach it)
        target = 0.8 * float(np.mean([final_train(c) for r in ind for c in r["curves"]])) if ind else math.nan
        churn_ind = np.mean([r["churn"] for r in ind]) if ind else math.nan
        for (_, psi, burn) in sorted(k for k in by if k[0] == n):
            rs = by[(n, psi, burn)]
            scores = [r["mean_return"] for r in rs]
            frames = []
            for r in rs:
                for c in r["curves"]:
                    c = np.array(c)
                    ok = np.nonzero(c[:, 1] >= target)[0]
                    frames.append(float(c[ok[0], 0]) if len(ok) else math.nan)
            ch = [r["churn"] for r in rs]
            rel = np.mean(ch) / churn_ind if churn_ind else math.nan
            label = "0 (independent)" if psi == 0 else f"{psi:g} (codistilled" + (
                f", from {burn / 1e3:,.0f}k frames)" if burn else ")")
            print(f"| {n} | {label} | {len(rs)} | {np.mean(scores):.2f} ({', '.join(f'{s:.1f}' for s in scores)}) | "
                  f"{fmt_frames(frames)} (target {target:.2f}) | {np.mean(ch):.3f} [{np.mean(ch) - ci95(ch):.3f}, "
                  f"{np.mean(ch) + ci95(ch):.3f}] | {rel:.2f}× |")
    print()


def distill_table(name: str, key: str) -> dict:
    res = load(name)
    by = defaultdict(list)
    for r in res.values():
        game = r["game"] + (" (PQN Q-teacher, teacher-driven, τ = 1)" if r.get("setting") == "losses" else "")
        by[(game, r["size"], r[key])].append(100 * r["ratio"])
    return by


def iekd_table() -> None:
    by = distill_table("iekd", "method")
    if not by:
        return
    ablations = sorted({m for _, _, m in by if m.startswith("iekd-")})
    print("| game | student size | plain KL, % of teacher [95% CI] | IE-KD, % of teacher [95% CI] | seeds |"
          + "".join(f" {m} |" for m in ablations))
    print("|---|---|---|---|---|" + "---|" * len(ablations))
    for game, size in sorted({(g, s) for g, s, _ in by}, key=lambda t: (t[0], -t[1])):
        kl, ie = by.get((game, size, "kl"), []), by.get((game, size, "iekd"), [])
        cell = lambda x: f"{np.mean(x):.1f} [{np.mean(x) - ci95(x):.1f}, {np.mean(x) + ci95(x):.1f}]" if x else "–"  # noqa: E731
        print(f"| {game} | {100 * size:g}% | {cell(kl)} | {cell(ie)} | {min(len(kl), len(ie))} |"
              + "".join(f" {cell(by.get((game, size, m), []))} |" for m in ablations))
    print()


def effects_table() -> None:
    by = distill_table("effects", "variant")
    if not by:
        return
    for game, size in sorted({(g, s) for g, s, _ in by}):
        m = {v: float(np.mean(by[(game, size, v)])) for v in ("hard", "universe", "domain", "instance_removed", "full")
             if (game, size, v) in by}
        print(f"**{game}, student at {100 * size:g}% of the teacher** (% of teacher, mean over seeds [95% CI])\n")
        print("| target | what the student is given | % of teacher |")
        print("|---|---|---|")
        what = {"hard": "the teacher's argmax (NLL)", "universe": "label smoothing of the argmax (mean confidence)",
                "domain": "the class-mean distribution of its argmax", "instance_removed":
                "the teacher's distribution, confidence set to the mean", "full": "the teacher's distribution (KL)"}
        for v, val in m.items():
            x = by[(game, size, v)]
            print(f"| {v} | {what[v]} | {val:.1f} [{val - ci95(x):.1f}, {val + ci95(x):.1f}] |")
        if {"hard", "universe", "domain", "instance_removed", "full"} <= set(m):
            gain = m["full"] - m["hard"]
            parts = {"universe (label smoothing)": m["universe"] - m["hard"],
                     "domain (class relationships)": m["domain"] - m["universe"],
                     "instance (per-state rescaling)": m["full"] - m["instance_removed"]}
            print(f"\nGain of full KD over hard labels: {gain:+.1f} points.\n")
            print("| effect | points | share of the gain |")
            print("|---|---|---|")
            for k, v in parts.items():
                print(f"| {k} | {v:+.1f} | {100 * v / gain:.0f}% |" if gain else f"| {k} | {v:+.1f} | – |")
            rest = gain - sum(parts.values())
            print(f"| not explained by the three | {rest:+.1f} | {100 * rest / gain:.0f}% |" if gain else "")
        print()


if __name__ == "__main__":
    rnd_table()
    codistill_table()
    iekd_table()
    effects_table()
