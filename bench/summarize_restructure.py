"""Markdown tables of issue 23's before/after (bench/results/compare_restructure.json), as pasted
into BENCHMARKS.md §13.

    python bench/summarize_restructure.py [bench/results/compare_restructure_rerun.json]
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

RES = Path(__file__).resolve().parent / "results" / "compare_restructure.json"


def main() -> None:
    r = json.loads((Path(sys.argv[1]) if len(sys.argv) > 1 else RES).read_text())
    print(f"old `{r['old']}`, new `{r['new']}`; `{r['command']}`\n")
    if "speed" in r:
        print("| learner | command (+ `--eval-episodes 0 --seed 1`) | before (median) | after (median) | after ÷ before | ≥ 0.98 |")
        print("|---|---|---|---|---|---|")
        for name, x in r["speed"].items():
            o, n = statistics.median(x["old_sps"]), statistics.median(x["new_sps"])
            cmd = x["command"].replace(" --eval-episodes 0 --seed 1", "")
            runs = f"{o:,.0f} ({', '.join(f'{v:,.0f}' for v in x['old_sps'])})", \
                f"{n:,.0f} ({', '.join(f'{v:,.0f}' for v in x['new_sps'])})"
            print(f"| {name} | `{cmd}` | {runs[0]} | {runs[1]} | **{x['new_over_old']:.3f}** | "
                  f"{'yes' if x['new_over_old'] >= 0.98 else 'no'} |")
    if "cartpole" in r:
        print("\n| version | greedy return, 30 episodes, seeds 1–5 | all 500 |")
        print("|---|---|---|")
        for v, x in r["cartpole"].items():
            rets = ", ".join(f"{y['mean_return']:.1f}" for y in x["runs"])
            print(f"| {v} | {rets} | {x['all_500']} |")
    if "shape" in r:
        o, n = r["shape"]["old"], r["shape"]["new"]
        print("\n| | before | after |\n|---|---|---|")
        for k in ("modules", "largest_module", "largest_module_lines", "import_linter_layers", "widest_layer_modules",
                  "help_options_kickstart_ppo", "help_options_train"):
            print(f"| {k.replace('_', ' ')} | {o[k]} | {n[k]} |")
        print(f"| modules per package | {o['modules_per_package']} | {n['modules_per_package']} |")


if __name__ == "__main__":
    main()
