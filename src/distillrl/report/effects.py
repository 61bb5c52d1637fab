"""Why did distillation help? Tang et al.'s three-effects attribution over distillation runs.

Five students per seed, differing only in their targets (``distill --kd-control``, see
:mod:`distillrl.terms.kdcontrols`): ``hard`` (NLL on the teacher's argmax), ``universe``,
``domain``, ``instance_removed`` and ``full`` (the teacher's distribution). With s_v a seed's
score under variant v:

    gain     = s_full − s_hard
    universe = s_universe − s_hard
    domain   = s_domain − s_universe
    instance = s_full − s_instance_removed
    rest     = gain − universe − domain − instance

Each is computed per seed (the variants of one seed share data order and initial weights) and
summarised by a t-interval over the seeds that have all five. A share of the gain is only
printed when the gain's interval excludes 0 and n ≥ 3: a share of a gain that may be zero is
noise (one seed once printed ±233 % shares with [nan, nan] intervals).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from distillrl.core.stats import t_interval
from distillrl.errors import RunDirError

if TYPE_CHECKING:
    from distillrl.report.runs import Run

VARIANTS = ("hard", "universe", "domain", "instance_removed", "full")
EFFECTS = {"universe": ("universe", "hard"), "domain": ("domain", "universe"),
           "instance": ("full", "instance_removed")}
MIN_SEEDS = 3


def variant_of(config: dict) -> str | None:
    """Which of the five targets a distillation run's config gave its student (None: not one)."""
    control = config.get("kd_control", "none") or "none"
    if control == "universe":
        return "universe"
    if control == "domain":
        return "domain"
    if control == "instance":
        return "instance_removed"
    loss = config.get("loss")
    if loss == "nll":
        return "hard"
    if loss in ("kl", "cross_entropy"):
        return "full"
    return None


def attribute(scores: dict[str, dict[int, float]]) -> dict:
    """``scores[variant][seed]`` → gain, the three effects and the rest, each a t-interval over
    the seeds with all five variants; shares of the gain where they mean something; warnings."""
    missing = [v for v in VARIANTS if not scores.get(v)]
    if missing:
        raise RunDirError(f"the attribution needs runs of all five targets; missing: {', '.join(missing)} "
                          "(distill --loss nll, --kd-control universe|domain|instance, and --loss kl)")
    seeds = sorted(set.intersection(*(set(scores[v]) for v in VARIANTS)))
    if not seeds:
        raise RunDirError("no seed has runs of all five targets (the effects are paired by seed)")
    per_seed = {s: {v: float(scores[v][s]) for v in VARIANTS} for s in seeds}
    diffs: dict[str, list[float]] = {"gain": [], **{k: [] for k in EFFECTS}, "rest": []}
    for s in seeds:
        x = per_seed[s]
        gain = x["full"] - x["hard"]
        parts = {k: x[a] - x[b] for k, (a, b) in EFFECTS.items()}
        diffs["gain"].append(gain)
        for k, v in parts.items():
            diffs[k].append(v)
        diffs["rest"].append(gain - sum(parts.values()))
    out: dict = {"n": len(seeds), "seeds": seeds, "per_seed": per_seed,
                 "variants": {v: t_interval([per_seed[s][v] for s in seeds]) for v in VARIANTS},
                 "effects": {k: t_interval(v) for k, v in diffs.items()}, "warnings": []}
    g = out["effects"]["gain"]
    shares_ok = len(seeds) >= MIN_SEEDS and (g["lo"] > 0 or g["hi"] < 0)
    for k in (*EFFECTS, "rest"):
        out["effects"][k]["share"] = out["effects"][k]["mean"] / g["mean"] if shares_ok else None
    if len(seeds) < MIN_SEEDS:
        out["warnings"].append(f"only {len(seeds)} seed(s) with all five targets: no interval below 2, and no "
                               f"shares below {MIN_SEEDS} — run more seeds before reading this")
    elif not shares_ok:
        out["warnings"].append(f"the gain of full distillation over hard labels ({g['mean']:+.3g} "
                               f"[{g['lo']:.3g}, {g['hi']:.3g}]) is not distinguishable from 0: shares not shown")
    incomplete = sorted(set().union(*(set(scores[v]) for v in VARIANTS)) - set(seeds))
    if incomplete:
        out["warnings"].append(f"seeds left out (not all five targets): {', '.join(map(str, incomplete))}")
    return out


def collect(runs: list[Run]) -> tuple[dict[str, dict[int, float]], str]:
    """Scores by variant and seed from distillation runs: % of the teacher where every run has a
    teacher ratio, the student's mean return otherwise. Runs of several envs or teachers refuse."""
    groups = {(r.config.get("env"), str(r.config.get("teacher"))) for r in runs}
    if len(groups) > 1:
        raise RunDirError("these runs distil different teachers or envs: "
                          + "; ".join(f"{e} ← {t}" for e, t in sorted(groups, key=str)) + " (analyse one at a time)")
    use_ratio = all(r.summary.get("score_ratio") is not None for r in runs)
    scores: dict[str, dict[int, float]] = {}
    for r in runs:
        v = variant_of(r.config)
        if v is None:
            raise RunDirError(f"{r.path}: not one of the five targets (loss {r.config.get('loss')!r}, kd_control "
                              f"{r.config.get('kd_control')!r})")
        if "mean_return" not in r.summary:
            raise RunDirError(f"{r.path}: no summary.json with a score (did the run finish?)")
        seed = int(r.config.get("seed", 0))
        if seed in scores.get(v, {}):
            raise RunDirError(f"two {v} runs with seed {seed}; one per seed and target")
        s = 100.0 * float(r.summary["score_ratio"]) if use_ratio else float(r.summary["mean_return"])
        scores.setdefault(v, {})[seed] = s
    return scores, ("% of teacher" if use_ratio else "mean return")


def markdown(res: dict, unit: str) -> str:
    def cell(d: dict) -> str:
        if d["n"] < 2 or not math.isfinite(d["lo"]):
            return f"{d['mean']:+.2f} (no interval: n = {d['n']})"
        return f"{d['mean']:+.2f} [{d['lo']:.2f}, {d['hi']:.2f}]"

    lines = [f"Tang et al.'s attribution over {res['n']} seed(s) ({unit}; 95 % t-intervals over seeds, paired "
             "by seed)", "", "| target | score |", "|---|---|"]
    lines += [f"| {v} | {cell(res['variants'][v]).lstrip('+')} |" for v in VARIANTS]
    lines += ["", "| effect | points | share of the gain |", "|---|---|---|"]
    names = {"gain": "full KD over hard labels", "universe": "universe (label smoothing)",
             "domain": "domain (class relationships)", "instance": "instance (per-state rescaling)",
             "rest": "not explained by the three"}
    for k, label in names.items():
        e = res["effects"][k]
        share = "" if k == "gain" else ("–" if e.get("share") is None else f"{100 * e['share']:.0f} %")
        lines.append(f"| {label} | {cell(e)} | {share} |")
    lines += [""] + [f"warning: {w}" for w in res["warnings"]]
    return "\n".join(lines).rstrip() + "\n"


def analyze_effects(paths: list[str | Path]) -> dict:
    from distillrl.report.runs import expand_run_dirs, load_run

    runs = [load_run(p) for p in expand_run_dirs(paths)]
    if not runs:
        raise RunDirError("no run directories given")
    scores, unit = collect(runs)
    res = attribute(scores)
    res["unit"] = unit
    res["markdown"] = markdown(res, unit)
    return res
