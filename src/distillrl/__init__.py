"""distillrl — teach reinforcement-learning agents with agents."""

import importlib as _importlib
import os as _os

# NumPy's BLAS would otherwise start one thread per core for the tiny matmuls of the acting
# path (distillrl.actor); on a small shared CPU those threads spin against the learner and
# make it several times slower. Set before NumPy is imported; an explicit user setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    _os.environ.setdefault(_var, "1")

if _os.environ.get("OPENBLAS_NUM_THREADS") == "1":
    # NumPy may already be loaded (imported before distillrl): cap its BLAS pool at run time too.
    try:
        from threadpoolctl import threadpool_limits as _limits

        _limits(1, user_api="blas")
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        pass

__version__ = "0.2.0"

_LAZY = {"TrainConfig": "distillrl.algos", "make_trainer": "distillrl.algos",
         "DistillConfig": "distillrl.algos.distill", "KickstartConfig": "distillrl.algos.kickstart",
         "make_kickstart_trainer": "distillrl.algos.kickstart", "load_teacher": "distillrl.teachers.load",
         "DistillRLError": "distillrl.errors"}


def __getattr__(name: str):
    """``from distillrl import TrainConfig, make_trainer`` without importing torch at package import."""
    if name in _LAZY:
        return getattr(_importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'distillrl' has no attribute {name!r}")
