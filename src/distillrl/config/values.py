"""Values: type coercion, validation against the declared domains, dicts and YAML.

:func:`validate` is the one place where option values are checked — the CLI, YAML files,
PBT and the Python API all go through it: every numeric field against its declared domain
(:func:`~distillrl.config.knobs.knob`), every ``Literal`` field against its choices, then the
config's own ``check()`` for rules that span fields.

Renamed options: a config class may declare ``RENAMED = {"old": "new"}``; :func:`from_dict`
reads the old key as the new one, so configs and checkpoints written before the rename load.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from distillrl.config.knobs import field_domain
from distillrl.errors import ConfigError


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    """The resolved field types of a config class."""
    return typing.get_type_hints(cls)


def is_optional(tp: Any) -> tuple[bool, Any]:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return True, args[0]
    return False, tp


def is_numeric(tp: Any) -> bool:
    """int or float, optional or a list/tuple of them."""
    _, inner = is_optional(tp)
    if get_origin(inner) in (tuple, list):
        inner = get_args(inner)[0]
    return inner in (int, float)


def type_name(tp: Any) -> str:
    opt, inner = is_optional(tp)
    if opt:
        return f"{type_name(inner)} or null"
    if get_origin(tp) is Literal:
        return "one of " + "|".join(str(a) for a in get_args(tp))
    if get_origin(tp) in (tuple, list):
        return f"list of {type_name(get_args(tp)[0])}"
    return getattr(tp, "__name__", str(tp))


def flag(path: str) -> str:
    """``ppo.num_envs`` → ``--ppo.num-envs``."""
    return "--" + path.replace("_", "-")


def validate(cfg: Any, where: str = "") -> Any:
    """Check every numeric field of ``cfg`` (recursively) against its declared domain, then the
    config's own ``check()`` (cross-field rules). Returns ``cfg``; raises :class:`ConfigError`."""
    h = hints(type(cfg))
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        path = f"{where}.{f.name}" if where else f.name
        if dataclasses.is_dataclass(v):
            validate(v, path)
            continue
        tp = h[f.name]
        opt, inner = is_optional(tp)
        if get_origin(inner) is Literal and not (opt and v is None):
            coerce(v, tp, flag(path))
        dom = field_domain(f)
        if v is None or dom is None or not is_numeric(tp):
            continue
        for x in (v if isinstance(v, (list, tuple)) else [v]):
            dom.check(x, flag(path))
    check = getattr(cfg, "check", None)
    if callable(check):
        check()
    return cfg


def coerce(value: Any, tp: Any, where: str, from_text: bool = False) -> Any:
    """Check ``value`` against type ``tp`` (strings are parsed when ``from_text``)."""
    opt, inner = is_optional(tp)
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


def renamed(cls: type, data: dict, where: str = "") -> dict:
    """``data`` with the old names of renamed fields (``cls.RENAMED``) replaced by the new ones."""
    ren: dict[str, str] = getattr(cls, "RENAMED", {})
    if not ren:
        return data
    out: dict = {}
    for key, value in data.items():
        k = str(key).replace("-", "_")
        new = ren.get(k)
        if new is not None:
            if new in data or new.replace("_", "-") in data:
                path = f"{where}.{k}" if where else k
                raise ConfigError(f"{path!r} is the old name of {new!r}; give one of them, not both")
            k = new
        out[k] = value
    return out


def from_dict(cls: type, data: Any, base: Any = None, where: str = "") -> Any:
    """Build a ``cls`` instance from a nested dict; unknown keys and wrong types are errors.

    Fields missing from ``data`` keep their value in ``base`` (or the dataclass default); old
    names of renamed fields (``cls.RENAMED``) are read as the new ones.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    data = renamed(cls, data, where)
    base = base if base is not None else cls()
    h = hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    updates = {}
    for key, value in data.items():
        k = str(key).replace("-", "_")
        path = f"{where}.{k}" if where else k
        if k not in names:
            close = [n for n in names if n.startswith(k[:3])]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown config key {path!r}{hint}")
        tp = h[k]
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
