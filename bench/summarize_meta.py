"""BENCHMARKS §16's tables from bench/results/meta_*.json (written by bench/bench_meta.py).

    python bench/summarize_meta.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

R = Path(__file__).resolve().parent / "results"


def ci(d: dict, digits: int = 1) -> str:
    if not d or d.get("n", 0) == 0 or not math.isfinite(d["mean"]):
        return "–"
    if d["n"] < 2 or not math.isfinite(d.get("lo", math.nan)):
        return f"{d['mean']:.{digits}f} (n=1)"
    return f"{d['mean']:.{digits}f} [{d['lo']:.{digits}f}, {d['hi']:.{digits}f}]"


def table(path: Path) -> None:
    d = json.loads(path.read_text())
    ks = d["ks"].split(",")
    n = max(v["post"]["n"] for by_k in d["summary"].values() for v in by_k.values())
    print(f"**{d['family']}**, {d['frames']:,} frames of meta-training per run, n = {n} seeds "
          f"(`{path.name}`; `{d['command']}`)\n")
    print("| method | " + " | ".join(f"K={k}: before → after" for k in ks) + " | wall-clock per run (s) |")
    print("|---|" + "---|" * (len(ks) + 1))
    for m, by_k in d["summary"].items():
        cells = [f"{ci(by_k[f'k{k}']['pre'])} → **{ci(by_k[f'k{k}']['post'])}**" for k in ks]
        print(f"| {m} | " + " | ".join(cells) + f" | {ci(by_k[f'k{ks[0]}']['wall_s'], 0)} |")
    print()
    print("| es-dpg minus | " + " | ".join(f"K={k}" for k in ks) + " |")
    print("|---|" + "---|" * len(ks))
    for name, by_k in d["paired"].items():
        print(f"| {name.replace('es-dpg minus ', '')} | "
              + " | ".join(f"{ci(by_k[f'k{k}'])} ({by_k[f'k{k}']['verdict']})" for k in ks) + " |")
    print()
    tt = {m: by_k[f"k{k}"].get("to_target") for m, by_k in d["summary"].items() for k in ks[:1]}
    if any(tt.values()):
        k = ks[0]
        print(f"Frames and wall-clock to a post-adaptation return of {next(iter(tt.values()))['target']:g} "
              f"(K = {k}; the first evaluation on {d.get('eval_tasks', 4)} test tasks at or above it)\n")
        print("| method | runs reaching it | frames | wall-clock (s) |")
        print("|---|---|---|---|")
        for m, t in tt.items():
            if t:
                print(f"| {m} | {t['reached']}/{t['n']} | {ci(t['frames'], 0)} | {ci(t['wall_s'], 0)} |")
        print()


def throughput(path: Path) -> None:
    d = json.loads(path.read_text())
    print(f"`{d['command']}` ({d['setup']})\n")
    print("| Ray workers | evaluations / s | per repeat |")
    print("|---|---|---|")
    for w, v in d["rate"].items():
        runs = d["per_workers"][w]
        label = "0 (in the driver process)" if w == "0" else w
        each = ", ".join(f"{r['evaluations_per_s']:.1f}" for r in runs)
        print(f"| {label} | {ci(v)} | {each} |")
    c = d.get("cluster")
    if c:
        print(f"| 2 on a 2-node loopback cluster | {c['evaluations_per_s']:.1f} (n=1; nodes used: {c['nodes']}) | – |")
    r = d["ratio_2_over_1"]
    print(f"\n2 workers / 1 worker: {ci(r, 2)} (n={r['n']}; per repeat "
          f"{', '.join(f'{x:.2f}' for x in r['per_repeat'])}); target ≥ {r['target']}: **{d['verdict']}**.\n")


def main() -> None:
    for p in sorted(R.glob("meta_*.json")):
        if p.name.startswith("meta_throughput"):
            throughput(p)
        else:
            table(p)


if __name__ == "__main__":
    main()
