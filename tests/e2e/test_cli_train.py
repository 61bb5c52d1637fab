"""End-to-end runs of the CLI (subprocesses, tiny budgets)."""

import json
import os
import signal
import time

import pytest

from distillrl.runs.rundir import read_metrics

pytestmark = pytest.mark.slow
SMALL = ["--env", "gym:CartPole-v1", "--ppo.num-envs", "4", "--ppo.num-steps", "32", "--no-progress"]


def _frames(run_dir):
    return [int(r["frames"]) for r in read_metrics(run_dir)]


def _last_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


def test_train_cartpole_end_to_end(cli, tmp_path):
    d = tmp_path / "run"
    p = cli("train", *SMALL, "--steps", "2048", "--seed", "3", "--run-dir", d, "--json", "--eval-episodes", "3",
            check=True)
    s = _last_json(p.stdout)
    assert s["steps"] == 2048 and s["episodes"] == 3 and s["sps"] > 0 and "mean_return" in s
    for f in ("config.yaml", "metrics.csv", "summary.json", "checkpoints/last.safetensors"):
        assert (d / f).exists(), f
    assert list((d / "tb").iterdir())
    assert _frames(d) == list(range(128, 2049, 128))
    # the run can be evaluated by path
    e = _last_json(cli("eval", d, "--episodes", "2", "--json", check=True).stdout)
    assert e["episodes"] == 2 and e["env"] == "gym:CartPole-v1"


def test_train_dqn_end_to_end(cli, tmp_path):
    d = tmp_path / "dqn"
    p = cli("train", "--env", "minatar:breakout", "--algo", "dqn", "--steps", "1500", "--dqn.learning-starts", "500",
            "--dqn.log-every", "500", "--run-dir", d, "--json", "--eval-episodes", "1", "--no-progress", check=True)
    s = _last_json(p.stdout)
    assert s["steps"] == 1500
    assert _frames(d) == [500, 1000, 1500]


def test_same_seed_same_metrics(cli, tmp_path):
    rows = []
    for name in ("a", "b"):
        cli("train", *SMALL, "--steps", "1024", "--seed", "7", "--run-dir", tmp_path / name, "--eval-episodes", "0",
            check=True)
        rows.append([{k: v for k, v in r.items() if k != "charts/sps"} for r in read_metrics(tmp_path / name)])
    assert rows[0] == rows[1]
    cli("train", *SMALL, "--steps", "1024", "--seed", "8", "--run-dir", tmp_path / "c", "--eval-episodes", "0",
        check=True)
    other = [{k: v for k, v in r.items() if k != "charts/sps"} for r in read_metrics(tmp_path / "c")]
    assert other != rows[0]


def _start_and_wait_for_checkpoint(tmp_path, d, min_rows):
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("distillrl")
    proc = subprocess.Popen([str(exe), "train", *SMALL, "--steps", "10000000", "--checkpoint-every", "1280",
                             "--run-dir", str(d), "--eval-episodes", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (d / "checkpoints/last.safetensors").exists() and (d / "metrics.csv").exists():
            with open(d / "metrics.csv") as f:
                n = sum(1 for _ in f) - 1
            if n >= min_rows:
                break
        time.sleep(0.2)
    return proc


def test_kill_and_resume_has_no_gaps_or_duplicates(cli, tmp_path):
    d = tmp_path / "killed"
    proc = _start_and_wait_for_checkpoint(tmp_path, d, min_rows=15)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _frames(d)
    from distillrl.core.checkpoint import load_meta

    ck = load_meta(d / "checkpoints/last.safetensors")["frames"]
    assert ck % 1280 == 0 and max(before) >= ck
    target = ck + 1280
    p = cli("train", "--run-dir", d, "--resume", "--steps", target, "--no-progress", "--json", check=True)
    after = _frames(d)
    assert after == list(range(128, target + 1, 128)), "metric rows must continue without gaps or duplicates"
    assert _last_json(p.stdout)["steps"] == target


def test_sigint_saves_and_exits_cleanly(cli, tmp_path):
    d = tmp_path / "interrupted"
    proc = _start_and_wait_for_checkpoint(tmp_path, d, min_rows=3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and "--resume" in err
    from distillrl.core.checkpoint import load_meta

    saved = load_meta(d / "checkpoints/last.safetensors")["frames"]
    assert max(_frames(d)) == saved  # checkpoint taken at the interruption point


@pytest.mark.parametrize("args,needle", [
    (["--env", "gym:NoSuchEnv-v0"], "unknown environment"),
    (["--env", "minatar:pong"], "unknown MinAtar game"),
    (["--algo", "sac"], "--algo: expected one of ppo, a2c, dqn"),
    (["--steps", "lots"], "expected an integer"),
    (["--ppo.nope", "1"], "unrecognized arguments"),
])
def test_bad_input_one_line_error(cli, tmp_path, args, needle):
    p = cli("train", *args, "--run-dir", tmp_path / "x")
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], p.stderr
    assert not (tmp_path / "x").exists()


BAD_CONFIGS = [
    ("env: [unclosed\n", "bad YAML"),
    ("ppo:\n  lrr: 0.1\n", "unknown config key 'ppo.lrr'"),
    ("steps: many\n", "expected an integer"),
    ("- a\n- b\n", "top level must be a mapping"),
]


def test_bad_config_file_keeps_earlier_run(cli, tmp_path):
    d = tmp_path / "earlier"
    cli("train", *SMALL, "--steps", "256", "--run-dir", d, "--eval-episodes", "0", check=True)
    snapshot = {p.name: p.read_bytes() for p in d.rglob("*") if p.is_file()}
    for i, (content, needle) in enumerate(BAD_CONFIGS):
        cfg = tmp_path / f"c{i}.yaml"
        cfg.write_text(content)
        p = cli("train", "--config", cfg, "--run-dir", d)
        assert p.returncode != 0
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], p.stderr
        assert {p.name: p.read_bytes() for p in d.rglob("*") if p.is_file()} == snapshot
    # an existing run dir without --resume is refused, not overwritten
    p = cli("train", *SMALL, "--steps", "256", "--run-dir", d)
    assert p.returncode != 0 and "already exists" in p.stderr
    assert {p.name: p.read_bytes() for p in d.rglob("*") if p.is_file()} == snapshot


def test_config_file_is_applied_and_saved(cli, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("env: gym:CartPole-v1\nsteps: 256\nppo:\n  num_envs: 2\n  num_steps: 64\neval_episodes: 0\n")
    d = tmp_path / "r"
    cli("train", "--config", cfg, "--run-dir", d, "--no-progress", check=True)
    import yaml

    saved = yaml.safe_load((d / "config.yaml").read_text())
    assert saved["ppo"]["num_envs"] == 2 and saved["steps"] == 256


def test_help_shows_field_docs(cli):
    p = cli("train", "--help", check=True)
    assert "steps per environment per rollout" in p.stdout and "--ppo.num-envs" in p.stdout


def test_eval_unknown_source_and_mismatched_env(cli, tmp_path):
    p = cli("eval", tmp_path / "nothing")
    assert p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1
    d = tmp_path / "r"
    cli("train", *SMALL, "--steps", "128", "--run-dir", d, "--eval-episodes", "0", check=True)
    p = cli("eval", d, "--env", "minatar:breakout")
    assert p.returncode != 0 and "actions but minatar:breakout" in p.stderr and len(p.stderr.strip().splitlines()) == 1
