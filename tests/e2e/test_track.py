"""--track: a run mirrored to Weights & Biases in offline mode (no network), read back from the
files W&B wrote."""

from __future__ import annotations

import csv
import json

import pytest

pytest.importorskip("wandb")
from wandb_records import read_offline_run  # noqa: E402

pytestmark = pytest.mark.slow


def test_track_offline_mirrors_metrics_config_summary_and_plots(tmp_path, cli):
    run = tmp_path / "run"
    p = cli("kickstart", "--env", "gym:CartPole-v1", "--teacher", "cartpole", "--steps", "2048", "--seed", "4",
            "--eval-episodes", "2", "--run-dir", run, "--track", "--wandb-mode", "offline", "--wandb-project", "proj",
            "--wandb-group", "grp", "--json", "--no-progress")
    summary = json.loads(p.stdout.strip().splitlines()[-1])  # W&B prints nothing into the summary line
    w = read_offline_run(run)
    assert w["run"] == {"project": "proj", "group": "grp", "name": "run", "job_type": "kickstart"}
    assert w["config"]["env"] == "gym:CartPole-v1" and w["config"]["seed"] == 4 and w["config"]["teacher"] == ["cartpole"]
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    logged = [h for h in w["history"] if "charts/return_recent" in h or "losses/pg_loss" in h]
    assert len(logged) == len(rows)  # every metrics row (TensorBoard's scalars), once
    assert [h["frames"] for h in logged] == [int(float(r["frames"])) for r in rows]
    tags = {k for k in rows[-1] if k != "frames" and rows[-1][k] not in ("", "nan")}
    assert tags <= set(logged[-1]) and "kickstart/lambda_0" in tags
    assert w["summary"]["mean_return"] == pytest.approx(summary["mean_return"])
    assert w["summary"]["report/curves/_type"] == "image-file"  # the report's plot
    assert (run / "report" / "curves.png").exists()


def test_track_without_wandb_is_one_clear_error(tmp_path, monkeypatch):
    import sys

    from distillrl.algos.ppo import PPOConfig  # noqa: F401  (a config to pass)
    from distillrl.errors import ConfigError
    from distillrl.runs.track import WandbTracker

    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb now fails
    with pytest.raises(ConfigError, match=r"--track needs Weights & Biases: pip install 'distillrl\[track\]'"):
        WandbTracker({"env": "x"}, tmp_path, "train")
