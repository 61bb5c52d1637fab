import json
import math

import numpy as np
import pytest
import torch

from distillrl.config import validate
from distillrl.core.data import Batch
from distillrl.envs.make import env_info, make_vec
from distillrl.errors import ConfigError
from distillrl.algos.kickstart import KickstartConfig, LambdaSchedule, make_kickstart_trainer
from distillrl.terms.kickstart import KickstartTerm
from distillrl.models.agent import Agent, AgentOutput
from distillrl.models.nets import NetConfig
from distillrl.teachers.base import AgentTeacher, CallableTeacher

LOG2 = math.log(2)


def _batch(obs, task_id):
    return Batch(obs=obs, actions=torch.zeros(len(obs), dtype=torch.long), task_id=torch.tensor(task_id))


def _const_teacher(p, n_actions=2):
    return CallableTeacher(lambda o: np.tile(p, (len(o), 1)), (4,), n_actions, outputs="probs")


def test_kickstart_term_hand_value_and_per_sample_task_binding():
    """Schmitt's per-sample sum: a bound teacher contributes Σ_{i: task_i = k} H_i / B."""
    obs = torch.zeros(4, 4)
    mb = _batch(obs, [0, 0, 1, 1])
    logits = torch.tensor([[0.0, 0.0]] * 2 + [[0.0, math.log(3.0)]] * 2)  # π_S = (.5,.5) then (.25,.75)
    out = AgentOutput(logits, None, None)
    h_half = LOG2  # −(.25 log .5 + .75 log .5)
    h_match = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    term = KickstartTerm(_const_teacher([0.25, 0.75]), LambdaSchedule("constant"))
    assert term(out, mb)["loss_ks0"].item() == pytest.approx((2 * h_half + 2 * h_match) / 4, rel=1e-6)
    bound = KickstartTerm(_const_teacher([0.25, 0.75]), LambdaSchedule("constant"), index=1, task=1)
    assert bound(out, mb)["loss_ks1"].item() == pytest.approx(2 * h_match / 4, rel=1e-6)
    bound0 = KickstartTerm(_const_teacher([0.25, 0.75]), LambdaSchedule("constant"), index=2, task=0)
    assert bound0(out, mb)["loss_ks2"].item() == pytest.approx(2 * h_half / 4, rel=1e-6)
    absent = KickstartTerm(_const_teacher([0.25, 0.75]), LambdaSchedule("constant"), index=3, task=7)
    assert absent(out, mb)["loss_ks3"].item() == 0.0
    # with more tasks in the batch a bound teacher's weight does not grow: 1 of 8 samples is its task
    mb8 = _batch(torch.zeros(8, 4), [1, 0, 2, 3, 4, 5, 6, 7])
    out8 = AgentOutput(torch.zeros(8, 2), None, None)
    assert bound(out8, mb8)["loss_ks1"].item() == pytest.approx(h_half / 8, rel=1e-6)


def test_schedule_shapes():
    assert LambdaSchedule("constant")(10**9) == 1.0
    lin = LambdaSchedule("linear", decay_frames=100)
    assert [lin(0), lin(50), lin(100), lin(1000)] == [1.0, 0.5, 0.0, 0.0]
    ex = LambdaSchedule("exp", half_life=10)
    assert ex(0) == 1.0 and ex(10) == pytest.approx(0.5) and ex(30) == pytest.approx(0.125)
    st = LambdaSchedule("step", every=10, factor=0.1)
    assert [st(9), st(10), st(25)] == pytest.approx([1.0, 0.1, 0.01])
    perf = LambdaSchedule("performance", g_teacher=10.0, g_random=2.0)
    assert perf(0, student_return=2.0) == 1.0
    assert perf(0, student_return=6.0) == pytest.approx(0.5)
    assert perf(0, student_return=12.0) == 0.0
    assert perf(0) == 1.0  # no student episodes yet
    assert LambdaSchedule("performance", g_teacher=1.0, g_random=2.0)(0, 1.5) == 0.0  # teacher no better than random
    with pytest.raises(ConfigError):
        LambdaSchedule("cosine")


def _small(cfg):
    cfg.ppo.num_envs, cfg.ppo.num_steps = 4, 32
    return cfg


def test_factorised_live_weights():
    cfg = _small(KickstartConfig(env="gym:CartPole-v1", steps=10_000, schedule="linear", decay_frames=1000,
                                 lambda0=2.0, teacher_weight=[0.5]))
    tr = make_kickstart_trainer(cfg, teachers=[_const_teacher([0.5, 0.5])])
    rows = tr.advance(128)  # the weight of the first update is taken at 128 frames: f = 1 − 128/1000
    assert rows[-1]["kickstart/lambda_0"] == pytest.approx(2.0 * 0.5 * (1 - 128 / 1000))
    tr.set_hparams(lambda_shared=4.0, lambda_0=0.25)
    rows = tr.advance(128)
    assert rows[-1]["kickstart/lambda_0"] == pytest.approx(4.0 * 0.25 * (1 - 256 / 1000))
    assert tr.learner.last_weights["loss_ks0"] == pytest.approx(4.0 * 0.25 * (1 - 256 / 1000))
    assert rows[-1]["hparams/lambda_shared"] == 4.0


