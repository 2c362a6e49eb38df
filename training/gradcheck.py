"""Finite-difference checks of the trainer's hand-written gradients (float64).

For every parameter group a random direction ``v`` supported on that group is drawn and the
directional derivative ``g . v`` is compared with a 5-point central difference of the loss along
``v`` (error O(eps^4)). Piecewise-linear activations (LeakyReLU) have kinks: a direction whose
stencil makes any pre-activation change sign is redrawn, so the difference quotient is exact
calculus, not an average over a kink. ``tests/test_training_gradients.py`` holds every check to a
relative error of 1e-6; ``bench/train_gradcheck.py`` prints the worst errors.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from nam_dsp.presets import make_layer_array
from nam_dsp.spec import Activation, WaveNetSpec

from . import losses
from .wavenet_grad import GradNet

#: Activation and gating of each checked model.
CASES = {
    "tanh": (Activation("Tanh"), "none"),
    "leakyrelu": (Activation("LeakyReLU", 0.1), "none"),
    "gated": (Activation("Tanh"), "gated"),
    "blended": (Activation("Tanh"), "blended"),
}
#: The losses whose gradients are checked, by name.
LOSS_CASES = {
    "mse": losses.mse,
    "esr": losses.esr,
    "pre-emph": losses.pre_emphasis_mse,
    "mrstft": losses.mrstft,
    "nam": losses.nam_loss,
}


def small_slimmable(act, gating, seed=0) -> WaveNetSpec:
    """One array, 8 channels, widths 1..8, kernels of 2 and 3, a head kernel of 2."""
    rng = np.random.default_rng(seed)
    arr = make_layer_array(rng, input_size=1, channels=8, head_size=1, kernel_sizes=[3, 2, 3],
                           dilations=[1, 2, 4], activation=act, gating=gating, head_bias=True,
                           head_kernel_size=2, allowed_widths=range(1, 9))
    return WaveNetSpec(arrays=[arr], head_scale=0.3)


def small_two_array(act, gating, seed=0) -> WaveNetSpec:
    """Two arrays (4 and 3 channels), the second with a head kernel of 3."""
    rng = np.random.default_rng(seed)
    a0 = make_layer_array(rng, input_size=1, channels=4, head_size=3, kernel_sizes=[3, 2], dilations=[1, 2],
                          activation=act, gating=gating, head_bias=False)
    a1 = make_layer_array(rng, input_size=4, channels=3, head_size=1, kernel_sizes=[2, 3], dilations=[1, 3],
                          activation=act, gating=gating, head_bias=True, head_kernel_size=3)
    return WaveNetSpec(arrays=[a0, a1], head_scale=0.3)


def five_point(f: Callable, x, v, eps: float) -> float:
    """The derivative of ``f`` at ``x`` along ``v`` by a 5-point central difference."""
    return (8 * (f(x + eps * v) - f(x - eps * v)) - (f(x + 2 * eps * v) - f(x - 2 * eps * v))) / (12 * eps)


def _signs(net, x, width, theta):
    _, cache = net.forward(x, width, theta)
    return np.concatenate([np.signbit(rec["z"]).ravel() for arr in cache["tape"] for rec in arr["layers"]])


def directional_check(net, f, grad, x, width, rng, eps=1e-3, kinks=False) -> dict:
    """Worst relative error of ``grad . v`` against a 5-point difference of ``f``, per parameter
    group of ``net`` (only the weights ``width`` uses). ``kinks``: redraw directions whose stencil
    crosses a kink of a piecewise-linear activation. RuntimeError if no kink-free direction is found."""
    if kinks:
        eps = 1e-4  # a small stencil rarely straddles a kink; the ones that do are redrawn
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
            fd = five_point(f, net.theta, v, eps)
            an = float(grad @ v)
            worst[name] = abs(fd - an) / max(abs(an), abs(fd), 1e-300)
            break
        else:
            raise RuntimeError(f"no kink-free direction found for {name}")
    return worst


def squared_error_check(net, width, rng, batch: int, outputs: int, kinks: bool) -> tuple:
    """:func:`directional_check` of ``net`` at ``width`` on ``0.5 |y - t|^2`` for random ``x``
    and ``t`` (``batch`` examples of ``outputs`` samples). Returns (worst error per group, gradient)."""
    x = rng.standard_normal((batch, net.receptive_field + outputs - 1))
    t = rng.standard_normal((batch, outputs))

    def f(th):
        y, _ = net.forward(x, width, th, keep=False)
        return 0.5 * np.sum((y - t) ** 2)

    y, cache = net.forward(x, width)
    g = net.backward(cache, y - t)
    return directional_check(net, f, g, x, width, rng, kinks=kinks), g


def model_check(case: str, width: int) -> tuple:
    """Check :func:`small_slimmable` of ``case`` at ``width``. Returns (worst error per group,
    the gradient, the net)."""
    act, gating = CASES[case]
    net = GradNet(small_slimmable(act, gating))
    worst, g = squared_error_check(net, width, np.random.default_rng(width), 3, 25, kinks=act.name != "Tanh")
    return worst, g, net


def loss_check(name: str, directions: int = 3) -> float:
    """Worst relative error of the gradient of ``LOSS_CASES[name]`` along random directions."""
    fn = LOSS_CASES[name]
    rng = np.random.default_rng(3)
    n = 2600 if name in ("mrstft", "nam") else 300  # at least one 2048-sample frame
    t = rng.standard_normal((2, n))
    p = t + 0.3 * rng.standard_normal((2, n))
    value, grad = fn(p, t)
    if not np.isfinite(value) or grad.shape != p.shape:
        raise RuntimeError(f"{name}: value {value}, gradient shape {grad.shape} for predictions {p.shape}")
    worst = 0.0
    for _ in range(directions):
        v = rng.standard_normal(p.shape)
        v /= np.linalg.norm(v)
        fd = five_point(lambda q: fn(q, t)[0], p, v, 1e-4)
        an = float(np.sum(grad * v))
        worst = max(worst, abs(fd - an) / max(abs(an), abs(fd)))
    return worst
