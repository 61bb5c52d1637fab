"""A trainer's own random generators: their state as plain data (checkpoints are JSON + tensors,
never pickles), reseeding, the environment seed a resumed run restarts from, and the one way
code that can only draw from torch's global generator (dropout) draws from a trainer's own."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch


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


def reseed(gen: torch.Generator, np_rng: np.random.Generator, entropy: Sequence[int]) -> None:
    """Restart a trainer's torch and NumPy generators from ``entropy`` (a list of ints), in place."""
    gen.manual_seed(int(np.random.SeedSequence(list(entropy)).generate_state(1)[0]))
    np_rng.bit_generator.state = np.random.default_rng(list(entropy)).bit_generator.state


@contextmanager
def global_stream(gen: torch.Generator) -> Iterator[None]:
    """Inside the block, torch's global CPU generator *is* ``gen``'s stream; outside, the global
    state is as it was.

    torch's dropout and its default ``nn.init`` draw only from the global generator. Rather
    than reseeding it (which would make the stream a function of how often we reseed), the
    block swaps ``gen``'s state in and copies the advanced state back out, so ``gen`` sees
    exactly the draws a globally seeded run would make: results stay bit-identical to seeding
    the global generator with the same seed, two trainers in one process do not disturb each
    other or the user, and ``gen.get_state()`` in a checkpoint resumes the stream exactly.
    The cost is two copies of a 5 KB state per block. CPU only (CUDA dropout has its own
    generator; distillrl trains on the CPU)."""
    saved = torch.get_rng_state()
    torch.set_rng_state(gen.get_state())
    try:
        yield
    finally:
        gen.set_state(torch.get_rng_state())
        torch.set_rng_state(saved)
