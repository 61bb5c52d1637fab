"""Live hyper-parameters: the tunable settings of one trainer, in one object that is part of
its state.

Every setting that population-based training (or a user) may change mid-run — learning rate,
entropy cost, clip range, λ_shared, each λ'_k, ε, the teacher temperature τ, DQN's target rate,
... — is *declared statically*: a config class names its live fields (``LIVE = ("lr", ...)``)
and each trainer class lists what it declares for a config (``live_hparams(cfg)``), so the
names, starting values and domains are known without building a trainer (PBT checks its priors
against them before anything starts). The trainer then declares exactly those here.
``trainer.set_hparams(lr=..., lambda_shared=...)`` changes them and the very next update uses
the new values (the learner sets the optimizer's learning rate at every step). ``state_dict``
holds them, so copying a trainer's state copies its settings. Schedules (:mod:`schedules`) act
on these base values; they never replace them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from distillrl.config import Domain, Live, as_domain
from distillrl.errors import ConfigError

RENAMED: dict[str, str] = {"tau": "target_tau"}
"""Hyper-parameters renamed since, old name → new: read as the new name by a trainer that has the
new name and not the old one. DQN's target-network rate was ``tau``, the teacher temperature's
name; checkpoints and PBT experiments that tuned a DQN's ``tau`` still load."""


def canonical(name: str, names: Iterable[str]) -> str:
    """``name`` as a trainer with hyper-parameters ``names`` calls it (a renamed one's new name)."""
    names = set(names)
    new = RENAMED.get(name)
    return new if name not in names and new in names else name


class HParams:
    """Named float hyper-parameters with domains. Read with ``hp["lr"]``; write with ``set``."""

    def __init__(self, live: Mapping[str, Live] | None = None) -> None:
        self._values: dict[str, float] = {}
        self._domains: dict[str, Domain] = {}
        for name, lv in (live or {}).items():
            if lv.value is None:
                raise ConfigError(f"hyper-parameter {name} has no value")
            self.declare(name, lv.value, lv.domain)

    def declare(self, name: str, value: float, domain: Domain | str = "≥ 0") -> None:
        dom = as_domain(domain)
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
        """Change one or more values; all are checked before any is applied (old names of
        renamed hyper-parameters are read as the new ones)."""
        values = {canonical(k, self._values): v for k, v in values.items()}
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
        state = {canonical(k, self._values): v for k, v in state.items()}
        self.set(**{k: float(v) for k, v in state.items() if k in self._values})
