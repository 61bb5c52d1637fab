"""Faults on this machine, with real processes: a PBT member's trainer process killed mid-run,
the PBT driver killed and resumed, an IMPALA actor process killed."""

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from distillrl.acting.cluster import _processes
from distillrl.core.checkpoint import load_meta

EXE = str(Path(sys.executable).with_name("distillrl"))
ENV = {**os.environ, "PYTHONHASHSEED": "0"}
pytestmark = pytest.mark.slow


def _frames(member: Path) -> list[float]:
    with open(member / "metrics.csv") as f:
        return [float(r["frames"]) for r in csv.DictReader(f)]


def _descendants(root: int) -> dict[int, str]:
    procs = _processes()
    out, grown = {root}, True
    while grown:
        more = {p for p, (pp, _) in procs.items() if pp in out} - out
        grown = bool(more)
        out |= more
    return {p: procs[p][1] for p in out if p in procs}


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _pbt_file(tmp_path: Path, steps: int) -> Path:
    f = tmp_path / "exp.yaml"
    f.write_text(yaml.safe_dump({"command": "train", "population": 2,
                                 "config": {"env": "gym:CartPole-v1", "steps": steps, "eval_episodes": 1},
                                 "pbt": {"interval": 2000, "selection": "ttest", "pvalue": 0.5},
                                 "priors": {"lr": {"min": 1e-4, "max": 3e-3, "log": True}}}))
    return f


def test_a_killed_member_restarts_from_its_checkpoint_and_the_population_finishes(tmp_path):
    exp = tmp_path / "exp"
    proc = subprocess.Popen([EXE, "pbt", "--config", _pbt_file(tmp_path, 30_000), "--run-dir", exp, "--json",
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    m1 = exp / "members" / "member-01"
    # killed after its first checkpoint (a ready point): metrics rows come every 256 frames, the first
    # checkpoint at 2,000, so rows alone could let the kill land before there is anything to resume
    _wait(lambda: (m1 / "metrics.csv").exists() and len(_frames(m1)) >= 3
          and (m1 / "checkpoints" / "last.safetensors").exists(), 240, "member-01's first ready point")
    pid = json.loads((m1 / "placement.jsonl").read_text().splitlines()[-1])["pid"]
    os.kill(pid, signal.SIGKILL)  # the member's trainer process, mid-run
    out, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err[-3000:]
    s = json.loads(out.strip().splitlines()[-1])
    assert s["members_finished"] == 2 and s["errors"] == []
    starts = [json.loads(x) for x in (m1 / "placement.jsonl").read_text().splitlines()]
    assert len(starts) >= 2 and any(x["frames"] > 0 for x in starts[1:])  # restarted from a checkpoint, not 0
    frames = _frames(m1)
    assert frames == sorted(frames) and len(set(frames)) == len(frames) and frames[-1] >= 16_000  # no duplicated rows


def _named_ray_checkpoints(exp: Path) -> set[Path]:
    """The Ray checkpoint directories the experiment's saved state names (its checkpoint managers
    are stored pickled, as hex, inside experiment_state-*.json)."""
    names = set()
    for f in exp.glob("experiment_state-*.json"):
        for _, meta in json.loads(f.read_text())["trial_data"]:
            raw = bytes.fromhex(json.loads(meta)["checkpoint_manager"]["value"])
            names |= {Path(m.decode()) for m in re.findall(re.escape(str(exp).encode()) + rb"/[\w=.-]+/checkpoint_\d{6}", raw)}
    return names


def test_a_killed_driver_resumes_where_its_members_were_and_leaves_no_processes(tmp_path):
    exp = tmp_path / "exp"
    # 40k frames: members no longer pause for each other (scale.pbt_scheduler), so a shorter run
    # could finish before the kill on a loaded machine, leaving nothing to resume
    cfg = _pbt_file(tmp_path, 40_000)
    proc = subprocess.Popen([EXE, "pbt", "--config", cfg, "--run-dir", exp, "--json", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    ck = [exp / "members" / f"member-{i:02d}" / "checkpoints" / "last.safetensors" for i in range(2)]
    # (and Ray's saved experiment state names some of their checkpoints: those are deleted below)
    _wait(lambda: all(c.exists() and load_meta(c)["frames"] >= 6000 for c in ck) and _named_ray_checkpoints(exp),
          300, "three ready points each")
    session = json.loads((exp / "ray-session.json").read_text())["session"]
    killed_at = time.time()
    proc.kill()  # SIGKILL: the driver cannot clean up; its Ray processes are orphans now
    proc.communicate(timeout=60)
    time.sleep(2)
    before = {i: int(load_meta(c)["frames"]) for i, c in enumerate(ck)}
    # Ray saves its experiment state now and then and keeps only a trial's last few checkpoints, so
    # a killed driver's state can name checkpoints Ray deleted since (a member's own, or a donor's
    # being copied). Make that certain: every checkpoint the saved state names is gone.
    named = _named_ray_checkpoints(exp)
    for d in named:
        shutil.rmtree(d, ignore_errors=True)
    p = subprocess.run([EXE, "pbt", "--config", cfg, "--run-dir", exp, "--resume", "--json", "--no-progress"],
                       capture_output=True, text=True, env=ENV, timeout=600)
    (tmp_path / "resume.stderr").write_text(p.stderr)  # kept for a failure's whole story
    assert p.returncode == 0, p.stderr[-3000:]
    assert "resuming" in p.stderr and "member-00" in p.stderr
    assert "is gone" in p.stderr  # the lost checkpoints were replaced, not restored from
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert s["members_finished"] == 2
    for i in range(2):
        m = exp / "members" / f"member-{i:02d}"
        starts = [json.loads(x) for x in (m / "placement.jsonl").read_text().splitlines()]
        resumed = [x for x in starts if x["time"] > killed_at]
        # the first start after the resume is not behind the member's last checkpoint (nor a donor's copy)
        assert resumed and (resumed[0]["frames"] >= before[i] or resumed[0]["copied"]), (i, before, starts)
        frames = _frames(m)
        assert frames == sorted(frames) and frames[-1] >= 40_000
    left = [pid for pid, (_, cmd) in _processes().items() if session in cmd]
    assert not left, f"the killed driver's Ray processes outlived the resumed run: {left}"


def test_a_killed_impala_actor_is_replaced_and_the_run_records_it(tmp_path):
    run = tmp_path / "r"
    proc = subprocess.Popen([EXE, "train", "--algo", "impala", "--actors", "2", "--env", "minatar:breakout",
                             "--steps", "120000", "--eval-episodes", "1", "--run-dir", run, "--json", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    def actors() -> list[int]:
        return [p for p, cmd in _descendants(proc.pid).items() if "ray::RemoteWorker" in cmd]

    _wait(lambda: (run / "metrics.csv").exists() and len(actors()) == 2, 240, "two acting actor processes")
    os.kill(actors()[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    s = json.loads(out.strip().splitlines()[-1])
    assert s["steps"] >= 120_000
    assert json.loads((run / "actors.json").read_text())["actor_restarts"] >= 1
