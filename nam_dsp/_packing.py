"""Pack a validated model spec into what the kernels take: one flat float32 array of weights and
small descriptors of plain ints and floats (offsets into that array, sizes, codes).

The kernel module (``nam_dsp._kernels``) only copies these fields into its C structs; every
decision about the model's structure (which path an array takes, how many rows its head
accumulator has, where each tensor sits) is made here. An offset of ``-1`` means "absent" (the
kernel's NULL).
"""

from typing import List, NamedTuple, Optional

import numpy as np

from .spec import FILM_KEYS, GATING_MODES, Activation, LinearSpec, WaveNetSpec

NONE = -1  # offset of an absent tensor


class Conv(NamedTuple):
    """A grouped conv: weights ``(n_out, n_in / groups, k_taps)`` row-major at ``w``."""
    w: int
    b: int
    n_out: int
    n_in: int
    groups: int
    k_taps: int


class FiLM(NamedTuple):
    conv: Conv
    rows: int
    shift: bool


class Act(NamedTuple):
    code: int
    param: float
    lo: float
    hi: float
    lo_slope: float
    hi_slope: float
    slopes: int          # PReLU: offset of one slope per row, else NONE


class Layer(NamedTuple):
    k_taps: int
    dilation: int
    act: int
    act_param: float
    gate_act: int
    gate_param: float
    gating: int          # index in spec.GATING_MODES: none, gated, blended
    w: int               # (G*C, C, K)
    b: int
    m: int               # (G*C, condition rows)
    u_w: int             # (C, C) or NONE
    u_b: int


class ExtendedLayer(NamedTuple):
    """What a layer of the extended (A2) path adds: grouped convs, FiLMs, per-row activations."""
    conv: Conv
    mixin: Conv
    l1: Optional[Conv]
    h1: Optional[Conv]
    films: tuple         # one FiLM or None per site, in spec.FILM_KEYS order
    act: Act
    gate: Act
    scratch_rows: int    # rows of chunk scratch this layer needs


class Array(NamedTuple):
    channels: int
    in_size: int
    head_size: int
    head_k: int
    rechannel: int       # (C, in)
    head_w: int          # (head_size, acc_rows, head_k)
    head_b: int
    extended: bool       # runs the extended (A2) path
    bottleneck: int
    acc_rows: int        # head accumulator rows
    layers: tuple
    extended_layers: tuple   # one ExtendedLayer per layer on the extended path, else ()


class WaveNet(NamedTuple):
    weights: np.ndarray  # float32, every tensor of this model (its condition model has its own)
    arrays: tuple
    head_scale: float
    full_width: int
    slimmable: bool
    condition: Optional["WaveNet"]
    cond_rows: int       # rows of the mixins' condition signal (1: the raw input)


class _Weights:
    """Collects tensors into one flat float32 array and hands out their offsets."""

    def __init__(self):
        self._parts: List[np.ndarray] = []
        self._size = 0

    def add(self, x) -> int:
        if x is None:
            return NONE
        flat = np.ascontiguousarray(x, dtype=np.float32).ravel()
        offset = self._size
        self._parts.append(flat)
        self._size += flat.size
        return offset

    def array(self) -> np.ndarray:
        if not self._parts:
            return np.zeros(1, dtype=np.float32)
        return np.concatenate(self._parts)


def _conv(weights: _Weights, w, b, groups: int) -> Conv:
    return Conv(weights.add(w), weights.add(b), w.shape[0], w.shape[1] * groups, groups,
                w.shape[2] if w.ndim == 3 else 1)


def _act(weights: _Weights, act: Activation, rows: int) -> Act:
    slopes = weights.add(act.slope_per_channel(rows)) if act.name == "PReLU" else NONE
    return Act(act.code, act.param, act.min_val, act.max_val, act.param, act.upper_slope, slopes)


def _extended_layer(weights: _Weights, sa, sl) -> ExtendedLayer:
    conv = _conv(weights, sl.conv_weight, sl.conv_bias, sl.groups_input)
    mixin = _conv(weights, sl.mixin_weight, None, sl.groups_mixin)
    l1 = (_conv(weights, sl.layer1x1_weight, sl.layer1x1_bias, sl.layer1x1_groups)
          if sl.layer1x1_weight is not None else None)
    h1 = (_conv(weights, sl.head1x1_weight, sl.head1x1_bias, sl.head1x1_groups)
          if sl.head1x1_weight is not None else None)
    rows = max(sa.channels, conv.n_out, h1.n_out if h1 else 0, sa.condition_size)
    films = []
    for key in FILM_KEYS:
        film = sl.films.get(key)
        if film is None:
            films.append(None)
            continue
        films.append(FiLM(_conv(weights, film.weight, film.bias, film.groups), film.rows, film.shift))
        rows = max(rows, film.weight.shape[0])
    return ExtendedLayer(conv, mixin, l1, h1, tuple(films), _act(weights, sl.activation, sa.bottleneck),
                         _act(weights, sl.gate_activation, sa.bottleneck), rows)


def pack_wavenet(spec: WaveNetSpec) -> WaveNet:
    """The kernel's view of a validated WaveNet spec (and of its condition model, if any)."""
    weights = _Weights()
    arrays = []
    for sa in spec.arrays:
        layers = []
        for sl in sa.layers:
            layers.append(Layer(
                sl.kernel_size, sl.dilation, sl.activation.code, sl.activation.param,
                sl.gate_activation.code, sl.gate_activation.param, GATING_MODES.index(sl.gating),
                weights.add(sl.conv_weight), weights.add(sl.conv_bias), weights.add(sl.mixin_weight),
                weights.add(sl.layer1x1_weight),
                weights.add(sl.layer1x1_bias) if sl.layer1x1_weight is not None else NONE))
        extended = sa.is_extended
        arrays.append(Array(
            sa.channels, sa.input_size, sa.head_size, sa.head_kernel_size,
            weights.add(sa.rechannel_weight), weights.add(sa.head_weight), weights.add(sa.head_bias),
            extended, sa.bottleneck, sa.head_input_size if extended else sa.channels, tuple(layers),
            tuple(_extended_layer(weights, sa, sl) for sl in sa.layers) if extended else ()))
    condition = pack_wavenet(spec.condition) if spec.condition is not None else None
    return WaveNet(weights.array(), tuple(arrays), spec.head_scale, spec.arrays[0].channels,
                   spec.allowed_widths is not None, condition,
                   spec.condition.output_channels if condition is not None else 1)


def pack_linear(spec: LinearSpec):
    """An FIR filter's taps (float32) and bias."""
    return np.ascontiguousarray(spec.weights, dtype=np.float32).ravel(), spec.bias
