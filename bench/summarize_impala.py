"""Markdown tables for BENCHMARKS §9's race (IMPALA with one actor against synchronous PPO on
Breakout) from bench/results/impala_main.json, with 95% t-intervals over seeds.

    python bench/bench_impala.py main --seeds ... && python bench/bench_impala.py equaltime --seeds ... \\
        && python bench/bench_impala.py collect && python bench/summarize_impala.py
"""

from __future__ import annotations

import json
from pathlib import Path

from distillrl.core.stats import fmt, t_interval

R = Path(__file__).resolve().parent / "results"


def ci(xs, digits: int = 2, scale: float = 1.0, unit: str = "") -> str:
    """Mean [95% t-interval] (n) of the values that are not None (none: a dash)."""
    xs = [x * scale for x in xs if x is not None]
    return fmt(t_interval(xs), digits, unit) if xs else "–"


def per_seed(runs: list[dict]) -> dict[str, dict]:
    return {r["run"].rsplit("-s", 1)[1]: r for r in runs}


def cell(xs, fmt: str = "{:.1f}") -> str:
    return ", ".join("not reached" if x is None else fmt.format(x) for x in xs)


def race(d: dict, imp: str, targets=("5.0", "6.0", "7.0", "8.0")) -> None:
    ppo, ims = per_seed(d["runs"]["ppo"]), per_seed(d["runs"][imp])
    seeds = sorted(set(ppo) & set(ims), key=int)
    g = d["groups"]
    print(f"\nPPO against `{imp}`, seeds {', '.join(seeds)} (PPO and IMPALA of one seed ran back to back):\n")
    print("| | PPO | IMPALA | IMPALA ÷ PPO |")
    print("|---|---|---|---|")
    print(f"| frames per second (whole run, median) | {g['ppo']['fps_median']:,.0f} | {g[imp]['fps_median']:,.0f} | "
          f"{g[imp]['fps_median'] / g['ppo']['fps_median']:.1f}× |")
    print(f"| wall-clock (median) | {g['ppo']['wall_s_median']:.0f} s | {g[imp]['wall_s_median']:.0f} s | "
          f"{g[imp]['wall_s_median'] / g['ppo']['wall_s_median']:.2f} |")
    tt = g["time_to_return"][imp]
    for tg in targets:
        ps = tt[tg]["per_seed"]
        sp = [ps[s]["ppo_s"] if s in ps else None for s in seeds]
        si = [ps[s]["impala_s"] if s in ps else None for s in seeds]
        ratios = [ps[s].get("ratio") for s in seeds if s in ps]
        bounds = [f"s{s}: " + (f"{ps[s]['ratio']:.2f}" if "ratio" in ps[s] else
                               f"< {ps[s]['ratio_below']:.2f}" if "ratio_below" in ps[s] else
                               f"> {ps[s]['ratio_above']:.2f}" if "ratio_above" in ps[s] else "neither")
                  for s in seeds if s in ps]
        print(f"| seconds to training return {float(tg):g} (per seed) | {cell(sp)} | {cell(si)} | "
              f"{', '.join(bounds)}; mean of the ratios {ci(ratios)} |")
        if tg == "5.0":
            fp = [ps[s]["ppo_frames"] if s in ps else None for s in seeds]
            fi = [ps[s]["impala_frames"] if s in ps else None for s in seeds]
            print(f"| frames to return 5 (per seed) | {cell(fp, '{:,.0f}')} | {cell(fi, '{:,.0f}')} | "
                  f"{ci([i / p for i, p in zip(fi, fp) if i and p], unit='×')} more |")
    print(f"| final training return (per seed) | {cell([ppo[s]['final_train_return'] for s in seeds], '{:.2f}')} | "
          f"{cell([ims[s]['final_train_return'] for s in seeds], '{:.2f}')} | |")
    fg_p, fg_i = [ppo[s]["final_greedy"] for s in seeds], [ims[s]["final_greedy"] for s in seeds]
    print(f"| final greedy score, 30 episodes (per seed) | {cell(fg_p, '{:.2f}')} | {cell(fg_i, '{:.2f}')} | "
          f"IMPALA − PPO, paired: {ci([i - p for i, p in zip(fg_i, fg_p)])} |")
    print(f"| final greedy score: mean [95% t-interval] | {ci(fg_p)} | {ci(fg_i)} | |")
    busy = [ims[s].get("learner_busy_steady") for s in seeds]
    print(f"| learner busy, steady state (per run; mean [95% t-interval]) | — | "
          f"{cell(busy, '{:.1%}')}; {ci(busy, 1, 100, '%')} | |")


def main() -> None:
    d = json.loads((R / "impala_main.json").read_text())
    for imp in sorted(k for k in d["runs"] if k != "ppo"):
        race(d, imp)


if __name__ == "__main__":
    main()
