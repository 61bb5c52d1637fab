"""Connecting to Ray: this machine by default, a cluster by ``--address HOST:PORT``.

Everything distributed in distillrl goes through here — populations and sweeps (on Ray Tune,
:mod:`raytune`) and IMPALA's rollout actors (:mod:`actors`) — so a cluster is joined, and a
bad address reported, the same way everywhere.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

from distillrl.errors import EnvError

RAY_ENV = {"RAY_CHDIR_TO_TRIAL_DIR": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1"}
"""Environment of every Ray worker: trials run from the caller's directory, one BLAS thread per
process (workers share the cores; a multi-threaded matmul per worker would oversubscribe them)."""


def check_address(address: str, timeout: float = 3.0) -> None:
    """Fail in one line, in seconds, when nothing listens at ``address`` (``HOST:PORT``)."""
    if address == "auto":
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise EnvError(f"bad --address {address!r}: expected HOST:PORT of a Ray head (e.g. 127.0.0.1:6379) or auto")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as e:
        raise EnvError(f"cannot reach a Ray cluster at {address}: {e.strerror or e}") from None


def init_ray(address: str | None) -> dict:
    """Start Ray on this machine, or join the cluster at ``address``. Returns what it found."""
    import logging

    import ray

    if address:
        check_address(address)
    if not ray.is_initialized():
        kw: dict[str, Any] = dict(logging_level=logging.WARNING, log_to_driver=False, runtime_env={"env_vars": dict(RAY_ENV)})
        if address:
            try:
                ray.init(address=address, **kw)
            except (ConnectionError, RuntimeError) as e:
                raise EnvError(f"cannot join the Ray cluster at {address}: {str(e).splitlines()[0][:200]}") from None
        else:
            ray.init(include_dashboard=False, _node_ip_address="127.0.0.1", **kw)  # a local Ray listens on loopback only
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return {"address": address or "local", "nodes": len(nodes),
            "cpus": int(sum(n.get("Resources", {}).get("CPU", 0) for n in nodes))}


def shutdown_ray() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


def node_id() -> str:
    """The Ray node this process runs on (to show where trials were placed)."""
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # not inside Ray
        return "local"


# ---- loopback clusters (tests and benchmarks start a head and a second node on 127.0.0.1)


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
