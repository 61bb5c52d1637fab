import numpy as np
import pytest
import torch

from distillrl.core import checkpoint
from distillrl.config import ConfigError, from_dict, load_yaml
from distillrl.envs.make import EnvError, MINATAR_GAMES, env_info, gym_id, list_envs, make_vec
from distillrl.algos import TrainConfig


@pytest.mark.parametrize("game", list(MINATAR_GAMES))
def test_all_minatar_games(game):
    info = env_info(f"minatar:{game}")
    assert info.layout == "hwc" and info.obs_shape[:2] == (10, 10)
    env = make_vec(f"minatar:{game}", 2)
    obs, _ = env.reset(seed=0)
    obs2, r, te, tr, _ = env.step(np.zeros(2, np.int64))
    assert obs2.shape == (2,) + info.obs_shape


def test_minigrid_fully_observable_images():
    info = env_info("minigrid:MiniGrid-DoorKey-5x5-v0")
    assert info.obs_shape == (5, 5, 3) and info.layout == "hwc"


@pytest.mark.parametrize("bad", ["gym:NoSuchEnv-v9", "minatar:pong", "atari:Pong", "CartPole-v1"])
def test_unknown_env_is_one_line_error_with_hint(bad):
    with pytest.raises(EnvError) as e:
        gym_id(bad)
    msg = str(e.value)
    assert "\n" not in msg and "distillrl envs" in msg


def test_list_envs_contains_families():
    envs = list_envs()
    assert "minatar:breakout" in envs and "gym:CartPole-v1" in envs


def test_vector_env_seeding_and_episode_stats():
    def roll(seed):
        env = make_vec("minatar:breakout", 3)
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        out, rets = [obs], []
        for _ in range(300):
            obs, r, te, tr, info = env.step(rng.integers(0, 3, 3))
            out.append(obs)
            if info:
                assert np.isfinite(info["episode_return"][info["_final_obs"]]).all()
                rets += list(info["episode_return"][info["_final_obs"]])
        return np.stack(out), rets

    a, ra = roll(5)
    b, rb = roll(5)
    c, _ = roll(6)
    assert np.array_equal(a, b) and ra == rb and len(ra) > 0
    assert not np.array_equal(a, c)


def test_checkpoint_roundtrip_and_atomic(tmp_path):
    opt_state = {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(2)}},
                 "param_groups": [{"lr": 0.1, "betas": (0.9, 0.99), "params": [0]}]}
    state = {"w": torch.arange(4.0), "nested": {"a": [1, 2.5, "x", None], "arr": np.arange(3)}, "optim": opt_state,
             "big": 2 ** 100}
    p = tmp_path / "c.safetensors"
    checkpoint.save(p, state, {"note": "hi"})
    got, meta = checkpoint.load(p)
    assert meta == {"note": "hi", "format": checkpoint.FORMAT}
    assert torch.equal(got["w"], state["w"]) and got["nested"]["a"] == [1, 2.5, "x", None]
    assert np.array_equal(got["nested"]["arr"], np.arange(3)) and got["big"] == 2 ** 100
    assert got["optim"]["state"][0]["step"].item() == 3.0
    assert list(tmp_path.iterdir()) == [p]  # no temp files left
    # a failed write leaves the previous checkpoint intact
    with pytest.raises(TypeError):
        checkpoint.save(p, {"bad": object()})
    assert checkpoint.load(p)[1]["note"] == "hi"
    assert list(tmp_path.iterdir()) == [p]


def test_checkpoint_rejects_foreign_files(tmp_path):
    p = tmp_path / "x.safetensors"
    p.write_bytes(b"not a safetensors file")
    from distillrl.errors import CheckpointError

    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        checkpoint.load(p)


def test_config_unknown_key_and_wrong_type():
    with pytest.raises(ConfigError, match="unknown config key 'ppo.lrr'"):
        from_dict(TrainConfig, {"ppo": {"lrr": 1}})
    with pytest.raises(ConfigError, match="steps: expected an integer"):
        from_dict(TrainConfig, {"steps": "many"})
    with pytest.raises(ConfigError, match="ppo.lr: expected a number"):
        from_dict(TrainConfig, {"ppo": {"lr": [1]}})
    cfg = from_dict(TrainConfig, {"steps": 2e3, "ppo": {"lr": "1e-3"}, "net": {"hidden": [8, 8]}})
    assert cfg.steps == 2000 and cfg.ppo.lr == 1e-3 and cfg.net.hidden == (8, 8)


def test_bad_yaml(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("env: [unclosed\n")
    with pytest.raises(ConfigError, match="bad YAML"):
        load_yaml(p)


def test_resume_at_large_frame_counts_reseeds_minatar():
    """Regression: the derived reset seed once overflowed MinAtar's 32-bit seeding after 500k frames."""
    from distillrl.algos import make_trainer
    from distillrl.core.rng import resume_seed

    cfg = TrainConfig(env="minatar:breakout", steps=10**7)
    cfg.ppo.num_envs, cfg.ppo.num_steps = 2, 8
    tr = make_trainer(cfg)
    state = tr.state_dict()
    state["frames"] = 4_999_936
    tr.load_state_dict(state)
    assert tr.frames == 4_999_936
    assert 0 <= resume_seed(2**40, 10**12) < 2**31


def test_ale_family_when_installed():
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    from distillrl.models.agent import Agent

    info = env_info("ale:pong")
    assert info.obs_shape == (4, 84, 84) and info.layout == "chw" and info.n_actions == 6
    env = make_vec("ale:pong", 2)
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(np.array([0, 1]))
    out = Agent(info)(torch.from_numpy(obs))
    assert out.logits.shape == (2, 6)
