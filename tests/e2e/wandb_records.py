"""Read what W&B wrote for an offline run (``run-*.wandb``) without a network or W&B's server.

The file is W&B's record log: a 7-byte header (``:W&B``, magic, version), then LevelDB-log
framing — 32 KiB blocks of chunks, each ``crc32 (4) | length (2, little endian) | type (1) | data``
with types FULL 1, FIRST 2, MIDDLE 3, LAST 4 — around serialised ``wandb_internal_pb2.Record``s.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

BLOCK = 32 * 1024


def _chunks(b: bytes) -> list[bytes]:
    out, buf, pos = [], b"", 7
    while pos + 7 <= len(b):
        left = BLOCK - pos % BLOCK
        if left < 7:
            pos += left
            continue
        _, n, typ = struct.unpack("<IHB", b[pos:pos + 7])
        pos += 7
        if typ == 0 and n == 0:  # block padding
            pos += left - 7
            continue
        data, pos = b[pos:pos + n], pos + n
        if typ == 1:
            out.append(data)
        elif typ == 2:
            buf = data
        elif typ == 3:
            buf += data
        elif typ == 4:
            out.append(buf + data)
    return out


def read_offline_run(run_dir: Path) -> dict:
    """``{"run": {project, group, name, job_type}, "config": {...}, "history": [rows], "summary": {...}}``
    of the one offline W&B run under ``run_dir/wandb``."""
    from wandb.proto import wandb_internal_pb2 as pb

    files = sorted(Path(run_dir).glob("wandb/offline-run-*/run-*.wandb"))
    assert files, f"no offline W&B run under {run_dir}/wandb"
    res: dict = {"run": {}, "config": {}, "history": [], "summary": {}}
    for f in files:
        for data in _chunks(f.read_bytes()):
            r = pb.Record()
            r.ParseFromString(data)
            kind = r.WhichOneof("record_type")
            if kind == "run":
                res["run"] = {"project": r.run.project, "group": r.run.run_group, "name": r.run.display_name,
                              "job_type": r.run.job_type}
                for item in r.run.config.update:
                    res["config"][item.key] = json.loads(item.value_json)
            elif kind == "config":
                for item in r.config.update:
                    res["config"][item.key] = json.loads(item.value_json)
            elif kind == "history":
                res["history"].append({(i.key or "/".join(i.nested_key)): json.loads(i.value_json)
                                       for i in r.history.item})
            elif kind == "summary":
                for i in r.summary.update:
                    res["summary"][i.key or "/".join(i.nested_key)] = json.loads(i.value_json)
    return res
