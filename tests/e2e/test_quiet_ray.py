"""A normal local Ray run is quiet: no token-authentication warning (a local Ray listens on
loopback only), Ray's own logs linked into the run directory."""

import os
import subprocess
import sys


def test_local_ray_prints_no_token_warning_and_links_its_logs(tmp_path):
    code = ("from pathlib import Path; from distillrl.acting.cluster import init_ray, shutdown_ray; "
            f"init_ray(None, log_dir=Path({str(tmp_path)!r})); shutdown_ray()")
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "Token authentication" not in p.stderr and "token" not in p.stderr.lower(), p.stderr[-2000:]
    assert (tmp_path / "ray-logs").is_symlink()


def test_tunes_restore_warning_is_filtered():
    import logging

    from distillrl.scale import raytune  # noqa: F401  (installs the filter)

    log = logging.getLogger("ray.tune.logger.logger")
    rec = log.makeRecord(log.name, logging.WARNING, __file__, 1, "Remote file not found: /x/result.json", None, None)
    assert not all(f.filter(rec) for f in log.filters)
