"""What --help tells a newcomer: nothing they do not have, every learner a command takes and
no other, the PBT file's schema."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

EXE = str(Path(sys.executable).with_name("distillrl"))
COMMANDS = [["train"], ["train", "--algo", "dqn"], ["train", "--algo", "dt"], ["kickstart"], ["distill"],
            ["distill", "--offline"], ["codistill"], ["pbt"], ["sweep"], ["dataset"], ["eval"], ["report"],
            ["envs"], ["zoo"], ["demo"]]


def help_of(*cmd: str) -> str:
    p = subprocess.run([EXE, *cmd, "--help"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_help_cites_no_file_a_user_does_not_have(cmd):
    text = help_of(*cmd)
    for private in ("SPEC", "§", "seed 00", "BENCHMARKS"):
        assert private not in text, (cmd, private)


def test_every_learner_a_command_takes_and_no_other():
    assert "--algo {ppo,a2c,dqn,pqn,impala,dt}" in help_of("train")
    assert "--algo {ppo,a2c}" in help_of("codistill")
    assert "--offline" in help_of("distill")


def test_print_config_is_a_valid_commented_experiment_for_every_command():
    from distillrl.scale.population import pbt_config_from_dict

    for command in ("train", "kickstart", "distill"):
        p = subprocess.run([EXE, "pbt", "--print-config", command], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        cfg = pbt_config_from_dict(yaml.safe_load(p.stdout))
        assert cfg.command == command and cfg.priors
        assert "interval:" in p.stdout and "# frames between" in p.stdout
    assert "priors:" in help_of("pbt") and "--print-config" in help_of("pbt")
