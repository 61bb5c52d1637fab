"""The README's commands, extracted and run as written at a tiny budget (shared by the test and
``bench/readme_examples.py``, which times them for BENCHMARKS).

Every ``distillrl`` line of the README's bash blocks runs in one scratch folder, in README order,
with only a budget appended (``--steps``, ``--episodes``, ``--eval-episodes``: argparse takes the
last value) and the files the README assumes the reader has made first: ``runs/<run>``, an SB3
``.zip``, a CleanRL state dict, earlier runs for ``report`` globs, the datasets the DT lines
name, and a tiny copy of ``examples/pbt_breakout.yaml``. Lines that need a Ray cluster someone
started (``--address``) are skipped here; the loopback cluster test covers them.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).with_name("distillrl"))


@dataclass
class Command:
    line: str  # as written in the README
    budget: list[str]  # appended
    skip: str = ""  # why it is not run here

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.line)


def readme_lines(path: Path = ROOT / "README.md") -> list[str]:
    """Every ``distillrl ...`` command of the README's bash blocks (continuations joined, comments cut)."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", path.read_text(), re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = re.split(r"\s+#\s", line.strip(), maxsplit=1)[0].strip()
            if line.startswith("distillrl "):
                out.append(line)
    return out


def budget_for(argv: list[str]) -> list[str]:
    cmd = argv[1]
    rest = argv[2:]
    if "--address" in rest:
        return []
    if cmd == "train" and "dt" in rest:
        return ["--steps", "4", "--eval-episodes", "1"]
    if cmd == "distill" and "--offline" in rest:
        return ["--steps", "4", "--eval-episodes", "1"]
    if cmd in ("train", "kickstart", "distill"):
        frames = 5120 if "minatar:all" in rest else 4096
        return ["--steps", str(frames), "--eval-episodes", "1"]
    if cmd == "codistill":
        return ["--steps", "4096", "--eval-episodes", "1", "--checkpoint-every", "4096"]
    if cmd == "sweep":
        return ["--steps", "4096", "--eval-episodes", "1"]  # after --: the swept command's
    if cmd == "meta":
        return ["--steps", "1", "--population", "2", "--tasks-per-gen", "1", "--test-tasks", "1", "--eval-every", "0",
                "--critic-steps", "5", "--hidden", "8"]
    if cmd == "dataset":
        return ["--episodes", "2"]
    if cmd in ("eval", "export"):
        return ["--episodes", "2"]
    return []


def commands() -> list[Command]:
    out = []
    for line in readme_lines():
        argv = shlex.split(line)
        skip = ""
        if "--address" in argv:
            skip = "needs a Ray cluster started by the reader (tests/e2e/test_pbt.py runs one on loopback)"
        out.append(Command(line, budget_for(argv), skip))
    return out


# ---- what the README assumes the reader already has


