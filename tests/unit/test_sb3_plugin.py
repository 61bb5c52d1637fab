"""distillrl.sb3: kickstarting inside Stable-Baselines3's own training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402

from distillrl.errors import ConfigError  # noqa: E402
from distillrl.sb3 import KickstartA2C, KickstartDQN, KickstartPPO, _AddToLoss  # noqa: E402

torch.set_num_threads(1)


def heuristic(obs):
    """A CartPole teacher: push towards the pole's fall (angle + ½ angular velocity), confidently."""
    obs = np.asarray(obs)
    a = (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(int)
    logits = np.full((len(obs), 2), -4.0, np.float32)
    logits[np.arange(len(obs)), a] = 4.0
    return logits


def contrary(obs):
    """A teacher no RL learner would agree with: push *with* the pole's fall. A student that
    copies it can only have learned it from the term."""
    return -heuristic(obs)


def states(n=512, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, (n, 4)) * [2.0, 2.0, 0.2, 2.0]).astype(np.float32)


def agreement(model, teacher=contrary) -> float:
    s = states()
    a, _ = model.predict(s, deterministic=True)
    return float((np.asarray(a) == teacher(s).argmax(1)).mean())


def test_add_to_loss_adds_the_terms_gradient_exactly():
    w = torch.tensor([0.5, -1.0], requires_grad=True)
    carrier = w * 3.0
    term = (w ** 2).sum() * 2.0  # d/dw = 4w
    out = _AddToLoss.apply(carrier, term)
    assert torch.equal(out, carrier)
    (out.sum() * 1.5).backward()  # d/dw of 1.5·Σ 3w = 4.5
    assert torch.allclose(w.grad, torch.tensor([4.5 + 2.0, 4.5 - 4.0]))


def test_ppo_term_is_applied_logged_and_saved(tmp_path):
    kw = dict(n_steps=128, batch_size=64, n_epochs=4, seed=3, device="cpu")
    ks = KickstartPPO("MlpPolicy", "CartPole-v1", teachers=[contrary], schedule="constant", lambda0=5.0, **kw)
    ks.learn(1024)
    plain = PPO("MlpPolicy", "CartPole-v1", **kw)
    plain.learn(1024)
    # with the term the student copies the teacher within 8 updates (0.82–0.86 over seeds 1–3);
    # SB3 alone learns the opposite (0.11–0.17)
    assert agreement(ks) > 0.7 and agreement(plain) < 0.35
    assert ks.logger.name_to_value["kickstart/lambda"] == 5.0
    assert 0 < ks.logger.name_to_value["kickstart/loss"] < 0.7  # ln 2 = 0.69 is where it starts
    # SB3's own save / load / evaluate_policy keep working; a callable teacher must be given again
    ks.save(tmp_path / "student.zip")
    back = KickstartPPO.load(tmp_path / "student.zip", env=ks.get_env())
    assert back.kickstart_config["lambda0"] == 5.0 and back.kickstart_config["schedule"] == "constant"
    s = states(64)
    assert np.array_equal(back.predict(s, deterministic=True)[0], ks.predict(s, deterministic=True)[0])
    mean, _ = evaluate_policy(back, back.get_env(), n_eval_episodes=2)
    assert mean > 0
    with pytest.raises(ConfigError, match="set_teachers"):
        back.learn(128)
    back.set_teachers([contrary])
    back.learn(256, reset_num_timesteps=False)


def test_linear_schedule_and_a_zip_teacher_reloaded_from_its_source(tmp_path):
    teacher = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64, n_epochs=1, seed=1, device="cpu")
    teacher.save(tmp_path / "teacher.zip")
    ks = KickstartA2C("MlpPolicy", "CartPole-v1", teachers=[str(tmp_path / "teacher.zip")], schedule="linear",
                      decay_frames=1000, n_steps=5, seed=1, device="cpu")
    ks.learn(500)
    lam = ks.logger.name_to_value["kickstart/lambda"]
    # SB3 trains after collecting: λ of the last update is f(500 frames) = 1 − 500/1000
    assert lam == pytest.approx(1 - 500 / 1000)
    ks.save(tmp_path / "a2c.zip")
    back = KickstartA2C.load(tmp_path / "a2c.zip", env=ks.get_env())
    back.learn(500, reset_num_timesteps=False)  # the zip teacher is reloaded from its path
    assert back.teachers()[0].n_actions == 2
    assert back.logger.name_to_value["kickstart/lambda"] == 0.0  # past decay_frames


def test_dqn_qdagger_term_moves_the_q_student_towards_the_teacher():
    kw = dict(learning_starts=100, train_freq=1, batch_size=32, buffer_size=5000, seed=2, device="cpu",
              exploration_fraction=0.5)
    ks = KickstartDQN("MlpPolicy", "CartPole-v1", teachers=[contrary], schedule="constant", lambda0=1.0, tau=1.0,
                      **kw)
    ks.learn(1000)
    assert agreement(ks) > 0.7  # 0.84–0.89 over seeds 1–3
    assert ks.logger.name_to_value["kickstart/loss"] > 0


@pytest.mark.parametrize("bad, match", [
    (dict(lambda0=-1.0), "lambda0"),
    (dict(decay_frames=0), "decay-frames"),
    (dict(schedule="cosine"), "schedule"),
    (dict(schedule="performance"), "g_teacher"),
    (dict(teacher_weight=[1.0, 2.0]), "teacher_weight"),
])
def test_bad_options_are_one_clear_error(bad, match):
    with pytest.raises(ConfigError, match=match):
        KickstartPPO("MlpPolicy", "CartPole-v1", teachers=[heuristic], device="cpu", **bad)


def test_a_misspelt_option_is_sb3s_own_error():
    with pytest.raises(TypeError, match="lamda0"):
        KickstartPPO("MlpPolicy", "CartPole-v1", teachers=[heuristic], device="cpu", lamda0=1.0)


def test_a_teacher_that_does_not_fit_the_env_is_refused(tmp_path):
    teacher = PPO("MlpPolicy", "Acrobot-v1", n_steps=64, batch_size=64, seed=1, device="cpu")
    teacher.save(tmp_path / "acrobot.zip")
    ks = KickstartPPO("MlpPolicy", "CartPole-v1", teachers=[str(tmp_path / "acrobot.zip")], n_steps=64,
                      device="cpu")
    with pytest.raises(Exception, match="teacher"):
        ks.learn(64)
