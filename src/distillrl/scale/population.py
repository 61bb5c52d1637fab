"""Population-based training (Jaderberg et al. 2017; as used by kickstarting, SPEC §5): the
decisions, as pure functions, and the experiment's configuration.

Nothing here imports Ray. :mod:`distillrl.pbt` drives Ray Tune's scheduler with these
functions, and the tests check them on hand-made numbers.

*Exploit* — which member copies which:

* ``ttest`` (the paper's rule): a member that is ready picks another member uniformly at random
  and copies it if that member is *significantly* better: a higher mean over the last
  ``window`` episode returns and Welch's t-test (unequal variances, two-sided) p < ``pvalue``.
* ``truncation``: members in the bottom ``quantile`` of the population copy one drawn from the
  top ``quantile`` (Ray Tune's own rule).
* ``none``: nobody copies; every member keeps its initial draw. The same members, seeds and
  draws as the population with exploit on: a random search at equal frames, PBT's matched
  baseline.

*Choosing the best member* — on ``select_episodes`` greedy episodes each member plays at the
end, on reset seeds apart from the evaluation episodes its summary reports, so the best
member's reported score is not the score it was picked on (without them it is chosen on the
evaluation episodes, and its score is biased upward: the maximum of noisy estimates).

*Explore* — the copied hyper-parameters are each resampled from their prior with probability
``resample_probability``, else multiplied by one of ``factors`` (0.8 or 1.2); the result is
clipped to the prior's bounds (Ray Tune does not clip: ray-project/ray#11936).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from distillrl.config import from_dict, knob, section, validate
from distillrl.config.knobs import field_domain, field_help
from distillrl.errors import ConfigError


@dataclass
class Prior:
    """The range a hyper-parameter is sampled from (at start and on resampling) and kept in."""

    min: float = knob(0.0, "(-inf, inf)", "lower bound")
    max: float = knob(1.0, "(-inf, inf)", "upper bound")
    log: bool = knob(False, help="sample log-uniformly (needs min > 0)")

    def check(self) -> None:
        if self.min > self.max:
            raise ConfigError(f"prior min {self.min:g} > max {self.max:g}")
        if self.log and self.min <= 0:
            raise ConfigError(f"a log prior needs min > 0, got min {self.min:g}")

    def sample(self, rng: np.random.Generator) -> float:
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.min), math.log(self.max))))
        return float(rng.uniform(self.min, self.max))

    def clip(self, x: float) -> float:
        return float(min(max(x, self.min), self.max))


@dataclass
class PBTOptions:
    """How the population is ready, selected, explored and run."""

    interval: int = knob(50_000, "≥ 1", "frames between a member's ready points (exploit/explore, and a checkpoint)")
    selection: Literal["ttest", "truncation", "none"] = knob(
        "ttest", help="exploit rule: ttest (random member, copied if significantly better), truncation, or none "
                      "(no copies: a random search over the priors, the matched baseline)")
    window: int = knob(10, "≥ 2", "episode returns compared at each ready point (the last N)")
    pvalue: float = knob(0.05, "(0, 1)", "ttest: significance level of Welch's t-test")
    quantile: float = knob(0.2, "(0, 0.5]", "truncation: fraction of the population at the bottom that copies from "
                                            "the top")
    resample_probability: float = knob(0.25, "[0, 1]", "explore: probability of resampling a value from its prior "
                                                       "instead of perturbing it")
    factors: list[float] = knob(factory=lambda: [0.8, 1.2], domain="> 0", help="explore: perturbation factors, one "
                                                                               "drawn per hyper-parameter")
    select_episodes: int = knob(0, "≥ 0", "episodes each member plays at the end, apart from its evaluation "
                                          "episodes, to choose the best member on (0: choose on the evaluation "
                                          "episodes)")
    burn_in: int = knob(0, "≥ 0", "frames before the first ready point may exploit")
    init: Literal["prior", "config"] = knob("prior", help="initial hyper-parameters: sampled from the priors, or the "
                                                          "config's values for every member")
    seed: int = knob(0, "≥ 0", "seed of the selection and explore draws and of the initial samples")
    max_failures: int = knob(3, "≥ 0", "restarts of a crashed member from its last checkpoint before it is given up")
    cpus_per_member: float | None = knob(None, "> 0", "CPUs reserved per member (default: the cores ÷ population, at "
                                                      "most 1: the whole population runs at once)")


COMMANDS = ("train", "kickstart", "distill", "meta")


@dataclass
class PBTConfig:
    """A population-based training experiment (``distillrl pbt --config FILE.yaml``)."""

    command: Literal["train", "kickstart", "distill", "meta"] = knob(
        "kickstart", help="what each member runs: train, kickstart, distill or meta")
    population: int = knob(4, "≥ 2", "members; PBT copies between members, so at least 2")
    config: dict = knob(factory=dict, help="the command's config keys (as in its own --config YAML); seed is the "
                                           "first member's")
    pbt: PBTOptions = section(PBTOptions)
    priors: dict[str, Prior] = knob(factory=dict, help="tuned hyper-parameters: name → prior (min, max, log)")
    inject_fault: dict = knob(factory=dict, help="for testing fault tolerance: crash member M once at F frames "
                                                 "({member: M, frames: F, how: exit|raise})")

    def check(self) -> None:
        if not self.priors:
            raise ConfigError("PBT needs at least one tuned hyper-parameter under priors: (e.g. lr: {min: 1e-4, "
                              "max: 1e-3, log: true})")
        for name, p in self.priors.items():
            try:
                validate(p)
            except ConfigError as e:
                raise ConfigError(f"priors.{name}: {e}") from None


def pbt_config_from_dict(data: dict) -> PBTConfig:
    """Build and validate a :class:`PBTConfig` from a parsed YAML mapping."""
    data = dict(data)
    priors_raw = data.pop("priors", None) or {}
    config = data.pop("config", None) or {}
    fault = data.pop("inject_fault", None) or {}
    if not isinstance(fault, dict) or (fault and not {"member", "frames"} <= set(fault)):
        raise ConfigError("inject_fault: expected {member: M, frames: F, how: exit|raise}")
    if not isinstance(priors_raw, dict):
        raise ConfigError("priors: expected a mapping of hyper-parameter name → {min, max, log}")
    if not isinstance(config, dict):
        raise ConfigError("config: expected a mapping of the command's config keys")
    cfg = from_dict(PBTConfig, data)
    cfg.config = config
    cfg.inject_fault = fault
    cfg.priors = {str(k): from_dict(Prior, v, where=f"priors.{k}") for k, v in priors_raw.items()}
    return validate(cfg)


# --------------------------------------------------------------------------- decisions


def welch_better(candidate: Sequence[float], own: Sequence[float], pvalue: float = 0.05) -> tuple[bool, float]:
    """Is ``candidate`` significantly better than ``own``? Higher mean and Welch's two-sided
    t-test p < ``pvalue``. Returns (decision, p). Fewer than 2 returns on a side: never better."""
    a, b = np.asarray(candidate, float), np.asarray(own, float)
    if len(a) < 2 or len(b) < 2:
        return False, math.nan
    if a.mean() <= b.mean():
        return False, 1.0
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:  # identical constant samples on each side, different means: certainly better
        return True, 0.0
    from scipy import stats  # heavy (scipy.stats takes ~1 s to import): only for this test

    with warnings.catch_warnings():  # near-identical samples: scipy warns about precision, p is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return p < pvalue, p


def truncation(scores: dict[Any, float], quantile: float) -> tuple[list, list]:
    """(bottom, top) members by score: ⌈n·quantile⌉ each (at most n // 2, so they never overlap);
    ties keep input order."""
    ranked = sorted(scores, key=lambda k: scores[k])
    n = len(ranked)
    k = min(math.ceil(n * quantile), n // 2)
    if n < 2 or k == 0:
        return [], []
    return ranked[:k], ranked[n - k:]


def explore(values: dict[str, float], priors: dict[str, Prior], rng: np.random.Generator,
            factors: Sequence[float] = (0.8, 1.2), resample_probability: float = 0.25
            ) -> tuple[dict[str, float], dict[str, str]]:
    """Perturb each tuned value: resample from its prior with probability ``resample_probability``,
    else multiply by a factor drawn from ``factors``; clip into the prior. Returns (new values,
    operation per name, e.g. ``"* 0.8"``, ``"resample"``, ``"* 1.2 (clipped)"``)."""
    new, ops = dict(values), {}
    for name in sorted(priors):
        prior = priors[name]
        if rng.random() < resample_probability:
            new[name], ops[name] = prior.sample(rng), "resample"
            continue
        f = float(factors[int(rng.integers(len(factors)))])
        x = values[name] * f
        new[name] = prior.clip(x)
        ops[name] = f"* {f:g}" + (" (clipped)" if new[name] != x else "")
    return new, ops


def initial_values(priors: dict[str, Prior], population: int, seed: int) -> list[dict[str, float]]:
    """Each member's starting hyper-parameters drawn from the priors (member order, reproducible)."""
    rng = np.random.default_rng([seed, 7])
    return [{name: priors[name].sample(rng) for name in sorted(priors)} for _ in range(population)]


def best_member(summaries: dict[int, dict]) -> tuple[int | None, bool]:
    """The population's best member from its members' summaries ({member: summary}, empty where a
    member wrote none): the highest score on the selection episodes where members played them
    (``pbt.select_episodes``), else the highest summary score; and whether the selection
    episodes chose it. None when no member has a finite score."""
    from distillrl.acting.evaluation import summary_score  # (torch: only when a population is summarised)

    select = {i: float(s["select_score"]) for i, s in summaries.items()
              if s.get("select_score") is not None and math.isfinite(s["select_score"])}
    if select:
        return max(select, key=select.get), True
    scores = {i: summary_score(s) for i, s in summaries.items() if s}
    finite = {i: v for i, v in scores.items() if math.isfinite(v)}
    return (max(finite, key=finite.get) if finite else None), False


def read_lineage(exp_dir) -> list[dict]:
    """The events of ``exp_dir/lineage.jsonl`` (written by :mod:`distillrl.pbt`); a last line cut
    by a kill is skipped, the rest is intact."""
    p = Path(exp_dir) / "lineage.jsonl"
    out = []
    for line in (p.read_text().splitlines() if p.exists() else []):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def parse_seeds(text: str) -> list[int]:
    """``"1-5"`` → [1..5]; ``"1,3,7"``; ``"1-3,10"``. Seeds are ≥ 0 and not repeated."""
    seeds: list[int] = []
    for part in str(text).split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise ConfigError(f"bad --seeds {text!r}: use a range 1-5, a list 1,2,3 or both (1-3,7)")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ConfigError(f"bad --seeds range {part.strip()!r}: end before start")
        seeds.extend(range(lo, hi + 1))
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r} repeats a seed")
    return seeds


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``["ppo.lr=1e-3,5e-4", "schedule=linear,constant"]`` → {key: [values as text]}."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, vals = item.partition("=")
        key = key.strip().lstrip("-")
        values = [v.strip() for v in vals.split(",") if v.strip()]
        if not sep or not key or not values:
            raise ConfigError(f"bad --grid {item!r}: use KEY=V1,V2 (KEY as in the command's flags, e.g. ppo.lr)")
        if key in grid:
            raise ConfigError(f"--grid names {key!r} twice")
        if key == "seed":
            raise ConfigError("seeds are given with --seeds, not --grid")
        grid[key] = values
    return grid


