"""Live hyper-parameters: the tunable settings of one trainer, in one object that is part of
its state.

Every setting that population-based training (or a user) may change mid-run — learning rate,
entropy cost, clip range, λ_shared, each λ'_k, ε, τ, ... — is declared here with its domain
when the trainer is built. ``trainer.set_hparams(lr=..., lambda_shared=...)`` changes them and
the very next update uses the new values (the learner sets the optimizer's learning rate at
every step). ``state_dict`` holds them, so copying a trainer's state copies its settings.
Schedules (:mod:`schedules`) act on these base values; they never replace them.
"""

from __future__ import annotations

import math

from distillrl.config import Domain
from distillrl.errors import ConfigError


class HParams:
    """Named float hyper-parameters with domains. Read with ``hp["lr"]``; write with ``set``."""

    def __init__(self) -> None:
        self._values: dict[str, float] = {}
        self._domains: dict[str, Domain] = {}

    def declare(self, name: str, value: float, domain: str = "≥ 0") -> None:
        dom = Domain.parse(domain)
        dom.check(float(value), f"hyper-parameter {name}")
        self._values[name] = float(value)
        self._domains[name] = dom

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def names(self) -> list[str]:
        return list(self._values)

    def as_dict(self) -> dict[str, float]:
        return dict(self._values)

    def set(self, **values: float) -> None:
        """Change one or more values; all are checked before any is applied."""
        for k, v in values.items():
            if k not in self._values:
                raise ConfigError(f"unknown hyper-parameter {k!r}; this trainer has: {', '.join(self._values)}")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(float(v)):
                raise ConfigError(f"hyper-parameter {k} must be a number, got {v!r}")
            self._domains[k].check(float(v), f"hyper-parameter {k}")
        for k, v in values.items():
            self._values[k] = float(v)

    def state_dict(self) -> dict[str, float]:
        return dict(self._values)

    def load_state_dict(self, state: dict) -> None:
        self.set(**{k: float(v) for k, v in state.items() if k in self._values})
