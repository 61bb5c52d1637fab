"""The :class:`Trainer` protocol: what the run loop, population-based training, sweeps and
codistillation may use of a trainer — and nothing else.

Every trainer satisfies it: the RL learners (PPO, A2C, DQN, PQN, IMPALA), distillation and
kickstarting (an RL learner with extra loss terms), online distillation (a composition of a
teacher trainer and a student trainer), and the offline Decision-Transformer trainers. Front
ends never probe a trainer for optional attributes (``hasattr``/``getattr``); a capability some
trainers lack has a neutral default here (``export`` does nothing, ``recent_returns`` is empty).

Units: a trainer counts *frames* — environment frames for the RL trainers, gradient updates
for the offline ones, whose data come from a dataset — and ``total_frames`` is the run's
budget in those units. ``log_every`` is the number of frames the run loop advances before it
looks again (writes metric rows, checks for a checkpoint, runs its hooks); 1 means after every
update round, for trainers whose rounds already span a logging interval.

This module imports nothing heavy: it is a contract, read by every layer above ``core``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from distillrl.core.hparams import HParams


@runtime_checkable
class Trainer(Protocol):
    """A trainer, advanced by frames; its whole state is ``state_dict()``."""

    algo: str
    """the trainer's name in checkpoints (``ppo``, ``dqn``, ``online-ppo``, ``dt``, ...)"""
    env: str
    """the environment spec it trains on (a task set: specs joined by commas)"""
    frames: int
    """frames done so far (environment frames; gradient updates for the offline trainers)"""
    unit: str
    """what ``frames`` counts, for people: ``frames``, or ``updates`` for the offline trainers"""
    total_frames: int
    """the run's budget of frames"""
    log_every: int
    """frames the run loop advances between two looks at the trainer {≥ 1}"""
    hp: HParams
    """live hyper-parameters (``hp.names()``; change them with :meth:`set_hparams`)"""
    agent: Any
    """the network being trained; ``agent.spec()`` describes it in checkpoints"""

    @property
    def updates(self) -> int:
        """Learner updates made so far."""

    @property
    def n_params(self) -> int:
        """Parameters of the trained network (what a summary reports as its size)."""

    def advance(self, frames: int) -> list[dict]:
        """Train at least ``frames`` more frames (whole update rounds); return the metric rows."""

    def step(self) -> list[dict]:
        """One update round (a rollout and its updates, one env step, a logging chunk, ...);
        return its metric rows (none where a round does not end a logging interval)."""

    def set_hparams(self, **values: float) -> None:
        """Change live hyper-parameters; the very next update uses them."""

    def recent_returns(self) -> list[float]:
        """Returns of the most recent training episodes, oldest first (empty: no episodes played)."""

    def reseed(self, entropy: Sequence[int]) -> None:
        """Restart the trainer's own random streams from ``entropy`` (a population member that
        copied another's state continues with its own noise)."""

    def state_dict(self) -> dict:
        """The whole state (weights, optimizer, hyper-parameters, random generators, counters)."""

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`; the next update is the one the saved trainer would have made."""

    def export(self, run_dir: Path) -> None:
        """Write extra artefacts into ``run_dir`` at the end of a run (most trainers: none)."""

    def close(self) -> None:
        """Release environments, actors and processes."""


__all__ = ["Trainer"]
