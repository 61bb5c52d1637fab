"""Teachers from every source; SB3 archives read without unpickling."""

import io
import json
import pickle
import zipfile

import gymnasium as gym
import numpy as np
import pytest
import torch

from distillrl.envs.make import EnvInfo, env_info
from distillrl.models.agent import Agent, acting_param_count
from distillrl.models.nets import NetConfig
from distillrl.teachers.base import AgentTeacher, CallableTeacher, TeacherError
from distillrl.teachers.sb3 import load_sb3_zip
from distillrl.teachers.load import load_teacher

CARTPOLE = env_info("gym:CartPole-v1")


def _obs(n=64, seed=0):
    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(seed)
    out = []
    o, _ = env.reset(seed=seed)
    for _ in range(n):
        out.append(o)
        o, _, te, tr, _ = env.step(int(rng.integers(2)))
        if te or tr:
            o, _ = env.reset()
    return np.stack(out).astype(np.float32)


@pytest.mark.parametrize("algo,kw", [
    ("PPO", dict(n_steps=64, batch_size=64, n_epochs=1)),
    ("A2C", dict(n_steps=16, policy_kwargs=dict(activation_fn=torch.nn.ReLU, net_arch=dict(pi=[32, 16], vf=[8])))),
    ("DQN", dict(learning_starts=50, train_freq=4)),
])
def test_sb3_zip_teacher_matches_predict(tmp_path, algo, kw):
    sb3 = pytest.importorskip("stable_baselines3")  # per test: the CleanRL and callable tests need no SB3
    torch.manual_seed(0)
    model = getattr(sb3, algo)("MlpPolicy", "CartPole-v1", seed=0, device="cpu", **kw)
    model.learn(300)
    path = tmp_path / f"{algo}.zip"
    model.save(path)
    teacher = load_teacher(str(path), CARTPOLE)
    assert teacher.kind == ("q" if algo == "DQN" else "policy")
    obs = _obs()
    expected, _ = model.predict(obs, deterministic=True)
    assert np.array_equal(teacher.act(obs), expected)
    if algo != "DQN":  # probabilities too
        dist = model.policy.get_distribution(torch.from_numpy(obs))
        np.testing.assert_allclose(teacher.probs(obs).numpy(), dist.distribution.probs.detach().numpy(), atol=1e-5)
    else:
        q = model.q_net(torch.from_numpy(obs)).detach().numpy()
        np.testing.assert_allclose(teacher.outputs(obs).numpy(), q, atol=1e-5)


class _ImageEnv(gym.Env):
    observation_space = gym.spaces.Box(0, 255, (40, 40, 3), np.uint8)
    action_space = gym.spaces.Discrete(3)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, a):
        return self.observation_space.sample(), 0.0, False, False, {}


@pytest.mark.parametrize("algo", ["PPO", "DQN"])
def test_sb3_cnn_zip_teacher_matches_predict(tmp_path, algo):
    sb3 = pytest.importorskip("stable_baselines3")  # per test: the CleanRL and callable tests need no SB3
    kw = dict(n_steps=16, batch_size=16, n_epochs=1) if algo == "PPO" else dict(learning_starts=10, buffer_size=200)
    model = getattr(sb3, algo)("CnnPolicy", _ImageEnv(), seed=0, device="cpu",
                               policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=32)), **kw)
    model.learn(40)
    path = tmp_path / "cnn.zip"
    model.save(path)
    teacher = load_sb3_zip(path)
    info = EnvInfo("x", (40, 40, 3), "hwc", 1.0, 3)
    teacher.check_env(info)  # env gives HWC, SB3 saw CHW: accepted and transposed
    obs = np.random.default_rng(0).integers(0, 256, (8, 40, 40, 3), dtype=np.uint8)
    expected, _ = model.predict(obs, deterministic=True)
    assert np.array_equal(teacher.act(obs), expected)


class _Boom:  # noqa: D101
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED_MARKER",))


