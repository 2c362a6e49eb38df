"""The slow, obviously correct NumPy forward pass: the oracle the tests check the kernels against.

Whole-signal, float64, written straight from the equations in the module docstring of
:mod:`nam_dsp.spec`. Prewarm is modelled as NAM Core does it: the model has seen zeros forever
before sample 0 (for a WaveNet any zero history at least one receptive field long is the same).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from .spec import Activation, ContainerSpec, LinearSpec, LSTMSpec, WaveNetSpec


def activation(name: str, param: float, z: np.ndarray) -> np.ndarray:
    """Every activation the engine runs, in float64."""
    if name in ("Tanh", "Fasttanh"):
        return np.tanh(z)
    if name == "ReLU":
        return np.maximum(z, 0.0)
    if name == "LeakyReLU":
        return np.where(z >= 0, z, param * z)
    if name == "Sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    if name == "Hardtanh":
        return np.clip(z, -1.0, 1.0)
    if name in ("LeakyHardtanh", "LeakyHardTanh"):
        return np.where(z > 1, 1 + param * (z - 1), np.where(z < -1, -1 + param * (z + 1), z))
    if name == "Softsign":
        return z / (1.0 + np.abs(z))
    if name in ("SiLU", "Swish"):
        return z / (1.0 + np.exp(-z))
    if name == "Hardswish":
        return z * np.clip(z + 3.0, 0.0, 6.0) / 6.0
    if name == "Identity":
        return z
    if name == "PReLU":  # one slope for every channel (see apply_activation for per-channel slopes)
        return np.where(z > 0, z, param * z)
    raise ValueError(f"unknown activation {name!r}")


def apply_activation(act: Activation, z: np.ndarray) -> np.ndarray:
    """``act`` over ``z`` (channels, T), parameters included (PReLU slopes are per row)."""
    if act.name == "PReLU":
        slopes = act.slope_per_channel(z.shape[0]).astype(np.float64)
        return np.where(z > 0, z, slopes[:, None] * z)
    if act.name in ("LeakyHardtanh", "LeakyHardTanh"):
        lo, hi = act.min_val, act.max_val
        return np.where(z < lo, lo + act.param * (z - lo), np.where(z > hi, hi + act.upper_slope * (z - hi), z))
    return activation(act.name, act.param, z)


def grouped_1x1(weight: np.ndarray, x: np.ndarray, groups: int = 1) -> np.ndarray:
    """A 1x1 conv with ``weight`` (out, in / groups): output row o reads its group's inputs only."""
    weight = weight.astype(np.float64)
    out_g, in_g = weight.shape[0] // groups, weight.shape[1]
    return np.concatenate([weight[g * out_g:(g + 1) * out_g] @ x[g * in_g:(g + 1) * in_g]
                           for g in range(groups)])


def film(f, x: np.ndarray, cond: np.ndarray) -> np.ndarray:
    """FiLM: ``x * scale + shift`` with ``[scale; shift] = W cond + b`` (grouped 1x1)."""
    ss = grouped_1x1(f.weight, cond, f.groups) + f.bias.astype(np.float64)[:, None]
    d = x.shape[0]
    return x * ss[:d] + ss[d:] if f.shift else x * ss


def _delay(h: np.ndarray, shift: int) -> np.ndarray:
    """``h`` delayed by ``shift`` samples along the last axis, zeros shifted in."""
    if shift == 0:
        return h
    out = np.zeros_like(h)
    if shift < h.shape[-1]:
        out[..., shift:] = h[..., :-shift]
    return out


def causal_conv(h: np.ndarray, weight: np.ndarray, dilation: int, groups: int = 1) -> np.ndarray:
    """``sum_k weight[:, :, k] @ h[:, t - (K-1-k) d]`` for every t (zeros before the start).

    With ``groups`` the weight is ``(out, in / groups, K)`` and each group of outputs reads only
    its own group of inputs.
    """
    k_taps = weight.shape[2]
    out = np.zeros((weight.shape[0], h.shape[1]))
    for k in range(k_taps):
        out += grouped_1x1(weight[:, :, k], _delay(h, (k_taps - 1 - k) * dilation), groups)
    return out


def _layer(arr, layer, h: np.ndarray, cond: np.ndarray):
    """One layer over the whole signal: (next layer's input, this layer's head contribution)."""
    films = layer.films

    def mod(key, x):
        return film(films[key], x, cond) if key in films else x

    b = arr.bottleneck
    # The dilated conv reads the (FiLM-modulated) input; the residual adds the unmodulated one.
    z = mod("conv_post_film", causal_conv(mod("conv_pre_film", h), layer.conv_weight, layer.dilation,
                                          layer.groups_input) + layer.conv_bias[:, None])
    mix = grouped_1x1(layer.mixin_weight, mod("input_mixin_pre_film", cond), layer.groups_mixin)
    z = mod("activation_pre_film", z + mod("input_mixin_post_film", mix))
    if layer.gating == "none":
        a = apply_activation(layer.activation, z)
    else:
        main = apply_activation(layer.activation, z[:b])
        gate = apply_activation(layer.gate_activation, z[b:])
        a = main * gate if layer.gating == "gated" else gate * main + (1.0 - gate) * z[:b]
    a = mod("activation_post_film", a)
    if layer.layer1x1_weight is not None:
        u = grouped_1x1(layer.layer1x1_weight, a, layer.layer1x1_groups) + layer.layer1x1_bias[:, None]
        # NAM Core applies layer1x1_post_film in blended layers only (its weights are in the file
        # for every layer); its render of the wavenet_a2_max fixture confirms it.
        h = h + (mod("layer1x1_post_film", u) if layer.gating == "blended" else u)
    # With the layer 1x1 inactive NAM Core passes the residual stream through unchanged.
    if layer.head1x1_weight is not None:
        a = mod("head1x1_post_film", grouped_1x1(layer.head1x1_weight, a, layer.head1x1_groups)
                + layer.head1x1_bias[:, None])
    return h, a


