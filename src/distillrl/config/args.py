"""The command line of a config class: one ``--flag`` per (nested) field, help text and domain
from its :func:`~distillrl.config.knobs.knob`, values checked later by the same code as YAML.

Options that belong to some learners only (``knob(..., algos=...)``, ``section(..., algos=...)``)
are offered only for those: the parser is built for one command *and* one algorithm, after a
small pre-parser has read ``--algo`` (see :mod:`distillrl.runs.kinds`).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import sys
import typing
from typing import Any, Literal, get_args, get_origin

from distillrl.config.knobs import field_algos, field_domain, field_help
from distillrl.config.values import coerce, flag, hints, type_name


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are a single line on stderr and exit code 2."""

    def error(self, message: str) -> typing.NoReturn:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def offered(f: dataclasses.Field, algo: str | None) -> bool:
    """Whether the command line offers field ``f`` for learner ``algo`` (None: every field)."""
    algos = field_algos(f)
    return algo is None or algos is None or algo in algos


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type, prefix: str = "",
                       skip: tuple[str, ...] = (), algo: str | None = None) -> None:
    """Add one ``--flag`` per (nested) dataclass field offered for ``algo``; values are validated later."""
    h = hints(cls)
    defaults = cls()
    group = parser if not prefix else parser.add_argument_group(prefix.rstrip("."), inspect.getdoc(cls))
    for f in dataclasses.fields(cls):
        if f.name in skip or not offered(f, algo):
            continue
        tp = h[f.name]
        if dataclasses.is_dataclass(tp):
            add_dataclass_args(parser, tp, f"{prefix}{f.name}.", algo=algo)
            continue
        default = getattr(defaults, f.name)
        dom = field_domain(f)
        tname = type_name(tp)
        if f.metadata.get("also") and get_origin(tp) is Literal:
            tname = "one of " + "|".join(map(str, (*get_args(tp), *f.metadata["also"])))
        kind = tname + (f" {dom.text}" if dom is not None else "")
        if f.name in getattr(cls, "LIVE", ()):
            kind += "; live"
        helptext = f"{field_help(f)} [{kind}; default: {default}]".replace("%", "%%")
        dest = prefix + f.name
        name = flag(dest)
        if tp is bool:
            group.add_argument(name, dest=dest, nargs="?", const="true", default=argparse.SUPPRESS,
                               metavar="BOOL", help=helptext)
        elif get_origin(tp) in (tuple, list):
            group.add_argument(name, dest=dest, nargs="+", action="extend", default=argparse.SUPPRESS,
                               help=helptext + " (repeatable)")
        else:
            choices = (*get_args(tp), *f.metadata.get("also", ())) if get_origin(tp) is Literal else None
            group.add_argument(name, dest=dest, default=argparse.SUPPRESS, help=helptext,
                               metavar="{" + ",".join(map(str, choices)) + "}" if choices else f.name.upper())
    offered_names = {f.name for f in dataclasses.fields(cls) if f.name not in skip and offered(f, algo)}
    for old, new in getattr(cls, "RENAMED", {}).items():  # old command lines keep working, unlisted
        if new in offered_names and not dataclasses.is_dataclass(h[new]):
            group.add_argument(flag(prefix + old), dest=prefix + new, default=argparse.SUPPRESS,
                               help=argparse.SUPPRESS)


def foreign_options(cls: type, algo: str, prefix: str = "",
                    algos: tuple[str, ...] | None = None) -> dict[str, tuple[str, ...]]:
    """The flags of ``cls`` *not* offered for ``algo``, each with the learners it belongs to (for
    a one-line error that says which ``--algo`` an option needs)."""
    out: dict[str, tuple[str, ...]] = {}
    h = hints(cls)
    for f in dataclasses.fields(cls):
        own = field_algos(f) if algos is None else algos
        if dataclasses.is_dataclass(h[f.name]):
            out.update(foreign_options(h[f.name], algo, f"{prefix}{f.name}.", own))
        elif own is not None and algo not in own:
            out[flag(prefix + f.name)] = own
    return out


def apply_args(cfg: Any, ns: argparse.Namespace, prefix: str = "") -> Any:
    """Overlay parsed command-line values (strings) onto ``cfg`` with type checks."""
    h = hints(type(cfg))
    updates = {}
    for f in dataclasses.fields(cfg):
        tp = h[f.name]
        key = prefix + f.name
        if dataclasses.is_dataclass(tp):
            updates[f.name] = apply_args(getattr(cfg, f.name), ns, key + ".")
        elif hasattr(ns, key):
            updates[f.name] = coerce(getattr(ns, key), tp, flag(key), from_text=True)
    return dataclasses.replace(cfg, **updates)


def die(prog: str, message: str, code: int = 2) -> typing.NoReturn:
    sys.stderr.write(f"{prog}: error: {message}\n")
    raise SystemExit(code)
