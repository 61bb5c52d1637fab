"""Bad input and kills, tried as a new user would: one line, non-zero exit, nothing destroyed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import distillrl
from distillrl.core import checkpoint
from distillrl.runs.rundir import read_metrics

pytestmark = pytest.mark.slow
SMALL = ["--env", "gym:CartPole-v1", "--ppo.num-envs", "4", "--ppo.num-steps", "32", "--no-progress",
         "--eval-episodes", "0"]
CKPT = "checkpoints/last.safetensors"


def _snapshot(d: Path) -> dict:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _one_line_error(p, needle):
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and needle in lines[0], p.stderr
    assert "Traceback" not in p.stderr


def test_resume_from_a_corrupted_checkpoint_is_one_line_and_touches_nothing(cli, tmp_path):
    d = tmp_path / "run"
    cli("train", *SMALL, "--steps", "512", "--run-dir", d, check=True)
    ck = d / CKPT
    ck.write_bytes(ck.read_bytes()[: ck.stat().st_size // 2])  # truncated, as by a full disk
    before = _snapshot(d)
    p = cli("train", "--run-dir", d, "--resume", "--steps", "1024", "--no-progress")
    _one_line_error(p, str(ck))
    assert _snapshot(d) == before
    ck.write_bytes(b"\x00" * 64)  # garbage
    p = cli("train", "--run-dir", d, "--resume", "--steps", "1024", "--no-progress")
    _one_line_error(p, "not a readable checkpoint")
    assert (d / CKPT).read_bytes() == b"\x00" * 64


def test_resuming_an_older_format_is_refused_with_its_version(cli, tmp_path):
    d = tmp_path / "old"
    cli("train", *SMALL, "--steps", "256", "--run-dir", d, check=True)
    state, meta = checkpoint.load(d / CKPT)
    del state["format_version"]  # what distillrl 0.1 wrote
    checkpoint.save(d / CKPT, state, {k: v for k, v in meta.items() if k != "format"})
    p = cli("train", "--run-dir", d, "--resume", "--steps", "512", "--no-progress")
    _one_line_error(p, "format 1 cannot be resumed")
    # old checkpoints still serve as agents: eval (and teachers) read their weights
    e = json.loads(cli("eval", d, "--episodes", "2", "--json", check=True).stdout.strip().splitlines()[-1])
    assert e["episodes"] == 2


@pytest.mark.parametrize("cmd,args,needle", [
    ("distill", ["--teacher", "cartpole", "--tau", "0"], "--tau must be > 0"),
    ("distill", ["--teacher", "cartpole", "--tau", "-1"], "--tau must be > 0"),
    ("kickstart", ["--teacher", "cartpole", "--env", "gym:CartPole-v1", "--lambda0", "-0.5"], "--lambda0 must be ≥ 0"),
    ("kickstart", ["--teacher", "cartpole", "--env", "gym:CartPole-v1", "--teacher-task", "1"], "names no task"),
    ("train", ["--ppo.gamma", "1.5"], "--ppo.gamma must be [0, 1]"),
    ("train", ["--steps", "0"], "--steps must be ≥ 1"),
    ("train", ["--algo", "dqn", "--dqn.target-tau", "0"], "--dqn.target-tau must be (0, 1]"),
    ("train", ["--algo", "dqn", "--dqn.tau", "0"], "--dqn.target-tau must be (0, 1]"),  # the old name, renamed
])
def test_values_outside_their_domain_are_refused(cli, tmp_path, cmd, args, needle):
    p = cli(cmd, *args, "--run-dir", tmp_path / "x", "--no-progress")
    _one_line_error(p, needle)
    assert not (tmp_path / "x").exists()


def test_a_run_killed_before_its_first_checkpoint_resumes_from_zero(cli, tmp_path):
    d = tmp_path / "early"
    cli("train", *SMALL, "--steps", "256", "--run-dir", d, check=True)
    (d / CKPT).unlink()  # as if killed before the first checkpoint: config and some metrics only
    p = cli("train", *SMALL, "--steps", "512", "--run-dir", d)
    assert p.returncode == 2 and "already exists" in p.stderr  # the original command refuses ...
    cli("train", "--run-dir", d, "--resume", "--steps", "512", "--no-progress", check=True)  # ... --resume restarts
    assert [int(r["frames"]) for r in read_metrics(d)] == list(range(128, 513, 128))
    assert checkpoint.load_meta(d / CKPT)["frames"] == 512
    p = cli("train", "--run-dir", tmp_path / "nothing", "--resume", "--no-progress")
    assert p.returncode == 2 and "neither a checkpoint" in p.stderr


def test_the_first_checkpoint_comes_after_the_first_update(tmp_path):
    d = tmp_path / "first"
    exe = Path(sys.executable).with_name("distillrl")
    proc = subprocess.Popen([str(exe), "train", *SMALL, "--steps", "100000000", "--checkpoint-every", "100000000",
                             "--run-dir", str(d)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (d / CKPT).exists():
            time.sleep(0.05)
        assert (d / CKPT).exists()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert checkpoint.load_meta(d / CKPT)["frames"] < 100_000


def test_stale_temporaries_are_removed_on_resume_and_save(cli, tmp_path):
    d = tmp_path / "tmpfiles"
    cli("train", *SMALL, "--steps", "256", "--run-dir", d, check=True)
    stale = d / "checkpoints" / "last.safetensors.x1y2z3.tmp"
    stale.write_bytes(b"half a checkpoint")
    cli("train", "--run-dir", d, "--resume", "--steps", "384", "--no-progress", check=True)
    assert not stale.exists() and [p.name for p in (d / "checkpoints").iterdir()] == ["last.safetensors"]
    # every invocation records the code that ran it; the checkpoint carries the same record
    lines = [json.loads(x) for x in (d / "provenance.jsonl").read_text().splitlines()]
    assert [x["frames"] for x in lines] == [0, 256]
    assert {k: v for k, v in lines[1].items() if k != "frames"} == checkpoint.load_meta(d / CKPT)["provenance"]
    assert lines[1]["torch"] == torch.__version__ and lines[1]["distillrl"] == distillrl.__version__
    stale.write_bytes(b"again")
    checkpoint.save(d / CKPT, {"x": torch.zeros(1)})
    assert not stale.exists()


def test_eval_takes_every_agent_source(cli, tmp_path):
    sb3 = pytest.importorskip("stable_baselines3")
    model = sb3.PPO("MlpPolicy", "CartPole-v1", n_steps=32, batch_size=32, seed=0, device="cpu")
    model.save(tmp_path / "agent.zip")
    p = cli("eval", tmp_path / "agent.zip", "--env", "gym:CartPole-v1", "--episodes", "2", "--json", check=True)
    assert json.loads(p.stdout.strip().splitlines()[-1])["episodes"] == 2
    p = cli("eval", tmp_path / "agent.zip")
    _one_line_error(p, "pass --env")
    from torch import nn

    q = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    torch.save({f"network.{k}": v for k, v in q.state_dict().items()}, tmp_path / "q.pt")
    p = cli("eval", tmp_path / "q.pt", "--teacher-arch", "cleanrl-dqn", "--env", "gym:CartPole-v1", "--episodes", "2",
            "--stochastic", "--json", check=True)
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert s["kind"] == "q" and s["episodes"] == 2 and not s["greedy"]
    p = cli("eval", "minatar-breakout-5m", "--episodes", "1", "--json", check=True)  # a zoo entry (format 1)
    assert json.loads(p.stdout.strip().splitlines()[-1])["env"] == "minatar:breakout"


def test_multitask_kickstart_compares_each_task_with_its_own_teacher(cli, tmp_path):
    env = "gym:CartPole-v1,gym:CartPole-v0"
    p = cli("kickstart", "--env", env, "--teacher", "cartpole", "--teacher", "cartpole", "--teacher-task", "0", "1",
            "--steps", "512", "--ppo.num-envs", "4", "--ppo.num-steps", "32", "--eval-episodes", "2",
            "--run-dir", tmp_path / "mt", "--no-progress", "--json", check=True)
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert [t["task"] for t in s["per_task"]] == ["gym:CartPole-v1", "gym:CartPole-v0"]
    assert s["teacher_tasks"] == ["gym:CartPole-v1", "gym:CartPole-v0"]
    assert all(t["teacher_return"] > 100 for t in s["per_task"])  # the zoo teacher, played on its own task