def _wavenet(spec: WaveNetSpec, x: np.ndarray, prewarm: bool) -> np.ndarray:
    pad = spec.receptive_field if prewarm else 0
    signal = np.concatenate([np.zeros(pad), np.asarray(x, dtype=np.float64)])[None, :]
    stream = signal
    # The layers' input mixins read the raw input, or a condition model's output channels.
    cond = signal if spec.condition is None else wavenet_channels(spec.condition, signal[0])
    head_in = None
    for arr in spec.arrays:
        h = arr.rechannel_weight.astype(np.float64) @ stream
        acc = np.zeros((arr.head_input_size, h.shape[1])) if head_in is None else head_in.copy()
        for layer in arr.layers:
            h, a = _layer(arr, layer, h, cond)
            acc = acc + a
        head = causal_conv(acc, arr.head_weight, 1)
        if arr.head_bias is not None:
            head += arr.head_bias[:, None]
        stream, head_in = h, head
    return spec.head_scale * head_in[:, pad:]


def wavenet_channels(spec: WaveNetSpec, x: np.ndarray) -> np.ndarray:
    """Every output channel of a WaveNet over ``x`` from zero history, no prewarm: (channels, T)."""
    return wavenet_forward_all(spec, x, prewarm=False)


def wavenet_forward_all(spec: WaveNetSpec, x: np.ndarray, prewarm: bool = True) -> np.ndarray:
    """All output channels, (channels, T); see :func:`wavenet_forward`."""
    return _wavenet(spec, x, prewarm)


def wavenet_forward(spec: WaveNetSpec, x: np.ndarray, prewarm: bool = True) -> np.ndarray:
    """Run a whole signal through a WaveNet; float64 output.

    With ``prewarm`` the model first sees one receptive field of zeros, as NAM Core's reset does;
    the internal streams of a biased model are not zero on silence, so this is not the same as
    zero-padding each layer. Without it, every layer starts from zero history.
    """
    return _wavenet(spec, x, prewarm)[0]


def lstm_forward(spec: LSTMSpec, x: np.ndarray, prewarm: int | None = None) -> np.ndarray:
    """Per-sample LSTM from the file's initial state, after ``prewarm`` zeros (float64).

    Written for few NumPy calls per sample (about 10 per layer: 10 s of audio in ~10 s)."""
    prewarm = spec.prewarm_samples_rounded if prewarm is None else prewarm
    hidden = spec.hidden_size
    layers = []  # per layer: W (4H, in + H), b, xh = [input, h] (h updated in place), c
    for w, b, h0, c0 in spec.layers:
        xh = np.concatenate([np.zeros(w.shape[1] - hidden), h0.astype(np.float64)])
        layers.append((w.astype(np.float64), b.astype(np.float64), xh, c0.astype(np.float64)))
    head_w = spec.head_weight.astype(np.float64)
    signal = np.concatenate([np.zeros(prewarm), np.asarray(x, dtype=np.float64)])
    out = np.empty(signal.size)
    i_, f_, g_, o_ = (slice(k * hidden, (k + 1) * hidden) for k in range(4))
    for t, sample in enumerate(signal):
        inp = sample
        for w, b, xh, c in layers:
            xh[:-hidden] = inp
            gates = w @ xh + b
            s = expit(gates)   # sigmoid of every gate; the g block takes tanh instead
            c *= s[f_]
            c += s[i_] * np.tanh(gates[g_])
            inp = xh[-hidden:] = s[o_] * np.tanh(c)
        out[t] = head_w @ inp + spec.head_bias
    return out[prewarm:]


def linear_forward(spec: LinearSpec, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    # weights[j] multiplies x[t - j] (NAM Core's order: weights[0] is the current sample).
    return np.convolve(x, spec.weights.astype(np.float64))[:x.size] + spec.bias


def forward(spec, x: np.ndarray, *, width: int | None = None, ratio: float | None = None) -> np.ndarray:
    """Oracle output of any spec for the whole signal ``x`` from a freshly reset model."""
    if isinstance(spec, ContainerSpec):
        index = spec.index_for_ratio(1.0 if ratio is None else ratio)
        return forward(spec.submodels[index], x)
    if isinstance(spec, WaveNetSpec):
        if ratio is not None:
            width = spec.width_for_ratio(ratio)
        if width is not None and width != spec.full_width:
            spec = spec.sliced(width)
        return wavenet_forward(spec, x)
    if isinstance(spec, LSTMSpec):
        return lstm_forward(spec, x)
    if isinstance(spec, LinearSpec):
        return linear_forward(spec, x)
    raise TypeError(f"not a model spec: {type(spec).__name__}")
