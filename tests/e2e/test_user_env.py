"""A user's own environment from the CLI, as Gymnasium intends: ``gym:mypkg.envs:MyEnv-v0``
imports the module (whose import registers the id) — in the driver and in Ray workers."""

import json
import textwrap

import pytest

ENV_MODULE = '''
import gymnasium as gym
import numpy as np


class Corridor(gym.Env):
    """Walk right to the end of a 4-cell corridor (reward 1); at most 12 steps."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.pos = max(0, self.pos + (1 if int(action) == 1 else -1))
        done = self.pos >= 3
        return np.array([self.pos / 3], np.float32), float(done), done, False, {}


gym.register(id="UserCorridor-v0", entry_point=f"{__name__}:Corridor", max_episode_steps=12)
'''


@pytest.fixture
def user_env(tmp_path, monkeypatch):
    pkg = tmp_path / "userpkg_corridor"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "envs.py").write_text(textwrap.dedent(ENV_MODULE))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "gym:userpkg_corridor.envs:UserCorridor-v0"


def test_train_on_a_users_module_env(cli, tmp_path, user_env):
    p = cli("train", "--env", user_env, "--steps", "2048", "--eval-episodes", "3", "--run-dir", tmp_path / "r",
            "--json", "--no-progress")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert s["steps"] >= 2048 and 0.0 <= s["mean_return"] <= 1.0


def test_ray_workers_import_the_users_module(cli, tmp_path, user_env):
    # IMPALA's rollout actors are Ray processes: each must import the module to make the env
    p = cli("train", "--algo", "impala", "--actors", "1", "--env", user_env, "--steps", "1024",
            "--eval-episodes", "1", "--run-dir", tmp_path / "r", "--json", "--no-progress", timeout=300)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.strip().splitlines()[-1])["steps"] >= 1024


@pytest.mark.parametrize("spec, says", [
    ("gym:no_such_pkg_xyz.envs:UserCorridor-v0", "cannot import module 'no_such_pkg_xyz.envs'"),
    ("gym:userpkg_corridor.envs:Nope-v0", "did not register 'Nope-v0'"),
])
def test_bad_module_envs_are_one_line_errors(cli, tmp_path, user_env, spec, says):
    p = cli("train", "--env", spec, "--steps", "64", "--run-dir", tmp_path / "r")
    assert p.returncode == 2 and says in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not (tmp_path / "r").exists()


def test_envs_lists_task_sets_options_and_the_module_form(cli):
    p = cli("envs", "--family", "minatar")
    assert p.returncode == 0
    out = p.stdout
    for s in ("minatar:breakout", "minatar:all", "?keep=", "?view=", "gym:MODULE:ID"):
        assert s in out, s
    ids = cli("envs", "--family", "minatar", "--ids-only").stdout.split()
    assert ids == ["minatar:asterix", "minatar:breakout", "minatar:freeway", "minatar:seaquest", "minatar:space_invaders"]
