"""Summary statistics shared by summaries and reports."""

from __future__ import annotations

import math


def geomean(xs) -> float:
    """Geometric mean (values ≤ 0 count as 1e-3: a task at zero drags the suite down, not to NaN;
    an undefined ratio — a teacher scoring 0 — is left out)."""
    xs = [max(float(x), 1e-3) for x in xs if math.isfinite(float(x))]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def ratio_fields(student: float, teacher: float, key: str = "score_ratio") -> dict:
    """``student / teacher``, or, when the teacher scored 0 (or nothing finite), no ratio and a
    sentence saying why — never a bare NaN."""
    if teacher and teacher > 0 and math.isfinite(teacher) and math.isfinite(student):
        return {key: float(student / teacher)}
    if math.isfinite(teacher) and teacher < 0:  # (Pendulum's returns): a ratio would read backwards
        return {key: None, f"{key}_note": f"no ratio: the teacher's score {teacher:g} is negative "
                                          "(compare the returns themselves)"}
    return {key: None, f"{key}_note": f"no ratio: the teacher's score is {teacher:g}"}


def t_interval(xs) -> dict:
    """Mean and the 95 % Student-t interval of ``xs`` (n < 2: no interval): ``{mean, lo, hi, n}``."""
    import numpy as np  # (numpy/scipy only where an interval is computed)

    x = np.asarray([float(v) for v in xs if math.isfinite(float(v))], float)
    if len(x) == 0:
        return {"mean": float("nan"), "lo": float("nan"), "hi": float("nan"), "n": 0}
    m = float(x.mean())
    if len(x) < 2:
        return {"mean": m, "lo": float("nan"), "hi": float("nan"), "n": 1}
    from scipy import stats

    h = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return {"mean": m, "lo": m - h, "hi": m + h, "n": int(len(x))}


def t_interval_from_moments(mean: float, sd: float, n: int, ddof: int = 1) -> dict:
    """:func:`t_interval` when only the mean, standard deviation and count were kept (an older
    record without its scores); ``ddof`` is the one ``sd`` was computed with (NumPy's default
    ``np.std`` is ``ddof=0``)."""
    n = int(n)
    if n < 2 or not (math.isfinite(mean) and math.isfinite(sd)):
        return {"mean": float(mean), "lo": float("nan"), "hi": float("nan"), "n": max(n, 0)}
    from scipy import stats

    s1 = float(sd) * math.sqrt((n - ddof) / (n - 1))  # the sample (n − 1) standard deviation
    h = float(stats.t.ppf(0.975, n - 1) * s1 / math.sqrt(n))
    return {"mean": float(mean), "lo": float(mean) - h, "hi": float(mean) + h, "n": n}


# ---------------------------------------------------------------- comparisons and verdicts
# SPEC §12: per-seed scores, t-intervals with n stated, paired differences where seeds pair,
# rliable's aggregates with stratified-bootstrap intervals, and "met" only when the interval
# clears the target. Bench scripts and `distillrl report`/`analyze` share these.


def paired_difference(a, b) -> dict:
    """``a − b`` paired by seed: ``a`` and ``b`` are {seed: score} (seeds in only one are left
    out) or equal-length sequences. The t-interval of the per-seed differences, with ``seeds``."""
    if isinstance(a, dict) and isinstance(b, dict):
        seeds = sorted(set(a) & set(b), key=str)
        diffs = [float(a[s]) - float(b[s]) for s in seeds]
    else:
        a, b = list(a), list(b)
        if len(a) != len(b):
            raise ValueError(f"paired scores need equal lengths, got {len(a)} and {len(b)}")
        seeds, diffs = list(range(len(a))), [float(x) - float(y) for x, y in zip(a, b)]
    return t_interval(diffs) | {"seeds": seeds, "kind": "paired t-interval over seeds"}


