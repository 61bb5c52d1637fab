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
