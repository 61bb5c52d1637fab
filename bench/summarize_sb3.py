"""BENCHMARKS tables for the SB3 plug-in (issue 28) from bench/results/sb3_kickstart.json:
frames to the teacher's score, KickstartPPO vs SB3 PPO paired by seed (t-intervals over seeds,
n stated), the final greedy scores, the overhead ratio, and the curves.

    python bench/summarize_sb3.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from distillrl.core.stats import fmt, paired_difference, t_interval, verdict

RES = Path("bench/results/sb3_kickstart.json")


def main() -> None:
    res = json.loads(RES.read_text())
    envs = sorted({r["env"] for k, r in res.items() if "|" in k})
    for env in envs:
        runs = {k: r for k, r in res.items() if "|" in k and r["env"] == env}
        seeds = sorted({r["seed"] for r in runs.values()})
        pairs = [s for s in seeds if f"{env}|sb3|{s}" in runs and f"{env}|kickstart|{s}" in runs]
        if not pairs:
            continue
        sb3 = {s: runs[f"{env}|sb3|{s}"] for s in pairs}
        ks = {s: runs[f"{env}|kickstart|{s}"] for s in pairs}
        t = sb3[pairs[0]]["teacher_score"]
        print(f"#### {env}: SB3 PPO vs KickstartPPO, {sb3[pairs[0]]['steps']:,} frames, seeds {pairs} "
              f"(n = {len(pairs)}), teacher's score {t:.1f}")
        print()
        print("| target (mean of the last 10 training episodes) | SB3 PPO: frames per seed | KickstartPPO: frames per "
              "seed | speed-up per seed | speed-up: mean [95% t-interval] | ratio of the median frames |")
        print("|---|---|---|---|---|---|")
        for frac in ("0.5", "0.9", "1"):
            a = [sb3[s]["frames_to"][frac] for s in pairs]
            b = [ks[s]["frames_to"][frac] for s in pairs]
            budget = sb3[pairs[0]]["steps"]
            sp = [x / y for x, y in zip(a, b) if x and y]
            # SB3 alone never reached it but the kickstarted run did: the speed-up is at least budget ÷ frames
            per = [f"{x / y:.1f}×" if x and y else (f"≥{budget / y:.1f}×" if y else "-") for x, y in zip(a, b)]
            ma = np.median([x if x else np.inf for x in a])
            mb = np.median([y if y else np.inf for y in b])
            if np.isfinite(ma) and np.isfinite(mb):
                ratio = f"{ma / mb:.1f}×"
            elif np.isfinite(mb):
                ratio = f"≥ {budget / mb:.1f}× (the median SB3 run never reached it)"
            else:
                ratio = "-"
            f = lambda xs: ", ".join(f"{x:,}" if x else "not reached" for x in xs)  # noqa: E731
            print(f"| {float(frac):.0%} of the teacher ({float(frac) * t:.1f}) | {f(a)} | {f(b)} | "
                  f"{', '.join(per)} | {fmt(t_interval(sp), 1, '×') if sp else 'no seed where both reached it'} "
                  f"| {ratio} |")
        fa = {s: sb3[s]["final_greedy"] for s in pairs}
        fb = {s: ks[s]["final_greedy"] for s in pairs}
        d = paired_difference(fb, fa)
        print()
        print(f"Final greedy score (SB3's evaluate_policy, 30 episodes): SB3 PPO {fmt(t_interval(list(fa.values())), 1)}, "
              f"KickstartPPO {fmt(t_interval(list(fb.values())), 1)}; paired difference {fmt(d, 1)} → **{verdict(d)}**.")
        print()
    if "overhead" in res:
        o = res["overhead"]
        r = t_interval(o["ratio_per_repeat"])
        print(f"Overhead ({o['settings']}): KickstartPPO ÷ PPO frames/s per alternating repeat {fmt(r, 3)}; ratio of "
              f"medians {o['ratio_of_medians']:.3f} (SB3 PPO median {np.median(o['sps']['sb3']):,.0f} frames/s).")
    plot(res)


def plot(res: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = sorted({r["env"] for k, r in res.items() if "|" in k})
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 3.2), squeeze=False)
    for ax, env in zip(axes[0], envs):
        for k, r in res.items():
            if "|" not in k or r["env"] != env:
                continue
            c = np.array(r["curve"])
            ax.plot(c[:, 0] / 1e3, c[:, 1], c="tab:blue" if r["kind"] == "kickstart" else "tab:gray", alpha=0.7, lw=1)
        ax.axhline(next(r for k, r in res.items() if "|" in k and r["env"] == env)["teacher_score"], c="k", ls="--", lw=0.8)
        ax.set_title(f"{env}: KickstartPPO (blue) vs SB3 PPO (grey), one line per seed", fontsize=8)
        ax.set_xlabel("frames (k)")
        ax.set_ylabel("mean of the last 10 training episodes")
    fig.tight_layout()
    fig.savefig("bench/results/sb3_kickstart.png", dpi=110)


if __name__ == "__main__":
    main()
