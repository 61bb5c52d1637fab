"""How each environment family is scored: one table, read by every summary, ``eval`` and PBT.

A family's *convention* is the evaluation mode its literature reports and the number it reports
in that mode. MiniGrid agents are reported by their success rate with actions sampled from the
policy (the protocol of the MiniGrid/BabyAI papers: a greedy policy can loop forever in front
of a door it would open one time in ten); MinAtar, Atari and classic control report the mean
return of the greedy policy. Summaries give ``score`` in the convention, ``score_mode``, and
the other mode beside it (``greedy_return``, ``sampled_return``, and for families that define
success ``success_rate``, in the score's mode, with ``greedy_success_rate`` /
``sampled_success_rate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from distillrl.envs.make import parse_spec, spec_options, split_specs

Mode = Literal["greedy", "sampled"]
MODES: tuple[Mode, ...] = ("greedy", "sampled")


@dataclass(frozen=True)
class Convention:
    """One family's evaluation protocol."""

    family: str
    mode: Mode
    """the mode the family's score is measured in"""
    score: Literal["return", "success_rate"]
    """what the score is: the mean episode return, or the share of episodes that reached the goal"""
    success: bool
    """the family defines success (an episode with a positive return reached the goal)"""

    @property
    def other_mode(self) -> Mode:
        return "sampled" if self.mode == "greedy" else "greedy"


CONVENTIONS: dict[str, Convention] = {
    "minigrid": Convention("minigrid", "sampled", "success_rate", True),
    "minatar": Convention("minatar", "greedy", "return", False),
    "ale": Convention("ale", "greedy", "return", False),
    "gym": Convention("gym", "greedy", "return", False),
    "meta": Convention("meta", "greedy", "return", False),
}
"""family → its convention (the family prefix of an env spec: ``minigrid:...``)"""


def convention(env: str) -> Convention:
    """The convention of ``env`` (a spec, or a task set whose tasks all share one family; a task
    set mixing families is scored by greedy return, the one number every family has)."""
    families = {parse_spec(spec_options(s)[0])[0] for s in split_specs(env)}
    if len(families) == 1:
        return CONVENTIONS[families.pop()]
    return Convention("mixed", "greedy", "return", False)


def success_rate(env: str, returns) -> float | None:
    """The share of episodes that reached the goal, for families that define success (MiniGrid: a
    positive return); None otherwise."""
    if not convention(env).success or len(returns) == 0:
        return None
    return float(np.mean(np.asarray(returns) > 0))


__all__ = ["CONVENTIONS", "Convention", "MODES", "Mode", "convention", "success_rate"]
