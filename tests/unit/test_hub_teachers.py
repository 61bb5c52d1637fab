"""Teachers from Hugging Face Hub-layout folders (RL Zoo / huggingface_sb3, CleanRL), read
from local files without running anything they contain."""

from __future__ import annotations

import os
import pickle
import shutil

import numpy as np
import pytest
import torch

from distillrl.envs.make import env_info
from distillrl.errors import TeacherError
from distillrl.teachers.hub import hub_layout, read_zoo_config
from distillrl.teachers.load import load_teacher

CARTPOLE = env_info("gym:CartPole-v1")

# RL Zoo writes config.yml with yaml.dump(OrderedDict(...)): this is its exact shape
ZOO_CONFIG = """!!python/object/apply:collections.OrderedDict
- - - batch_size
    - 64
  - - n_envs
    - 1
  - - n_timesteps
    - 300.0
  - - normalize
    - {normalize}
  - - policy
    - MlpPolicy
  - - policy_kwargs
    - dict(net_arch=[64, 64])
"""


def _obs(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, (n, 4)) * [2.0, 2.0, 0.2, 2.0]).astype(np.float32)


@pytest.fixture(scope="module")
def sb3_repo(tmp_path_factory):
    """An RL Zoo-style folder: ppo-CartPole-v1.zip, config.yml, vec_normalize.pkl (SB3's own save)."""
    sb3 = pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    d = tmp_path_factory.mktemp("hub") / "ppo-CartPole-v1"
    d.mkdir()
    venv = VecNormalize(make_vec_env("CartPole-v1", n_envs=1, seed=0), norm_reward=False)
    model = sb3.PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(256)
    model.save(d / "ppo-CartPole-v1.zip")
    venv.save(d / "vec_normalize.pkl")
    (d / "config.yml").write_text(ZOO_CONFIG.format(normalize="true"))
    (d / "README.md").write_text("---\nlibrary_name: stable-baselines3\n---\n")
    venv.training = False
    return d, model, venv


def test_rl_zoo_folder_loads_with_its_statistics_and_config(sb3_repo):
    d, model, venv = sb3_repo
    assert hub_layout(d) == "sb3"
    t = load_teacher(str(d), CARTPOLE)
    obs = _obs()
    want, _ = model.predict(venv.normalize_obs(obs), deterministic=True)
    assert np.array_equal(t.act(obs), want)  # the statistics beside the zip were applied
    assert t.provenance["layout"] == "sb3" and t.provenance["model"] == "ppo-CartPole-v1.zip"
    assert t.provenance["config"]["batch_size"] == 64 and t.provenance["config"]["normalize"] is True


def test_normalize_without_statistics_is_one_clear_error(sb3_repo, tmp_path):
    d = tmp_path / "ppo-CartPole-v1"
    shutil.copytree(sb3_repo[0], d)
    (d / "vec_normalize.pkl").unlink()
    with pytest.raises(TeacherError, match="normalize.*no vec_normalize.pkl"):
        load_teacher(str(d), CARTPOLE)


def test_poisoned_files_in_a_hub_folder_run_nothing(sb3_repo, tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    # a config.yml naming a Python callable
    d = tmp_path / "a"
    shutil.copytree(sb3_repo[0], d)
    (d / "config.yml").write_text(f"!!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(TeacherError, match="refused .*config.yml"):
        load_teacher(str(d), CARTPOLE)
    with pytest.raises(TeacherError, match="refused"):
        read_zoo_config(d / "config.yml")
    # a vec_normalize.pkl that would run code
    d = tmp_path / "b"
    shutil.copytree(sb3_repo[0], d)
    (d / "vec_normalize.pkl").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(TeacherError, match="refused"):
        load_teacher(str(d), CARTPOLE)
    # a zip whose policy.pth is a pickle that would run code
    import io
    import zipfile

    d = tmp_path / "c"
    shutil.copytree(sb3_repo[0], d)
    good = d / "ppo-CartPole-v1.zip"
    data = {n: zipfile.ZipFile(good).read(n) for n in zipfile.ZipFile(good).namelist()}
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(1), "evil": Evil()}, buf)
    data["policy.pth"] = buf.getvalue()
    with zipfile.ZipFile(good, "w") as z:
        for n, b in data.items():
            z.writestr(n, b)
    with pytest.raises(TeacherError, match="refused"):
        load_teacher(str(d), CARTPOLE)
    assert not marker.exists()


def _cleanrl_dqn_state(seed=0):
    """CleanRL dqn.py's QNetwork: network = Linear(4,120)-ReLU-Linear(120,84)-ReLU-Linear(84,2)."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(4, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
                              torch.nn.Linear(84, 2))
    return net, {f"network.{k}": v for k, v in net.state_dict().items()}


def test_cleanrl_hub_folder_loads_by_its_script_name(tmp_path):
    net, sd = _cleanrl_dqn_state()
    d = tmp_path / "CartPole-v1-dqn-seed1"
    d.mkdir()
    torch.save(sd, d / "dqn.cleanrl_model")  # what CleanRL's --save-model writes
    (d / "dqn.py").write_text("# the script CleanRL uploads beside the model\n")
    assert hub_layout(d) == "cleanrl"
    t = load_teacher(str(d), CARTPOLE)
    assert t.kind == "q" and t.provenance["exp_name"] == "dqn"
    obs = _obs()
    np.testing.assert_allclose(t.outputs(obs).numpy(), net(torch.from_numpy(obs)).detach().numpy(), atol=1e-6)
    # a JAX model and an unknown script are refused by name
    j = tmp_path / "jax"
    j.mkdir()
    (j / "dqn_jax.cleanrl_model").write_bytes(b"flax bytes")
    with pytest.raises(TeacherError, match="JAX"):
        load_teacher(str(j), CARTPOLE)
    u = tmp_path / "unknown"
    u.mkdir()
    torch.save(sd, u / "c51.cleanrl_model")
    with pytest.raises(TeacherError, match="unknown CleanRL script 'c51'"):
        load_teacher(str(u), CARTPOLE)


def test_hf_sources_read_the_local_cache_or_say_how_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(TeacherError, match="huggingface-cli download cleanrl/CartPole-v1-dqn-seed1 --local-dir DIR"):
        load_teacher("hf://cleanrl/CartPole-v1-dqn-seed1", CARTPOLE)
    with pytest.raises(TeacherError, match="expected hf://ORG/REPO"):
        load_teacher("hf://just-one-part", CARTPOLE)
    # as huggingface_hub lays out its cache: refs/main names the snapshot
    repo = tmp_path / "cache" / "models--cleanrl--CartPole-v1-dqn-seed1"
    snap = repo / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    net, sd = _cleanrl_dqn_state(1)
    torch.save(sd, snap / "dqn.cleanrl_model")
    t = load_teacher("hf://cleanrl/CartPole-v1-dqn-seed1", CARTPOLE)
    obs = _obs(8)
    np.testing.assert_allclose(t.outputs(obs).numpy(), net(torch.from_numpy(obs)).detach().numpy(), atol=1e-6)
