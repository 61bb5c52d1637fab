"""Markdown tables of issue 23's before/after (bench/results/compare_restructure.json), as pasted
into BENCHMARKS.md §13. Besides the ratio of medians, each learner's after ÷ before per repeat
(old and new ran alternately, so repeat i pairs them) gives a 95 % t-interval over repeats, and
the ≥ 0.98 target is judged by :func:`distillrl.core.stats.verdict` (met only when the whole
interval clears it).

    python bench/summarize_restructure.py [bench/results/compare_restructure_rerun.json]
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from distillrl.core.stats import t_interval, verdict

RES = Path(__file__).resolve().parent / "results" / "compare_restructure.json"


def main() -> None:
    r = json.loads((Path(sys.argv[1]) if len(sys.argv) > 1 else RES).read_text())
    print(f"old `{r['old']}`, new `{r['new']}`; `{r['command']}`\n")
    if "speed" in r:
        print("| learner | command (+ `--eval-episodes 0 --seed 1`) | before (median) | after (median) | after ÷ before "
              "(medians) | after ÷ before per repeat: mean [95% t-interval over repeats] (n) | ≥ 0.98 (verdict) |")
        print("|---|---|---|---|---|---|---|")
        for name, x in r["speed"].items():
            o, n = statistics.median(x["old_sps"]), statistics.median(x["new_sps"])
            cmd = x["command"].replace(" --eval-episodes 0 --seed 1", "")
            runs = f"{o:,.0f} ({', '.join(f'{v:,.0f}' for v in x['old_sps'])})", \
                f"{n:,.0f} ({', '.join(f'{v:,.0f}' for v in x['new_sps'])})"
            ti = t_interval([b / a for a, b in zip(x["old_sps"], x["new_sps"])])
            iv = f"{ti['mean']:.3f} [{ti['lo']:.3f}, {ti['hi']:.3f}] ({ti['n']})" if ti["n"] > 1 else f"{ti['mean']:.3f} (1)"
            print(f"| {name} | `{cmd}` | {runs[0]} | {runs[1]} | **{x['new_over_old']:.3f}** | {iv} | "
                  f"{verdict(ti, 0.98)} |")
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
