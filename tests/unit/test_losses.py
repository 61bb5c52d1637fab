import math

import pytest
import torch

from distillrl.core import losses as L

LOG2 = math.log(2.0)


def test_ppo_loss_hand_values_unclipped():
    logits = torch.zeros(1, 2)  # π = (.5, .5)
    out = L.ppo_loss(logits, values=torch.tensor([1.0]), actions=torch.tensor([0]),
                     old_logp=torch.tensor([math.log(0.5)]), old_values=torch.tensor([1.0]),
                     advantages=torch.tensor([2.0]), returns=torch.tensor([3.0]), norm_adv=False)
    assert out["loss_pg"].item() == pytest.approx(-2.0)  # ratio 1
    assert out["loss_value"].item() == pytest.approx(0.5 * 4.0)
    assert out["loss_entropy"].item() == pytest.approx(-LOG2)
    assert out["approx_kl"].item() == pytest.approx(0.0, abs=1e-7)
    assert out["clipfrac"].item() == 0.0


def test_ppo_loss_clips_ratio_and_value():
    logits = torch.zeros(2, 2)
    out = L.ppo_loss(logits, values=torch.tensor([2.0, 2.0]), actions=torch.tensor([0, 1]),
                     old_logp=torch.log(torch.tensor([0.25, 0.25])),  # ratio 2 for both
                     old_values=torch.tensor([1.0, 1.0]), advantages=torch.tensor([2.0, -2.0]),
                     returns=torch.tensor([1.0, 1.0]), clip_coef=0.2, norm_adv=False)
    # A>0: min(2·2, 1.2·2) = 2.4 → −2.4 ; A<0: min(2·−2, 1.2·−2) = −4 → +4 ; mean = 0.8
    assert out["loss_pg"].item() == pytest.approx((-2.4 + 4.0) / 2)
    # value: unclipped (2−1)² = 1, clipped (1.2−1)² = .04 → max = 1 → ½
    assert out["loss_value"].item() == pytest.approx(0.5)
    assert out["clipfrac"].item() == 1.0
    # approx_kl = (r − 1) − log r with r = 2
    assert out["approx_kl"].item() == pytest.approx(1 - math.log(2))


def test_ppo_loss_normalises_advantages():
    out = L.ppo_loss(torch.zeros(2, 2), torch.zeros(2), torch.tensor([0, 1]), torch.log(torch.tensor([.5, .5])),
                     torch.zeros(2), torch.tensor([1.0, 3.0]), torch.zeros(2))
    # normalised advantages are ±1/√2 (std with Bessel) → mean of −A is 0
    assert out["loss_pg"].item() == pytest.approx(0.0, abs=1e-6)


def test_a2c_loss_hand_values():
    out = L.a2c_loss(torch.zeros(1, 2), torch.tensor([1.0]), torch.tensor([1]), torch.tensor([3.0]),
                     torch.tensor([2.0]))
    assert out["loss_pg"].item() == pytest.approx(3.0 * LOG2)
    assert out["loss_value"].item() == pytest.approx(0.5)
    assert out["loss_entropy"].item() == pytest.approx(-LOG2)


def test_dqn_loss_huber_and_squared():
    q = torch.tensor([[1.0, 5.0], [0.0, 0.0]])
    a = torch.tensor([1, 0])
    target = torch.tensor([2.0, 0.5])  # errors: 3 (linear region), .5 (quadratic)
    out = L.dqn_loss(q, a, target, huber=True)
    assert out["loss_td"].item() == pytest.approx(((3 - 0.5) + 0.5 * 0.25) / 2)
    out = L.dqn_loss(q, a, target, huber=False)
    assert out["loss_td"].item() == pytest.approx(0.5 * (9 + 0.25) / 2)
    assert out["q_mean"].item() == pytest.approx(2.5)


def test_nll_uses_teacher_argmax():
    s = torch.log(torch.tensor([[0.2, 0.8]]))
    t = torch.tensor([[3.0, 1.0]])  # a* = 0
    assert L.nll(s, t).item() == pytest.approx(-math.log(0.2), rel=1e-6)


def test_mse_sums_over_actions():
    assert L.mse(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]])).item() == pytest.approx(5.0)
    assert L.mse(torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.zeros(2, 2), reduction="sum").item() == pytest.approx(5.0)


def test_kl_identical_is_zero_and_hand_value():
    z = torch.tensor([[0.3, -1.0, 2.0]])
    assert L.kl(z, z, tau=1.0).item() == pytest.approx(0.0, abs=1e-7)
    p = torch.tensor([0.5, 0.5])
    q = torch.tensor([0.25, 0.75])
    expect = float((p * (p / q).log()).sum())
    assert L.kl(q.log()[None], p.log()[None], tau=1.0).item() == pytest.approx(expect, rel=1e-6)


def test_kl_small_tau_tends_to_nll():
    s = torch.log(torch.tensor([[0.2, 0.3, 0.5]]))
    t = torch.tensor([[1.0, 2.0, 1.5]])  # argmax = 1
    # KL(one-hot ‖ q) = −log q(a*)
    assert L.kl(s, t, tau=1e-4).item() == pytest.approx(-math.log(0.3), rel=1e-5)
    onehot = L.teacher_probs(t, tau=1e-4)
    assert onehot.tolist()[0] == pytest.approx([0.0, 1.0, 0.0], abs=1e-6)


