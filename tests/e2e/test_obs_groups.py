"""Observation groups: a Dict-observation env (defined and registered here) whose privileged
group only the teacher reads; packing, views, errors, and distillation end to end."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from distillrl.algos.distill import DistillTrainer
from distillrl.algos.distill_config import DistillConfig
from distillrl.algos.kickstart import KickstartConfig, make_kickstart_trainer
from distillrl.envs.groups import ObsView, net_info, with_view
from distillrl.envs.make import env_info, make_env_fn
from distillrl.errors import ConfigError, TeacherError
from distillrl.models.agent import Agent
from distillrl.models.fastpolicy import NumpyPolicy
from distillrl.models.nets import NetConfig
from distillrl.teachers.base import AgentTeacher, CallableTeacher
from distillrl.teachers.load import load_teacher

ENV = "gym:PrivBit-v0"
LENGTH = 16


class PrivBitEnv(gym.Env):
    """Each step hides a bit b; reward 1 for action b. ``a`` is noise, ``priv`` is b itself
    (what a privileged teacher reads), ``img`` a 3×3×2 picture of b (an image group)."""

    def __init__(self):
        self.observation_space = gym.spaces.Dict({
            "a": gym.spaces.Box(-1.0, 1.0, (2,), np.float32),
            "priv": gym.spaces.Box(0.0, 1.0, (1,), np.float32),
            "img": gym.spaces.Box(0, 1, (3, 3, 2), np.uint8),
        })
        self.action_space = gym.spaces.Discrete(2)

    def _obs(self):
        img = np.zeros((3, 3, 2), np.uint8)
        img[:, :, self.bit] = 1
        return {"a": self.np_random.uniform(-1, 1, 2).astype(np.float32),
                "priv": np.array([self.bit], np.float32), "img": img}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.bit = 0, int(self.np_random.integers(2))
        return self._obs(), {}

    def step(self, action):
        r = float(int(action) == self.bit)
        self.t += 1
        self.bit = int(self.np_random.integers(2))
        return self._obs(), r, False, self.t >= LENGTH, {}


if "PrivBit-v0" not in gym.registry:
    gym.register("PrivBit-v0", entry_point=PrivBitEnv)

GROUPS = (("a", (2,)), ("img", (3, 3, 2)), ("priv", (1,)))  # the Dict space's order (sorted keys)


def priv_teacher(obs_shape=(1,), seen=None):
    """Logits ±4 for the hidden bit, read from the ``priv`` group alone."""
    def fn(obs):
        assert obs.shape[1:] == (1,), obs.shape  # it gets its group, not the packed observation
        if seen is not None:
            seen.append(obs.copy())
        b = obs[:, 0]
        return np.stack([1 - b, b], -1).astype(np.float32) * 8.0 - 4.0
    return CallableTeacher(fn, obs_shape, 2, name="priv")


def test_dict_observations_are_packed_and_described():
    info = env_info(ENV)
    assert info.groups == GROUPS and info.obs_shape == (2 + 18 + 1,) and info.layout == "flat"
    env = make_env_fn(ENV)()
    obs, _ = env.reset(seed=0)
    # the packing is the groups flattened, in order: a (2), img (18), priv (1)
    assert obs.shape == (21,) and obs.dtype == np.float32
    assert obs[20] == env.unwrapped.bit and obs[2:20].reshape(3, 3, 2)[0, 0, env.unwrapped.bit] == 1
    assert obs[2:20].sum() == 9 and -1 <= obs[:2].min() and obs[:2].max() <= 1


def test_views_select_flatten_and_keep_image_shapes():
    packed = np.arange(2 * 21, dtype=np.float32).reshape(2, 21)
    v = ObsView(GROUPS, ("priv", "a"))  # the order asked, flattened
    assert v.shape == (3,) and v.layout == "flat"
    np.testing.assert_array_equal(v(packed), np.concatenate([packed[:, 20:21], packed[:, 0:2]], 1))
    torch.testing.assert_close(v(torch.from_numpy(packed)), torch.from_numpy(v(packed)))
    img = ObsView(GROUPS, ("img",))  # one image group keeps its shape
    assert img.shape == (3, 3, 2) and img.layout == "hwc"
    np.testing.assert_array_equal(img(packed), packed[:, 2:20].reshape(2, 3, 3, 2))
    both = ObsView(GROUPS, ("a", "img"))  # neighbours in packing order: one slice, flattened
    assert both.shape == (20,) and len(both.slices) == 1
    seq = packed.reshape(1, 2, 21)  # leading [T, N] axes
    np.testing.assert_array_equal(v(seq)[0], v(packed))
    assert ObsView(GROUPS, ("a", "img", "priv")).identity
    info = with_view(env_info(ENV), "img")
    assert net_info(info).obs_shape == (3, 3, 2) and net_info(info).layout == "hwc"


def test_unknown_groups_and_box_envs_are_one_line_errors():
    info = env_info(ENV)
    with pytest.raises(ConfigError) as e:
        with_view(info, "a,nope")
    msg = str(e.value)
    assert "\n" not in msg and "'nope'" in msg and "available: a, img, priv" in msg and "--obs-groups" in msg
    with pytest.raises(ConfigError, match="has no observation groups"):
        with_view(env_info("gym:CartPole-v1"), "a")
    with pytest.raises(ConfigError, match=r"--teacher-obs-groups: unknown observation group 'secret'"):
        DistillTrainer(DistillConfig(env=ENV, teacher_obs_groups="secret", steps=64, num_envs=2, rollout_steps=8),
                       teacher=priv_teacher())
    with pytest.raises(ConfigError, match="has no observation groups"):
        DistillTrainer(DistillConfig(env="gym:CartPole-v1", teacher_obs_groups="priv", steps=64),
                       teacher=CallableTeacher(lambda o: np.zeros((len(o), 2)), (4,), 2))
    # a teacher given no groups sees the packed observation: a shape error that names the groups
    with pytest.raises(TeacherError, match="choose the teacher's with --teacher-obs-groups"):
        DistillTrainer(DistillConfig(env=ENV, steps=64, num_envs=2, rollout_steps=8), teacher=priv_teacher())


def test_plain_box_envs_are_unaffected():
    info = env_info("gym:CartPole-v1")
    assert info.groups == () and info.view == ()
    agent = Agent(info, generator=torch.Generator().manual_seed(0))
    assert agent.obs_view is None and "obs_groups" not in agent.spec()


def test_student_view_rebuilds_from_its_spec_and_acts_in_numpy():
    info = with_view(env_info(ENV), "img")
    agent = Agent(info, NetConfig(arch="minatar", width=0.25), generator=torch.Generator().manual_seed(0))
    assert agent.in_info.obs_shape == (3, 3, 2)
    spec = json.loads(json.dumps(agent.spec()))
    assert spec["obs_view"] == ["img"]
    again = Agent.from_spec(spec)
    again.load_state_dict(agent.state_dict())
    obs = np.random.default_rng(0).integers(0, 2, (5, 21)).astype(np.float32)
    with torch.no_grad():
        want = agent(torch.from_numpy(obs)).logits.numpy()
        np.testing.assert_allclose(again(torch.from_numpy(obs)).logits.numpy(), want, atol=1e-6)
    assert NumpyPolicy.supports(agent)
    np.testing.assert_allclose(NumpyPolicy(agent)(obs)[0], want, atol=1e-5)


def test_distill_student_from_a_privileged_teacher_end_to_end():
    """The teacher reads only ``priv``, the student only ``a``: distillation runs end to end."""
    seen = []
    cfg = DistillConfig(env=ENV, obs_groups="a", teacher_obs_groups="priv", steps=256, num_envs=2,
                        rollout_steps=16, batch_size=32, source="dagger", beta_decay_frames=128, seed=0,
                        net=NetConfig(hidden=(8,)), eval_episodes=0)
    tr = DistillTrainer(cfg, teacher=priv_teacher(seen=seen))
    assert tr.agent.trunk.net[0].in_features == 2  # the student reads only its 2 noise features
    rows = tr.advance(cfg.steps)
    assert rows[-1]["frames"] >= 256 and tr.updates > 0
    assert all(np.isfinite(r["losses/distill_loss"]) for r in rows)
    assert seen and set(np.unique(np.concatenate(seen))) <= {0.0, 1.0}  # the teacher saw the bit
    # its greedy actions are the hidden bit: the teacher knows what the student cannot see
    obs, _ = (env := make_env_fn(ENV)()).reset(seed=3)
    assert tr.teacher.act(obs[None])[0] == env.unwrapped.bit


def test_kickstart_and_a_trained_group_teacher(tmp_path, capsys):
    """A PPO teacher trained on ``priv`` (through the CLI, in this process: the env is registered
    here) teaches a student reading ``a``; it reads the groups it was trained on."""
    from distillrl.cli.main import main

    teacher_dir = tmp_path / "teacher"
    assert main(["train", "--env", ENV, "--obs-groups", "priv", "--steps", "512", "--ppo.num-envs", "2",
                 "--ppo.num-steps", "64", "--eval-episodes", "2", "--run-dir", str(teacher_dir)]) == 0
    t = load_teacher(str(teacher_dir), env_info(ENV))  # the checkpoint's agent spec keeps its view
    assert isinstance(t, AgentTeacher) and t.agent.obs_view.names == ("priv",) and t.view is None
    assert main(["distill", "--env", ENV, "--teacher", str(teacher_dir), "--obs-groups", "a",
                 "--teacher-obs-groups", "priv", "--steps", "256", "--num-envs", "2", "--rollout-steps", "16",
                 "--eval-episodes", "2", "--run-dir", str(tmp_path / "student")]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:  # the trained teacher reads priv, not a: one line, exit 2
        main(["distill", "--env", ENV, "--teacher", str(teacher_dir), "--teacher-obs-groups", "a",
              "--steps", "64", "--run-dir", str(tmp_path / "bad")])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "\n" not in err and "reads the observation groups it was trained on (priv)" in err
    cfg = KickstartConfig(env=ENV, obs_groups="a", teacher_obs_groups="priv", steps=256, seed=0, eval_episodes=0)
    cfg.ppo.num_envs, cfg.ppo.num_steps = 2, 64
    tr = make_kickstart_trainer(cfg, [priv_teacher()])
    rows = tr.advance(256)
    assert np.isfinite(rows[-1]["losses/ks0_loss"])
    teacher = tr.teachers[0]
    assert teacher.view is not None and teacher.view.names == ("priv",)
