"""IE-KD's split and losses; Tang et al.'s three controls against hand values."""

import math

import pytest
import torch
from torch import nn

from distillrl.algos.distill_config import DistillConfig
from distillrl.algos.distill import DistillTrainer
from distillrl.errors import ConfigError
from distillrl.terms.iekd import iekd_losses, split_features
from distillrl.terms.kdcontrols import (ClassStats, class_mean, controlled, floored_fraction, label_smoothing,
                                        no_rescaling)
from distillrl.teachers.base import CallableTeacher


def test_split_features_halves():
    h = torch.arange(10.0).view(1, 10)
    inh, exp = split_features(h)
    assert inh.tolist() == [[0, 1, 2, 3, 4]] and exp.tolist() == [[5, 6, 7, 8, 9]]
    inh, exp = split_features(torch.arange(5.0).view(1, 5))  # odd: the last feature is in neither half
    assert inh.tolist() == [[0, 1]] and exp.tolist() == [[2, 3]]


def test_iekd_losses_by_hand():
    proj = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        proj.weight.copy_(torch.eye(2))
    h = torch.tensor([[3.0, 0.0, 0.0, 2.0]])  # inheritance (3, 0) → (1, 0); exploration (0, 2) → (0, 1)
    t = torch.tensor([[5.0, 0.0]])  # teacher direction (1, 0)
    terms = iekd_losses(h, t, proj)
    assert terms["loss_iekd_inherit"].item() == pytest.approx(0.0)  # aligned: 2 − 2·cos 0
    assert terms["loss_iekd_explore"].item() == pytest.approx(-2.0)  # orthogonal: −(2 − 2·cos 90°)
    # gradients: the inheritance loss moves the inheritance half only, the exploration loss the other
    h = torch.tensor([[1.0, 1.0, 1.0, 1.0]], requires_grad=True)
    terms = iekd_losses(h, t, proj)
    gi, = torch.autograd.grad(terms["loss_iekd_inherit"], h, retain_graph=True)
    ge, = torch.autograd.grad(terms["loss_iekd_explore"], h)
    assert gi[0, 2:].abs().sum() == 0 and gi[0, :2].abs().sum() > 0
    assert ge[0, :2].abs().sum() == 0 and ge[0, 2:].abs().sum() > 0
    # cos 45° by hand: inherit 2 − √2, explore −(2 − √2)
    terms = iekd_losses(torch.tensor([[1.0, 1.0, 1.0, 1.0]]), t, proj)
    assert terms["loss_iekd_inherit"].item() == pytest.approx(2 - math.sqrt(2), abs=1e-6)
    assert terms["loss_iekd_explore"].item() == pytest.approx(-(2 - math.sqrt(2)), abs=1e-6)


def _ie_cfg(**kw):
    cfg = DistillConfig(teacher=["cartpole"], env="gym:CartPole-v1", steps=512, num_envs=4, rollout_steps=16, eval_episodes=0, **kw)
    return cfg


def test_iekd_in_distill_trains_the_projection_and_not_the_teacher():
    tr = DistillTrainer(_ie_cfg(ie_kd=True))
    term = next(t for t in tr.extra_losses if t.name == "iekd")
    w0 = term.proj.weight.detach().clone()
    t0 = [p.detach().clone() for p in tr.teacher.agent.parameters()]
    rows = tr.advance(128)
    assert not torch.equal(w0, term.proj.weight)
    assert all(torch.equal(a, b) for a, b in zip(t0, tr.teacher.agent.parameters()))
    assert term.proj.weight.shape == (tr.teacher.agent.feature_dim, tr.agent.feature_dim // 2)
    assert {"losses/iekd_inherit_loss", "losses/iekd_explore_loss", "losses/distill_loss"} <= set(rows[-1])
    assert tr.learner.last_weights["loss_iekd_explore"] == 0.5


def test_iekd_needs_a_teacher_with_features():
    t = CallableTeacher(lambda o: torch.zeros(len(o), 2), (4,), 2, name="fn")
    cfg = _ie_cfg(ie_kd=True)
    with pytest.raises(ConfigError, match="has none"):
        DistillTrainer(cfg, teacher=t)


def test_label_smoothing_hand_values():
    p = torch.tensor([[0.7, 0.2, 0.1]])
    # mean confidence 0.7 → ε = 0.3·3/2 = 0.45; argmax gets 1 − 0.45 + 0.15 = 0.7, others 0.15
    torch.testing.assert_close(label_smoothing(p, 0.7), torch.tensor([[0.7, 0.15, 0.15]]))


def test_class_mean_and_stats_hand_values():
    stats = ClassStats(3)
    stats.update(torch.tensor([[0.6, 0.3, 0.1], [0.8, 0.1, 0.1], [0.2, 0.5, 0.3]]))
    torch.testing.assert_close(stats.means()[0], torch.tensor([0.7, 0.2, 0.1]))
    torch.testing.assert_close(stats.means()[1], torch.tensor([0.2, 0.5, 0.3]))
    # class 2 was never the argmax: the overall mean
    torch.testing.assert_close(stats.means()[2], torch.tensor([1.6, 0.9, 0.5]) / 3)
    assert stats.mean_conf() == pytest.approx((0.6 + 0.8 + 0.5) / 3)
    q = torch.tensor([[0.9, 0.05, 0.05], [0.1, 0.6, 0.3]])
    torch.testing.assert_close(class_mean(q, stats.means()), torch.tensor([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3]]))


