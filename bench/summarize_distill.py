"""Markdown tables for BENCHMARKS.md from bench_distill.py results.

    python bench/summarize_distill.py bench/results/distill.json [bench/results/distill_freeway.json ...]
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np


def ci(x):
    x = np.asarray(x, float)
    return 1.96 * x.std(ddof=1) / math.sqrt(len(x)) if len(x) > 1 else math.nan


def main(paths: list[str]) -> None:
    comp: dict = {}
    other: dict = {}
    for p in paths:
        d = json.load(open(p))
        comp.update(d.get("compression", {}))
        for part in ("losses", "sources"):
            other.setdefault(part, {}).update(d.get(part, {}))
        if "speed" in d:
            other["speed"] = d["speed"]
    rows: dict = {}
    for key, r in comp.items():
        g, size, _seed = key.split("/")
        rows.setdefault((g, float(size)), []).append(r)
    print("| game | target size | student params (teacher) | % of teacher, mean ± 95% CI (seeds) | "
          "student / teacher return | updates | train wall-clock |")
    print("|---|---|---|---|---|---|---|")
    for (g, size), rs in sorted(rows.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        ratios = [100 * r["ratio"] for r in rs]
        print(f"| {g} | {size:.0%} | {rs[0]['student_params']:,} ({rs[0]['param_fraction']:.1%} of "
              f"{rs[0]['teacher_params']:,}) | {np.mean(ratios):.0f}% ± {ci(ratios):.0f} ({len(rs)}) | "
              f"{np.mean([r['student_return'] for r in rs]):.2f} / {np.mean([r['teacher_return'] for r in rs]):.2f} | "
              f"{rs[0]['updates']:,} | {np.mean([r['wall_s'] for r in rs]):.0f} s |")
    for part in ("losses", "sources"):
        if not other.get(part):
            continue
        groups: dict = {}
        for key, r in other[part].items():
            g, name, _seed = key.split("/")
            groups.setdefault(name, []).append(r)
        print(f"\n| {dict(losses='loss', sources='source')[part]} | % of teacher, mean ± 95% CI (seeds) | student / teacher return |")
        print("|---|---|---|")
        for name, rs in groups.items():
            ratios = [100 * r["ratio"] for r in rs]
            print(f"| {name} | {np.mean(ratios):.0f}% ± {ci(ratios):.0f} ({len(rs)}) | "
                  f"{np.mean([r['student_return'] for r in rs]):.2f} / {np.mean([r['teacher_return'] for r in rs]):.2f} |")
    if "speed" in other:
        s = other["speed"]
        print(f"\nspeed: reached={s['reached']} frames={s['frames']:,} train_wall_s={s['train_wall_s']:.0f} "
              f"teacher={s['teacher_return']:.2f} student={s.get('student_return', float('nan')):.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
