"""Declared options: a config field is a :func:`knob` — its default, its domain and its help text
in one ``dataclasses.field`` (the metadata), read by validation, ``--help`` and the tests.

    lr: float = knob(2.5e-4, "> 0", "learning rate")

Nothing is parsed from source code: a domain string is turned into a :class:`Domain` once,
when the class is defined (a malformed one fails at import), and help text is plain metadata.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from distillrl.errors import ConfigError

_NUM = r"[-+]?(?:inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?)"


@dataclasses.dataclass(frozen=True)
class Domain:
    """An interval of allowed values, written ``> a``, ``≥ a``, ``< b``, ``≤ b`` or
    ``[a, b]`` / ``(a, b)`` / ``[a, b)`` / ``(a, b]``."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = True
    hi_open: bool = True
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Domain:
        t = text.strip().replace(">=", "≥").replace("<=", "≤").replace(" ", "")
        m = re.fullmatch(r"([><≥≤])(" + _NUM + ")", t)
        if m:
            op, v = m.group(1), float(m.group(2))
            if op in "><":
                return cls(v if op == ">" else -math.inf, v if op == "<" else math.inf, True, True, text.strip())
            return cls(v if op == "≥" else -math.inf, v if op == "≤" else math.inf, op != "≥", op != "≤",
                       text.strip())
        m = re.fullmatch(r"([\[(])(" + _NUM + r"),(" + _NUM + r")([\])])", t)
        if m:
            return cls(float(m.group(2)), float(m.group(3)), m.group(1) == "(", m.group(4) == ")", text.strip())
        raise ValueError(f"unparseable domain {text!r}")

    def __contains__(self, x: float) -> bool:
        if isinstance(x, float) and math.isnan(x):
            return False
        lo_ok = x > self.lo if self.lo_open else x >= self.lo
        hi_ok = x < self.hi if self.hi_open else x <= self.hi
        return lo_ok and hi_ok

    def check(self, x: float, where: str) -> None:
        if x not in self:
            raise ConfigError(f"{where} must be {self.text}, got {x!r}")


def as_domain(domain: Domain | str) -> Domain:
    return domain if isinstance(domain, Domain) else Domain.parse(domain)


HELP, DOMAIN, ALGOS, ALSO = "help", "domain", "algos", "also"
"""The metadata keys a knob sets."""


def knob(default: Any = dataclasses.MISSING, domain: str | None = None, help: str = "", *,
         factory: Callable[[], Any] | None = None, algos: Sequence[str] | None = None,
         also: Sequence[str] = ()) -> Any:
    """A config field with its domain (numeric fields: ``"> 0"``, ``"[0, 1]"``, ...) and help text.

    ``factory`` replaces ``default`` for mutable defaults (``factory=list``); ``algos`` names the
    learners the option belongs to (the command line offers it only with one of them); ``also``:
    choices the command line accepts beyond the field's own, which select another parser (``train
    --algo dt``), listed in ``--help`` with the others."""
    meta: dict[str, Any] = {HELP: " ".join(help.split())}
    if domain is not None:
        meta[DOMAIN] = Domain.parse(domain)
    if algos is not None:
        meta[ALGOS] = tuple(algos)
    if also:
        meta[ALSO] = tuple(also)
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def section(cls: type, algos: Sequence[str] | None = None) -> Any:
    """A nested config (``--ppo.*``): ``cls()`` by default; ``algos`` as for :func:`knob`."""
    meta = {ALGOS: tuple(algos)} if algos is not None else {}
    return dataclasses.field(default_factory=cls, metadata=meta)


def field_help(f: dataclasses.Field) -> str:
    return f.metadata.get(HELP, "")


def field_domain(f: dataclasses.Field) -> Domain | None:
    return f.metadata.get(DOMAIN)


def field_algos(f: dataclasses.Field) -> tuple[str, ...] | None:
    """The learners an option belongs to (None: every one)."""
    return f.metadata.get(ALGOS)


def field_docs(cls: type) -> dict[str, str]:
    """Field name → help text, for every field of ``cls`` that has one."""
    return {f.name: field_help(f) for f in dataclasses.fields(cls) if field_help(f)}


def field_domains(cls: type) -> dict[str, Domain]:
    """Field name → declared domain."""
    return {f.name: d for f in dataclasses.fields(cls) if (d := field_domain(f)) is not None}


@dataclasses.dataclass(frozen=True)
class Live:
    """A live hyper-parameter as declared: its starting value and its domain. ``value`` is None
    where it is decided only when the trainer is built (a distillation's teacher temperature
    defaults to the teacher's own)."""

    value: float | None
    domain: Domain


def live_knobs(cfg: Any, names: Sequence[str] | None = None) -> dict[str, Live]:
    """``{name: Live}`` for the live fields of a config object (``type(cfg).LIVE`` unless
    ``names`` is given), each with its current value and its declared domain."""
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    out: dict[str, Live] = {}
    for n in (type(cfg).LIVE if names is None else names):
        dom = field_domain(fields[n])
        if dom is None:  # pragma: no cover - a declaration error, caught by the tests
            raise TypeError(f"{type(cfg).__name__}.{n} is live but declares no domain")
        v = getattr(cfg, n)
        out[n] = Live(None if v is None else float(v), dom)
    return out