def expand_sweep(seeds: Sequence[int], grid: dict[str, list[str]]) -> list[dict[str, str]]:
    """Every combination of grid values (in key order, last key fastest) × every seed (fastest)."""
    keys = list(grid)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]
    return [{**p, "seed": str(s)} for p in points for s in seeds]


def point_tag(point: dict[str, str]) -> str:
    """A directory-safe name for one sweep point: ``ppo.lr=1e-3,seed=2`` → ``ppo.lr-1e-3_s2``."""
    parts = [f"{k}-{v}" for k, v in point.items() if k != "seed"] + [f"s{point['seed']}"]
    return re.sub(r"[^A-Za-z0-9._=-]+", "-", "_".join(parts))


# --------------------------------------------------------------------------- the YAML schema

_EXAMPLE_CONFIG = {
    "train": ["  env: gym:CartPole-v1", "  steps: 200000"],
    "kickstart": ["  env: minatar:breakout", "  steps: 500000", "  teacher: [minatar-breakout]",
                  "  schedule: constant"],
    "distill": ["  env: minatar:breakout", "  steps: 500000", "  teacher: [minatar-breakout]", "  source: student"],
    "meta": ["  family: point-nav", "  method: es-dpg", "  steps: 2000000"],
}
_EXAMPLE_PRIORS = {
    "train": ["  lr: {min: 1.0e-4, max: 3.0e-3, log: true}", "  ent_coef: {min: 0.0, max: 0.02}"],
    "kickstart": ["  lr: {min: 1.0e-4, max: 2.0e-3, log: true}", "  ent_coef: {min: 1.0e-3, max: 0.05, log: true}",
                  "  lambda_shared: {min: 0.1, max: 2.0, log: true}"],
    "distill": ["  lr: {min: 1.0e-4, max: 3.0e-3, log: true}", "  tau: {min: 0.5, max: 2.0, log: true}"],
    "meta": ["  sigma: {min: 0.01, max: 0.2, log: true}", "  inner_lr: {min: 0.01, max: 0.5, log: true}",
             "  k: {min: 1, max: 5}"],
}


