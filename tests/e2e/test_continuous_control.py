"""Continuous control end to end: PPO with a Gaussian policy and normalisation on Pendulum,
SB3 PPO / SAC / TD3 teachers with their VecNormalize statistics (made by SB3 here, read without
unpickling), distillation into a student, and the refusals (Q-learners, mismatched teachers,
a VecNormalize pickle that would run code)."""

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from distillrl.envs.make import env_info
from distillrl.errors import TeacherError
from distillrl.teachers.load import load_teacher
from distillrl.teachers.vecnorm import load_vecnormalize

EXE = str(Path(sys.executable).with_name("distillrl"))
PEND = "gym:Pendulum-v1"


def cli(*args, check=True):
    p = subprocess.run([EXE, *args, "--no-progress"], capture_output=True, text=True, timeout=600)
    if check:
        assert p.returncode == 0, p.stderr[-2000:]
    return p


@pytest.fixture(scope="module")
def sb3_teachers(tmp_path_factory):
    """SB3 PPO, SAC and TD3 on Pendulum inside VecNormalize, briefly trained, saved as SB3 saves them."""
    sb3 = pytest.importorskip("stable_baselines3")
    import gymnasium as gym
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    root = tmp_path_factory.mktemp("sb3")
    out = {}
    for name, cls, kw in (("ppo", sb3.PPO, {"n_steps": 64, "batch_size": 64}),
                          ("sac", sb3.SAC, {"learning_starts": 50}),
                          ("td3", sb3.TD3, {"learning_starts": 50})):
        venv = VecNormalize(DummyVecEnv([lambda: gym.make("Pendulum-v1")]))
        model = cls("MlpPolicy", venv, seed=0, **kw)
        model.learn(200)
        d = root / name
        d.mkdir()
        model.save(d / "model.zip")
        venv.save(d / "vec_normalize.pkl")
        out[name] = (d / "model.zip", model, venv)
    return out


@pytest.mark.slow
def test_sb3_continuous_teachers_act_as_sb3_does_with_their_vecnormalize(sb3_teachers):
    obs = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32) * 3
    for name, (zpath, model, venv) in sb3_teachers.items():
        t = load_teacher(str(zpath))
        t.check_env(env_info(PEND))
        assert t.normalizer is not None
        want, _ = model.predict(venv.normalize_obs(obs), deterministic=True)
        got = t.dist(t.outputs(obs)).mode().numpy()
        np.testing.assert_allclose(np.clip(got, -2, 2), want, rtol=1e-4, atol=1e-4), name
        assert t.kind == ("deterministic" if name == "td3" else "policy")


@pytest.mark.slow
def test_a_vecnormalize_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path, sb3_teachers):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    bad = tmp_path / "vec_normalize.pkl"
    bad.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(TeacherError, match="refused .*system.*nothing from it was run"):
        load_vecnormalize(bad)
    assert not marker.exists()
    # beside a zip, the teacher is refused too (and the CLI says so in one line)
    shutil.copy(sb3_teachers["sac"][0], tmp_path / "model.zip")
    with pytest.raises(TeacherError, match="refused"):
        load_teacher(str(tmp_path / "model.zip"))
    p = cli("distill", "--teacher", str(tmp_path / "model.zip"), "--env", PEND, "--steps", "256",
            "--run-dir", str(tmp_path / "run"), check=False)
    assert p.returncode != 0 and "refused" in p.stderr and "Traceback" not in p.stderr
    assert not marker.exists() and not (tmp_path / "run").exists()
    # a CleanRL teacher's obs_rms.npz in the same folder is not an SB3 zip's statistics
    other = tmp_path / "both"
    other.mkdir()
    shutil.copy(sb3_teachers["sac"][0], other / "model.zip")
    np.savez(other / "obs_rms.npz", mean=np.zeros(7), var=np.ones(7))
    assert load_teacher(str(other / "model.zip")).normalizer is None
    # an .npz of statistics works, and checks what it holds
    np.savez(tmp_path / "ok.npz", mean=np.zeros(3), var=np.ones(3), clip_obs=5.0)
    n = load_vecnormalize(tmp_path / "ok.npz")
    assert n.clip == 5.0 and np.allclose(n(torch.full((1, 3), 100.0)).numpy(), 5.0)
    np.savez(tmp_path / "neg.npz", mean=np.zeros(3), var=-np.ones(3))
    with pytest.raises(TeacherError, match="negative"):
        load_vecnormalize(tmp_path / "neg.npz")