def test_teacher_task_and_domains_checked_by_the_config_layer():
    bad = [dict(teacher=["t"], teacher_task=[2], env="gym:CartPole-v1,gym:CartPole-v0"),
           dict(teacher=["t"], lambda0=-1.0), dict(teacher=["t"], tau=0.0), dict(teacher=["t"], tau=-1.0),
           dict(teacher=["t", "u"], teacher_weight=[1.0])]
    for kw in bad:
        with pytest.raises(ConfigError):
            validate(KickstartConfig(**kw))
    validate(KickstartConfig(teacher=["t", "u"], teacher_task=[0, 1], env="gym:CartPole-v1,gym:CartPole-v0"))


def test_teachers_and_student_receive_the_task_id():
    seen = []

    class Spy(CallableTeacher):
        def raw(self, obs, task_id=None):
            seen.append(None if task_id is None else task_id.tolist())
            return super().raw(obs, task_id)

    env = "gym:CartPole-v1,gym:CartPole-v0"
    cfg = KickstartConfig(env=env, steps=512, teacher_task=[1], teacher=["spy"])
    cfg.ppo.num_envs, cfg.ppo.num_steps = 4, 8
    t = Spy(lambda o: np.tile([0.5, 0.5], (len(o), 1)), (4,), 2, outputs="probs")
    tr = make_kickstart_trainer(cfg, teachers=[t])
    tr.advance(32)
    # a teacher bound to task 1 is asked only about task-1 samples (and told their task id)
    assert seen and seen[-1] == [1] * 16


def test_performance_schedule_is_per_teacher_on_its_own_task():
    """Each teacher's G_T is measured on its own task, and G_S is the student's score on that task."""
    env = "gym:CartPole-v1,gym:CartPole-v0"
    good = CallableTeacher(lambda o: np.stack([o[:, 2] + 0.5 * o[:, 3] <= 0, o[:, 2] + 0.5 * o[:, 3] > 0], -1)
                           .astype(np.float32) * 20, (4,), 2, outputs="logits")
    bad = CallableTeacher(lambda o: np.tile([20.0, 0.0], (len(o), 1)), (4,), 2, outputs="logits")
    cfg = KickstartConfig(env=env, steps=10_000, schedule="performance", teacher_task=[0, 1], score_episodes=3,
                          teacher=["good", "bad"])
    cfg.ppo.num_envs, cfg.ppo.num_steps = 4, 16
    tr = make_kickstart_trainer(cfg, teachers=[good, bad])
    g0, g1 = (t.schedule.g_teacher for t in tr.extra_losses)
    assert g0 > 100 > 20 > g1  # the balancing teacher vs the always-left one
    tr.stats.record(np.array([50.0, 5.0]), np.array([50, 5]), np.array([0, 1]))  # student: 50 on task 0, 5 on task 1
    t0, t1 = tr.extra_losses
    assert t0.student_score(tr) == 50.0 and t1.student_score(tr) == 5.0


def test_gradients_reach_student_only_and_loss_is_logged():
    info = env_info("gym:CartPole-v1")
    torch.manual_seed(0)
    t_agent = Agent(info, NetConfig(hidden=(16,)))
    teacher = AgentTeacher(t_agent, "t")
    before = [p.clone() for p in t_agent.parameters()]
    cfg = KickstartConfig(env="gym:CartPole-v1", steps=1024, schedule="constant", lambda0=1.0)
    cfg.ppo.num_envs, cfg.ppo.num_steps = 4, 32
    tr = make_kickstart_trainer(cfg, teachers=[teacher])
    s_before = [p.clone() for p in tr.agent.parameters()]
    rows = tr.advance(256)
    assert all(torch.equal(a, b) for a, b in zip(before, t_agent.parameters()))
    assert all(p.grad is None and not p.requires_grad for p in t_agent.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(s_before, tr.agent.parameters()))
    assert rows[-1]["kickstart/lambda_0"] == 1.0 and rows[-1]["losses/ks0_loss"] > 0


def test_kickstart_pulls_student_to_teacher():
    teacher = _const_teacher([0.05, 0.95])
    cfg = KickstartConfig(env="gym:CartPole-v1", steps=4096, schedule="constant", lambda0=5.0, seed=0)
    cfg.ppo.num_envs, cfg.ppo.num_steps = 4, 32
    tr = make_kickstart_trainer(cfg, teachers=[teacher])
    first = tr.advance(128)[-1]["losses/ks0_loss"]
    last = tr.advance(2048)[-1]["losses/ks0_loss"]
    assert last < first
    with torch.no_grad():
        p = torch.softmax(tr.agent(torch.zeros(1, 4)).logits, -1)[0, 1].item()
    assert p > 0.8