def verdict(interval: dict, target: float | None = None, higher_is_better: bool = True) -> str:
    """``met`` / ``not met`` / ``inconclusive`` against ``target`` (met only when the whole
    interval clears it, not met when the whole interval misses it); without a target, a
    difference against 0: ``better`` / ``worse`` / ``inconclusive``. No interval (n < 2): inconclusive."""
    lo, hi = interval.get("lo", math.nan), interval.get("hi", math.nan)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "inconclusive"
    if target is None:
        if lo > 0:
            return "better" if higher_is_better else "worse"
        if hi < 0:
            return "worse" if higher_is_better else "better"
        return "inconclusive"
    if higher_is_better:
        return "met" if lo >= target else "not met" if hi < target else "inconclusive"
    return "met" if hi <= target else "not met" if lo > target else "inconclusive"


def episode_interval(returns) -> dict:
    """Mean and 95 % t-interval over the *episodes* of one run: it covers the evaluation's noise,
    not the variation between training seeds, and says so (``kind``)."""
    return t_interval(returns) | {"kind": "95 % t-interval over evaluation episodes of one run (not over seeds)"}


def fmt(interval: dict, digits: int = 1, unit: str = "", show_n: bool = True) -> str:
    """``m [lo, hi] (n=…)``, or ``m (n=1, no interval)``; ``unit`` follows the mean (``"%"``), and
    ``show_n=False`` leaves n out of an interval (for tables that state it in a column or header)."""
    m, n = interval["mean"], interval["n"]
    if n < 2 or not math.isfinite(interval.get("lo", math.nan)):
        return f"{m:.{digits}f}{unit} (n={n}, no interval)"
    s = f"{m:.{digits}f}{unit} [{interval['lo']:.{digits}f}, {interval['hi']:.{digits}f}]"
    return s + (f" (n={n})" if show_n else "")


def aggregates(scores: dict, reps: int = 2000, seed: int = 0, gap_threshold: float = 1.0) -> dict:
    """rliable's aggregates of normalised scores with stratified-bootstrap 95 % intervals:
    ``scores[method]`` is [runs, tasks] (or [runs]); returns ``{method: {iqm, mean, median,
    optimality_gap: (estimate, lo, hi)}, "runs": n}``. Needs the ``report`` extra (rliable);
    methods with fewer than 2 runs are left out (a bootstrap over one run is no interval)."""
    import numpy as np
    from rliable import library as rly
    from rliable import metrics

    data = {}
    for k, v in scores.items():
        m = np.asarray(v, float)
        m = m.reshape(-1, 1) if m.ndim == 1 else m
        if m.shape[0] >= 2 and np.isfinite(m).all():
            data[k] = m
    if not data:
        return {}

    def fn(x):
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x), metrics.aggregate_median(x),
                         metrics.aggregate_optimality_gap(x, gap_threshold)])

    state = np.random.get_state()  # rliable draws from numpy's global generator: seeded, then restored
    np.random.seed(seed)
    try:
        est, ci = rly.get_interval_estimates(data, fn, reps=reps)
    finally:
        np.random.set_state(state)
    names = ("iqm", "mean", "median", "optimality_gap")
    return {k: {name: (float(est[k][i]), float(ci[k][0][i]), float(ci[k][1][i])) for i, name in enumerate(names)}
            | {"runs": int(data[k].shape[0])} for k in data}


def probability_of_improvement(x, y, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """P(X > Y) of rliable (Agarwal et al. 2021): ``x``, ``y`` are [runs, tasks] (or [runs]) of two
    methods on the same tasks; the estimate and its stratified-bootstrap 95 % interval."""
    import numpy as np
    from rliable import library as rly
    from rliable import metrics

    x, y = (np.asarray(v, float) for v in (x, y))
    x, y = (v.reshape(-1, 1) if v.ndim == 1 else v for v in (x, y))
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        est, ci = rly.get_interval_estimates({"pair": [x, y]}, metrics.probability_of_improvement, reps=reps)
    finally:
        np.random.set_state(state)
    lo, hi = np.ravel(ci["pair"])[:2]
    return float(np.ravel(est["pair"])[0]), float(lo), float(hi)
