"""Task sets (issue 9): padding and action maps, routing of every sample to its own adapter,
head, replay buffer and teacher, action masks, per-task λ sums, online distillation, and the
CLI on a two-game MinAtar set."""

import json
import math

import numpy as np
import pytest
import torch

from distillrl.core import losses as L
from distillrl.algos.distill_config import DistillConfig
from distillrl.algos.distill import DistillTrainer
from distillrl.errors import ConfigError
from distillrl.envs.make import EnvError, env_info, make_env_fn, spec_options
from distillrl.models.fastpolicy import NumpyPolicy, make_fast_policy
from distillrl.algos.kickstart import KickstartConfig, make_kickstart_trainer
from distillrl.models.agent import Agent
from distillrl.models.nets import NetConfig
from distillrl.envs.tasks import MASK, TaskSet
from distillrl.teachers.base import CallableTeacher, TeacherError
from distillrl.teachers.load import TeacherSet, parse_task_teachers

BS = "minatar:breakout,minatar:seaquest"  # 4 vs 10 channels, 3 vs 6 actions


def test_taskset_pads_observations_and_maps_actions():
    ts = TaskSet.build(BS)
    assert ts.info.obs_shape == (10, 10, 10) and ts.info.n_actions == 6 and ts.info.task_channels == (4, 10)
    assert ts.legal.tolist() == [[True] * 3 + [False] * 3, [True] * 6]
    v = ts.make_vec(4)
    obs, _ = v.reset(seed=3)
    raw, _ = make_env_fn("minatar:breakout")().reset(seed=3)  # env 0 is task 0, reset with seed + 0
    assert np.array_equal(obs[0, ..., :4], raw) and not obs[0, ..., 4:].any()
    assert np.array_equal(ts.unpad(obs[:1], 0)[0], raw)
    assert np.array_equal(ts.pad(raw[None], 0)[0], obs[0])
    # the shared full action set: MinAtar's 6 actions, each game's minimal set inside it
    sh = TaskSet.build(BS, "shared")
    assert sh.info.n_actions == 6 and sh.legal.all()
    # Breakout's minimal set is (no-op, left, right) = full actions (0, 1, 3); up/down/fire act as no-op
    assert sh.to_env[0].tolist() == [0, 1, 0, 2, 0, 0] and sh.lifts[0].tolist() == [0, 1, 3]
    assert sh.to_env[1].tolist() == list(range(6))
    # env logits: each env action gets the probability of every agent action that reaches it
    lg = np.log(np.array([[0.1, 0.2, 0.05, 0.4, 0.05, 0.2]], np.float32))
    p = np.exp(sh.env_logits(lg, 0))
    assert np.allclose(p, [[0.1 + 0.05 + 0.05 + 0.2, 0.2, 0.4]], atol=1e-6)


def test_spatial_mismatch_and_bad_options_are_one_line_errors():
    with pytest.raises(EnvError, match="spatial size"):
        TaskSet.build("minigrid:MiniGrid-DoorKey-5x5-v0,minigrid:MiniGrid-DoorKey-8x8-v0")
    with pytest.raises(EnvError, match="view must be one of"):
        spec_options("minigrid:MiniGrid-DoorKey-5x5-v0?view=eagle")
    with pytest.raises(EnvError, match="unknown environment option"):
        spec_options("minatar:breakout?view=agent")
    # the agent's egocentric view has one shape for every grid size: siblings can share a teacher
    a = env_info("minigrid:MiniGrid-DoorKey-5x5-v0?view=agent")
    b = env_info("minigrid:MiniGrid-DoorKey-16x16-v0?view=agent")
    assert a.obs_shape == b.obs_shape == (7, 7, 3)
    assert env_info("minigrid:MiniGrid-DoorKey-5x5-v0").obs_shape == (5, 5, 3)


