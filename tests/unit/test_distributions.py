"""The action-distribution seam: Categorical against hand-computed values, the NumPy side
against the torch side, the factory and its errors, and heads sized by the distribution."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from distillrl.core import losses as L
from distillrl.core.distributions import (
    DISTRIBUTIONS,
    ActionDistribution,
    Categorical,
    DiagGaussian,
    dist_for_space,
    param_size,
    register,
)
from distillrl.envs.make import env_info
from distillrl.errors import ConfigError
from distillrl.models.agent import Agent

# three actions with probabilities 1/6, 2/6, 3/6
LOGITS3 = torch.log(torch.tensor([[1.0, 2.0, 3.0]]))
P3 = (1 / 6, 2 / 6, 3 / 6)


def close(x, y, tol=1e-6):
    return abs(float(x) - float(y)) < tol


def test_categorical_three_actions_by_hand():
    d = Categorical(LOGITS3)
    np.testing.assert_allclose(d.probs.numpy()[0], P3, atol=1e-7)
    assert close(d.log_prob(torch.tensor([2]))[0], math.log(1 / 2))
    assert close(d.log_prob(torch.tensor([0]))[0], math.log(1 / 6))
    h = -(1 / 6 * math.log(1 / 6) + 1 / 3 * math.log(1 / 3) + 1 / 2 * math.log(1 / 2))
    assert close(d.entropy()[0], h)  # ≈ 1.0114
    assert int(d.mode()[0]) == 2
    uniform = Categorical(torch.zeros(1, 3))
    # KL(p ‖ uniform) = Σ p ln(p / (1/3)) = 1/6 ln(1/2) + 1/3 ln 1 + 1/2 ln(3/2)
    assert close(d.kl(uniform)[0], 1 / 6 * math.log(1 / 2) + 1 / 2 * math.log(3 / 2))
    # KL(uniform ‖ p) = 1/3 (ln(1/3 / 1/6) + ln(1/3 / 1/3) + ln(1/3 / 1/2)) = 1/3 (ln 2 + ln(2/3))
    assert close(uniform.kl(d)[0], (math.log(2) + math.log(2 / 3)) / 3)
    # H(p, uniform) = ln 3; H(p, p) = H(p); H(p, q) = H(p) + KL(p ‖ q)
    assert close(d.cross_entropy(uniform)[0], math.log(3))
    assert close(d.cross_entropy(d)[0], h)
    assert close(d.cross_entropy(uniform)[0], d.entropy()[0] + d.kl(uniform)[0])
    assert close(d.kl(d)[0], 0.0, 1e-7)


def test_categorical_two_actions_and_temperature_by_hand():
    d = Categorical(torch.zeros(1, 2))
    assert close(d.entropy()[0], math.log(2)) and close(d.log_prob(torch.tensor([1]))[0], math.log(0.5))
    # Q-values (1, 2) at τ = 0.5 are the logits (2, 4): p_1 = e⁴ / (e² + e⁴) = 1 / (1 + e⁻²)
    q = torch.tensor([[1.0, 2.0]])
    t = Categorical.from_teacher(q, 0.5)
    p1 = 1 / (1 + math.exp(-2))
    np.testing.assert_allclose(t.probs.numpy()[0], [1 - p1, p1], atol=1e-7)
    assert close(t.entropy()[0], -((1 - p1) * math.log(1 - p1) + p1 * math.log(p1)))
    # KL(teacher at τ ‖ student) against the loss function that takes raw outputs and τ
    s = torch.tensor([[0.3, -0.2]])
    ps = torch.softmax(s, -1)[0].tolist()
    want = (1 - p1) * math.log((1 - p1) / ps[0]) + p1 * math.log(p1 / ps[1])
    assert close(t.kl(Categorical(s))[0], want)
    assert close(L.kl(s, q, tau=0.5), want)
    # temperature 2 on logits ln(1, 2, 3): p ∝ √(1, 2, 3)
    r = np.sqrt([1.0, 2.0, 3.0])
    np.testing.assert_allclose(Categorical(LOGITS3, temperature=2.0).probs.numpy()[0], r / r.sum(), atol=1e-7)
    # and a probability-built distribution at temperature 2: the same renormalised power
    np.testing.assert_allclose(Categorical(probs=torch.tensor([P3]), temperature=2.0).probs.numpy()[0],
                               r / r.sum(), atol=1e-6)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="tau must be > 0"):
            Categorical(q, temperature=bad)


def test_targets_round_trip_and_empty_rows():
    t = Categorical.from_teacher(torch.tensor([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]]), 1.0)
    back = Categorical.from_target(t.target())
    torch.testing.assert_close(back.probs, t.probs)
    s = torch.tensor([[0.1, 0.2, 0.3], [1.0, -1.0, 0.0]])
    torch.testing.assert_close(back.cross_entropy(Categorical(s)), t.cross_entropy(Categorical(s)))
    # an all-zero target row (a task without a teacher) contributes nothing
    empty = Categorical.from_target(torch.zeros(1, 3))
    assert float(empty.cross_entropy(Categorical(s[:1]))[0]) == 0.0
    # log of a zero probability is taken at eps
    z = Categorical(probs=torch.tensor([[0.0, 1.0]]), eps=1e-8)
    assert close(z.log_probs[0, 0], math.log(1e-8), 1e-5) and float(z.entropy()[0]) == 0.0
    with pytest.raises(ValueError, match="exactly one"):
        Categorical()


def test_sampling_torch_and_numpy_match_the_probabilities():
    logits = LOGITS3.repeat(20000, 1)
    d = Categorical(logits)
    freq = np.bincount(d.sample(torch.Generator().manual_seed(0)).numpy(), minlength=3) / len(logits)
    np.testing.assert_allclose(freq, P3, atol=0.015)
    arr = logits.numpy()
    rng = np.random.default_rng(0)
    a = Categorical.np_sample(arr, rng)
    np.testing.assert_allclose(np.bincount(a, minlength=3) / len(a), P3, atol=0.015)
    noise = Categorical.np_noise(np.random.default_rng(1), arr.shape)
    np.testing.assert_array_equal(Categorical.np_sample(arr, noise=noise), (arr + noise).argmax(-1))
    np.testing.assert_allclose(Categorical.np_log_prob(arr[:5], a[:5]),
                               d.log_prob(torch.from_numpy(a[:5])).numpy(), atol=1e-6)
    np.testing.assert_array_equal(Categorical.np_mode(arr[:2]), [2, 2])
    np.testing.assert_allclose(Categorical.np_probs(arr[:1])[0], P3, atol=1e-6)


def test_losses_go_through_the_distribution():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    teacher = Categorical.from_teacher(t, 0.7)
    torch.testing.assert_close(L.kl(s, t, 0.7, "none"), teacher.kl(Categorical(s)))
    torch.testing.assert_close(L.kl(s, teacher, reduction="none"), teacher.kl(Categorical(s)))
    torch.testing.assert_close(L.cross_entropy(s, teacher.probs, "none"), teacher.cross_entropy(Categorical(s)))
    torch.testing.assert_close(L.nll(s, t, "none"), -Categorical(s).log_prob(t.argmax(-1)))
    out = L.ppo_loss(s, torch.zeros(8), t.argmax(-1), torch.zeros(8), torch.zeros(8), torch.ones(8), torch.ones(8),
                     dist=Categorical)
    torch.testing.assert_close(out["entropy"], Categorical(s).entropy().mean())


def test_factory_and_head_size():
    assert dist_for_space(gym.spaces.Discrete(3)) is Categorical
    assert param_size(gym.spaces.Discrete(5)) == 5
    assert dist_for_space(gym.spaces.Box(-1, 1, (2,))) is DiagGaussian and param_size(gym.spaces.Box(-1, 1, (2,))) == 4
    for space in (gym.spaces.Box(-1, 1, (2, 2)), gym.spaces.MultiDiscrete([2, 3])):
        with pytest.raises(ConfigError) as e:
            dist_for_space(space)
        msg = str(e.value)
        assert "\n" not in msg and "no action distribution" in msg and "categorical" in msg and "gaussian" in msg
    info = env_info("gym:CartPole-v1")
    agent = Agent(info, generator=torch.Generator().manual_seed(0))
    assert agent.dist is Categorical and agent.pi.out_features == param_size(info.action_space) == 2
    assert isinstance(agent.distribution(agent(torch.zeros(1, 4)).logits), Categorical)


def test_a_registered_distribution_is_found_by_the_factory():
    """The seam: one new class, registered, and the factory hands it out for its space."""

    class Fake(ActionDistribution):
        name = "fake"

        @classmethod
        def supports(cls, space):
            return isinstance(space, gym.spaces.MultiDiscrete)

        @classmethod
        def param_size(cls, space):
            return int(np.sum(space.nvec))

    for m in ("from_teacher", "target", "from_target", "sample", "mode", "log_prob", "entropy", "kl",
              "cross_entropy", "np_mode", "np_noise", "np_sample", "np_log_prob"):
        setattr(Fake, m, lambda *a, **k: None)
    Fake.__abstractmethods__ = frozenset()
    register(Fake)
    try:
        box = gym.spaces.MultiDiscrete([2, 4])
        assert dist_for_space(box) is Fake and param_size(box) == 6
        assert dist_for_space(gym.spaces.Discrete(2)) is Categorical
    finally:
        DISTRIBUTIONS.remove(Fake)
    with pytest.raises(ConfigError):
        dist_for_space(box)
