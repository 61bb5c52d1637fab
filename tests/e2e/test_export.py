"""distillrl export: a run as a hub-ready folder (weights, config.json, model card), read back by
eval and --teacher, with the teachers' provenance chained."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

pytestmark = pytest.mark.slow


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_export_card_round_trip_and_lineage(tmp_path, cli):
    run = tmp_path / "ks"
    cli("kickstart", "--env", "gym:CartPole-v1", "--teacher", "cartpole", "--steps", "2048", "--seed", "3",
        "--eval-episodes", "3", "--run-dir", run, "--no-progress")
    assert "kickstart" in (run / "command.txt").read_text()
    card = tmp_path / "card"
    p = cli("export", run, "--out", card, "--episodes", "4", "--json")
    info = json.loads(p.stdout.strip().splitlines()[-1])
    assert sorted(f.name for f in card.iterdir()) == ["README.md", "config.json", "curve.png", "model.safetensors",
                                                        "run_config.yaml"]
    cfg = json.loads((card / "config.json").read_text())
    assert cfg["env"] == "gym:CartPole-v1" and cfg["kind"] == "kickstart" and cfg["seed"] == 3
    assert cfg["frames"] == 2048 and len(cfg["eval"]["returns"]) == 4
    assert cfg["command"].startswith("distillrl kickstart") and "--seed 3" in cfg["command"]
    # the code that made the weights travels with them, on the card too
    assert cfg["provenance"]["torch"] == torch.__version__ and cfg["provenance"]["distillrl"]
    assert f"torch {torch.__version__}" in (card / "README.md").read_text()
    zoo = cfg["teachers"][0]
    assert zoo["source"] == "cartpole" and zoo["kind"] == "distillrl zoo" and zoo["command"].startswith("distillrl train")
    fm = front_matter((card / "README.md").read_text())
    metric = fm["model-index"][0]["results"][0]["metrics"][0]
    assert metric["type"] == "mean_reward"
    assert metric["value"] == f"{cfg['eval']['mean_reward']:.2f} +/- {cfg['eval']['std_reward']:.2f}"
    assert fm["model-index"][0]["results"][0]["dataset"]["name"] == "gym:CartPole-v1"
    assert info["eval"]["mean_reward"] == cfg["eval"]["mean_reward"]
    # the folder is a source again: eval on the same episodes gives the same greedy return
    ev = json.loads(cli("eval", card, "--episodes", "4", "--greedy", "--json").stdout.strip().splitlines()[-1])
    assert ev["mean_return"] == pytest.approx(cfg["eval"]["mean_reward"])
    # ... and a teacher: the next student's card lists it with its own provenance (the lineage)
    run2 = tmp_path / "student"
    cli("distill", "--teacher", card, "--env", "gym:CartPole-v1", "--steps", "512", "--eval-episodes", "2",
        "--run-dir", run2, "--no-progress")
    cli("export", run2, "--out", tmp_path / "card2", "--episodes", "2")
    t = json.loads((tmp_path / "card2" / "config.json").read_text())["teachers"][0]
    assert t["kind"] == "distillrl export" and t["teachers"][0]["source"] == "cartpole"
    assert "distillrl kickstart" in (tmp_path / "card2" / "README.md").read_text()
    # exporting again over an earlier export replaces it
    cli("export", run, "--out", card, "--episodes", "2")
    assert len(json.loads((card / "config.json").read_text())["eval"]["returns"]) == 2


def test_export_bad_input_is_one_line_and_destroys_nothing(tmp_path, cli):
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("precious")
    p = cli("export", tmp_path / "nope", "--out", tmp_path / "x", check=False)
    assert p.returncode == 2 and "not a finished run directory" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    run = tmp_path / "r"
    cli("train", "--env", "gym:CartPole-v1", "--steps", "512", "--eval-episodes", "2", "--run-dir", run,
        "--no-progress")
    p = cli("export", run, "--out", keep, check=False)
    assert p.returncode == 2 and "not an export folder" in p.stderr
    assert (keep / "notes.txt").read_text() == "precious" and sorted(f.name for f in keep.iterdir()) == ["notes.txt"]
    p = cli("export", run, "--out", tmp_path / "y", "--episodes", "0", check=False)
    assert p.returncode == 2 and "--episodes" in p.stderr
    assert not (tmp_path / "y").exists()
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")]  # no temporary left behind
