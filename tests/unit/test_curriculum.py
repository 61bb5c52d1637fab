"""The curriculum: max-KL picks the most dissimilar task; cycle and uniform baselines."""

import numpy as np
import pytest

from distillrl.terms.curriculum import Curriculum, most_dissimilar, normalised


def test_max_kl_picks_the_most_dissimilar_task():
    assert most_dissimilar([0.1, 0.7, 0.3]) == 1
    assert most_dissimilar([0.5, 0.5, 0.2]) == 0  # the first of equals
    with pytest.raises(ValueError):
        most_dissimilar([0.1, float("nan")])
    kls = [[0.1, 0.9, 0.2], [0.8, 0.1, 0.2], [0.1, 0.1, 0.5]]
    calls = iter(kls)
    c = Curriculum("max-kl", 3, np.random.default_rng(0), kl_fn=lambda: next(calls), every=2)
    assert [c.next() for _ in range(6)] == [1, 1, 0, 0, 2, 2]  # re-measured every 2 choices
    assert c.last_kls == [0.1, 0.1, 0.5]


def test_cycle_and_uniform_baselines():
    c = Curriculum("cycle", 3, np.random.default_rng(0))
    assert [c.next() for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    u1 = Curriculum("uniform", 4, np.random.default_rng(5))
    u2 = Curriculum("uniform", 4, np.random.default_rng(5))
    a = [u1.next() for _ in range(200)]
    assert a == [u2.next() for _ in range(200)] and set(a) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="needs kl_fn"):
        Curriculum("max-kl", 2, np.random.default_rng(0))


def test_max_kl_relative_to_each_tasks_first_kl():
    # task 0 (many actions) starts at KL 4.0 and has closed half its gap; task 1 starts at 0.5
    # and has closed none of it: raw max-kl keeps task 0, normalised max-kl picks task 1
    assert list(normalised([2.0, 0.5], [4.0, 0.5], "initial")) == [0.5, 1.0]
    assert list(normalised([2.0, 0.5], [4.0, 0.5], "raw")) == [2.0, 0.5]
    assert list(normalised([0.3], [0.0], "initial")) == [0.3 / 1e-8]  # a zero first KL does not divide by 0
    for norm, want in (("raw", [0, 0, 0]), ("initial", [0, 1, 1])):
        calls = iter([[4.0, 0.5], [2.0, 0.5], [1.0, 0.4]])
        c = Curriculum("max-kl", 2, np.random.default_rng(0), kl_fn=lambda: next(calls), norm=norm)
        # first measurement: every task at 1.0 of itself; the first of equals (0) under "initial"
        assert [c.next() for _ in range(3)] == want, norm
        assert c.initial_kls == [4.0, 0.5]
    # resumed, the first measurement is kept (not replaced by the next one)
    c2 = Curriculum("max-kl", 2, np.random.default_rng(0), kl_fn=lambda: [0.1, 0.1], norm="initial")
    c2.load_state_dict(c.state_dict())
    assert c2.initial_kls == [4.0, 0.5]


def test_max_kl_relative_to_a_know_nothing_student():
    # the teacher's KL from a uniform policy over the task's legal actions, by hand:
    # p = (.5, .25, .25) on 3 legal actions (a 4th is another task's): log 3 − H(p)
    import math

    import torch

    from distillrl.envs.tasks import MASK
    from distillrl.terms.curriculum import uniform_kl

    h = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    t = torch.tensor([[math.log(0.5), math.log(0.25), math.log(0.25), MASK]])
    assert uniform_kl(t, tau=1.0) == pytest.approx(math.log(3) - h, abs=1e-6)
    # a uniform teacher is already known; τ sharpens the teacher (τ = 0.5 squares p, renormalised)
    assert uniform_kl(torch.zeros(2, 5)) == pytest.approx(0.0, abs=1e-7)
    p2 = torch.tensor([0.25, 0.0625, 0.0625]) / 0.375
    assert uniform_kl(t, tau=0.5) == pytest.approx(math.log(3) + float((p2 * p2.log()).sum()), abs=1e-6)
    # rows are averaged
    assert uniform_kl(torch.cat([t, torch.tensor([[0.0, 0.0, 0.0, MASK]])])) == pytest.approx((math.log(3) - h) / 2,
                                                                                               abs=1e-6)
    # task 0: KL 0.6 of a possible 1.2 (half its gap closed); task 1: 0.3 of 0.3 (none closed)
    assert list(normalised([0.6, 0.3], None, "uniform", [1.2, 0.3])) == [0.5, 1.0]
    c = Curriculum("max-kl", 2, np.random.default_rng(0), kl_fn=lambda: [0.6, 0.3], norm="uniform",
                   uniform_kls=[1.2, 0.3])
    assert [c.next() for _ in range(2)] == [1, 1]
    c = Curriculum("max-kl", 2, np.random.default_rng(0), kl_fn=lambda: [0.6, 0.3], norm="raw", uniform_kls=[1.2, 0.3])
    assert c.next() == 0
    with pytest.raises(ValueError, match="uniform_kls"):
        Curriculum("max-kl", 2, np.random.default_rng(0), kl_fn=lambda: [0.6, 0.3], norm="uniform")
    with pytest.raises(ValueError, match="needs each task"):
        normalised([0.6], None, "uniform")
