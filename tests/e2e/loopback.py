"""Loopback Ray clusters for tests and benchmarks: a head and a second node on 127.0.0.1, and a
way to stop exactly those (``ray stop`` would stop every Ray on the machine). Test support, not
library code: users start and stop their clusters with ``ray start`` / ``ray stop``."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processes() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, command line) of every process this user can see."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        out[int(d.name)] = (ppid, cmd)
    return out


def stop_nodes(port: int, temp_dir: Path) -> None:
    """Stop only the Ray nodes started with ``--port=port`` / ``--temp-dir=temp_dir`` (their
    processes name one or the other) and the processes they started (Ray's agents, whose
    command lines name neither): ``ray stop`` would stop every Ray on the machine."""
    marks = (f"127.0.0.1:{port}", f"gcs_server_port={port}", str(temp_dir))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        procs = _processes()
        pids = {p for p, (_, cmd) in procs.items() if any(m in cmd for m in marks)}
        grown = True
        while grown:  # and their descendants, found before anything is killed (orphans lose their parent)
            more = {p for p, (pp, _) in procs.items() if pp in pids} - pids
            grown = bool(more)
            pids |= more
        pids.discard(os.getpid())
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        if not pids:
            return
        time.sleep(3)
