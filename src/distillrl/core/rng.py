"""Random-generator state as plain data (checkpoints are JSON + tensors, never pickles), and the
environment seed a resumed run restarts from."""

from __future__ import annotations

import numpy as np


def resume_seed(seed: int, frames: int) -> int:
    """Environment reset seed after restoring at ``frames``: deterministic, distinct per position,
    and inside [0, 2**31) because some envs (MinAtar) seed a legacy 32-bit RandomState."""
    return (seed * 1_000_003 + 7919 * (frames + 1)) % (2**31 - 1)


def np_state_to_json(rng: np.random.Generator) -> dict:
    st = rng.bit_generator.state
    # PCG64 holds 128-bit ints: stored as strings to survive any JSON reader.
    return {"bit_generator": st["bit_generator"], "state": {k: str(v) for k, v in st["state"].items()},
            "has_uint32": st["has_uint32"], "uinteger": st["uinteger"]}


def np_state_from_json(d: dict) -> dict:
    return {"bit_generator": d["bit_generator"], "state": {k: int(v) for k, v in d["state"].items()},
            "has_uint32": d["has_uint32"], "uinteger": d["uinteger"]}