@pytest.mark.slow
def test_ppo_on_pendulum_then_distill_and_the_refusals(tmp_path, sb3_teachers):
    run = tmp_path / "ppo"
    cli("train", "--env", PEND, "--steps", "4096", "--run-dir", str(run), "--eval-episodes", "2")
    s = json.loads((run / "summary.json").read_text())
    assert np.isfinite(s["mean_return"])
    cfg = (run / "config.yaml").read_text()
    assert "obs_norm: true" in cfg and "norm_reward: true" in cfg  # the Pendulum preset
    # the checkpoint carries the observation statistics, and a resumed run continues from them
    from safetensors.torch import load_file
    w = load_file(run / "checkpoints" / "last.safetensors")
    assert any(k.endswith("obs_norm.mean") for k in w) and float(w[[k for k in w if k.endswith("obs_norm.count")][0]]) > 4000
    # distil our PPO teacher (KL) and the SB3 TD3 teacher (mse_mean) into small students
    cli("distill", "--teacher", str(run), "--env", PEND, "--steps", "1024", "--run-dir", str(tmp_path / "d1"),
        "--eval-episodes", "2", "--loss", "kl")
    cli("distill", "--teacher", str(sb3_teachers["td3"][0]), "--env", PEND, "--steps", "1024",
        "--run-dir", str(tmp_path / "d2"), "--eval-episodes", "2", "--loss", "mse_mean")
    rows = (tmp_path / "d2" / "metrics.csv").read_text().splitlines()
    assert "distill/action_mse" in rows[0]
    # a continuous teacher's episodes as a Minari dataset (its mean actions, clipped), which the
    # (discrete) Decision Transformer refuses in one line
    env_vars = {**os.environ, "MINARI_DATASETS_PATH": str(tmp_path / "minari")}
    p = subprocess.run([EXE, "dataset", "--teacher", str(run), "--episodes", "2", "--name", "distillrl/pend-v0",
                        "--no-progress", "--json"], capture_output=True, text=True, env=env_vars, timeout=300)
    assert p.returncode == 0, p.stderr[-1000:]
    assert json.loads(p.stdout.strip().splitlines()[-1])["steps"] == 400
    p = subprocess.run([EXE, "train", "--algo", "dt", "--dataset", "distillrl/pend-v0", "--steps", "4", "--run-dir",
                        str(tmp_path / "dt"), "--no-progress"], capture_output=True, text=True, env=env_vars, timeout=300)
    assert p.returncode != 0 and "predicts discrete actions" in p.stderr and not (tmp_path / "dt").exists()
    # refusals: one line, non-zero exit, no run directory
    for args, words in ((["train", "--algo", "dqn", "--env", PEND], "discrete actions"),
                        (["train", "--algo", "pqn", "--env", PEND], "discrete actions"),
                        (["distill", "--teacher", str(sb3_teachers["td3"][0]), "--env", PEND, "--loss", "kl"],
                         "deterministic"),
                        (["distill", "--teacher", str(run), "--env", "gym:CartPole-v1"], "continuous actions"),
                        (["distill", "--teacher", str(run), "--env", PEND, "--loss", "mse_logits"], "mse_mean")):
        p = cli(*args, "--steps", "512", "--run-dir", str(tmp_path / "bad"), check=False)
        assert p.returncode != 0 and words in p.stderr, (args, p.stderr[-500:])
        assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_privileged_teacher_dagger_then_kickstart_with_a_recurrent_student(tmp_path):
    """The teacher reads the whole state, the student only the angle (no velocity) with an LSTM:
    DAgger (kickstarting with no policy-gradient loss, the critic still trained), then RL
    fine-tuning from the DAgger student (--init-from) while λ decays."""
    teacher = tmp_path / "teacher"
    cli("train", "--env", PEND, "--steps", "2048", "--run-dir", str(teacher), "--eval-episodes", "0")
    env = f"{PEND}?group.angle=0-1&group.vel=2"
    common = ["--teacher", str(teacher), "--env", env, "--teacher-obs-groups", "angle,vel", "--obs-groups", "angle",
              "--net.lstm", "16", "--ppo.num-envs", "4", "--ppo.num-steps", "64", "--ppo.num-minibatches", "2",
              "--eval-episodes", "2"]
    cli("kickstart", *common, "--ppo.pg-coef", "0", "--schedule", "constant", "--steps", "1024",
        "--run-dir", str(tmp_path / "dagger"))
    from distillrl.teachers.zoo import load_agent
    student, _ = load_agent(str(tmp_path / "dagger"))
    assert student.info.view == ("angle",) and student.recurrent and student.in_info.obs_shape == (2,)
    cli("kickstart", *common, "--init-from", str(tmp_path / "dagger"), "--schedule", "linear", "--decay-frames",
        "512", "--steps", "1024", "--run-dir", str(tmp_path / "rl"))
    tuned, _ = load_agent(str(tmp_path / "rl"))
    assert not torch.equal(tuned.state_dict()["pi.weight"], student.state_dict()["pi.weight"])  # it learned on
    # the fine-tuning run started from the DAgger weights: its first rows already carry the DAgger student's
    # low distillation loss, unlike a fresh student
    import csv
    def first_kl(run):
        with open(run / "metrics.csv") as f:
            return float(next(csv.DictReader(f))["losses/ks0_loss"])
    cli("kickstart", *common, "--schedule", "linear", "--decay-frames", "512", "--steps", "256",
        "--run-dir", str(tmp_path / "fresh"))
    assert first_kl(tmp_path / "rl") < first_kl(tmp_path / "fresh")
    # several teachers on the grouped env: each reads its groups, the student its own
    cli("kickstart", "--teacher", str(teacher), "--teacher", str(teacher), *common[2:], "--steps", "256",
        "--run-dir", str(tmp_path / "two"))
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["teachers"].count(str(teacher)) == 2
    # --init-from a network that does not fit: one line, no run directory
    p = cli("kickstart", *common[:-2], "--net.lstm", "8", "--eval-episodes", "0", "--init-from", str(tmp_path / "dagger"),
            "--steps", "256", "--run-dir", str(tmp_path / "bad"), check=False)
    assert p.returncode != 0 and "--init-from" in p.stderr and "networks differ" in p.stderr, p.stderr[-400:]
    assert not (tmp_path / "bad").exists()
