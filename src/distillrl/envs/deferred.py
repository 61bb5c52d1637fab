"""Modules imported on first use instead of at import: a package that imports heavy modules it
rarely needs (MinAtar imports matplotlib.pyplot and seaborn for its renderers only) is imported
inside :func:`deferred_imports`, and those modules load only when something reads from them."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator


class _OnFirstUse(types.ModuleType):
    """Stands for a module that is not imported yet. The first attribute read from it imports the
    real module, which then takes over this object's namespace (so a holder of this object, e.g.
    MinAtar's ``sns``, gets the real functions)."""

    def __getattr__(self, attr: str):  # only reached for names not in the namespace yet
        name = self.__dict__["__name__"]
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = importlib.import_module(name)
        self.__dict__.update(real.__dict__)
        return getattr(real, attr)


@contextlib.contextmanager
def deferred_imports(*names: str) -> Iterator[None]:
    """While active, ``import NAME`` of each of ``names`` not imported yet (and installed) gives an
    :class:`_OnFirstUse` stand-in instead of running the module. On exit the stand-ins leave
    ``sys.modules``: later imports elsewhere get the real modules, as usual."""
    placed = {}
    for name in names:
        if name in sys.modules or importlib.util.find_spec(name.split(".")[0]) is None:
            continue
        placed[name] = sys.modules[name] = _OnFirstUse(name)
    try:
        yield
    finally:
        for name, stand_in in placed.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
