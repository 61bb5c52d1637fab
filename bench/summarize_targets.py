"""Every BENCHMARKS target that has no summarizer of its own, judged from bench/results/*.json by
:mod:`distillrl.core.stats`: the 95 % t-interval over seeds (or over alternating repeats) with n,
and ``verdict`` — met only when the whole interval clears the target, not met when the whole
interval misses it, inconclusive otherwise (and with fewer than 2 values). Reads JSON only;
nothing is trained.

    python bench/summarize_targets.py            # §§1-3, 5-9
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np

from distillrl.core.stats import episode_interval, fmt, t_interval, t_interval_from_moments, verdict

R = Path(__file__).resolve().parent / "results"
ZOO = R.parents[1] / "src" / "distillrl" / "zoo"


def load(name: str) -> dict:
    p = R / name
    return json.loads(p.read_text()) if p.exists() else {}


def iv(t: dict, digits: int = 2, unit: str = "") -> str:
    return "no value (n=0)" if t["n"] == 0 else fmt(t, digits, unit)


def line(what: str, t: dict, target: float, sign: str = "≥", digits: int = 2, unit: str = "",
         kind: str = "95% t-interval over seeds") -> None:
    v = verdict(t, target, higher_is_better=sign == "≥")
    print(f"- {what}: {iv(t, digits, unit)}, {kind}; target {sign} {target:g}{unit} → **{v}**")


def s1_throughput() -> None:
    d = load("throughput.json")
    if not d:
        return
    print("§1 throughput, distillrl ÷ SB3 per alternating repeat:")
    for c in d["cases"]:
        t = t_interval([a / b for a, b in zip(c["distillrl_sps"], c["sb3_sps"])])
        line(f"{c['algo'].upper()} {c['env']}", t, 3.0, digits=2, unit="×", kind="95% t-interval over repeats")


def s2_cartpole() -> None:
    d = load("cartpole.json")
    if d:
        line("§2 CartPole-v1 greedy return (30 episodes per seed)", t_interval([r["mean_return"] for r in d["runs"]]),
             500.0, digits=1)


def s3_zoo5m() -> None:
    """§3's 30-episode evaluations: the ``-5m`` teachers keep mean, std (ddof 0) and count; Freeway
    was re-evaluated on 100 episodes whose first 30 (reset seeds 0-29) are §3's evaluation."""
    print("\n§3 teachers, greedy score on 30 episodes, against the MinAtar paper's AC reference:")
    for name in ("cartpole", "minatar-asterix-5m", "minatar-breakout-5m", "minatar-freeway", "minatar-seaquest-5m",
                 "minatar-space_invaders-5m"):
        p = ZOO / name / "meta.json"
        if not p.exists():
            continue
        m = json.loads(p.read_text())
        ev = m["eval"]
        if ev.get("returns"):
            e = episode_interval(ev["returns"][:30])
        else:
            e = t_interval_from_moments(ev["mean_return"], ev["std_return"], ev["episodes"], ddof=0)
        line(f"{name} (std {np.std(ev['returns'][:30]) if ev.get('returns') else ev['std_return']:.2f})", e,
             m.get("reference") or float("nan"), digits=2, kind="95% episode interval")


def s5_kickstart_overhead() -> None:
    d = load("kickstart_overhead.json")
    if d:
        t = t_interval([b / a for a, b in zip(d["sps_without"], d["sps_with_teacher"])])
        print(f"\n§5 overhead: ratio of medians {d['ratio']:.3f}")
        line("SPS with one teacher ÷ without, per alternating repeat", t, 0.9, digits=3,
             kind="95% t-interval over repeats")


def s6_redesign() -> None:
    d = load("floor.json")
    if d:
        print("\n§6 the PPO loop against its floor (trainer ÷ floor per repeat):")
        for c in d["cases"]:
            t = t_interval([a / b for a, b in zip(c["trainer_sps"], c["floor_sps"])])
            line(f"{c['case']} (ratio of medians {c['fraction_of_floor']:.4f})", t, 0.8, digits=3,
                 kind="95% t-interval over repeats")
    v = load("compare_versions.json").get("kickstart_overhead")
    if v:
        for when in ("old", "new"):
            t = t_interval([r["ratio"] for r in v[when]["runs"]])
            line(f"§6 kickstart SPS with ÷ without a teacher, {when}", t, 0.9, digits=3, kind="95% t-interval over repeats")


