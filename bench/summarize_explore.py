"""Tables (markdown, printed) and plots for BENCHMARKS §11 from bench/results/explore_*.json.

    python bench/summarize_explore.py            # every part that has results
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from bench_claims import RESULTS
from bench_claims import load as load_json
from distillrl.core.stats import fmt, paired_difference, t_interval, verdict
from distillrl.report.effects import attribute, markdown


def tcell(x, digits: int = 1) -> str:
    """mean [95% t-interval over seeds] (the table states n)"""
    return fmt(t_interval(x), digits, show_n=False)


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


def stays_above(curve, level: float) -> float:
    """First frame from which the training curve never falls below ``level`` again (NaN: it ends
    below). Unlike the first crossing, one lucky early episode (a mean over few episodes) does
    not count."""
    c = np.array(curve, float)
    if len(c) == 0 or c[-1, 1] < level:
        return math.nan
    below = np.nonzero(c[:, 1] < level)[0]
    return float(c[below[-1] + 1, 0]) if len(below) else float(c[0, 0])


def task_label(env: str) -> str:
    """``minigrid:MiniGrid-DoorKey-8x8-v0?view=agent`` → ``DoorKey-8x8-v0``."""
    return env.split(":", 1)[1].split("?")[0].replace("MiniGrid-", "")


def mean_train_return(curve) -> float:
    """Mean training return over the run (area under the curve ÷ its points)."""
    return float(np.mean(np.array(curve)[:, 1]))


def rnd_table() -> None:
    res = load("rnd")
    if not res:
        return
    by = defaultdict(list)
    for r in res.values():
        by[(r["env"], r["variant"], r["steps"])].append(r)
    print("| task | frames | variant | seeds | solved (sampled success ≥ 0.5) | success rate, 30 sampled episodes: mean "
          "[95% t-interval over seeds] (per seed) | greedy success rate | frames until the training return stays "
          "≥ 0.5 | frames to the first success | final training return |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (env, v, steps), rs in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][2], list(RND_ORDER).index(kv[0][1]))):
        rs = sorted(rs, key=lambda r: r["seed"])
        sr = [r.get("sampled_success_rate", math.nan) for r in rs]
        gr = [r["success_rate"] or 0.0 for r in rs]
        print(f"| {env.split(':', 1)[1]} | {steps / 1e3:,.0f}k | {v} | {len(rs)} | {sum(x >= 0.5 for x in sr)}/{len(rs)} | "
              f"{tcell(sr, 2)} ({', '.join(f'{s:.2f}' for s in sr)}) | "
              f"{np.mean(gr):.2f} | "
              f"{fmt_frames([stays_above(r['curve'], 0.5) for r in rs])} | "
              f"{fmt_frames([r['frames_to_first_success'] for r in rs])} | "
              f"{np.mean([r['final_train_return'] for r in rs]):.3f} |")
    print()
    # RND against PPO alone, paired by seed, wherever both ran on one task and budget
    pairs = sorted({(e, n) for e, v, n in by if v == "ppo+rnd" and (e, "ppo", n) in by}, key=lambda k: (k[0], k[1]))
    for env, steps in pairs:
        rnd = {r["seed"]: r for r in by[(env, "ppo+rnd", steps)]}
        ppo = {r["seed"]: r for r in by[(env, "ppo", steps)]}
        d_s = paired_difference({k: r.get("sampled_success_rate", math.nan) for k, r in rnd.items()},
                                {k: r.get("sampled_success_rate", math.nan) for k, r in ppo.items()})
        d_a = paired_difference({k: mean_train_return(r["curve"]) for k, r in rnd.items()},
                                {k: mean_train_return(r["curve"]) for k, r in ppo.items()})
        print(f"- {task_label(env)}, {steps / 1e3:,.0f}k, ppo+rnd − ppo paired by seed (n = {d_s['n']}): sampled success "
              f"{fmt(d_s, 2, show_n=False)} → **{verdict(d_s)}**; mean training return over the run "
              f"{fmt(d_a, 3, show_n=False)} → **{verdict(d_a)}**")
    if pairs:
        print()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for env, steps in sorted({(e, n) for e, _, n in by}):
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for (e, v, n), rs in sorted(by.items(), key=lambda kv: list(RND_ORDER).index(kv[0][1])):
            if (e, n) != (env, steps):
                continue
            grid = np.linspace(0, max(r["steps"] for r in rs), 200)
            for r in rs:
                c = np.array(r["curve"])
                ax.plot(c[:, 0], c[:, 1], color=RND_ORDER[v], alpha=0.25, lw=0.8)
            ax.plot(grid, mean_curve([r["curve"] for r in rs], grid), color=RND_ORDER[v], lw=2, label=v)
        ax.set_xlabel("frames")
        ax.set_ylabel("training return (last 100 episodes)")
        name = task_label(env)
        ax.set_title(f"{name}, {steps / 1e3:,.0f}k frames (mean of seeds; seeds faint)", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        png = "explore_rnd.png" if "16x16" in env and steps == 600_000 else f"explore_rnd_{name.lower()}_{steps // 1000}k.png"
        fig.savefig(RESULTS / png, dpi=120)
        plt.close(fig)
        print(f"![RND curves, {name}, {steps / 1e3:,.0f}k frames](bench/results/{png})\n")


RND_ORDER = {"ppo": "tab:gray", "ppo-g999": "black", "ppo+rnd": "tab:blue", "ppo+rnd-g99": "tab:cyan",
             "ppo+rnd-ema": "tab:green", "ppo+rnd-ema-g99": "tab:olive", "kickstart": "tab:orange",
             "kickstart+rnd": "tab:red"}


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
          "peers' final training return), median over peers | churn, mean [95% t-interval over seeds] | "
          "churn ÷ independent churn, paired by seed [95% t-interval] | at least halved (≤ 0.5×) |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sorted({k[0] for k in by}):
        ind = by.get((n, 0.0, 0), [])
        # the target: 80% of the independent peers' mean final training return (so they all reach it)
        target = 0.8 * float(np.mean([final_train(c) for r in ind for c in r["curves"]])) if ind else math.nan
        churn_ind = {int(r["seed"]): r["churn"] for r in ind}
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
            rel = t_interval([r["churn"] / churn_ind[int(r["seed"])] for r in rs if int(r["seed"]) in churn_ind])
            label = "0 (independent)" if psi == 0 else f"{psi:g} (codistilled" + (
                f", from {burn / 1e3:,.0f}k frames)" if burn else ")")
            print(f"| {n} | {label} | {len(rs)} | {np.mean(scores):.2f} ({', '.join(f'{s:.1f}' for s in scores)}) | "
                  f"{fmt_frames(frames)} (target {target:.2f}) | {tcell(ch, 3)} | {fmt(rel, 2, '×', show_n=False)} | "
                  f"{'–' if psi == 0 else verdict(rel, 0.5, higher_is_better=False)} |")
    print()


def distill_table(name: str, key: str) -> dict:
    """(game, size, ``key``) → {seed: % of teacher}"""
    res = load(name)
    by: dict = defaultdict(dict)
    for r in res.values():
        game = r["game"] + (" (PQN Q-teacher, teacher-driven, τ = 1)" if r.get("setting") == "losses" else "")
        by[(game, r["size"], r[key])][int(r["seed"])] = 100 * r["ratio"]
    return by


def iekd_table() -> None:
    """% of the teacher per method, and IE-KD (and each ablation) − plain KL paired by seed."""
    by = distill_table("iekd", "method")
    if not by:
        return
    ablations = sorted({m for _, _, m in by if m.startswith("iekd-")})
    print("| game | student size | plain KL, % of teacher [95% t-interval] | IE-KD, % of teacher [95% t-interval] | seeds |"
          + "".join(f" {m} |" for m in ablations)
          + " IE-KD − KL, points [95% paired t-interval] | verdict |")
    print("|---|---|---|---|---|" + "---|" * len(ablations) + "---|---|")
    for game, size in sorted({(g, s) for g, s, _ in by}, key=lambda t: (t[0], -t[1])):
        kl, ie = by.get((game, size, "kl"), {}), by.get((game, size, "iekd"), {})
        cell = lambda x: tcell(list(x.values())) if x else "–"  # noqa: E731
        d = paired_difference(ie, kl)
        print(f"| {game} | {100 * size:g}% | {cell(kl)} | {cell(ie)} | {min(len(kl), len(ie))} |"
              + "".join(f" {cell(by.get((game, size, m), {}))} |" for m in ablations)
              + f" {fmt(d, show_n=False)} (n = {d['n']}) | {verdict(d)} |")
    print()


def effects_table() -> None:
    """Tang et al.'s attribution, paired by seed, through the same code as ``distillrl analyze
    effects`` (report.effects). Entries of the first, argmax-changing instance control are kept
    in the JSON as ``instance_removed_v1`` and shown beside the fixed control, not used."""
    res = load("effects")
    if not res:
        return
    groups: dict = defaultdict(lambda: defaultdict(dict))
    for r in res.values():
        game = r["game"] + (" (PQN Q-teacher, teacher-driven, τ = 1)" if r.get("setting") == "losses" else "")
        groups[(game, r["size"])][r["variant"]][int(r["seed"])] = 100 * r["ratio"]
    for (game, size), scores in sorted(groups.items()):
        print(f"**{game}, student at {100 * size:g}% of the teacher**\n")
        print(markdown(attribute(dict(scores)), "% of teacher"))
        old = scores.get("instance_removed_v1")
        if old:
            print(f"(first instance control, which could change the argmax: {tcell(list(old.values()))}, "
                  f"n = {len(old)}; the fixed control on the same seeds: "
                  f"{tcell([scores['instance_removed'][s] for s in old if s in scores['instance_removed']])})\n")


if __name__ == "__main__":
    rnd_table()
    codistill_table()
    iekd_table()
    effects_table()
