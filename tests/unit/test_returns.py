import pytest
import torch

from distillrl.core.returns import gae, td_target, with_truncation


def test_gae_reward_on_last_step_episode_ends():
    # T=3, one env, V≡0.5, reward only on the last step which ends the episode.
    r = torch.tensor([[0.0], [0.0], [1.0]])
    v = torch.full((3, 1), 0.5)
    d = torch.tensor([[0.0], [0.0], [1.0]])
    adv = gae(r, v, d, torch.tensor([0.5]), gamma=0.9, lam=0.8)
    # δ2 = 1 − .5 = .5 ; δ1 = δ0 = .9·.5 − .5 = −.05 ; A1 = −.05 + .72·.5 ; A0 = −.05 + .72·A1
    assert adv[:, 0].tolist() == pytest.approx([0.1732, 0.31, 0.5], abs=1e-6)


def test_gae_bootstraps_last_value_when_not_done():
    r = torch.tensor([[0.0], [0.0], [1.0]])
    v = torch.full((3, 1), 0.5)
    adv = gae(r, v, torch.zeros(3, 1), torch.tensor([0.5]), gamma=0.9, lam=0.8)
    # δ2 = 1 + .45 − .5 = .95 ; A1 = −.05 + .72·.95 = .634 ; A0 = −.05 + .72·.634
    assert adv[:, 0].tolist() == pytest.approx([0.40648, 0.634, 0.95], abs=1e-6)


def test_gae_does_not_leak_across_episode_boundary():
    # Env 0 ends at t=0; the big reward at t=1 belongs to the next episode.
    r = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    v = torch.zeros(2, 2)
    d = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    adv = gae(r, v, d, torch.zeros(2), gamma=0.99, lam=0.95)
    assert adv[0, 0] == 0.0 and adv[1, 0] == 10.0
    assert adv[:, 1].tolist() == [0.0, 0.0]


def test_gae_lambda_one_is_discounted_return_minus_value():
    r = torch.tensor([[1.0], [2.0], [3.0]])
    v = torch.tensor([[0.3], [0.2], [0.1]])
    adv = gae(r, v, torch.zeros(3, 1), torch.tensor([4.0]), gamma=0.5, lam=1.0)
    g2 = 3 + 0.5 * 4
    g1 = 2 + 0.5 * g2
    g0 = 1 + 0.5 * g1
    assert adv[:, 0].tolist() == pytest.approx([g0 - 0.3, g1 - 0.2, g2 - 0.1])


def test_td_target():
    t = td_target(torch.tensor([1.0, 1.0]), torch.tensor([2.0, 2.0]), torch.tensor([0.0, 1.0]), 0.9)
    assert t.tolist() == pytest.approx([2.8, 1.0])


def test_truncation_bootstrap_then_returns():
    r = torch.tensor([[1.0], [1.0]])
    tv = torch.tensor([[0.0], [5.0]])  # truncated after step 1, V(final obs) = 5
    assert with_truncation(r, tv, 0.9)[:, 0].tolist() == pytest.approx([1.0, 5.5])
    d = torch.tensor([[0.0], [1.0]])
    # GAE with λ = 1 and zero values is the discounted return to the end of the rollout
    rt = with_truncation(r, tv, 0.9)
    g = gae(rt, torch.zeros_like(rt), d, torch.tensor([100.0]), 0.9, 1.0)
    assert g[:, 0].tolist() == pytest.approx([1 + 0.9 * 5.5, 5.5])  # nothing leaks from last_value across the end
