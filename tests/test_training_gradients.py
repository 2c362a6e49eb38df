"""The trainer's hand-written gradients against finite differences (float64), to a relative
error of 1e-6 (the method: :mod:`nam_dsp.training.gradcheck`)."""

import numpy as np
import pytest

from nam_dsp.spec import Activation
from nam_dsp.training import losses
from nam_dsp.training.gradcheck import (CASES, LOSS_CASES, directional_check, loss_check, model_check,
                                        small_slimmable, small_two_array, squared_error_check)
from nam_dsp.training.wavenet_grad import GradNet

TOL = 1e-6


def assert_within_tolerance(worst: dict):
    bad = {k: v for k, v in worst.items() if v > TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("width", [1, 4, 8])
def test_model_gradients_match_finite_differences(case, width):
    worst, g, net = model_check(case, width)
    assert len(worst) == len(net.group_slices())  # every group is used at every width
    assert_within_tolerance(worst)
    # weights a narrower model does not use get exactly zero gradient
    assert not g[~net.width_mask(width)].any()


@pytest.mark.parametrize("case", ["tanh", "leakyrelu", "gated"])
def test_two_array_gradients_match_finite_differences(case):
    act, gating = CASES[case]
    net = GradNet(small_two_array(act, gating))
    worst, _ = squared_error_check(net, None, np.random.default_rng(7), 2, 31, kinks=act.name != "Tanh")
    assert_within_tolerance(worst)


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_loss_gradients_match_finite_differences(name):
    assert loss_check(name) <= TOL


def test_loss_through_the_model_matches_finite_differences():
    net = GradNet(small_slimmable(Activation("Tanh"), "none"))
    rng = np.random.default_rng(11)
    x = 0.5 * rng.standard_normal((2, net.receptive_field + 2100 - 1))
    t = 0.01 * rng.standard_normal((2, 2100))
    loss = losses.make_loss("nam", mrstft_weight=0.1, pre_emph_weight=0.5)

    def f(th):
        return loss(net.forward(x, 4, th, keep=False)[0], t)[0]

    y, cache = net.forward(x, 4)
    g = net.backward(cache, loss(y, t)[1])
    worst = directional_check(net, f, g, x, 4, rng, eps=1e-5)
    assert_within_tolerance(worst)


def test_mrstft_is_zero_for_identical_signals_and_positive_otherwise():
    rng = np.random.default_rng(0)
    t = rng.standard_normal((1, 4096))
    assert losses.mrstft(t, t)[0] == pytest.approx(0.0, abs=1e-12)
    assert losses.mrstft(0.5 * t, t)[0] > 0.1