def s7_pbt() -> None:
    print("\n§7 PBT (best member's final greedy score; per-seed ratio to the fixed run of the same seed index):")
    fixed_done = False
    for name in ("pbt_incompetent_fixed.json", "pbt_incompetent-truncation.json"):
        d = load(name)
        if not d:
            continue
        fx = d["fixed_constant"]["scores"]
        if not fixed_done:
            print(f"- fixed λ = 1: {iv(t_interval(fx))}, 95% t-interval over seeds")
            fixed_done = True
        for part in ("incompetent", "incompetent-truncation", "fixed"):
            if part not in d:
                continue
            best = [r["best_return"] for r in d[part]["runs"]]
            pop = [r["mean_return"] for r in d[part]["runs"]]
            print(f"- {part}: best member {iv(t_interval(best))}; population mean {iv(t_interval(pop))} "
                  "(95% t-intervals over seeds)")
            line(f"{part}: best ÷ fixed", t_interval([b / f for b, f in zip(best, fx)]), 0.95, digits=3)
            if part.startswith("incompetent"):
                lam = d[part]["lambda_ratio"]
                print(f"  λ'_random ÷ λ'_good per seed {', '.join(f'{x:.3f}' for x in lam)}: "
                      f"{sum(x < 0.1 for x in lam)}/{len(lam)} below 0.1")
    o = load("pbt_overhead_issue8.json")
    if o:
        line("§7 overhead, population's tuner.fit() ÷ the trainers run directly (one measurement)",
             t_interval([o["ratio_fit"]]), 1.3, sign="≤", digits=3, kind="one run")
    for name, what in (("pbt_overhead.json", "200k-frame members, 100k-frame sweep runs"),
                       ("pbt_overhead_long.json", "600k-frame members, 300k-frame sweep runs")):
        o = load(name)
        if not o:
            continue
        reps = o.get("repeats", [o])  # a record before repeats were kept is one measurement
        n = len(reps)
        kind = f"95% t-interval over {n} alternating repeats" if n > 1 else "one measurement"
        for key, label, target in (("ratio_command", "the whole `distillrl pbt` command ÷ the trainers run directly", 1.2),
                                   ("sweep_over_sequential", "sweep of 4 runs ÷ the same runs one after another", 0.55)):
            line(f"§18 {what}: {label}", t_interval([r[key] for r in reps]), target, sign="≤", digits=3, kind=kind)
        if "two_streams_over_sequential" in o:
            line(f"§18 {what}: the 4 runs two at a time from plain shells (no Ray) ÷ one after another",
                 t_interval([r["two_streams_over_sequential"] for r in reps]), 0.55, sign="≤", digits=3, kind=kind)


def s8_multitask() -> None:
    d = load("multitask_kickstart.json")
    if d:
        print("\n§8 multi-teacher kickstarting (seeds paired by index):")
        sc = [r["mean_ratio"] for r in d["runs"]["scratch"].values()]
        ks = [r["mean_ratio"] for r in d["runs"]["kickstart"].values()]
        line("final-score gain on the suite's mean % of teacher (kickstarted ÷ scratch − 1, %)",
             t_interval([100 * (k / s - 1) for k, s in zip(ks, sc)]), 42.0, digits=0, unit="%")
        sp = [d["budget_frames"] / f for f in d["kickstart_frames_to_scratch_final"].values()]
        line("frames to from-scratch's final suite score (speed-up per kickstarted seed)", t_interval(sp), 10.0,
             digits=2, unit="×")
    m = load("multitask_distill.json")
    if m:
        print("§8 five teachers into one student, geometric mean % of teacher:")
        for k, rs in m.items():
            line(k, t_interval([100 * r["geomean_ratio"] for r in rs]), 100.0, digits=1, unit="%")


def s9_impala() -> None:
    d = load("impala_main.json")
    if not d:
        return
    print("\n§9 IMPALA:")
    for g in ("impala-k1", "impala-k1-7M"):
        runs = d["runs"].get(g, [])
        busy = [100 * r["learner_busy_steady"] for r in runs]
        line(f"{g}: learner busy in the steady state, per run ({', '.join(f'{b:.2f}' for b in busy)}; "
             f"group figure {100 * d['groups'][g]['learner_busy_steady']:.2f}%)", t_interval(busy), 80.0, digits=2, unit="%")
    for g in ("impala-k1", "impala-k1-7M"):
        for target, x in d["groups"]["time_to_return"].get(g, {}).items():
            r = [v["ratio"] for v in x["per_seed"].values() if v.get("ratio") is not None]
            line(f"{g}: seconds to training return {target} (IMPALA ÷ PPO; seeds that both reached: {len(r)} of "
                 f"{len(x['per_seed'])}; median {statistics.median(r) if r else float('nan'):.2f})",
                 t_interval(r), 0.6, sign="≤", digits=2)


def s18_impala_zoo() -> None:
    d = load("impala_zoo.json")
    if not d:
        return
    g = d["groups"]
    print(f"\n§18 IMPALA against the zoo's tuned PPO (n = {g['ppo']['seeds']} seeds; IMPALA ÷ PPO, seconds to a "
          "training return):")
    for target, x in g["time_to_return"]["impala-k1"].items():
        ps = x["per_seed"].values()
        r = [v["ratio"] for v in ps if v.get("ratio") is not None]
        above = [v["ratio_above"] for v in ps if v.get("ratio_above") is not None]
        bound = f"; IMPALA never reached it in {len(above)} seed(s): ratio > {min(above):.2f} there" if above else ""
        line(f"return {target}: PPO reached it in {x['ppo_reached']}, IMPALA in {x['impala_reached']} of "
             f"{len(x['per_seed'])}{bound}", t_interval(r), 0.6, sign="≤", digits=2)


def s18_speed() -> None:
    d = load("speed.json")
    if not d:
        return
    print("\n§18 the PPO loop against CleanRL's ppo.py and SB3 (distillrl ÷ peer per alternating repeat):")
    for c in d["cases"]:
        for peer, target in (("cleanrl", 3.0), ("sb3", None), ("before", None)):
            r = c.get(f"ratio_vs_{peer}")
            if r is None:
                continue
            t = t_interval(r["per_repeat"])
            if target is None:  # no target: the interval alone (SB3; the code before the change, ≥ 1 = no regression)
                line(f"{c['case']} ÷ {peer}", t, 1.0, digits=2, unit="×", kind="95% t-interval over repeats")
            else:
                line(f"{c['case']} ÷ {peer}", t, target, digits=2, unit="×", kind="95% t-interval over repeats")


if __name__ == "__main__":
    s1_throughput()
    s2_cartpole()
    s3_zoo5m()
    s5_kickstart_overhead()
    s6_redesign()
    s7_pbt()
    s8_multitask()
    s9_impala()
    s18_speed()
    s18_impala_zoo()
