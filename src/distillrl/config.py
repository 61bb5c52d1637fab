"""Typed configuration: dataclasses with a docstring per field.

Every command's options are a dataclass. The same description drives three things:

* ``--help`` (each field's docstring is its help text),
* command-line parsing (``--ppo.num-envs 8``), and
* strict loading of YAML files (unknown keys and wrong types are errors).

Why not tyro: tyro renders errors as multi-line panels and has its own YAML story; we want
*one-line* errors (``distillrl train: error: ...``) and exactly the same validation for a YAML
file and for the command line, so the ~150 lines below do it with argparse.

**Domains.** Every numeric field states its domain at the end of its docstring in braces —
``{> 0}``, ``{≥ 1}``, ``{[0, 1]}``, ``{(0, 1]}`` — and :func:`validate` checks every value
against it (and runs the config's own ``check()`` for rules that span fields). This is the
one place where option values are checked: the CLI, YAML files, PBT and the Python API all
go through it. Choice fields are ``Literal`` types, checked by :func:`coerce`.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import math
import re
import sys
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from distillrl.errors import ConfigError

__all__ = ["ConfigError", "Domain", "validate", "from_dict", "to_dict", "field_docs", "field_domains"]


# --------------------------------------------------------------------------- docstrings


def field_docs(cls: type) -> dict[str, str]:
    """Map field name -> the string literal that follows it in the class body."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            src = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = ast.parse(src).body[0].body  # type: ignore[attr-defined]
        for prev, node in zip(body, body[1:]):
            if (
                isinstance(prev, ast.AnnAssign)
                and isinstance(prev.target, ast.Name)
                and isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                docs[prev.target.id] = " ".join(node.value.value.split())
    return docs


# --------------------------------------------------------------------------- domains

_NUM = r"[-+]?(?:inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?)"
_DOMAIN_RE = re.compile(r"\s*\{([^{}]+)\}\s*$")


@dataclasses.dataclass(frozen=True)
class Domain:
    """An interval of allowed values, parsed from ``> a``, ``≥ a``, ``< b``, ``≤ b`` or
    ``[a, b]`` / ``(a, b)`` / ``[a, b)`` / ``(a, b]``."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = True
    hi_open: bool = True
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> "Domain":
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


def split_doc(doc: str) -> tuple[str, Domain | None]:
    """``"learning rate {> 0}"`` → ``("learning rate", Domain(> 0))``."""
    m = _DOMAIN_RE.search(doc)
    if not m:
        return doc, None
    return doc[: m.start()].rstrip(), Domain.parse(m.group(1))


def field_domains(cls: type) -> dict[str, Domain]:
    out = {}
    for name, doc in field_docs(cls).items():
        _, dom = split_doc(doc)
        if dom is not None:
            out[name] = dom
    return out


def _numeric(tp: Any) -> bool:
    opt, inner = _is_optional(tp)
    if get_origin(inner) in (tuple, list):
        inner = get_args(inner)[0]
    return inner in (int, float)


def validate(cfg: Any, where: str = "") -> Any:
    """Check every numeric field of ``cfg`` (recursively) against its declared domain, then the
    config's own ``check()`` (cross-field rules). Returns ``cfg``; raises :class:`ConfigError`."""
    cls = type(cfg)
    hints = _hints(cls)
    doms = field_domains(cls)
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        path = f"{where}.{f.name}" if where else f.name
        if dataclasses.is_dataclass(v):
            validate(v, path)
            continue
        opt, inner = _is_optional(hints[f.name])
        if get_origin(inner) is Literal and not (opt and v is None):
            coerce(v, hints[f.name], "--" + path.replace("_", "-"))
        if v is None or f.name not in doms or not _numeric(hints[f.name]):
            continue
        for x in (v if isinstance(v, (list, tuple)) else [v]):
            doms[f.name].check(x, "--" + path.replace("_", "-"))
    check = getattr(cfg, "check", None)
    if callable(check):
        check()
    return cfg


# --------------------------------------------------------------------------- type coercion


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return True, args[0]
    return False, tp


def _type_name(tp: Any) -> str:
    opt, inner = _is_optional(tp)
    if opt:
        return f"{_type_name(inner)} or null"
    if get_origin(tp) is Literal:
        return "one of " + "|".join(str(a) for a in get_args(tp))
    if get_origin(tp) in (tuple, list):
        return f"list of {_type_name(get_args(tp)[0])}"
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, where: str, from_text: bool = False) -> Any:
    """Check ``value`` against type ``tp`` (strings are parsed when ``from_text``)."""
    opt, inner = _is_optional(tp)
    if opt:
        if value is None or (from_text and str(value).lower() in ("none", "null")):
            return None
        return coerce(value, inner, where, from_text)
    origin = get_origin(tp)
    if origin is Literal:
        choices = get_args(tp)
        if value in choices:
            return value
        raise ConfigError(f"{where}: expected one of {', '.join(map(str, choices))}, got {value!r}")
    if origin in (tuple, list):
        (elem,) = get_args(tp)[:1]
        if from_text and isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            value = [value]  # a single value where a list is expected: a one-element list
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        out = [coerce(v, elem, where, from_text) for v in value]
        return tuple(out) if origin is tuple else out
    if tp is bool:
        if isinstance(value, bool):
            return value
        if from_text and str(value).lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return str(value).lower() in ("true", "1", "yes", "on")
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if from_text or isinstance(value, str):
            try:
                f = float(str(value).replace("_", ""))
            except ValueError:
                raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
            if f.is_integer():
                return int(f)
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):  # YAML reads 1e-4 as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    raise ConfigError(f"{where}: unsupported type {tp!r}")  # pragma: no cover


