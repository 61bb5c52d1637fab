"""Loopback Ray clusters for tests and benchmarks: a head and a second node on 127.0.0.1, and a
way to stop exactly those (``ray stop`` would stop every Ray on the machine)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from distillrl.acting.cluster import stop_processes


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_nodes(port: int, temp_dir: Path) -> None:
    """Stop only the Ray nodes started with ``--port=port`` / ``--temp-dir=temp_dir`` (their
    processes name one or the other) and the processes they started (Ray's agents, whose
    command lines name neither)."""
    stop_processes((f"127.0.0.1:{port}", f"gcs_server_port={port}", str(temp_dir)))


@contextlib.contextmanager
def loopback_cluster(cpus_per_node: int, tag: str):
    """A head and a second node on 127.0.0.1 (``cpus_per_node`` CPUs each, token auth), stopped
    and cleaned up on exit. Yields ``(address, env)``: pass ``env`` to the commands that join."""
    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    tmp = Path("/tmp") / f"ray-{tag}-{os.getpid()}"
    ray = str(Path(sys.executable).with_name("ray"))
    try:
        for args in (["--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--include-dashboard=false",
                      f"--temp-dir={tmp}"], [f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1"]):
            p = subprocess.run([ray, "start", *args, f"--num-cpus={cpus_per_node}", "--disable-usage-stats"],
                               capture_output=True, text=True, env=env, timeout=180)
            if p.returncode:
                raise SystemExit(f"ray start failed: {p.stderr[-1500:]}")
        yield f"127.0.0.1:{port}", env
    finally:
        stop_nodes(port, tmp)
        shutil.rmtree(tmp, ignore_errors=True)