@pytest.mark.parametrize("actions", ["heads", "shared"])
@pytest.mark.parametrize("task_input", ["pad", "adapter"])
def test_each_sample_reaches_its_own_adapter_and_head(actions, task_input):
    ts = TaskSet.build(BS, actions)
    agent = Agent(ts.info, NetConfig(task_input=task_input, task_actions=actions),
                  generator=torch.Generator().manual_seed(0))
    A, K = 6, 2
    with torch.no_grad():  # head k, action a outputs 100·k + a (plus a weight-free trunk term)
        agent.pi.weight.zero_()
        agent.pi.bias.copy_(torch.arange(A * K if actions == "heads" else A, dtype=torch.float32) % A
                            + (100 * torch.arange(K).repeat_interleave(A) if actions == "heads" else 0))
        agent.v.weight.zero_()
        agent.v.bias.copy_(torch.tensor([7.0, -7.0]))
    v = ts.make_vec(4)
    obs, _ = v.reset(seed=0)
    task = torch.from_numpy(v.task_ids)
    out = agent(torch.from_numpy(obs), task)
    for i, k in enumerate(v.task_ids.tolist()):
        want = torch.arange(A, dtype=torch.float32) + (100 * k if actions == "heads" else 0)
        legal = torch.from_numpy(ts.legal[k])
        assert torch.equal(out.logits[i][legal], want[legal])
        assert (out.logits[i][~legal] < MASK / 2).all()  # padding actions are masked
        assert out.value[i] == (7.0 if k == 0 else -7.0)
    # the acting mirror agrees (NumPy where supported, torch for adapters)
    pol = make_fast_policy(agent)
    assert isinstance(pol, NumpyPolicy) == (task_input == "pad")
    lg, val = pol(obs, v.task_ids)
    assert np.allclose(lg, out.logits.detach().numpy(), atol=1e-4)
    assert np.allclose(val, out.value.detach().numpy(), atol=1e-5)
    # a checkpointed multi-task agent rebuilds from its spec
    b = Agent.from_spec(agent.spec())
    b.load_state_dict(agent.state_dict())
    assert torch.equal(b(torch.from_numpy(obs), task).logits, out.logits)
    agent.reset_parameters(torch.Generator().manual_seed(1))  # heads with weights again
    # gradients of task-0 samples touch only task 0's head (and adapter)
    agent.zero_grad()
    rows = task == 0
    o = agent(torch.from_numpy(obs)[rows], task[rows])
    (o.logits[:, :3].pow(2).sum() + o.value.sum()).backward()
    if actions == "heads":
        assert agent.pi.weight.grad[A:].abs().sum() == 0 and agent.pi.weight.grad[:A].abs().sum() > 0
    assert agent.v.weight.grad[1].abs().sum() == 0 and agent.v.weight.grad[0].abs().sum() > 0
    if task_input == "adapter":
        g = agent.adapter.weight.grad
        assert g[1].abs().sum() == 0 and g[0].abs().sum() > 0
        assert g[0][:, 4:].abs().sum() == 0  # Breakout's padded channels: no gradient


def test_rollout_actions_are_legal_and_reach_the_env_translated():
    from distillrl.algos import TrainConfig, make_trainer

    cfg = TrainConfig(env="minatar:breakout,minatar:asterix,minatar:freeway", steps=10**6)
    cfg.ppo.num_envs, cfg.ppo.num_steps = 6, 64
    cfg.net.task_actions = "heads"
    tr = make_trainer(cfg)
    ro = tr.collect_rollout()
    n_actions = np.array([3, 5, 3])
    assert (ro.actions.numpy() < n_actions[ro.task_id.numpy()]).all()
    assert set(ro.task_id[0].tolist()) == {0, 1, 2}
    # shared mode: the agent picks among the full set, the env gets its own minimal-set index
    cfg.net.task_actions = "shared"
    tr = make_trainer(cfg)
    sent = []
    game = tr.envs.envs[0].unwrapped  # what reaches the game itself (past Gymnasium's bookkeeping wrappers)
    step = game.step
    game.step = lambda a: (sent.append(a), step(a))[1]
    ro = tr.collect_rollout()
    table = tr.taskset.to_env[0]
    assert sent == table[ro.actions[:, 0].numpy()].tolist()
    assert ro.actions.max() > 2  # full-set actions beyond Breakout's three are used


def _const_teacher(info, value, seen=None, name="t"):
    def fn(obs):
        if seen is not None:
            seen.append(obs.shape)
        return np.tile(np.asarray(value, np.float32), (len(obs), 1))
    return CallableTeacher(fn, info.obs_shape, info.n_actions, outputs="logits", name=name)


