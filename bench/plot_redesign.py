"""Plot the core-redesign figures: old vs new throughput (same run) and the PPO trainer against its floor.

    python bench/plot_redesign.py  →  bench/results/redesign.png
(reads bench/results/compare_versions.json and bench/results/floor.json)
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

R = Path("bench/results")
cmp = json.loads((R / "compare_versions.json").read_text())
floor = json.loads((R / "floor.json").read_text())
fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
rows = cmp["throughput"]
labels = [f"{r['algo'].upper()}\n{r['env'].split(':')[1]}" for r in rows]
x = range(len(rows))
for i, (key, name) in enumerate((("old_sps", f"before ({cmp['old']})"), ("new_sps", "after"), ("sb3_sps", "SB3"))):
    med = [sorted(r[key])[len(r[key]) // 2] for r in rows]
    a.bar([j + (i - 1) * 0.27 for j in x], med, 0.27, label=name)
a.set_xticks(list(x), labels, fontsize=8)
a.set_yscale("log")
a.set_ylabel("frames / s (median of 3, log)")
a.set_title("throughput, same run", fontsize=9)
a.legend(fontsize=8)
cases = floor["cases"]
y = range(len(cases))
b.barh([j + 0.2 for j in y], [c["floor_median"] for c in cases], 0.4, label="floor (env steps + optimiser steps)")
b.barh([j - 0.2 for j in y], [c["trainer_median"] for c in cases], 0.4, label="distillrl PPO trainer")
for j, c in zip(y, cases):
    b.text(c["trainer_median"], j - 0.2, f" {c['fraction_of_floor']:.0%}", va="center", fontsize=8)
b.set_yticks(list(y), [c["case"] for c in cases], fontsize=8)
b.set_xlabel("frames / s")
b.set_title("PPO loop against its floor", fontsize=9)
b.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
fig.tight_layout()
fig.savefig(R / "redesign.png", dpi=120)
print("wrote", R / "redesign.png")
