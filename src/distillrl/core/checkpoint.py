"""Self-describing, safe checkpoints: one safetensors file, written atomically.

A trainer's whole state (weights, optimizer, RNG streams, counters, schedules) is a nested
structure of dicts/lists/numbers/strings/tensors. :func:`flatten` turns it into
``(tensors, tree)``: tensors go into the safetensors body, the JSON tree (with tensor
placeholders) into the safetensors metadata under ``"distillrl"``. Loading never executes code.
Writes go to a temp file in the same folder and are renamed over the target (atomic on POSIX),
so a crash mid-write never destroys the previous checkpoint; temporaries left by a killed
write are removed by the next save (or by :func:`remove_stale_temporaries` on resume).

Formats: ``distillrl-checkpoint-2`` is written now (trainer state with its own RNG, live
hyper-parameters and a ``format_version``); ``-1`` (distillrl 0.1) still loads — its agent
weights serve as teachers and for ``eval`` — but a trainer refuses to resume from it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from distillrl.errors import CheckpointError

FORMAT = "distillrl-checkpoint-2"
READABLE_FORMATS = ("distillrl-checkpoint-1", FORMAT)
STATE_FORMAT = 2
"""Version of the trainer state layout (``format_version``); checkpoints of another version cannot be resumed."""
_T = "__tensor__"


def flatten(obj: Any, tensors: dict[str, torch.Tensor], path: str = "") -> Any:
    if isinstance(obj, torch.Tensor):
        key = path or "t"
        tensors[key] = obj.detach().cpu().contiguous()
        return {_T: key}
    if isinstance(obj, np.ndarray):
        key = path or "t"
        tensors[key] = torch.from_numpy(np.ascontiguousarray(obj))
        return {_T: key, "numpy": True}
    if isinstance(obj, dict):
        return {"__dict__": [[k, flatten(v, tensors, f"{path}/{k}")] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [flatten(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot checkpoint object of type {type(obj).__name__} at {path!r}")


def unflatten(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(tree, dict):
        if _T in tree:
            t = tensors[tree[_T]]
            return t.numpy().copy() if tree.get("numpy") else t
        return {k: unflatten(v, tensors) for k, v in tree["__dict__"]}
    if isinstance(tree, list):
        return [unflatten(v, tensors) for v in tree]
    return tree


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete ``<name>.*.tmp`` files beside ``path`` (left by a write that was killed)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    stale = list(path.parent.glob(path.name + ".*.tmp"))
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def save(path: str | Path, state: dict, meta: dict | None = None) -> None:
    """Atomically write ``state`` (nested, with tensors) and JSON-able ``meta`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tensors: dict[str, torch.Tensor] = {}
    tree = flatten(state, tensors)
    header = {"format": FORMAT, "meta": meta or {}, "state": tree}
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"distillrl": json.dumps(header)})
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _umask_mode())  # mkstemp creates 0600; use the user's usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _header(path: Path, md: dict) -> dict:
    if "distillrl" not in md:
        raise CheckpointError(f"{path} is a safetensors file but not a distillrl checkpoint")
    try:
        header = json.loads(md["distillrl"])
    except json.JSONDecodeError:
        raise CheckpointError(f"{path}: corrupted checkpoint header") from None
    if not isinstance(header, dict) or header.get("format") not in READABLE_FORMATS:
        fmt = header.get("format") if isinstance(header, dict) else None
        raise CheckpointError(f"{path}: unsupported checkpoint format {fmt!r}")
    return header


def load(path: str | Path) -> tuple[dict, dict]:
    """Return ``(state, meta)``; raises :class:`CheckpointError` (one line, naming the file) for a
    missing, truncated, corrupted or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            md = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types
        msg = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupted? {msg})") from None
    header = _header(path, md)
    try:
        state = unflatten(header["state"], tensors)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: corrupted checkpoint ({type(e).__name__}: {e})") from None
    meta = dict(header.get("meta", {}))
    meta["format"] = header["format"]
    return state, meta


def load_meta(path: str | Path) -> dict:
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            md = f.metadata() or {}
    except Exception as e:
        raise CheckpointError(f"{path} is not a readable checkpoint ({str(e).splitlines()[0][:120]})") from None
    return _header(path, md).get("meta", {})


def atomic_write_text(path: str | Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, _umask_mode())
    os.replace(tmp, path)
