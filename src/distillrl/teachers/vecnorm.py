"""Stable-Baselines3 ``VecNormalize`` statistics, read **without executing the pickle**.

An SB3 agent trained inside ``VecNormalize`` acted on ``clip((x − mean)/sqrt(var + ε), ±clip_obs)``;
as a teacher it must see the same. SB3 saves the statistics as a pickle of the whole wrapper
(``vec_normalize.pkl``; RL Zoo: ``vecnormalize.pkl``). Unpickling it normally would run whatever
it names. :func:`load_vecnormalize` unpickles with a closed list of names: NumPy's array and
scalar constructors are used for what they are (they only build arrays), the wrapper's own
classes (VecNormalize, RunningMeanStd, the Gymnasium spaces and NumPy generators inside it)
become inert records that only store their state, and any other name — ``os.system``,
``builtins.eval``, a class of some package — refuses the file before anything is called.
Only the observation statistics, ``clip_obs`` and ``epsilon`` are kept, and checked.

An ``.npz`` with ``mean``, ``var`` (and optionally ``clip_obs``, ``epsilon``) works too.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from distillrl.errors import TeacherError

SB3_BESIDE = ("vec_normalize.pkl", "vecnormalize.pkl", "vec_normalize.npz", "vecnormalize.npz")
"""the file names looked for beside an SB3 ``.zip`` (SB3's docs' and RL Zoo's)"""
CLEANRL_BESIDE = ("obs_rms.npz",)
"""beside a CleanRL state dict, whose NormalizeObservation statistics are not in it"""


@dataclass(frozen=True)
class ObsNormalizer:
    """``clip((x − mean)/sqrt(var + ε), ±clip)`` with SB3's statistics."""

    mean: np.ndarray
    var: np.ndarray
    clip: float
    epsilon: float
    source: str = ""

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        mean = torch.as_tensor(self.mean, dtype=torch.float32)
        std = torch.as_tensor(np.sqrt(self.var + self.epsilon), dtype=torch.float32)
        return ((obs.float() - mean) / std).clamp(-self.clip, self.clip)


class _Record:
    """An inert stand-in for a class the file names: it stores its state and runs nothing."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


def _opaque(*args, **kwargs):
    return _Record()


_NUMPY = {
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}
_RECORDS = {
    ("stable_baselines3.common.vec_env.vec_normalize", "VecNormalize"),
    ("stable_baselines3.common.running_mean_std", "RunningMeanStd"),
    ("gymnasium.spaces.box", "Box"), ("gymnasium.spaces.discrete", "Discrete"),
    ("gymnasium.spaces.dict", "Dict"), ("gymnasium.spaces.multi_discrete", "MultiDiscrete"),
    ("gymnasium.spaces.multi_binary", "MultiBinary"), ("gym.spaces.box", "Box"), ("gym.spaces.discrete", "Discrete"),
    ("numpy.random._pcg64", "PCG64"), ("numpy.random._mt19937", "MT19937"), ("numpy.random.mtrand", "RandomState"),
    ("numpy.random.bit_generator", "SeedSequence"),
    ("collections", "OrderedDict"),
}
_CALLS = {
    ("numpy.random._pickle", "__generator_ctor"), ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__randomstate_ctor"), ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
}


class _SafeUnpickler(pickle.Unpickler):
    def __init__(self, f, path: str):
        super().__init__(f)
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) in _NUMPY:
            mod = __import__(module, fromlist=[name])
            return getattr(mod, name)
        if (module, name) in _RECORDS:
            return type(name, (_Record,), {})
        if (module, name) in _CALLS:
            return _opaque
        raise TeacherError(f"refused {self.path}: its pickle names {module}.{name}, which a VecNormalize file never "
                           "does; nothing from it was run")


def _array(x, what: str, path: str) -> np.ndarray:
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TeacherError(f"refused {path}: {what} is not a float array")
    return x.astype(np.float64)


def _number(x, what: str, path: str) -> float:
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.floating, np.integer)):
        raise TeacherError(f"refused {path}: {what} is not a number")
    v = float(x)
    if not np.isfinite(v) or v <= 0:
        raise TeacherError(f"refused {path}: {what} must be a positive number, got {v}")
    return v


def load_vecnormalize(path: str | Path) -> ObsNormalizer | None:
    """The observation normaliser of an SB3 ``VecNormalize`` file (``.pkl``) or an ``.npz``;
    None when the file says observations were not normalised (``norm_obs=False``)."""
    path = Path(path)
    p = str(path)
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                d = {k: z[k] for k in z.files}
        except (OSError, ValueError) as e:
            raise TeacherError(f"{path} is not a readable .npz ({str(e).splitlines()[0][:120]})") from None
        if "mean" not in d or "var" not in d:
            raise TeacherError(f"{path}: an .npz of normalisation statistics needs 'mean' and 'var' arrays")
        mean, var = _array(d["mean"], "mean", p), _array(d["var"], "var", p)
        clip = _number(d["clip_obs"].item(), "clip_obs", p) if "clip_obs" in d else 10.0
        eps = _number(d["epsilon"].item(), "epsilon", p) if "epsilon" in d else 1e-8
    else:
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise TeacherError(f"cannot read {path} ({e.strerror})") from None
        try:
            obj = _SafeUnpickler(io.BytesIO(raw), p).load()
        except TeacherError:
            raise
        except Exception as e:
            raise TeacherError(f"{path} is not a readable VecNormalize pickle ({type(e).__name__}: "
                               f"{str(e).splitlines()[0][:120] if str(e) else ''}); nothing from it was run") from None
        state = getattr(obj, "state", None)
        if type(obj).__name__ != "VecNormalize" or not isinstance(state, dict):
            raise TeacherError(f"refused {path}: it does not hold a VecNormalize (got {type(obj).__name__})")
        if not state.get("norm_obs", True):
            return None
        rms = state.get("obs_rms")
        rstate = getattr(rms, "state", None)
        if not isinstance(rstate, dict):
            raise TeacherError(f"refused {path}: obs_rms is not a RunningMeanStd (Dict observations are not supported)")
        mean, var = _array(rstate.get("mean"), "obs_rms.mean", p), _array(rstate.get("var"), "obs_rms.var", p)
        clip = _number(state.get("clip_obs"), "clip_obs", p)
        eps = _number(state.get("epsilon"), "epsilon", p)
    if mean.shape != var.shape:
        raise TeacherError(f"refused {path}: mean {mean.shape} and var {var.shape} differ in shape")
    if (var < 0).any() or not np.isfinite(mean).all() or not np.isfinite(var).all():
        raise TeacherError(f"refused {path}: the statistics hold negative variances or non-finite values")
    return ObsNormalizer(mean, var, clip, eps, p)


def beside(zip_path: Path, names: tuple[str, ...] = SB3_BESIDE) -> Path | None:
    """The statistics file named ``names`` next to a teacher file, if there is one (an SB3
    ``.zip`` reads only SB3's names, a CleanRL state dict only ``obs_rms.npz``, so two teachers
    in one folder never take each other's)."""
    for name in names:
        q = zip_path.with_name(name)
        if q.exists():
            return q
    return None
