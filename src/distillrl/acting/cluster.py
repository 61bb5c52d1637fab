"""Connecting to Ray: this machine by default, a cluster by ``--address HOST:PORT``.

Everything distributed in distillrl goes through here — populations and sweeps (on Ray Tune,
:mod:`raytune`) and IMPALA's rollout actors (:mod:`actors`) — so a cluster is joined, and a
bad address reported, the same way everywhere.
"""

from __future__ import annotations

import json
import logging
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


def init_ray(address: str | None, log_dir: Path | None = None) -> dict:
    """Start Ray on this machine, or join the cluster at ``address``. Returns what it found.

    A Ray started here listens on loopback only, so it runs without token authentication and
    without Ray's warning about it (an explicit ``RAY_AUTH_MODE`` wins; a cluster joined with
    ``--address`` keeps the user's setting). ``log_dir``: where to link Ray's own logs (the
    session's ``logs/`` folder), so a run directory holds them."""
    import ray  # Ray is heavy (1-2 s to import): only where Ray is used

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
        from ray._private import worker  # heavy (see above)

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
    import ray  # heavy (see above)

    if ray.is_initialized():
        ray.shutdown()


def node_id() -> str:
    """The Ray node this process runs on (to show where trials were placed)."""
    try:
        import ray  # heavy (see above)

        return ray.get_runtime_context().get_node_id()
    except Exception:  # not inside Ray
        return "local"


# ---- a run's own Ray processes (``distillrl pbt --stop RUN``; orphans of a killed driver)

SESSION_FILE = "ray-session.json"


def _processes() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, command line) of every process this user can see (Linux /proc)."""
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


def stop_processes(marks: tuple[str, ...], roots: tuple[int, ...] = (), grace: float = 3.0) -> int:
    """Stop the processes whose command line contains one of ``marks``, the ``roots`` pids, and
    all their descendants (found before anything is signalled: orphans lose their parent):
    SIGTERM, then SIGKILL after ``grace`` seconds. Never this process. Returns how many were
    found. (``ray stop`` would stop every Ray on the machine, other people's included.)"""
    found = 0
    for sig in (signal.SIGTERM, signal.SIGKILL):
        procs = _processes()
        pids = {p for p, (_, cmd) in procs.items() if any(m in cmd for m in marks)} | (set(roots) & set(procs))
        grown = True
        while grown:
            more = {p for p, (pp, _) in procs.items() if pp in pids} - pids
            grown = bool(more)
            pids |= more
        pids.discard(os.getpid())
        found = max(found, len(pids))
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        if not pids:
            break
        time.sleep(grace)
    return found


def record_session(run_dir: Path) -> None:
    """Write which Ray session and driver process this run uses (``run_dir/ray-session.json``)."""
    try:
        from ray._private import worker  # heavy (see above)

        session = str(worker._global_node.get_session_dir_path())  # type: ignore[union-attr]
    except Exception:
        return
    (run_dir / SESSION_FILE).write_text(json.dumps({"session": session, "driver": os.getpid(),
                                                   "started": time.time()}) + "\n")


def _alive(pid: int) -> bool:
    try:
        return "distillrl" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def stop_session(run_dir: Path, driver_too: bool) -> dict:
    """Stop the Ray processes of the run in ``run_dir`` (the session it recorded, its agents and
    workers); with ``driver_too`` its ``distillrl`` driver as well. A driver still alive is left
    alone otherwise, and reported."""
    f = run_dir / SESSION_FILE
    if not f.is_file():
        return {"session": None, "stopped": 0, "driver_alive": False}
    rec = json.loads(f.read_text())
    driver = int(rec.get("driver", -1))
    alive = driver != os.getpid() and _alive(driver)
    if alive and not driver_too:
        return {"session": rec["session"], "stopped": 0, "driver_alive": True, "driver": driver}
    n = stop_processes((rec["session"],), roots=(driver,) if alive else ())
    return {"session": rec["session"], "stopped": n, "driver_alive": False}