def from_dict(cls: type, data: Any, base: Any = None, where: str = "") -> Any:
    """Build a ``cls`` instance from a nested dict; unknown keys and wrong types are errors.

    Fields missing from ``data`` keep their value in ``base`` (or the dataclass default).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    base = base if base is not None else cls()
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    updates = {}
    for key, value in data.items():
        k = str(key).replace("-", "_")
        path = f"{where}.{k}" if where else k
        if k not in names:
            close = [n for n in names if n.startswith(k[:3])]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown config key {path!r}{hint}")
        tp = hints[k]
        if dataclasses.is_dataclass(tp):
            updates[k] = from_dict(tp, value, getattr(base, k), path)
        else:
            updates[k] = coerce(value, tp, path)
    return dataclasses.replace(base, **updates)


def to_dict(obj: Any) -> dict:
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if dataclasses.is_dataclass(v):
            out[f.name] = to_dict(v)
        elif isinstance(v, tuple):
            out[f.name] = list(v)
        else:
            out[f.name] = v
    return out


def load_yaml(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"bad YAML in {p}{at}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"bad config file {p}: top level must be a mapping of keys to values")
    return data


def dump_yaml(obj: Any, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(obj), sort_keys=False))


# --------------------------------------------------------------------------- argparse


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are a single line on stderr and exit code 2."""

    def error(self, message: str) -> typing.NoReturn:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type, prefix: str = "",
                       skip: tuple[str, ...] = ()) -> None:
    """Add one ``--flag`` per (nested) dataclass field; values are validated later."""
    docs = field_docs(cls)
    hints = _hints(cls)
    defaults = cls()
    group = parser if not prefix else parser.add_argument_group(prefix.rstrip("."), inspect.getdoc(cls))
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            add_dataclass_args(parser, tp, f"{prefix}{f.name}.")
            continue
        flag = "--" + (prefix + f.name).replace("_", "-")
        default = getattr(defaults, f.name)
        helptext, dom = split_doc(docs.get(f.name, ""))
        kind = _type_name(tp) + (f" {dom.text}" if dom is not None else "")
        helptext = f"{helptext} [{kind}; default: {default}]".replace("%", "%%")
        dest = prefix + f.name
        if tp is bool:
            group.add_argument(flag, dest=dest, nargs="?", const="true", default=argparse.SUPPRESS,
                               metavar="BOOL", help=helptext)
        elif get_origin(tp) in (tuple, list):
            group.add_argument(flag, dest=dest, nargs="+", action="extend", default=argparse.SUPPRESS,
                               help=helptext + " (repeatable)")
        else:
            choices = get_args(tp) if get_origin(tp) is Literal else None
            group.add_argument(flag, dest=dest, default=argparse.SUPPRESS, help=helptext,
                               metavar="{" + ",".join(map(str, choices)) + "}" if choices else f.name.upper())


def apply_args(cfg: Any, ns: argparse.Namespace, prefix: str = "") -> Any:
    """Overlay parsed command-line values (strings) onto ``cfg`` with type checks."""
    hints = _hints(type(cfg))
    updates = {}
    for f in dataclasses.fields(cfg):
        tp = hints[f.name]
        key = prefix + f.name
        if dataclasses.is_dataclass(tp):
            updates[f.name] = apply_args(getattr(cfg, f.name), ns, key + ".")
        elif hasattr(ns, key):
            flag = "--" + key.replace("_", "-")
            updates[f.name] = coerce(getattr(ns, key), tp, flag, from_text=True)
    return dataclasses.replace(cfg, **updates)


def die(prog: str, message: str, code: int = 2) -> typing.NoReturn:
    sys.stderr.write(f"{prog}: error: {message}\n")
    raise SystemExit(code)