def test_malicious_sb3_zip_is_refused_and_runs_nothing(tmp_path, monkeypatch):
    sb3 = pytest.importorskip("stable_baselines3")  # per test: the CleanRL and callable tests need no SB3
    monkeypatch.chdir(tmp_path)
    model = sb3.PPO("MlpPolicy", "CartPole-v1", n_steps=32, batch_size=32, seed=0, device="cpu")
    good = tmp_path / "good.zip"
    model.save(good)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "policy.pth":
                buf = io.BytesIO()
                torch.save({"w": torch.zeros(1), "evil": _Boom()}, buf)
                data = buf.getvalue()
            zout.writestr(name, data)
    with pytest.raises(TeacherError, match="refused") as e:
        load_teacher(str(bad), CARTPOLE)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "PWNED_MARKER").exists()
    # the pickled blobs in 'data' are never decoded either: poison one and loading still works
    poisoned = tmp_path / "poisoned.zip"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(poisoned, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "data":
                d = json.loads(data)
                import base64

                d["policy_class"][":serialized:"] = base64.b64encode(pickle.dumps(_Boom())).decode()
                data = json.dumps(d).encode()
            zout.writestr(name, data)
    load_teacher(str(poisoned), CARTPOLE)
    assert not (tmp_path / "PWNED_MARKER").exists()


def test_not_a_zip_and_missing_members(tmp_path):
    p = tmp_path / "x.zip"
    p.write_bytes(b"hello")
    with pytest.raises(TeacherError, match="not a readable zip"):
        load_teacher(str(p))
    with zipfile.ZipFile(tmp_path / "y.zip", "w") as z:
        z.writestr("data", "{}")
    with pytest.raises(TeacherError, match="not a Stable-Baselines3 archive"):
        load_teacher(str(tmp_path / "y.zip"))


def test_shape_and_action_mismatch_fail_clearly(tmp_path):
    sb3 = pytest.importorskip("stable_baselines3")  # per test: the CleanRL and callable tests need no SB3
    model = sb3.PPO("MlpPolicy", "CartPole-v1", n_steps=32, batch_size=32, seed=0, device="cpu")
    model.save(tmp_path / "cp.zip")
    with pytest.raises(TeacherError, match="expects observations of shape"):
        load_teacher(str(tmp_path / "cp.zip"), EnvInfo("gym:Acrobot-v1", (6,), "flat", 1.0, 2))
    with pytest.raises(TeacherError, match="has 2 discrete actions but"):
        load_teacher(str(tmp_path / "cp.zip"), EnvInfo("gym:Other", (4,), "flat", 1.0, 3))


def test_cleanrl_state_dicts(tmp_path):
    from torch import nn

    class CleanPPO(nn.Module):  # the layout of CleanRL's ppo.py Agent
        def __init__(self):
            super().__init__()
            self.critic = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
            self.actor = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2))

    m = CleanPPO()
    torch.save(m.state_dict(), tmp_path / "agent.pt")
    t = load_teacher(str(tmp_path / "agent.pt"), CARTPOLE, arch="cleanrl-ppo")
    obs = _obs(16)
    np.testing.assert_allclose(t.outputs(obs).numpy(), m.actor(torch.from_numpy(obs)).detach().numpy(), atol=1e-6)
    q = nn.Sequential(nn.Linear(4, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 2))
    torch.save({f"network.{k}": v for k, v in q.state_dict().items()}, tmp_path / "q.pt")
    t = load_teacher(str(tmp_path / "q.pt"), CARTPOLE, arch="cleanrl-dqn")
    assert t.kind == "q" and t.tau == 0.01
    np.testing.assert_allclose(t.outputs(obs).numpy(), q(torch.from_numpy(obs)).detach().numpy(), atol=1e-6)
    with pytest.raises(TeacherError, match="--teacher-arch"):
        load_teacher(str(tmp_path / "q.pt"), CARTPOLE)
    with pytest.raises(TeacherError, match="does not match architecture"):
        load_teacher(str(tmp_path / "q.pt"), CARTPOLE, arch="cleanrl-ppo")


def test_callable_and_agent_teachers():
    t = load_teacher(lambda o: np.tile([0.2, 0.8], (len(o), 1)), CARTPOLE, outputs="probs")
    assert isinstance(t, CallableTeacher)
    np.testing.assert_allclose(t.probs(_obs(3)).numpy(), [[0.2, 0.8]] * 3, atol=1e-6)
    agent = Agent(CARTPOLE, NetConfig(hidden=(16, 16)))
    at = AgentTeacher(agent, "a")
    assert at.n_params == acting_param_count(agent) < sum(p.numel() for p in agent.parameters())
    obs = _obs(5)
    out = at.outputs(obs)
    assert not out.requires_grad
    np.testing.assert_allclose(at.outputs_np(obs), out.numpy(), atol=1e-5)
    # Q-teacher becomes a policy through softmax(q/τ)
    qt = CallableTeacher(lambda o: np.tile([1.0, 1.02], (len(o), 1)), (4,), 2, outputs="q")
    p = qt.probs(obs).numpy()[0]
    np.testing.assert_allclose(p, np.exp([100, 102]) / np.exp([100, 102]).sum(), rtol=1e-5)
