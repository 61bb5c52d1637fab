"""Markdown tables for BENCHMARKS.md §4 from bench_distill.py results: mean % of teacher with its
95 % t-interval over seeds (n stated; :mod:`distillrl.core.stats`), and the §4 targets judged by
:func:`distillrl.core.stats.verdict` (met only when the whole interval clears the target).

    python bench/summarize_distill.py bench/results/distill.json bench/results/distill_freeway.json \\
        bench/results/distill_sources.json [--plots]

``--plots`` redraws ``distill_losses.png`` / ``distill_sources.png`` next to the first file with
t-interval error bars (from the per-seed results; nothing is trained).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from distillrl.core.stats import fmt, paired_difference, t_interval, verdict

# §4's targets: % of teacher at each target size (Rusu et al.: ≈ 102 % at 7 %, ≈ 84 % at 4 %)
TARGETS = {0.07: 100.0, 0.04: 95.0}
EER_WITHIN = 5.0  # EER within 5 points of teacher-driven data (paired by seed)


def pct(x: dict, digits: int = 0) -> str:
    """``m% [lo, hi]`` (the caller states n), or ``m% (n=1, no interval)``."""
    return fmt(x, digits, "%", show_n=False)


def main(argv: list[str]) -> None:
    plots = "--plots" in argv
    paths = [p for p in argv if p != "--plots"]
    comp: dict = {}
    other: dict = {}
    for p in paths:
        d = json.load(open(p))
        if "per_size" in d:  # a continuous-control distillation result (§15): not this table
            continue
        comp.update(d.get("compression", {}))
        for part in ("losses", "sources"):
            other.setdefault(part, {}).update(d.get(part, {}))
        if "speed" in d:
            other["speed"] = d["speed"]
    rows: dict = {}
    for key, r in comp.items():
        g, size, _seed = key.split("/")
        rows.setdefault((g, float(size)), []).append(r)
    verdicts = []
    print("| game | target size | student params (teacher) | % of teacher: mean [95% t-interval over seeds] | n seeds | "
          "student / teacher return | updates | train wall-clock |")
    print("|---|---|---|---|---|---|---|---|")
    for (g, size), rs in sorted(rows.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        ti = t_interval([100 * r["ratio"] for r in rs])
        print(f"| {g} | {size:.0%} | {rs[0]['student_params']:,} ({rs[0]['param_fraction']:.1%} of "
              f"{rs[0]['teacher_params']:,}) | {pct(ti)} | {ti['n']} | "
              f"{np.mean([r['student_return'] for r in rs]):.2f} / {np.mean([r['teacher_return'] for r in rs]):.2f} | "
              f"{rs[0]['updates']:,} | {np.mean([r['wall_s'] for r in rs]):.0f} s |")
        if size in TARGETS:
            verdicts.append(f"{g} {size:.0%}: {pct(ti, 1)} (n={ti['n']}) against ≥ {TARGETS[size]:g}% → "
                            f"**{verdict(ti, TARGETS[size])}**")
    if verdicts:
        print("\nTargets (met only when the whole t-interval clears the target):")
        for v in verdicts:
            print(f"- {v}")
    for part in ("losses", "sources"):
        if not other.get(part):
            continue
        groups: dict = {}
        for key, r in other[part].items():
            g, name, seed = key.split("/")
            groups.setdefault(name, {})[seed] = r
        n = {len(rs) for rs in groups.values()}
        print(f"\n| {dict(losses='loss', sources='source')[part]} | % of teacher: mean [95% t-interval over seeds] | "
              f"n seeds | per seed | student / teacher return |")
        print("|---|---|---|---|---|")
        for name, rs in groups.items():
            seeds = sorted(rs, key=int)
            ti = t_interval([100 * rs[s]["ratio"] for s in seeds])
            per_seed = ", ".join(f"{100 * rs[s]['ratio']:.0f}" for s in seeds)
            print(f"| {name} | {pct(ti)} | {ti['n']} | {per_seed} | "
                  f"{np.mean([rs[s]['student_return'] for s in seeds]):.2f} / "
                  f"{np.mean([rs[s]['teacher_return'] for s in seeds]):.2f} |")
        if part == "sources" and {"eer", "teacher"} <= set(groups) and len(n) == 1:
            d = paired_difference({s: 100 * r["ratio"] for s, r in groups["eer"].items()},
                                  {s: 100 * r["ratio"] for s, r in groups["teacher"].items()})
            print(f"\nEER − teacher-driven, paired by seed: {d['mean']:+.1f} points [{d['lo']:+.1f}, {d['hi']:+.1f}] "
                  f"(n={d['n']}) against ≥ −{EER_WITHIN:g} → **{verdict(d, -EER_WITHIN)}**")
        if plots:
            plot(part, groups, Path(paths[0]).with_name(f"distill_{part}.png"))
    if "speed" in other:
        s = other["speed"]
        print(f"\nspeed: reached={s['reached']} frames={s['frames']:,} train_wall_s={s['train_wall_s']:.0f} "
              f"teacher={s['teacher_return']:.2f} student={s.get('student_return', float('nan')):.2f}")


def plot(part: str, groups: dict, path: Path) -> None:
    """bench_distill's bar plot, with the t-interval of each row (one seed: no bar)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_distill import pct_interval, plot_bars

    table = {name: pct_interval([r["ratio"] for r in rs.values()]) for name, rs in groups.items()}
    first = next(iter(groups.values()))
    r0 = next(iter(first.values()))
    plot_bars(table, path, f"{part} on minatar:{r0['game']}, student {r0['student_size']:.0%} of teacher, "
                           f"{r0['steps']:,} frames\nbars: 95% t-interval over {len(first)} seeds")
    print(f"(plot: {path})")


if __name__ == "__main__":
    main(sys.argv[1:])
