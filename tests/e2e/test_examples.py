"""The reference scripts in examples/ run at tiny budgets, so they never rot."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, *args, timeout: int = 600) -> str:
    p = subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, env={**os.environ, "PYTHONHASHSEED": "0"})
    assert p.returncode == 0, f"{name} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
    return p.stdout


def test_kickstart_ppo_example():
    out = run_example("kickstart_ppo.py", "--steps", "8192", "--episodes", "2")
    assert "student" in out and "teacher" in out and "λ =" in out


def test_distill_sb3_example():
    out = run_example("distill_sb3.py", "--sb3-steps", "512", "--steps", "2048", "--episodes", "2")
    assert "teacher" in out and "student" in out and "acting parameters" in out


def test_sb3_kickstart_example(tmp_path):
    p = subprocess.run([sys.executable, str(EXAMPLES / "sb3_kickstart.py"), "--steps", "1024", "--episodes", "2"],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path, env={**os.environ, "PYTHONHASHSEED": "0"})
    assert p.returncode == 0, p.stderr[-3000:]
    assert "λ =" in p.stdout and "kickstarted:" in p.stdout and "SB3 alone:" in p.stdout
    assert (tmp_path / "kickstarted_ppo.zip").exists()


def test_multitask_student_example():
    out = run_example("multitask_student.py", "--steps", "4096", "--episodes", "1")
    assert "breakout" in out and "space_invaders" in out


@pytest.mark.slow
def test_pbt_population_example(tmp_path):
    out = run_example("pbt_population.py", "--population", "2", "--steps", "4096", "--interval", "2048",
                      "--run-dir", tmp_path / "pbt", timeout=900)
    assert "members finished" in out and (tmp_path / "pbt" / "lineage.jsonl").exists()
