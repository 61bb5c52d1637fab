"""BENCHMARKS §16's tables from bench/results/meta_*.json (written by bench/bench_meta.py).

    python bench/summarize_meta.py
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

R = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(R.parents[1] / "src"))


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


def verdict(d: dict) -> str:
    from distillrl.core.stats import verdict as against_zero

    v = against_zero(d)
    return v if v == "inconclusive" else f"es-dpg {v}"


def scaled_step() -> None:
    """es-dpg and fomaml re-run with the inner step α scaled by 1/K (files
    meta_<family>_<method>_k<K>_lr<α>.json), next to the α = 0.05 runs of meta_<family>.json."""
    import re

    from distillrl.core.stats import t_interval

    files = sorted(R.glob("meta_*_k*_lr*.json"))
    if not files:
        return
    base = {p.name: json.loads(p.read_text()) for p in R.glob("meta_*.json") if not re.search(r"_k\d+_lr|throughput", p.name)}
    rows, by, at_05 = [], {}, {}
    for p in files:
        fam, method, k, lr = re.match(r"meta_(.+)_(es-dpg|fomaml|es_dpg)_k(\d+)_lr([\d.]+)\.json", p.name).groups()
        method = method.replace("_", "-")
        d = json.loads(p.read_text())
        key = (d["family"], method, k)
        by[key] = {s.rsplit("/", 1)[1]: v[f"post_k{k}"] for s, v in d["per_seed"].items()}
        ref = next((b for b in base.values() if b["family"] == d["family"]), None)
        at_05[key] = {s.rsplit("/", 1)[1]: v[f"post_k{k}"] for s, v in (ref or {}).get("per_seed", {}).items()
                      if s.startswith(f"{method}/k{k}/")}
        rows.append((d["family"], method, k, lr, t_interval(list(by[key].values())),
                     t_interval(list(at_05[key].values())), d["command"]))
    print("| family | method | K | α = 0.05 | α = 0.05 / K | α |")
    print("|---|---|---|---|---|---|")
    for fam, method, k, lr, post, ref, _ in sorted(rows, key=lambda r: (r[0], r[2], r[1])):
        print(f"| {fam} | {method} | {k} | {ci(ref)} | **{ci(post)}** (n={post['n']}) | {float(lr):g} |")
    print()
    for (fam, method, k), post in sorted(by.items()):
        other = by.get((fam, "fomaml", k)) if method == "es-dpg" else None
        if not other:
            continue
        d = t_interval([post[s] - other[s] for s in post if s in other])
        print(f"{fam}, K = {k}, both at α = 0.05 / K: es-dpg minus fomaml {ci(d)} (n={d['n']}, paired by seed; "
              f"{verdict(d)}).")
        # each method at whichever α gave it the higher mean (chosen on the same test tasks: optimistic for both)
        best = {}
        for m, scaled in (("es-dpg", post), ("fomaml", other)):
            fixed = at_05[(fam, m, k)]
            best[m] = scaled if np.mean(list(scaled.values())) >= np.mean(list(fixed.values())) else fixed
            best[m + " α"] = "0.05 / K" if best[m] is scaled else "0.05"
        d = t_interval([best["es-dpg"][s] - best["fomaml"][s] for s in best["es-dpg"] if s in best["fomaml"]])
        print(f"{fam}, K = {k}, each at its better α (es-dpg {best['es-dpg α']}, fomaml {best['fomaml α']}): "
              f"es-dpg minus fomaml {ci(d)} (n={d['n']}; {verdict(d)}).")
    print("\nCommands: " + "; ".join(f"`{r[6]}`" for r in rows) + "\n")


def main() -> None:
    for p in sorted(R.glob("meta_*.json")):
        if p.name.startswith("meta_throughput"):
            throughput(p)
        elif "_lr" not in p.name:
            table(p)
    scaled_step()


if __name__ == "__main__":
    main()
