"""GAE written into a rollout: advantages and value targets, truncated episodes bootstrapped."""

from __future__ import annotations

from typing import Any

from distillrl.core.returns import gae, with_truncation


def estimate_gae(ro: Any, gamma: float, lam: float) -> None:
    """Write GAE advantages and value targets into a rollout (truncated episodes bootstrapped)."""
    ro.advantages = gae(with_truncation(ro.rewards, ro.trunc_value, gamma), ro.values, ro.done, ro.last_value,
                       gamma, lam)
    ro.returns = ro.advantages + ro.values
