"""Summary statistics shared by summaries and reports."""

from __future__ import annotations

import math


def geomean(xs) -> float:
    """Geometric mean (values ≤ 0 count as 1e-3: a task at zero drags the suite down, not to NaN;
    an undefined ratio — a teacher scoring 0 — is left out)."""
    xs = [max(float(x), 1e-3) for x in xs if math.isfinite(float(x))]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")
