"""Loopback Ray clusters for tests and benchmarks: a head and a second node on 127.0.0.1, and a
way to stop exactly those (``ray stop`` would stop every Ray on the machine)."""

from __future__ import annotations

import socket
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
