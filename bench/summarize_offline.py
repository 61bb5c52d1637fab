"""Tables for BENCHMARKS §12 from bench/results/offline_*.json (python bench/summarize_offline.py).

Over seeds: the mean and its 95 % t-interval (n stated), and PCGrad against no PCGrad as a paired
difference by seed (:mod:`distillrl.core.stats`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from distillrl.core.stats import paired_difference, t_interval, verdict

R = Path("bench/results")


def load(name: str) -> dict:
    p = R / f"offline_{name}.json"
    return json.loads(p.read_text()) if p.exists() else {}


def ms(xs, pct=True) -> str:
    """``mean [lo, hi]``: the 95 % t-interval over seeds (the table states n); one seed: the value."""
    t = t_interval(np.asarray(xs, float) * (100 if pct else 1))
    if t["n"] < 2:
        return f"{t['mean']:.1f}"
    return f"{t['mean']:.1f} [{t['lo']:.1f}, {t['hi']:.1f}]"


ORDER = {"cycle": 0, "uniform": 1, "max-kl": 2, "max-kl-initial": 3, "max-kl-uniform": 4}


def diff_cells(d: dict) -> str:
    """A paired difference's table cells: ``mean [lo, hi] | n | verdict`` (one seed: no interval)."""
    iv = f"[{d['lo']:+.1f}, {d['hi']:+.1f}]" if d["n"] > 1 else "(no interval)"
    return f"{d['mean']:+.1f} {iv} | {d['n']} | {verdict(d)}"


def students_table(students: dict, title: str) -> None:
    """The students' table and the paired comparisons between curricula (and PCGrad) by seed."""
    groups: dict = {}
    for s in students.values():
        groups.setdefault((s["curriculum"], s["pcgrad"], s["steps"]), []).append(s)
    games = [p["task"] for p in next(iter(students.values()))["per_task"]]
    print(f"\n### {title} (% of each game's DT teacher: mean [95% t-interval over seeds])\n")
    print("| curriculum | PCGrad | seeds | " + " | ".join(games) + " | geomean | held-out KL per game (" +
          " / ".join(games) + ") | largest KL | task counts | projected |\n|---|---|---|" + "---|" * (len(games) + 5))
    for (cur, pc, steps), ss in sorted(groups.items(), key=lambda kv: (ORDER.get(kv[0][0], 9), kv[0][1])):
        per = [ms([next(p["score_ratio"] for p in s["per_task"] if p["task"] == g) for s in ss]) for g in games]
        gm = [s["geomean_ratio"] for s in ss]
        klg = np.mean([[s["heldout_kl"][g] for g in games] for s in ss], 0)
        kmax = [max(s["heldout_kl"].values()) for s in ss]
        counts = np.mean([s["task_counts"] for s in ss], 0)
        proj = [s.get("pcgrad_projected_share") for s in ss if s.get("pcgrad_projected_share") is not None]
        print(f"| {cur} | {'yes' if pc else 'no'} | {len(ss)} | " + " | ".join(per) + f" | {ms(gm)} | "
              f"{' / '.join(f'{x:.2f}' for x in klg)} | {np.mean(kmax):.3f} | "
              f"{'/'.join(str(int(round(c))) for c in counts)} | {ms(proj) + '%' if proj else '–'} |")
    with_pcgrad = sorted({c for c, pc, _ in groups if pc}, key=lambda c: ORDER.get(c, 9))
    if with_pcgrad:
        print("\nPCGrad − no PCGrad, geometric mean (% of the teachers), paired by seed:\n")
        print("| curriculum | difference [95% paired t-interval] | n seeds | verdict |\n|---|---|---|---|")
    for cur in with_pcgrad:
        by = {pc: {s["seed"]: 100 * s["geomean_ratio"] for (c, p, _), ss in groups.items() if c == cur and p == pc
                   for s in ss} for pc in (True, False)}
        print(f"| {cur} | {diff_cells(paired_difference(by[True], by[False]))} |")
    gm = {(c, p): {s["seed"]: 100 * s["geomean_ratio"] for s in ss} for (c, p, _), ss in groups.items()}
    for ref in ("cycle", "uniform", "max-kl"):
        pairs = [(c, p) for (c, p) in sorted(gm, key=lambda k: (ORDER.get(k[0], 9), k[1]))
                 if ORDER.get(c, 9) > ORDER[ref] and (ref, p) in gm]
        if not pairs:
            continue
        print(f"\nEach curriculum − {ref} (same PCGrad setting), geometric mean, paired by seed:\n")
        print("| curriculum | PCGrad | difference [95% paired t-interval] | n seeds | verdict |\n|---|---|---|---|---|")
        for c, p in pairs:
            print(f"| {c} | {'yes' if p else 'no'} | {diff_cells(paired_difference(gm[(c, p)], gm[(ref, p)]))} |")
    s0 = next(iter(students.values()))
    print(f"\nStudent: {s0['student_params']} parameters (d_model {s0['d_model']}), {100 * s0['param_fraction']:.1f}% of "
          f"the smallest teacher ({min(s0['teacher_params'])}); {s0['steps']} updates of 64 windows each.")


def main() -> None:
    data = load("data")
    if data:
        print("### Datasets\n\n| game | variant | teacher | ε | episodes | steps | mean return |\n|---|---|---|---|---|---|---|")
        for did, d in data.items():
            print(f"| {d['game']} | {d['variant']} | `{d['teacher']}` | {d['epsilon']} | {d['episodes']} | {d['steps']} | "
                  f"{d['mean_return']:.1f} |")
    teachers = load("teachers")
    if teachers:
        print("\n### Decision-Transformer teachers\n\n| game | encoder | updates | params | data mean return | target return | "
              "DT return | policy teacher return | DT % of policy teacher | action accuracy: training / fresh expert episodes | tokens/s |\n|---|---|---|---|---|---|---|---|---|---|---|")
        for t in teachers.values():
            print(f"| {t['game']} | {t.get('encoder', 'linear')} | {t['steps']} | {t['n_params']} | {t['data_mean_return']:.1f} | {t['target_return']:.0f} | "
                  f"{t['dt_return']:.1f} | {t['teacher_return']:.1f} | {100 * t['score_ratio']:.1f}% | "
                  + (f"{100 * t['action_accuracy']['train_expert']:.0f}% / {100 * t['action_accuracy']['fresh_expert']:.0f}% | "
                     if "action_accuracy" in t else "– | ") +
                  f"{t['tokens_per_s']:.0f} |")
    for name, title in (("students", "Students"), ("students_r5", "Students of the rebuilt teachers (record `r5`, n per row)")):
        students = load(name)
        if students:
            students_table(students, title)
    tp = load("throughput")
    if tp:
        k = sorted(tp)[-1]
        t = tp[k]
        print(f"\n### Throughput ({k})\n\n| model | params | updates/s | training tokens/s |\n|---|---|---|---|")
        for w in ("teacher", "student"):
            print(f"| {w} | {t[w]['n_params']} | {t[w]['updates_per_s']:.1f} | {t[w]['tokens_per_s']:.0f} |")
        print(f"\nstudent / teacher tokens/s: {t['student_over_teacher']:.2f}×")


if __name__ == "__main__":
    main()