def yaml_template(command: str = "kickstart", live: Sequence[str] = ()) -> str:
    """A commented experiment file for ``command`` (``distillrl pbt --print-config``): every key of
    the schema with its default, domain and meaning; ``live``: the names ``priors`` may tune."""
    if command not in COMMANDS:
        raise ConfigError(f"unknown command {command!r} for a population; valid: {', '.join(COMMANDS)}")

    def comment(text: str) -> str:
        return "  # " + text

    out = ["# a population-based training experiment: distillrl pbt --config FILE.yaml",
           f"command: {command}" + comment("what each member runs: train, kickstart, distill or meta"),
           "population: 4" + comment("members {≥ 2}"),
           "config:" + comment(f"the {command} command's own keys, as in its --config YAML (flag names without --, "
                               "- as _, dotted flags as nesting); seed is the first member's"),
           *_EXAMPLE_CONFIG[command],
           "pbt:" + comment("how members are made ready, selected, explored and run")]
    defaults = PBTOptions()
    for f in dataclasses.fields(PBTOptions):
        v = getattr(defaults, f.name)
        dom = field_domain(f)
        shown = "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
        out.append(f"  {f.name}: {shown}" + comment(field_help(f) + (f" {{{dom.text}}}" if dom is not None else "")))
    out.append("priors:" + comment("the tuned hyper-parameters: name → {min, max, log}; sampled at the start "
                                   "(init: prior) and on resampling, perturbed values kept inside"))
    if live:
        out.append(comment(f"a {command} trainer's live hyper-parameters: {', '.join(live)}").lstrip())
    out += _EXAMPLE_PRIORS[command]
    return "\n".join(out) + "\n"