def test_multitask_env_task_ids_reach_the_batch():
    env = make_vec("gym:CartPole-v1,gym:CartPole-v0", 4)
    assert env.task_ids.tolist() == [0, 1, 0, 1]
    cfg = KickstartConfig(env="gym:CartPole-v1,gym:CartPole-v0", steps=512, teacher_task=[0, 1])
    cfg.ppo.num_envs, cfg.ppo.num_steps = 4, 8
    tr = make_kickstart_trainer(cfg, teachers=[_const_teacher([0.5, 0.5]), _const_teacher([0.1, 0.9])])
    ro = tr.collect_rollout()
    assert ro.task_id.shape == (8, 4) and ro.task_id.reshape(-1).tolist() == [0, 1, 0, 1] * 8
    assert [t.task for t in tr.extra_losses] == [0, 1]


def test_multitask_env_rejects_mismatched_spatial_sizes():
    from distillrl.envs.make import EnvError
    from distillrl.envs.tasks import TaskSet

    # channels may differ (padded); spatial sizes may not
    with pytest.raises(EnvError, match="spatial size"):
        TaskSet.build("minigrid:MiniGrid-DoorKey-5x5-v0,minigrid:MiniGrid-DoorKey-8x8-v0")


@pytest.mark.slow
def test_kickstart_cli_and_report(cli, tmp_path):
    t = tmp_path / "teacher"
    cli("train", "--env", "gym:CartPole-v1", "--steps", "3000", "--run-dir", t, "--eval-episodes", "0",
        "--no-progress", check=True)
    common = ["--env", "gym:CartPole-v1", "--steps", "1024", "--ppo.num-envs", "4", "--ppo.num-steps", "32",
              "--eval-episodes", "2", "--no-progress", "--json"]
    runs = []
    for seed in (1, 2):
        d = tmp_path / f"ks{seed}"
        p = cli("kickstart", "--teacher", t, "--teacher", t, "--teacher-weight", "1.0", "0.5", "--schedule",
                "exp", "--half-life", "512", "--seed", seed, "--run-dir", d, *common, check=True)
        s = json.loads(p.stdout.strip().splitlines()[-1])
        assert s["schedule"] == "exp" and len(s["teacher_returns"]) == 2
        runs.append(d)
        d = tmp_path / f"scratch{seed}"
        cli("train", "--seed", seed, "--run-dir", d, *common, check=True)
        runs.append(d)
    import csv

    with open(tmp_path / "ks1" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[0]["kickstart/lambda_1"]) == pytest.approx(0.5 * float(rows[0]["kickstart/lambda_0"]))
    out = tmp_path / "report"
    p = cli("report", *runs, "--out", out, "--target", "15", "--json", check=True)
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert {g["kind"] for g in res["groups"]} == {"kickstart", "train"}
    assert all(g["seeds"] == 2 for g in res["groups"])
    for f in ("curves.png", "lambda.png", "report.md", "report.json"):
        assert (out / f).exists()
    md = (out / "report.md").read_text()
    assert "speed-up" in md and "IQM" in md
    ks = next(g for g in res["groups"] if g["kind"] == "kickstart")
    assert ks["iqm"] is not None  # rliable ran on the two seeds
    # an explicit reference run (e.g. a longer from-scratch run) becomes the speed-up baseline
    p = cli("report", runs[0], runs[2], "--reference", runs[1], "--out", tmp_path / "r2", "--target", "15",
            "--json", check=True)
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert len(res["groups"]) == 2 and all(str(runs[1]) not in g["runs"] or "speedup" not in g for g in res["groups"])
    p = cli("kickstart", "--env", "gym:CartPole-v1", "--run-dir", tmp_path / "bad")
    assert p.returncode != 0 and "--teacher is required" in p.stderr
    p = cli("kickstart", "--help", check=True)
    assert "--dqn." not in p.stdout and "--ppo.num-envs" in p.stdout  # no flag it cannot use


def test_kickstart_with_a2c_learner():
    cfg = KickstartConfig(env="gym:CartPole-v1", algo="a2c", steps=2000, schedule="linear", decay_frames=1000)
    cfg.ppo.num_envs, cfg.ppo.num_steps, cfg.ppo.update_epochs, cfg.ppo.num_minibatches = 4, 5, 1, 1
    tr = make_kickstart_trainer(cfg, teachers=[_const_teacher([0.3, 0.7])])
    rows = tr.advance(400)
    assert tr.algo == "a2c" and "losses/approx_kl" not in rows[-1]  # the A3C-form loss, not PPO's
    assert rows[-1]["losses/ks0_loss"] > 0 and rows[-1]["kickstart/lambda_0"] < 1.0
    with pytest.raises(ConfigError, match="expected one of ppo, a2c"):
        make_kickstart_trainer(KickstartConfig(env="gym:CartPole-v1", algo="dqn"), teachers=[_const_teacher([.5, .5])])