def test_cross_entropy_and_direction_of_reverse_kl():
    p = torch.tensor([[0.9, 0.1]])  # teacher
    q = torch.tensor([[0.5, 0.5]])  # student
    ce = L.cross_entropy(q.log(), p).item()
    assert ce == pytest.approx(LOG2)  # −Σ p log q = log 2
    fwd = float((p * (p / q).log()).sum())
    rev = float((q * (q / p).log()).sum())
    assert fwd != pytest.approx(rev)
    assert L.reverse_kl(q.log(), p).item() == pytest.approx(rev, rel=1e-6)
    assert L.kl(q.log(), p.log(), tau=1.0).item() == pytest.approx(fwd, rel=1e-6)
    # cross-entropy = forward KL + teacher entropy
    h_p = float(-(p * p.log()).sum())
    assert ce == pytest.approx(fwd + h_p, rel=1e-6)


def test_reductions():
    s = torch.zeros(3, 2)
    p = torch.tensor([[1.0, 0.0]] * 3)
    per = L.cross_entropy(s, p, reduction="none")
    assert per.shape == (3,)
    assert L.cross_entropy(s, p, reduction="sum").item() == pytest.approx(3 * LOG2)
    assert L.cross_entropy(s, p, reduction="mean").item() == pytest.approx(LOG2)
    with pytest.raises(ValueError):
        L.cross_entropy(s, p, reduction="avg")


def test_gaussian_kl_and_mean_mse():
    mu = torch.tensor([[0.0, 1.0]])
    sd = torch.tensor([[1.0, 2.0]])
    assert L.gaussian_kl(mu, sd, mu, sd).item() == pytest.approx(0.0, abs=1e-7)
    # KL(N(0,1) ‖ N(1,2²)) = log 2 + (1 + 1)/(8) − ½
    got = L.gaussian_kl(torch.tensor([[0.0]]), torch.tensor([[1.0]]), torch.tensor([[1.0]]), torch.tensor([[2.0]]))
    assert got.item() == pytest.approx(math.log(2) + 2 / 8 - 0.5)
    assert L.mean_mse(torch.tensor([[1.0, 1.0]]), torch.tensor([[0.0, 3.0]])).item() == pytest.approx(5.0)


def test_losses_have_gradients_only_where_expected():
    s = torch.zeros(2, 3, requires_grad=True)
    t = torch.randn(2, 3, requires_grad=True)
    L.kl(s, t.detach(), tau=0.5).backward()
    assert s.grad is not None and t.grad is None


@pytest.mark.parametrize("clip_vloss", [True, False])
@pytest.mark.parametrize("norm_adv", [True, False])
@pytest.mark.parametrize("batch,n_actions", [(1, 2), (7, 2), (64, 6)])
def test_ppo_loss_fast_path_has_the_reference_values_and_gradients(clip_vloss, norm_adv, batch, n_actions):
    """The Categorical fast path (one autograd node, gradient by hand) against the plain composition,
    in float64, with ties made on purpose (ratio exactly 1, unchanged values) and clipped rows."""
    g = torch.Generator().manual_seed(batch * 10 + n_actions)
    dt = torch.float64
    z0 = torch.randn(batch, n_actions, generator=g, dtype=dt)
    v0 = torch.randn(batch, generator=g, dtype=dt)
    act = torch.randint(0, n_actions, (batch,), generator=g)
    old = torch.log_softmax(z0 + 1.5 * torch.randn(batch, n_actions, generator=g, dtype=dt), -1)
    old = old.gather(-1, act[:, None]).squeeze(-1)
    k = max(1, batch // 3)
    old[:k] = torch.log_softmax(z0, -1).gather(-1, act[:, None]).squeeze(-1)[:k]  # ρ = 1 exactly: max's tie
    old_v = v0 + 0.4 * torch.randn(batch, generator=g, dtype=dt)
    old_v[: max(1, batch // 4)] = v0[: max(1, batch // 4)]
    adv = torch.randn(batch, generator=g, dtype=dt)
    ret = torch.randn(batch, generator=g, dtype=dt)
    got = []
    for f in (L.ppo_loss, L.ppo_loss_reference):
        z = z0.clone().requires_grad_()
        v = v0.clone().requires_grad_()
        t = f(z, v, act, old, old_v, adv, ret, 0.2, clip_vloss, norm_adv)
        (1.3 * t["loss_pg"] + 0.5 * t["loss_value"] + 0.01 * t["loss_entropy"]).backward()
        got.append((t, z.grad, v.grad))
    (a, za, va), (b, zb, vb) = got
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].double(), b[key].double(), atol=1e-12, rtol=0), key
    assert torch.allclose(za, zb, atol=1e-12, rtol=0) and torch.allclose(va, vb, atol=1e-12, rtol=0)
    if batch > 1:  # some rows are clipped (no gradient through them) and some are not
        ratio = (torch.log_softmax(z0, -1).gather(-1, act[:, None]).squeeze(-1) - old).exp()
        assert ((ratio - 1).abs() > 0.2).any() and ((ratio - 1).abs() <= 0.2).any()


def test_ppo_loss_fast_path_gives_only_the_gradients_asked_for():
    z = torch.randn(5, 3, requires_grad=True)
    v = torch.randn(5)  # the value input needs no gradient here
    t = L.ppo_loss(z, v, torch.tensor([0, 1, 2, 0, 1]), torch.full((5,), -1.1), torch.zeros(5), torch.randn(5),
                   torch.randn(5))
    (t["loss_pg"] + t["loss_value"] + t["loss_entropy"]).backward()
    assert z.grad is not None and v.grad is None
    assert not t["approx_kl"].requires_grad and not t["entropy"].requires_grad
