"""metrics.csv and TensorBoard hold the same scalars (one TensorBoard event per row)."""

from __future__ import annotations

import csv
import math
import subprocess
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import distillrl
from distillrl.runs.rundir import MetricsLog, provenance


def test_every_numeric_metric_reaches_tensorboard_at_its_frame(tmp_path):
    rows = [{"frames": 512 * (i + 1), "charts/episode_return": 10.0 + i, "losses/value": 0.25 * i,
             "charts/updates": 16 * (i + 1), "hparams/lr": 2.5e-4, "charts/skipped": math.nan, "name": "x"}
            for i in range(3)]
    log = MetricsLog(tmp_path)
    log.write(rows[:2])
    log.write(rows[2:])
    log.close()
    ea = EventAccumulator(str(tmp_path / "tb"))
    ea.Reload()
    tags = set(ea.Tags()["scalars"])
    assert tags == {"charts/episode_return", "losses/value", "charts/updates", "hparams/lr"}  # NaN, str: not scalars
    for tag in tags:
        got = [(e.step, e.value) for e in ea.Scalars(tag)]
        want = [(r["frames"], r[tag]) for r in rows]
        assert [s for s, _ in got] == [s for s, _ in want]
        assert all(math.isclose(g, w, rel_tol=1e-6) for (_, g), (_, w) in zip(got, want)), tag
    with open(tmp_path / "metrics.csv", newline="") as f:
        assert [int(r["frames"]) for r in csv.DictReader(f)] == [512, 1024, 1536]


def test_a_resumed_log_drops_the_rows_after_the_checkpoint(tmp_path):
    log = MetricsLog(tmp_path)
    log.write([{"frames": f, "m": float(f)} for f in (100, 200, 300)])
    log.close()
    log = MetricsLog(tmp_path, resume_frames=200)  # the checkpoint was at 200: row 300 is gone
    log.write([{"frames": 300, "m": -1.0}])
    log.close()
    ea = EventAccumulator(str(tmp_path / "tb"))
    ea.Reload()
    assert [(e.step, e.value) for e in ea.Scalars("m")] == [(100, 100.0), (200, 200.0), (300, -1.0)]
    with open(tmp_path / "metrics.csv", newline="") as f:
        assert [(int(r["frames"]), float(r["m"])) for r in csv.DictReader(f)] == [(100, 100.0), (200, 200.0), (300, -1.0)]


def test_provenance_names_the_commit_of_a_git_checkout():
    p = provenance()
    assert p["distillrl"] == distillrl.__version__ and p["torch"] and p["numpy"] and p["python"]
    root = Path(distillrl.__file__).resolve().parents[2]
    if not (root / ".git").exists():
        pytest.skip("not running from a git checkout")
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert p["commit"] == head and isinstance(p["dirty"], bool)
    p["commit"] = "changed"
    assert provenance()["commit"] == head  # a copy: callers cannot change the record
