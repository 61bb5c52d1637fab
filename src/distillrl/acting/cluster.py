"""Connecting to Ray: this machine by default, a cluster by ``--address HOST:PORT``.

Everything distributed in distillrl goes through here — populations and sweeps (on Ray Tune,
:mod:`raytune`) and IMPALA's rollout actors (:mod:`actors`) — so a cluster is joined, and a
bad address reported, the same way everywhere.
"""

from __future__ import annotations

import os
import socket
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


def init_ray(address: str | None, log_dir: Path | None = None) -> dict:
    """Start Ray on this machine, or join the cluster at ``address``. Returns what it found.

    A Ray started here listens on loopback only, so it runs without token authentication and
    without Ray's warning about it (an explicit ``RAY_AUTH_MODE`` wins; a cluster joined with
    ``--address`` keeps the user's setting). ``log_dir``: where to link Ray's own logs (the
    session's ``logs/`` folder), so a run directory holds them."""
    import logging

    import ray  # a heavy optional dependency: only where Ray is used

    if address:
        check_address(address)
    else:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if not ray.is_initialized():
        kw: dict[str, Any] = dict(logging_level=logging.WARNING, log_to_driver=False, runtime_env={"env_vars": dict(RAY_ENV)})
        if address:
            try:
                ray.init(address=address, **kw)
            except (ConnectionError, RuntimeError) as e:
                raise EnvError(f"cannot join the Ray cluster at {address}: {str(e).splitlines()[0][:200]}") from None
        else:
            ray.init(include_dashboard=False, _node_ip_address="127.0.0.1", **kw)  # a local Ray listens on loopback only
    if log_dir is not None:
        link_ray_logs(Path(log_dir))
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return {"address": address or "local", "nodes": len(nodes),
            "cpus": int(sum(n.get("Resources", {}).get("CPU", 0) for n in nodes))}


def link_ray_logs(log_dir: Path) -> None:
    """``log_dir/ray-logs`` → this Ray session's log folder (workers' stdout/stderr, raylet, GCS)."""
    try:
        from ray._private import worker

        session = Path(worker._global_node.get_session_dir_path())  # type: ignore[union-attr]
    except Exception:  # joined a cluster whose session lives elsewhere, or a Ray without this API
        return
    link = log_dir / "ray-logs"
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(session / "logs", target_is_directory=True)
    except OSError:
        pass


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