def test_no_rescaling_hand_values():
    p = torch.tensor([[0.9, 0.075, 0.025], [0.5, 0.3, 0.2]])
    out = no_rescaling(p, 0.6)
    # the argmax gets 0.6; the other 0.4 is split 3:1 and 3:2 as in the teacher
    torch.testing.assert_close(out, torch.tensor([[0.6, 0.3, 0.1], [0.6, 0.24, 0.16]]))
    assert torch.allclose(out.sum(-1), torch.ones(2))
    # a one-hot teacher: the rest is spread evenly
    torch.testing.assert_close(no_rescaling(torch.tensor([[0.0, 1.0, 0.0]]), 0.6), torch.tensor([[0.2, 0.6, 0.2]]))


def test_no_rescaling_keeps_the_argmax_where_the_mean_confidence_would_lose_it():
    # the case: m̄ = 0.3 would give the runner-up 0.4 · 0.5 / ... > 0.3
    p = torch.tensor([[0.6, 0.2, 0.05, 0.15]])
    out = no_rescaling(p, 0.3, margin=0.0)
    # rest shares: 0.5, 0.125, 0.375 → r = 0.5, floor r / (1 + r) = 1/3 > 0.3
    torch.testing.assert_close(out, torch.tensor([[1 / 3, 1 / 3, 1 / 12, 0.25]]))
    out = no_rescaling(p, 0.3)
    assert out.argmax(-1).item() == 0 and out[0, 0] == pytest.approx(1 / 3 + 1e-3)
    # [.7, .1, .1, .1]: r = 1/3, floor 0.25 + margin < 0.3: left as Tang et al. have it
    assert floored_fraction(torch.cat([p, torch.tensor([[0.7, 0.1, 0.1, 0.1]])]), 0.3) == 0.5


@pytest.mark.parametrize("seed", range(5))
def test_no_rescaling_preserves_argmax_on_random_distributions(seed):
    g = torch.Generator().manual_seed(seed)
    n_act = 2 + seed  # 2 … 6 actions
    # peaked and flat teachers alike: softmax of logits at several temperatures
    p = torch.softmax(torch.randn(4000, n_act, generator=g) * torch.tensor([0.3, 1.0, 3.0, 10.0]).repeat(1000)[:, None],
                      -1)
    for m in (0.05, 1.0 / n_act, 0.3, 0.6, 0.95):
        out = no_rescaling(p, m)
        assert torch.equal(out.argmax(-1), p.argmax(-1)), m
        torch.testing.assert_close(out.sum(-1), torch.ones(len(p)))
        assert (out >= 0).all()
        # where m̄ already keeps the argmax, the argmax gets exactly m̄ (Tang et al.'s control)
        a = p.argmax(-1, keepdim=True)
        rest = p.scatter(-1, a, 0.0)
        r = rest.max(-1).values / rest.sum(-1)
        ok = r / (1 + r) + 1e-3 < m - 1e-6
        torch.testing.assert_close(out.gather(-1, a).squeeze(-1)[ok], torch.full((int(ok.sum()),), m))


def test_controls_through_distill_and_their_bad_input(cli, tmp_path):
    stats = ClassStats(2)
    stats.update(torch.tensor([[0.9, 0.1], [0.3, 0.7]]))
    p = torch.tensor([[0.6, 0.4]])
    assert torch.equal(controlled(p, "none", stats), p)
    tr = DistillTrainer(_ie_cfg(kd_control="domain"))
    tr.advance(64)
    assert tr.kd_stats.counts.sum() == 64
    rows = DistillTrainer(_ie_cfg(kd_control="instance")).advance(64)
    assert 0.0 <= rows[-1]["distill/instance_floored"] <= 1.0
    p = cli("distill", "--teacher", "cartpole", "--kd-control", "universe", "--loss", "nll", "--run-dir",
            tmp_path / "x")
    assert p.returncode == 2 and "--kd-control replaces soft targets" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