def test_teacher_set_routes_rows_in_their_own_shapes_and_lifts_outputs():
    ts = TaskSet.build(BS, "shared")
    seen0, seen1 = [], []
    t0 = _const_teacher(ts.infos[0], [1.0, 2.0, 3.0], seen0)
    t1 = _const_teacher(ts.infos[1], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], seen1)
    tset = TeacherSet({0: t0, 1: t1}, ts)
    assert tset.n_params == t0.n_params + t1.n_params
    obs = np.zeros((5, 10, 10, 10), bool)
    task = np.array([0, 1, 1, 0, 1])
    out = tset.outputs_np(obs, task)
    assert seen0 == [(2, 10, 10, 4)] and seen1 == [(3, 10, 10, 10)]
    # Breakout's (no-op, left, right) land on full-set actions (0, 1, 3); the rest is masked
    assert out[0].tolist() == [1.0, 2.0, MASK, 3.0, MASK, MASK]
    assert out[1].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    p = tset.probs(torch.from_numpy(obs), torch.from_numpy(task))
    assert torch.allclose(p[0, [1, 2, 4, 5]], torch.tensor([math.exp(2) / (math.e + math.exp(2) + math.exp(3)), 0, 0, 0]))
    # a teacher bound to one task: rows of the other task have no target (all zeros)
    only = TeacherSet({1: t1}, ts).probs(torch.from_numpy(obs), torch.from_numpy(task))
    assert only[[0, 3]].abs().sum() == 0 and torch.allclose(only[[1, 2, 4]].sum(-1), torch.ones(3))


def test_teacher_task_mismatch_and_unknown_task_are_refused():
    ts = TaskSet.build(BS)
    wrong = _const_teacher(ts.infos[1], [0.0] * 6)  # a Seaquest-shaped teacher ...
    with pytest.raises(TeacherError, match="does not fit"):
        TeacherSet({0: wrong}, ts)  # ... bound to Breakout
    with pytest.raises(TeacherError, match="not a task of"):
        parse_task_teachers(["minatar:pong=minatar-breakout"], ts)
    pairs = parse_task_teachers(["seaquest=minatar-seaquest", "0=minatar-breakout", "minatar:seaquest=x"], ts)
    assert pairs == [(1, "minatar-seaquest"), (0, "minatar-breakout"), (1, "x")]
    assert parse_task_teachers(["zoo"], ts) == [(0, "minatar-breakout"), (1, "minatar-seaquest")]


def test_multi_task_kickstart_loss_is_the_per_sample_sum_with_per_task_lambdas():
    """Σ_k λ_k · Σ_{i: task_i = k} H(π_Tk(x_i) ‖ π_S(x_i)) / B, λ_k = λ_shared · λ'_k · f_k(t),
    against values computed by hand."""
    env = "gym:CartPole-v1,gym:Acrobot-v1"  # 4 vs 6 features, 2 vs 3 actions
    ts = TaskSet.build(env)
    t0 = _const_teacher(ts.infos[0], [0.0, math.log(3.0)])  # π_T0 = (1/4, 3/4)
    t1 = _const_teacher(ts.infos[1], [0.0, 0.0, 0.0])  # uniform over Acrobot's 3
    cfg = KickstartConfig(env=env, steps=10**6, schedule="constant")
    cfg.ppo.num_envs, cfg.ppo.num_steps = 2, 4
    with pytest.raises(TeacherError, match="does not fit"):  # unbound: it would teach Acrobot too
        make_kickstart_trainer(cfg, teachers=[t0])
    cfg = KickstartConfig(env=env, steps=10**6, teacher_weight=[0.5, 2.0], teacher_task=[0, 1],
                          schedule="constant", lambda0=3.0)
    cfg.ppo.num_envs, cfg.ppo.num_steps = 2, 4
    tr = make_kickstart_trainer(cfg, teachers=[t0, t1])
    assert [t.task for t in tr.extra_losses] == [0, 1]
    w = tr._extra_weights()
    assert w == {"loss_ks0": 3.0 * 0.5, "loss_ks1": 3.0 * 2.0}
    # a batch of 3: two CartPole samples, one Acrobot; student logits chosen by hand
    from distillrl.core.data import Batch

    obs = torch.zeros(3, 6)
    task = torch.tensor([0, 1, 0])
    logits = torch.tensor([[0.0, 0.0, MASK], [1.0, 0.0, 0.0], [math.log(3.0), 0.0, MASK]])
    mb = Batch(obs=obs, actions=torch.zeros(3, dtype=torch.long), task_id=task)
    from distillrl.models.agent import AgentOutput

    out = AgentOutput(logits, None, None)
    terms = {k: float(v) for t in tr.extra_losses for k, v in t(out, mb).items()}
    h0_row0 = -(0.25 * math.log(0.5) + 0.75 * math.log(0.5))
    h0_row2 = -(0.25 * math.log(0.75) + 0.75 * math.log(0.25))
    z = math.e + 2
    h1_row1 = -(math.log(math.e / z) + 2 * math.log(1 / z)) / 3
    assert math.isclose(terms["loss_ks0"], (h0_row0 + h0_row2) / 3, rel_tol=1e-5)
    assert math.isclose(terms["loss_ks1"], h1_row1 / 3, rel_tol=1e-5)  # ÷ B, not ÷ the task's count
    tr.set_hparams(lambda_1=0.0)
    assert tr._extra_weights()["loss_ks1"] == 0.0
    tr.close()


