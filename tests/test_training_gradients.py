"""Finite-difference checks of the trainer's hand-written gradients (float64).

For every parameter group a random direction ``v`` supported on that group is drawn and the
directional derivative ``g . v`` is compared with a 5-point central difference of the loss along
``v`` (error O(eps^4)). Piecewise-linear activations (LeakyReLU) have kinks: a direction whose
stencil makes any pre-activation change sign is redrawn, so the difference quotient is exact
calculus, not an average over a kink. The bar is a relative error <= 1e-6.
"""

import numpy as np
import pytest


from nam_dsp.spec import Activation, WaveNetSpec, make_layer_array
from nam_dsp.training import losses
from nam_dsp.training.wavenet_grad import GradNet

TOL = 1e-6
CASES = {
    "tanh": (Activation("Tanh"), "none"),
    "leakyrelu": (Activation("LeakyReLU", 0.1), "none"),
    "gated": (Activation("Tanh"), "gated"),
    "blended": (Activation("Tanh"), "blended"),
}


def small_slimmable(act, gating, seed=0):
    rng = np.random.default_rng(seed)
    arr = make_layer_array(rng, input_size=1, channels=8, head_size=1, kernel_sizes=[3, 2, 3],
                           dilations=[1, 2, 4], activation=act, gating=gating, head_bias=True,
                           head_kernel_size=2, allowed_widths=range(1, 9))
    return WaveNetSpec(arrays=[arr], head_scale=0.3)


def small_two_array(act, gating, seed=0):
    rng = np.random.default_rng(seed)
    a0 = make_layer_array(rng, input_size=1, channels=4, head_size=3, kernel_sizes=[3, 2], dilations=[1, 2],
                          activation=act, gating=gating, head_bias=False)
    a1 = make_layer_array(rng, input_size=4, channels=3, head_size=1, kernel_sizes=[2, 3], dilations=[1, 3],
                          activation=act, gating=gating, head_bias=True, head_kernel_size=3)
    return WaveNetSpec(arrays=[a0, a1], head_scale=0.3)


def _signs(net, x, width, theta):
    _, cache = net.forward(x, width, theta)
    return np.concatenate([np.signbit(rec["z"]).ravel() for arr in cache["tape"] for rec in arr["layers"]])


def directional_check(net, f, grad, x, width, rng, eps=1e-3, kinks=False):
    if kinks:
        eps = 1e-4  # a small stencil rarely straddles a kink; the ones that do are redrawn
    """Worst relative error of ``grad . v`` against a 5-point difference, over every group."""
    mask = net.width_mask(width).astype(float)
    worst = {}
    for name, sl in net.group_slices().items():
        for _attempt in range(20):
            v = np.zeros(net.size)
            v[sl] = rng.standard_normal(sl.stop - sl.start)
            v *= mask
            if not v.any():
                break
            v /= np.linalg.norm(v)
            if kinks:
                s0 = _signs(net, x, width, net.theta)
                if any((_signs(net, x, width, net.theta + k * eps * v) != s0).any() for k in (-2, 2)):
                    continue
            th = net.theta
            fd = (8 * (f(th + eps * v) - f(th - eps * v)) - (f(th + 2 * eps * v) - f(th - 2 * eps * v))) / (12 * eps)
            an = float(grad @ v)
            worst[name] = abs(fd - an) / max(abs(an), abs(fd), 1e-300)
            break
        else:
            pytest.fail(f"no kink-free direction found for {name}")
    return worst


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("width", [1, 4, 8])
def test_model_gradients_match_finite_differences(case, width):
    act, gating = CASES[case]
    net = GradNet(small_slimmable(act, gating))
    rng = np.random.default_rng(width)
    x = rng.standard_normal((3, net.receptive_field + 24))
    t = rng.standard_normal((3, 25))

    def f(th):
        y, _ = net.forward(x, width, th, keep=False)
        return 0.5 * np.sum((y - t) ** 2)

    y, cache = net.forward(x, width)
    g = net.backward(cache, y - t)
    worst = directional_check(net, f, g, x, width, rng, kinks=act.name != "Tanh")
    assert len(worst) == len(net.group_slices())  # every group is used at every width
    bad = {k: v for k, v in worst.items() if v > TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"
    # weights a narrower model does not use get exactly zero gradient
    assert not g[~net.width_mask(width)].any()


@pytest.mark.parametrize("case", ["tanh", "leakyrelu", "gated"])
def test_two_array_gradients_match_finite_differences(case):
    act, gating = CASES[case]
    net = GradNet(small_two_array(act, gating))
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, net.receptive_field + 30))
    t = rng.standard_normal((2, 31))

    def f(th):
        y, _ = net.forward(x, None, th, keep=False)
        return 0.5 * np.sum((y - t) ** 2)

    y, cache = net.forward(x)
    g = net.backward(cache, y - t)
    worst = directional_check(net, f, g, x, None, rng, kinks=act.name != "Tanh")
    bad = {k: v for k, v in worst.items() if v > TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"


LOSS_CASES = {
    "mse": losses.mse,
    "esr": losses.esr,
    "pre-emph": losses.pre_emphasis_mse,
    "mrstft": losses.mrstft,
    "nam": losses.nam_loss,
}


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_loss_gradients_match_finite_differences(name):
    fn = LOSS_CASES[name]
    rng = np.random.default_rng(3)
    n = 2600 if name in ("mrstft", "nam") else 300  # at least one 2048-sample frame
    t = rng.standard_normal((2, n))
    p = t + 0.3 * rng.standard_normal((2, n))
    value, grad = fn(p, t)
    assert np.isfinite(value) and grad.shape == p.shape
    for _ in range(3):
        v = rng.standard_normal(p.shape)
        v /= np.linalg.norm(v)
        eps = 1e-4
        f = lambda q: fn(q, t)[0]
        fd = (8 * (f(p + eps * v) - f(p - eps * v)) - (f(p + 2 * eps * v) - f(p - 2 * eps * v))) / (12 * eps)
        an = float(np.sum(grad * v))
        assert abs(fd - an) <= TOL * max(abs(an), abs(fd)), (name, fd, an)


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
    bad = {k: v for k, v in worst.items() if v > TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"


def test_mrstft_is_zero_for_identical_signals_and_positive_otherwise():
    rng = np.random.default_rng(0)
    t = rng.standard_normal((1, 4096))
    assert losses.mrstft(t, t)[0] == pytest.approx(0.0, abs=1e-12)
    assert losses.mrstft(0.5 * t, t)[0] > 0.1
