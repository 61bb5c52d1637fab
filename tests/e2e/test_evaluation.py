"""One evaluation (acting/evaluation.py) for every agent source and kind, through the one engine
(acting/evaluate.py); each env family's convention (acting/protocols.py); summaries and ``eval``
reporting the score with the other mode beside it."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from distillrl.acting.evaluate import evaluate
from distillrl.acting.evaluation import Q_TAU, evaluate_agent, evaluate_modes, score_fields, summary_score
from distillrl.acting.protocols import convention, success_rate
from distillrl.acting.sequence import SequencePolicy
from distillrl.algos import TrainConfig, make_trainer
from distillrl.algos.ppo import PPOConfig
from distillrl.envs.make import env_info, make_env_fn
from distillrl.envs.tasks import TaskSet
from distillrl.models.agent import Agent
from distillrl.models.nets import NetConfig
from distillrl.models.transformer import DecisionTransformer
from distillrl.runs.finish import eval_student
from distillrl.teachers.dt import DTTeacher

CP = "gym:CartPole-v1"
MG = "minigrid:MiniGrid-DoorKey-5x5-v0?view=agent"


def _hand_returns(spec, episodes, seed, act):
    """Episodes one after another, by hand: episode i from reset seed ``seed + i``; ``act(obs)``."""
    out = []
    for ep in range(episodes):
        env = gym.make("CartPole-v1") if spec == CP else make_env_fn(spec)()
        obs, _ = env.reset(seed=seed + ep)
        total, done = 0.0, False
        while not done:
            obs, r, te, tr, _ = env.step(act(obs))
            total += r
            done = te or tr
        out.append(total)
    return out


def test_same_seed_same_result_in_both_modes():
    agent = Agent(env_info(CP), NetConfig(hidden=(16,)), generator=torch.Generator().manual_seed(0))
    for mode in ("greedy", "sampled"):
        a = evaluate_agent(agent, CP, 5, 3, mode)
        b = evaluate_agent(agent, CP, 5, 3, mode, num_envs=2)  # slots interleave differently: same episodes
        assert a.mode == mode and a.episodes == 5 and a.success_rate is None
        np.testing.assert_array_equal(a.returns, evaluate_agent(agent, CP, 5, 3, mode).returns)
        if mode == "greedy":
            np.testing.assert_array_equal(a.returns, b.returns)
    # another seed is other episodes
    assert evaluate_agent(agent, CP, 5, 4).returns.tolist() != evaluate_agent(agent, CP, 5, 3).returns.tolist()


def test_greedy_and_sampled_on_a_constant_policy_computed_by_hand():
    """CartPole pushing left every step: the greedy episode lengths are the hand-played ones; a
    uniform policy and a Q-network (softmax(Q/τ) = [1/4, 3/4]) sampled with the generator seeded
    by ``seed`` give the hand-played draws, one episode after the other."""
    left = lambda o: np.tile([1.0, 0.0], (len(o), 1))  # noqa: E731
    want = _hand_returns(CP, 4, 0, lambda o: 0)
    r = evaluate_agent(left, CP, 4, 0, "greedy")
    assert r.returns.tolist() == want and r.lengths.tolist() == want and r.mean == np.mean(want)
    assert 8 <= min(want) and max(want) <= 12  # the pole falls within a dozen pushes

    def sampled_by_hand(p, seed=0, episodes=4):
        rng = np.random.default_rng(seed)
        return _hand_returns(CP, episodes, seed, lambda o: int(rng.choice(2, p=p)))

    uniform = lambda o: np.zeros((len(o), 2))  # noqa: E731
    got = evaluate_agent(uniform, CP, 4, 0, "sampled", num_envs=1)
    assert got.returns.tolist() == sampled_by_hand([0.5, 0.5])
    # a Q-network: greedy is argmax Q, sampled is softmax(Q / τ) with the Q-teachers' τ
    q = lambda o: np.tile([0.0, Q_TAU * np.log(3.0)], (len(o), 1))  # noqa: E731
    assert evaluate_agent(q, CP, 2, 0, "greedy", kind="q").returns.tolist() == _hand_returns(CP, 2, 0, lambda o: 1)
    z = np.array([0.0, np.log(3.0)])
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    got = evaluate_agent(q, CP, 4, 0, "sampled", kind="q", num_envs=1)
    assert got.returns.tolist() == sampled_by_hand(p)
    # as a policy (τ = 1) the same outputs are almost uniform: other draws
    assert evaluate_agent(q, CP, 4, 0, "sampled", num_envs=1).returns.tolist() != got.returns.tolist()


def test_convention_per_family():
    for env, mode, score in ((MG, "sampled", "success_rate"), ("minatar:breakout", "greedy", "return"),
                             ("ale:Pong", "greedy", "return"), (CP, "greedy", "return"),
                             ("minatar:all", "greedy", "return"), (f"{MG},{CP}", "greedy", "return")):
        c = convention(env)
        assert (c.mode, c.score) == (mode, score), env
        assert c.other_mode != c.mode
    assert success_rate(MG, [0.0, 0.9, 0.5, 0.0]) == 0.5 and success_rate(CP, [1.0]) is None
    # the summary fields: the score in the convention's mode, the other mode beside it
    agent = Agent(env_info(MG), NetConfig(hidden=(16,)), generator=torch.Generator().manual_seed(1))
    res = evaluate_modes(agent, MG, 3, 0, max_episode_steps=30)
    f = score_fields(res, MG)
    assert f["score_mode"] == "sampled" and f["score"] == res["sampled"].success_rate == f["success_rate"]
    assert f["greedy_return"] == res["greedy"].mean and f["sampled_return"] == res["sampled"].mean == f["mean_return"]
    assert "greedy_success_rate" in f and "sampled_success_rate" in f
    f = score_fields(evaluate_modes(agent, MG, 2, 0, ("greedy",), max_episode_steps=30), MG)
    assert f["score_mode"] == "greedy" and "sampled_return" not in f  # only what was run, labelled honestly
    assert summary_score({"score": 0.5, "mean_return": 3.0}) == 0.5 and summary_score({"student_return": 2.0}) == 2.0


def test_multi_task_agents_report_per_task_results():
    env = "gym:CartPole-v1,gym:CartPole-v0"
    cfg = TrainConfig(env=env, steps=10_000, seed=0, eval_episodes=2, net=NetConfig(hidden=(16,)),
                      ppo=PPOConfig(num_envs=2, num_steps=16, num_minibatches=1))
    tr = make_trainer(cfg)
    try:
        res = evaluate_agent(tr, None, 3, 5)
        assert list(res.per_task) == tr.taskset.names and res.episodes == 3
        for k, (name, r) in enumerate(res.per_task.items()):
            assert r.env == tr.taskset.specs[k]
            by_task = evaluate_agent(tr, env, 3, 5, task=k)
            np.testing.assert_array_equal(r.returns, by_task.returns)
            n = tr.taskset.infos[k].n_actions
            raw = evaluate(lambda o, k=k: tr.policy(o, np.full(len(o), k))[0][:, :n], r.env, 3, seed=5)[0]
            np.testing.assert_array_equal(r.returns, raw)
        assert res.mean == pytest.approx(np.mean([r.mean for r in res.per_task.values()]))
        s = eval_student(tr, cfg)
        assert [t["name"] for t in s["per_task"]] == tr.taskset.names
        assert all({"score", "score_mode", "greedy_return", "sampled_return"} <= set(t) for t in s["per_task"])
    finally:
        tr.close()


def _dt_by_hand(model, spec, target, episodes, seed, cap):
    """A Decision Transformer played one episode at a time with its window kept by hand."""
    k, out = model.context, []
    for ep in range(episodes):
        env = make_env_fn(spec, cap)()
        o, _ = env.reset(seed=seed + ep)
        obs, rtg, act, ts = [np.asarray(o, np.float32)], [target], [0], [0]
        total, t, done = 0.0, 0, False
        while not done:
            n = min(k, len(obs))
            pad = k - n
            w = lambda xs, fill: np.stack([fill] * pad + list(xs[-n:])) if pad else np.stack(xs[-n:])  # noqa: E731
            with torch.inference_mode():
                logits = model(torch.from_numpy(w(obs, np.zeros_like(obs[0]))[None]),
                               torch.tensor(w(rtg, 0.0)[None], dtype=torch.float32),
                               torch.tensor(w(act, 0)[None], dtype=torch.int64),
                               torch.tensor(w(ts, 0)[None], dtype=torch.int64),
                               torch.tensor([[False] * pad + [True] * n]), torch.zeros(1, dtype=torch.long))[0, -1]
            a = int(logits.argmax())
            o, r, te, tr, _ = env.step(a)
            total, t, done = total + r, t + 1, te or tr
            act[-1] = a
            obs.append(np.asarray(o, np.float32))
            rtg.append(rtg[-1] - r)
            act.append(0)
            ts.append(t)
        out.append(total)
    return out


def test_decision_transformers_play_through_the_same_engine():
    env = "minatar:breakout"
    ts = TaskSet.build(env)
    torch.manual_seed(0)
    model = DecisionTransformer(ts.info.obs_shape, ts.info.n_actions, d_model=32, n_layer=1, n_head=2, context=3)
    model.train()
    r = evaluate_agent(model, env, 3, 4, "greedy", target_return=2.0, max_episode_steps=60)
    assert model.training  # put back as it was
    assert r.target_return == 2.0 and r.mode == "greedy"
    model.eval()
    assert r.returns.tolist() == _dt_by_hand(model, env, 2.0, 3, 4, 60)
    # the engine's slots reused (fewer slots than episodes): the same episodes
    few, _ = evaluate(SequencePolicy(model, ts, 0, 2.0), env, 3, seed=4, num_envs=2, max_episode_steps=60)
    assert few.tolist() == r.returns.tolist()
    # a DT teacher evaluates on the target it records, sampled too
    t = DTTeacher(model, "dt", env=env, target_returns=[2.0])
    assert evaluate_agent(t, None, 3, 4, max_episode_steps=60).returns.tolist() == r.returns.tolist()
    s = evaluate_agent(t, None, 3, 4, "sampled", max_episode_steps=60)
    assert s.mode == "sampled" and s.episodes == 3
    assert s.returns.tolist() == evaluate_agent(t, None, 3, 4, "sampled", max_episode_steps=60).returns.tolist()


def test_run_summaries_report_the_score_and_the_other_mode():
    cfg = TrainConfig(env=MG, steps=10_000, seed=0, eval_episodes=2, max_episode_steps=20, net=NetConfig(hidden=(16,)),
                      ppo=PPOConfig(num_envs=2, num_steps=16, num_minibatches=1))
    tr = make_trainer(cfg)
    try:
        s = eval_student(tr, cfg)
        assert s["score_mode"] == "sampled" and s["score"] == s["success_rate"] == s["sampled_success_rate"]
        assert s["mean_return"] == s["sampled_return"] and "greedy_return" in s and "greedy_success_rate" in s
        assert s["episodes"] == 2
    finally:
        tr.close()
    cfg = TrainConfig(env=CP, steps=10_000, seed=0, eval_episodes=2, net=NetConfig(hidden=(16,)),
                      ppo=PPOConfig(num_envs=2, num_steps=16, num_minibatches=1))
    tr = make_trainer(cfg)
    try:
        s = eval_student(tr, cfg)
        assert s["score_mode"] == "greedy" and s["score"] == s["mean_return"] == s["greedy_return"]
        assert "sampled_return" in s and "success_rate" not in s
        # the same as evaluating the trainer directly on the summary's episodes
        assert s["greedy_return"] == evaluate_agent(tr, CP, 2, 10_000 + cfg.seed).mean
    finally:
        tr.close()


@pytest.mark.slow
def test_eval_cli_runs_both_modes_or_the_one_asked(cli):
    p = cli("eval", "minigrid-doorkey-8x8", "--episodes", "2", "--json", check=True)
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert set(s["modes"]) == {"greedy", "sampled"} and s["score_mode"] == "sampled" and s["convention"] == "sampled"
    assert s["score"] == s["success_rate"] == s["sampled_success_rate"] and "greedy_success_rate" in s
    assert s["greedy_return"] == s["modes"]["greedy"]["mean_return"] and s["episodes"] == 2
    p = cli("eval", "minigrid-doorkey-8x8", "--episodes", "2", "--greedy", "--json", check=True)
    g = json.loads(p.stdout.strip().splitlines()[-1])
    assert set(g["modes"]) == {"greedy"} and g["score_mode"] == "greedy" and g["greedy"]
    assert g["greedy_return"] == s["greedy_return"]  # the same episodes
    p = cli("eval", "minigrid-doorkey-8x8", "--episodes", "2", check=True)  # a table
    assert "greedy" in p.stdout and "sampled" in p.stdout and "score:" in p.stdout
    p = cli("eval", "minigrid-doorkey-8x8", "--greedy", "--stochastic")
    assert p.returncode == 2