def test_multi_task_distillation_buffers_minibatches_and_learning():
    ts = TaskSet.build(BS)
    t0 = _const_teacher(ts.infos[0], [0.0, 3.0, 0.0], name="b")
    t1 = _const_teacher(ts.infos[1], [0.0] * 5 + [3.0], name="s")
    cfg = DistillConfig(env=BS, steps=10**6, source="teacher", num_envs=4, rollout_steps=8, batch_size=16,
                        teacher_eps=0.0, updates_per_round=4, lr=3e-3)
    tr = DistillTrainer(cfg, teacher=TeacherSet({0: t0, 1: t1}, ts))
    tr.advance(32 * 40)
    assert tr.buffer.sizes[0] == tr.buffer.sizes[1] > 0
    tasks_drawn = []
    for _ in range(4):
        k = tr._minibatch_task()
        s = tr.buffer.sample(16, tr.np_rng, k)
        assert len(set(s["task_id"].tolist())) == 1 and s["task_id"][0] == k
        tasks_drawn.append(k)
        tr.updates += 1
    assert tasks_drawn == [tasks_drawn[0], 1 - tasks_drawn[0]] * 2  # tasks in turn
    # the teachers' actions are 1 in Breakout and 5 in Seaquest: the student learned both heads
    obs, _ = tr.envs.reset(seed=5)
    lg, _ = tr.policy(obs, tr.envs.task_ids)
    want = np.where(tr.envs.task_ids == 0, 1, 5)
    assert (lg.argmax(-1) == want).all()
    tr.close()


def test_mse_on_a_task_set_ignores_padded_actions():
    s = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    t = torch.tensor([[2.0, 2.0, MASK], [1.0, 1.0, 1.0]])
    mask = t > MASK / 2
    assert torch.allclose(L.mse(s, t, "none", mask), torch.tensor([1.0, 3.0]))
    assert math.isclose(float(L.mse(s, t, "mean", mask)), 2.0)


def test_online_distillation_keeps_the_best_checkpoint_and_resumes():
    from distillrl.algos import TrainConfig, make_trainer

    cfg = TrainConfig(env="gym:CartPole-v1", steps=4096, online_distill=True)
    cfg.ppo.num_envs, cfg.ppo.num_steps = 4, 64
    cfg.online.eval_every, cfg.online.eval_episodes = 512, 3
    tr = make_trainer(cfg)
    rows = tr.advance(2048)
    evals = [r for r in rows if "online/teacher_eval" in r]
    assert len(evals) == 4
    best = [r["online/best_eval"] for r in evals]
    assert best == list(np.maximum.accumulate([r["online/teacher_eval"] for r in evals]))
    assert tr.student.frames > 0 and math.isnan(evals[0]["online/student_eval"])
    # the student's teacher is the frozen best copy, not the live teacher
    i = int(np.argmax([r["online/teacher_eval"] for r in evals]))
    assert tr.best_frames == evals[i]["frames"]
    state = tr.state_dict()
    b = make_trainer(cfg)
    b.load_state_dict(state)
    for x, y in ((tr.best, b.best), (tr.student.agent, b.student.agent), (tr.teacher.agent, b.teacher.agent)):
        for p, q in zip(x.parameters(), y.parameters()):
            assert torch.equal(p, q)
    assert (b.best_score, b.best_frames, b.next_eval, b.student.frames) == \
        (tr.best_score, tr.best_frames, tr.next_eval, tr.student.frames)
    tr.close()
    b.close()


