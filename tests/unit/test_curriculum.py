"""The curriculum: max-KL picks the most dissimilar task; cycle and uniform baselines."""

import numpy as np
import pytest

from distillrl.terms.curriculum import Curriculum, most_dissimilar


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