def _run(args: list[str], cwd: Path) -> None:
    p = subprocess.run([EXE, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONHASHSEED": "0"})
    if p.returncode:
        raise RuntimeError(f"preparing {' '.join(map(str, args))} failed:\n{p.stderr[-2000:]}")


def prepare(work: Path) -> None:
    """The scratch folder: the files and runs the README's lines name."""
    import torch
    from stable_baselines3 import PPO
    from torch import nn

    work.mkdir(parents=True, exist_ok=True)
    tiny = ["--steps", "1024", "--eval-episodes", "1", "--no-progress"]
    _run(["train", "--env", "gym:CartPole-v1", *tiny, "--run-dir", "runs/cartpole-run"], work)
    PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64, seed=0, device="cpu").learn(64).save(
        work / "my_sb3_agent.zip")

    class CleanPPO(nn.Module):  # CleanRL's ppo.py Agent layout
        def __init__(self):
            super().__init__()
            self.critic = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
            self.actor = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2))

    torch.manual_seed(0)
    sd = CleanPPO().state_dict()
    torch.save(sd, work / "agent.pt")
    torch.save(sd, work / "cleanrl_agent.pt")
    # continuous teachers as their users save them: SB3 SAC / TD3 beside their VecNormalize, and
    # CleanRL's ppo_continuous_action Agent with its observation statistics
    import gymnasium as gym
    import numpy as np
    from stable_baselines3 import SAC, TD3
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    for name, cls in (("sb3_sac", SAC), ("sb3_td3", TD3)):
        venv = VecNormalize(DummyVecEnv([lambda: gym.make("Pendulum-v1")]))
        model = cls("MlpPolicy", venv, seed=0, learning_starts=32, device="cpu")
        model.learn(64)
        (work / name).mkdir(exist_ok=True)
        model.save(work / name / "model.zip")
        venv.save(work / name / "vec_normalize.pkl")

    class CleanContinuous(nn.Module):  # CleanRL's ppo_continuous_action.py Agent layout
        def __init__(self):
            super().__init__()
            self.critic = nn.Sequential(nn.Linear(3, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
            self.actor_mean = nn.Sequential(nn.Linear(3, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
                                            nn.Linear(64, 1))
            self.actor_logstd = nn.Parameter(torch.zeros(1, 1))

    torch.save(CleanContinuous().state_dict(), work / "agent.cleanrl_model")
    np.savez(work / "obs_rms.npz", mean=np.zeros(3), var=np.ones(3), clip_obs=10.0)
    # hub-layout folders as downloaded with `huggingface-cli download`: RL Zoo's and CleanRL's
    zoo = work / "ppo-CartPole-v1"
    zoo.mkdir(exist_ok=True)
    PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64, seed=0, device="cpu").learn(64).save(
        zoo / "ppo-CartPole-v1.zip")
    (zoo / "config.yml").write_text("!!python/object/apply:collections.OrderedDict\n- - - n_envs\n    - 8\n"
                                    "  - - policy\n    - MlpPolicy\n")
    clean = work / "CartPole-v1-dqn-seed1"
    clean.mkdir(exist_ok=True)
    qnet = nn.Sequential(nn.Linear(4, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 2))
    torch.save({f"network.{k}": v for k, v in qnet.state_dict().items()}, clean / "dqn.cleanrl_model")
    (clean / "dqn.py").write_text("# CleanRL's script, uploaded beside the model\n")
    _run(["train", "--env", "minatar:breakout", *tiny, "--run-dir", "runs/long-scratch-run"], work)
    _run(["train", "--env", "minatar:space_invaders", *tiny, "--run-dir", "runs/my-si-teacher"], work)
    _run(["train", "--env", "minigrid:MiniGrid-DoorKey-5x5-v0?view=agent", *tiny, "--run-dir", "runs/doorkey-5x5"],
         work)
    for name, teacher in (("breakout-expert", "minatar-breakout"), ("asterix-expert", "minatar-asterix")):
        _run(["dataset", "--teacher", teacher, "--episodes", "2", "--name", f"distillrl/{name}-v0", "--no-progress"],
             work)
    _run(["dataset", "--teacher", "minatar-breakout", "--episodes", "2", "--epsilon", "0.5", "--name",
          "distillrl/breakout-noisy-v0", "--no-progress"], work)
    exp = yaml.safe_load((ROOT / "examples" / "pbt_breakout.yaml").read_text())
    exp["population"] = 2
    exp["config"].update({"steps": 4096, "eval_episodes": 1})
    exp["pbt"].update({"interval": 2048})
    (work / "examples").mkdir(exist_ok=True)
    (work / "examples" / "pbt_breakout.yaml").write_text(yaml.safe_dump(exp))


PLACEHOLDERS = {"runs/<run>": "runs/cartpole-run"}
"""what a reader types for the README's placeholders"""


def run_command(c: Command, work: Path, timeout: int = 900) -> dict:
    """Run one README line in ``work`` (a shell, so the README's globs expand as they would for
    the reader); returns its exit status, wall time and the last lines of its output."""
    line = c.line
    for k, v in PLACEHOLDERS.items():
        line = line.replace(k, v)
    line = line + " " + " ".join(shlex.quote(b) for b in c.budget) + " --no-progress" * _takes_no_progress(c)
    t = time.perf_counter()
    p = subprocess.run(line, shell=True, cwd=work, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "PYTHONHASHSEED": "0", "PATH": f"{Path(EXE).parent}:{os.environ['PATH']}"})
    return {"command": c.line, "budget": " ".join(c.budget), "rc": p.returncode, "wall_s": time.perf_counter() - t,
            "stdout": p.stdout[-3000:], "stderr": p.stderr[-3000:]}


def _takes_no_progress(c: Command) -> bool:
    return c.argv[1] in ("train", "kickstart", "distill", "codistill", "dataset", "pbt", "sweep") and \
        "--help" not in c.argv