@pytest.mark.slow
def test_two_game_minatar_cli_distill_kickstart_report(cli, tmp_path):
    env = "minatar:breakout,minatar:space_invaders"
    d = tmp_path / "d"
    p = cli("distill", "--env", env, "--teacher", "breakout=minatar-breakout",
            "--teacher", "minatar:space_invaders=minatar-space_invaders", "--source", "teacher",
            "--student-size", "0.25", "--steps", "3000", "--eval-episodes", "2", "--run-dir", d, "--json",
            "--no-progress", check=True)
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert [r["name"] for r in s["per_task"]] == ["breakout", "space_invaders"]
    assert all(r["teacher_return"] > 0 for r in s["per_task"]) and s["geomean_ratio"] >= 0
    assert 0.2 < s["param_fraction"] < 0.3 and s["teacher_params"] > 250_000  # of the two teachers' sum
    k = tmp_path / "k"
    p = cli("kickstart", "--env", env, "--teacher", "zoo", "--steps", "4096", "--ppo.num-envs", "4",
            "--eval-episodes", "2", "--run-dir", k, "--json", "--no-progress", check=True)
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert s["teacher_tasks"] == ["minatar:breakout", "minatar:space_invaders"]
    head = (k / "metrics.csv").read_text().splitlines()[0]
    assert "kickstart/lambda_1" in head and "tasks/space_invaders/return_recent" in head
    out = tmp_path / "rep"
    cli("report", d, k, "--out", out, check=True)
    md = (out / "report.md").read_text()
    assert "## Per task" in md and "suite: geomean % of teacher" in md and (out / "tasks.png").exists()
    # a teacher that does not fit its task: one line, non-zero exit, nothing written
    bad = tmp_path / "bad"
    p = cli("distill", "--env", env, "--teacher", "breakout=minatar-space_invaders",
            "--teacher", "space_invaders=minatar-space_invaders", "--steps", "100", "--run-dir", bad)
    assert p.returncode != 0 and "does not fit" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not bad.exists()


def test_dqn_and_a2c_learn_on_a_task_set():
    """Every learner runs on a task set: DQN's targets use each sample's own Q head."""
    from distillrl.algos import TrainConfig, make_trainer

    with pytest.raises(ConfigError, match="at least the number of tasks"):
        make_trainer(TrainConfig(env=BS, algo="dqn", steps=10**6))  # DQN's default is one env
    cfg = TrainConfig(env=BS, algo="dqn", steps=10**6)
    cfg.dqn.learning_starts, cfg.dqn.batch_size, cfg.dqn.num_envs = 64, 16, 2
    tr = make_trainer(cfg)
    rows = tr.advance(400)
    assert tr.updates > 0 and all(math.isfinite(r.get("losses/td_loss", 0.0)) for r in rows)
    assert set(np.unique(tr.buffer.sample(64, tr.np_rng)["task_id"].numpy())) == {0, 1}
    tr.close()
    cfg = TrainConfig(env=BS, algo="a2c", steps=10**6)
    tr = make_trainer(cfg)
    tr.advance(200)
    assert tr.updates > 0
    tr.close()


def test_student_size_is_an_upper_bound_on_the_teachers_summed_parameters():
    from distillrl.algos.distill_config import width_for_fraction

    ts = TaskSet.build("minatar:all")
    teachers = 5 * 132_000
    for f in (1.0, 0.25):
        w, n = width_for_fraction(ts.info, NetConfig(arch="minatar"), int(f * teachers))
        assert 0.85 * f * teachers < n <= f * teachers
        # one notch wider would be over the bound
        _, wider = width_for_fraction(ts.info, NetConfig(arch="minatar"), int(1.2 * n))
        assert wider > n
