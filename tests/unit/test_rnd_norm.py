"""σ_R for RND's intrinsic reward: the decaying (moving-window) statistics against hand values,
and why they exist — a cumulative variance keeps the first, large errors' scale."""

import numpy as np
import pytest
from gymnasium.wrappers.utils import RunningMeanStd

from distillrl.terms.rnd import DecayingMeanStd


def test_decaying_moments_hand_values():
    r = DecayingMeanStd(0.5)
    r.update(np.array([1.0, 3.0]))  # m = 2, mean square 5: the first batch alone (bias-corrected)
    assert (float(r.mean), float(r.var), r.count) == pytest.approx((2.0, 1.0, 0.5))
    r.update(np.array([[10.0], [10.0]]))  # m = 10, mean square 100
    # w = 0.5·0.5 + 0.5 = 0.75 ; mean = (0.25·2 + 0.5·10) / 0.75 ; E[x²] = (0.25·5 + 0.5·100) / 0.75
    mean = 5.5 / 0.75
    assert float(r.mean) == pytest.approx(mean)
    assert float(r.var) == pytest.approx(51.25 / 0.75 - mean ** 2)
    assert r.count == pytest.approx(0.75)


def test_decay_close_to_one_is_the_plain_variance_of_equal_batches():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, 500) for _ in range(3)]
    r = DecayingMeanStd(1 - 1e-9)
    for b in batches:
        r.update(b)
    allx = np.concatenate(batches)
    assert float(r.mean) == pytest.approx(allx.mean(), rel=1e-6)
    assert float(r.var) == pytest.approx(allx.var(), rel=1e-5)


def test_moving_statistics_forget_the_first_large_errors_and_cumulative_ones_do_not():
    rng = np.random.default_rng(1)
    first = rng.normal(0.0, 100.0, 2048)  # the untrained predictor's rollout
    later = [rng.normal(0.0, 5.0, 2048) for _ in range(60)]
    ema, cum = DecayingMeanStd(0.9), RunningMeanStd(shape=())
    for b in [first, *later]:
        ema.update(b)
        cum.update(b)
    assert np.sqrt(ema.var) == pytest.approx(5.0, rel=0.1)  # 0.9⁶⁰ · 100² ≈ 18 next to 25
    assert np.sqrt(cum.var) > 12.0  # √(100²/61 + 25) ≈ 13.8: still 2.8× the current scale
