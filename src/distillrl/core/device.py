"""Where a learner's network and its updates live (``--device``).

``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or ``auto`` (CUDA if torch sees a GPU, else MPS,
else the CPU). Only the learning side moves: rollouts are acted on the CPU by the learner's NumPy
(or torch) mirror, which receives the weights after every update, so a GPU pays off where the
update dominates (large conv nets, long minibatch epochs, transformers) and not for small MLPs,
whose updates cost less than the transfers. Teachers label each rollout on the CPU in one batched
forward; the labels travel to the device with the rollout.
"""

from __future__ import annotations

import re

import torch

from distillrl.errors import ConfigError

DEVICE_FORMS = "cpu, cuda, cuda:N, mps or auto"


def resolve_device(text: str | torch.device | None) -> torch.device:
    """The :class:`torch.device` ``text`` names, checked against what this torch can use;
    one :class:`ConfigError` naming the problem otherwise."""
    if isinstance(text, torch.device):
        return text
    t = (text or "cpu").strip().lower()
    if t == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if t == "cpu":
        return torch.device("cpu")
    m = re.fullmatch(r"cuda(?::(\d+))?", t)
    if m:
        if not torch.cuda.is_available():
            why = "this torch is a CPU-only build" if torch.version.cuda is None else "no CUDA device is visible"
            raise ConfigError(f"--device {text}: torch cannot use CUDA here ({why}); use --device cpu (or auto)")
        n = torch.cuda.device_count()
        i = int(m.group(1)) if m.group(1) is not None else torch.cuda.current_device()
        if i >= n:
            raise ConfigError(f"--device {text}: torch sees {n} CUDA device(s), numbered 0..{n - 1}")
        return torch.device("cuda", i)
    if t == "mps":
        if not _mps_available():
            raise ConfigError(f"--device {text}: torch cannot use Apple's MPS here; use --device cpu (or auto)")
        return torch.device("mps")
    raise ConfigError(f"--device: expected {DEVICE_FORMS}, got {text!r}")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())
