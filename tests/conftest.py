import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).with_name("distillrl")


def run_cli(*args, check=False, timeout=600, **kw):
    """Run the installed CLI in a subprocess; returns CompletedProcess (text)."""
    cmd = [str(BIN), *map(str, args)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def ray_local():
    """Ray on this machine for one test (2 CPUs), shut down after it."""
    from distillrl.acting.cluster import init_ray, shutdown_ray

    yield init_ray(None)
    shutdown_ray()
