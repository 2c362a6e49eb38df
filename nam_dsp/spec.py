"""Model descriptions: plain dataclasses holding float32 weights, never JSON.

A spec is what a ``.nam`` file means once it has been validated (see :mod:`nam_dsp.nam_file`).
The engine, the NumPy reference and the trainer all read specs; none of them parse files.

Weights are stored in the shapes of the equations in ``docs``:

* dilated conv ``conv_weight``: ``(out, in, K)``, tap 0 multiplies the oldest sample
  ``h[t - (K-1) d]``;
* 1x1 maps: ``(out, in)``;
* gated / blended layers stack the two halves on the output axis: rows ``[:B]`` feed the main
  activation and rows ``[B:]`` the gate;
* grouped convs (NAM's ``groups_input``, ``groups_input_mixin``, ``layer1x1.groups``,
  ``head1x1.groups``, FiLM ``groups``) keep PyTorch's compact shape ``(out, in / groups[, K])``:
  output row ``o`` belongs to group ``o // (out / groups)`` and reads only that group's
  ``in / groups`` input rows. That is also the file's weight order.

NAM's A2 extensions (all optional; a model without them is exactly the A1 / 0.7.0 WaveNet):

* ``bottleneck`` B != channels C: the dilated conv makes ``G*B`` rows, the layer 1x1 maps B -> C;
* ``head1x1``: a per-layer 1x1 conv (B -> head1x1 out, bias) whose output, not the activation,
  feeds the head accumulator;
* FiLM blocks: ``x * scale + shift`` with ``[scale; shift]`` a 1x1 conv (bias) of the condition,
  at eight places in a layer (see :data:`FILM_KEYS`);
* activations with per-channel or range parameters (PReLU, LeakyHardtanh with any range).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .errors import WidthError

# Activations the engine runs: name -> whether it takes a parameter.
ACTIVATIONS = {
    "Tanh": False,
    "Fasttanh": False,  # NAM Core's approximation of tanh: we run the exact function for it
    "ReLU": False,
    "LeakyReLU": True,  # negative_slope
    "Sigmoid": False,
    "Hardtanh": False,
    "LeakyHardtanh": True,  # slope outside [-1, 1]
    "Softsign": False,
    "SiLU": False,
    "Swish": False,
    "Hardswish": False,
    "LeakyHardTanh": True,
    "Identity": False,
    "PReLU": True,  # per-channel negative slopes
}
# Integer codes shared with the Cython kernels (keep in step with _kernels.pyx).
ACTIVATION_CODES = {
    "Identity": 0,
    "Tanh": 1,
    "Fasttanh": 1,
    "ReLU": 2,
    "LeakyReLU": 3,
    "Sigmoid": 4,
    "Hardtanh": 5,
    "LeakyHardtanh": 6,
    "Softsign": 7,
    "SiLU": 8,
    "Swish": 8,
    "Hardswish": 9,
    "LeakyHardTanh": 6,
    "PReLU": 10,
}
# NAM Core prewarms in whole blocks of this many samples (its default maximum buffer size).
PREWARM_BLOCK = 64
GATING_MODES = ("none", "gated", "blended")
# NAM's FiLM sites in a layer, in the file's weight order.
FILM_KEYS = ("conv_pre_film", "conv_post_film", "input_mixin_pre_film", "input_mixin_post_film",
             "activation_pre_film", "activation_post_film", "layer1x1_post_film", "head1x1_post_film")


def _check_ratio(ratio) -> float:
    """A slimming ratio as a float in [0, 1], else WidthError."""
    try:
        value = float("nan") if isinstance(ratio, (str, bytes, bool)) else float(ratio)
    except (TypeError, ValueError):
        value = float("nan")
    if not (0.0 <= value <= 1.0):
        raise WidthError(f"slimming ratio must be in [0, 1], got {ratio!r}")
    return value


@dataclass(frozen=True)
class Activation:
    """An elementwise nonlinearity: its NAM name and its parameters.

    ``param``: LeakyReLU's negative slope, LeakyHardtanh's slope below ``min_val``.
    LeakyHardtanh also uses ``min_val`` / ``max_val`` (its linear range) and ``max_slope`` (the
    slope above ``max_val``; None means equal to ``param``). PReLU uses ``slopes``: one negative
    slope per channel (a single value applies to every channel).
    """

    name: str
    param: float = 0.0
    min_val: float = -1.0
    max_val: float = 1.0
    max_slope: Optional[float] = None
    slopes: Optional[tuple] = None

    @property
    def code(self) -> int:
        return ACTIVATION_CODES[self.name]

    @property
    def upper_slope(self) -> float:
        return self.param if self.max_slope is None else self.max_slope

    @property
    def is_extended(self) -> bool:
        """Needs the general kernel path (per-channel slopes, or a LeakyHardtanh other than the
        symmetric one on [-1, 1])."""
        if self.name == "PReLU":
            return True
        if self.code == 6:
            return (self.min_val, self.max_val) != (-1.0, 1.0) or self.upper_slope != self.param
        return False

    def slope_per_channel(self, channels: int) -> np.ndarray:
        """PReLU's slopes as a float32 vector of ``channels`` values."""
        s = np.asarray(self.slopes if self.slopes is not None else (0.01,), dtype=np.float32)
        return np.full(channels, s[0], dtype=np.float32) if s.size == 1 else s.copy()


TANH = Activation("Tanh")
SIGMOID = Activation("Sigmoid")


@dataclass
class FiLM:
    """Feature-wise linear modulation: ``x * scale + shift`` with ``[scale; shift]`` (or just
    ``scale`` when ``shift`` is False) a grouped 1x1 conv, with bias, of the condition signal.

    ``weight``: ``((2 if shift else 1) * D, condition_size / groups)`` for a signal of D rows;
    ``bias``: ``((2 if shift else 1) * D,)``.
    """

    shift: bool
    groups: int
    weight: np.ndarray
    bias: np.ndarray

    @property
    def rows(self) -> int:
        """D, the rows of the signal it modulates."""
        return self.weight.shape[0] // (2 if self.shift else 1)


@dataclass
class Layer:
    """One residual layer of a WaveNet layer array.

    ``conv_weight`` is ``(G*B, C / groups_input, K)`` with ``G`` = 2 for gated/blended layers,
    ``B`` the bottleneck (equal to the array's channels in every standard model).

    One layer, as NAM Core computes it (``cond`` is the raw input or the condition model's
    output; every FiLM is optional):

    .. code-block:: text

        x'   = conv_pre_film(x)                         the dilated conv reads x' (its history too)
        z    = conv_post_film(conv(x'))  +  input_mixin_post_film(M input_mixin_pre_film(cond))
        z    = activation_pre_film(z)
        a    = f(z) | f(z[:B]) * g(z[B:]) | g(z[B:]) f(z[:B]) + (1 - g(z[B:])) z[:B]
        a    = activation_post_film(a)
        next = x + layer1x1_post_film(U a + u)          (x when the layer 1x1 is inactive)
        head += head1x1_post_film(V a + v)              (a when head1x1 is inactive)

    NAM Core applies ``layer1x1_post_film`` in blended layers only (the file holds its weights
    for every layer); its render of the ``wavenet_a2_max`` fixture confirms that, so we do too.
    """

    kernel_size: int
    dilation: int
    activation: Activation
    gating: str  # "none" | "gated" | "blended"
    gate_activation: Activation  # used only when gating != "none"
    conv_weight: np.ndarray
    conv_bias: np.ndarray
    mixin_weight: np.ndarray  # (G*B, condition_size / groups_mixin)
    layer1x1_weight: Optional[np.ndarray]  # (C, B / layer1x1_groups) or None when inactive
    layer1x1_bias: Optional[np.ndarray]
    groups_input: int = 1
    groups_mixin: int = 1
    layer1x1_groups: int = 1
    head1x1_weight: Optional[np.ndarray] = None  # (head1x1 out, B / head1x1_groups) or None
    head1x1_bias: Optional[np.ndarray] = None
    head1x1_groups: int = 1
    films: dict = field(default_factory=dict)  # FILM_KEYS name -> FiLM, only the active ones

    @property
    def lookback(self) -> int:
        return (self.kernel_size - 1) * self.dilation

    @property
    def is_extended(self) -> bool:
        """Uses an A2 extension beyond the plain WaveNet layer (groups, head1x1, FiLM, ...)."""
        return (self.groups_input != 1 or self.groups_mixin != 1 or self.layer1x1_groups != 1
                or self.head1x1_weight is not None or bool(self.films)
                or self.activation.is_extended
                or (self.gating != "none" and self.gate_activation.is_extended))


@dataclass
class LayerArray:
    """A stack of residual layers with a rechannel in and a head conv out."""

    input_size: int
    condition_size: int
    channels: int
    bottleneck: int
    head_size: int
    head_kernel_size: int
    rechannel_weight: np.ndarray  # (C, input_size)
    layers: list
    head_weight: np.ndarray  # (head_size, head_input_size, head_kernel_size)
    head_bias: Optional[np.ndarray]  # (head_size,) or None
    allowed_widths: Optional[tuple] = None  # slimmable widths, sorted ascending

    @property
    def receptive_field(self) -> int:
        return sum(layer.lookback for layer in self.layers) + self.head_kernel_size - 1

    @property
    def head_input_size(self) -> int:
        """Rows of the head accumulator: head1x1's outputs when active, else the bottleneck."""
        first = self.layers[0]
        return self.bottleneck if first.head1x1_weight is None else first.head1x1_weight.shape[0]

    @property
    def is_extended(self) -> bool:
        """Needs the general kernel path (bottleneck != channels or any layer extension)."""
        return self.bottleneck != self.channels or any(layer.is_extended for layer in self.layers)


@dataclass
class WaveNetSpec:
    arrays: list
    head_scale: float
    sample_rate: float = 48000.0
    metadata: dict = field(default_factory=dict)
    version: str = "0.7.0"
    # How the file spelled it; used only to save in the same form.
    legacy_keys: bool = False
    # NAM's condition_dsp: a WaveNet run on the input whose output channels (not the raw input)
    # feed every layer's input mixin. The first array's rechannel still reads the raw input.
    condition: Optional["WaveNetSpec"] = None

    architecture = "WaveNet"

    def __post_init__(self):
        # The engine multiplies in float32 and files store float32: keep head_scale exact in both.
        self.head_scale = float(np.float32(self.head_scale))
        # Decided once, when the spec is made: check_width runs on audio threads (a width switch)
        # and must not allocate, which walking the layers would.
        self._full_width_only = self.is_extended

    @property
    def receptive_field(self) -> int:
        own = 1 + sum(a.receptive_field for a in self.arrays)
        return own if self.condition is None else own + self.condition.receptive_field - 1

    @property
    def output_channels(self) -> int:
        return self.arrays[-1].head_size

    @property
    def channels(self) -> int:
        return self.arrays[0].channels if len(self.arrays) == 1 else max(a.channels for a in self.arrays)

    @property
    def slimmable(self) -> bool:
        return self.allowed_widths is not None

    @property
    def allowed_widths(self) -> Optional[tuple]:
        return self.arrays[0].allowed_widths if len(self.arrays) == 1 else None

    @property
    def full_width(self) -> int:
        return self.arrays[0].channels

    def check_width(self, width: int) -> int:
        """Return ``width`` as an int if it is one of the allowed widths, else raise WidthError.

        A model using the A2 extensions (:attr:`is_extended`, as it was when the spec was made) is
        refused any width but its full one: channel slicing is not defined for grouped convs,
        bottlenecks and FiLM. Allocates nothing (width switches call it on the audio thread).
        """
        if self.allowed_widths is None:
            raise WidthError(
                "this WaveNet is not slimmable (its file has no 'slimmable' key): width cannot change")
        try:
            ok = (not isinstance(width, (str, bytes, bool)) and float(width).is_integer()
                  and int(width) in self.allowed_widths)
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise WidthError(f"width {width!r} is not allowed; allowed widths: {list(self.allowed_widths)}")
        if self._full_width_only and int(width) != self.full_width:
            raise WidthError(
                "slimming a WaveNet that uses FiLM, grouped convs, head1x1, a bottleneck or per-channel "
                "activations is not supported: only the full width runs")
        return int(width)

    @property
    def is_extended(self) -> bool:
        """Uses NAM's A2 extensions (FiLM, groups, head1x1, bottleneck != channels, PReLU, ...)."""
        return any(a.is_extended for a in self.arrays)

    def width_for_ratio(self, ratio: float) -> int:
        """NAM's slimming rule: ``allowed[min(floor(ratio * n), n - 1)]`` for ``ratio`` in [0, 1]."""
        if self.allowed_widths is None:
            raise WidthError("this WaveNet is not slimmable: a slimming ratio needs a 'slimmable' model")
        ratio = _check_ratio(ratio)
        n = len(self.allowed_widths)
        return self.check_width(self.allowed_widths[min(int(math.floor(float(ratio) * n)), n - 1)])

    def macs_per_sample(self, width: Optional[int] = None) -> int:
        """Multiply-accumulates per output sample (matrix products only) at ``width``."""
        total = 0
        for index, arr in enumerate(self.arrays):
            c = arr.channels if (width is None or index > 0 or arr.allowed_widths is None) else width
            b = c if arr.bottleneck == arr.channels else arr.bottleneck
            total += c * arr.input_size
            for layer in arr.layers:
                g = 1 if layer.gating == "none" else 2
                if layer.is_extended:
                    # grouped convs: every weight is one multiply-accumulate
                    total += layer.conv_weight.size + layer.mixin_weight.size
                    for w in (layer.layer1x1_weight, layer.head1x1_weight):
                        total += 0 if w is None else w.size
                    total += sum(f.weight.size + f.rows for f in layer.films.values())
                    continue
                total += g * b * c * layer.kernel_size + g * b * arr.condition_size
                if layer.layer1x1_weight is not None:
                    total += c * b
            total += arr.head_size * (arr.head_input_size if arr.is_extended else b) * arr.head_kernel_size
        if self.condition is not None:
            total += self.condition.macs_per_sample()
        return total

    def sliced(self, width: int) -> "WaveNetSpec":
        """A standalone (non-slimmable) spec holding only the first ``width`` channels."""
        width = self.check_width(width)
        arr = self.arrays[0]
        new_layers = []
        for layer in arr.layers:
            b = arr.bottleneck
            if layer.gating == "none":
                rows = np.arange(width)
            else:
                rows = np.concatenate([np.arange(width), b + np.arange(width)])
            new_layers.append(dataclasses.replace(
                layer,
                conv_weight=np.ascontiguousarray(layer.conv_weight[rows][:, :width]),
                conv_bias=np.ascontiguousarray(layer.conv_bias[rows]),
                mixin_weight=np.ascontiguousarray(layer.mixin_weight[rows]),
                layer1x1_weight=None if layer.layer1x1_weight is None
                else np.ascontiguousarray(layer.layer1x1_weight[:width, :width]),
                layer1x1_bias=None if layer.layer1x1_bias is None
                else np.ascontiguousarray(layer.layer1x1_bias[:width]),
            ))
        new_arr = dataclasses.replace(
            arr, channels=width, bottleneck=width,
            rechannel_weight=np.ascontiguousarray(arr.rechannel_weight[:width]),
            layers=new_layers,
            head_weight=np.ascontiguousarray(arr.head_weight[:, :width]),
            allowed_widths=None)
        return dataclasses.replace(self, arrays=[new_arr], metadata=dict(self.metadata))

    def parameters(self) -> list:
        """Every weight array in NAM's file order (head_scale excluded)."""
        out = []
        for arr in self.arrays:
            out.append(arr.rechannel_weight)
            for layer in arr.layers:
                out += [layer.conv_weight, layer.conv_bias, layer.mixin_weight]
                if layer.layer1x1_weight is not None:
                    out += [layer.layer1x1_weight, layer.layer1x1_bias]
                if layer.head1x1_weight is not None:
                    out += [layer.head1x1_weight, layer.head1x1_bias]
                for key in FILM_KEYS:
                    if key in layer.films:
                        out += [layer.films[key].weight, layer.films[key].bias]
            out.append(arr.head_weight)
            if arr.head_bias is not None:
                out.append(arr.head_bias)
        return out

    @property
    def num_weights(self) -> int:
        """The length of the file's ``weights`` list (the condition model has its own list)."""
        return sum(p.size for p in self.parameters()) + 1


@dataclass
class LSTMSpec:
    """A stacked LSTM with a linear head; gate order i, f, g, o as in PyTorch."""

    hidden_size: int
    input_size: int
    # per layer: (W (4H, in+H) with columns [input, hidden], b (4H), h0 (H), c0 (H))
    layers: list
    head_weight: np.ndarray  # (H,)
    head_bias: float
    sample_rate: float = 48000.0
    metadata: dict = field(default_factory=dict)
    version: str = "0.5.4"
    sample_rate_known: bool = True

    architecture = "LSTM"
    allowed_widths = None
    slimmable = False

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def receptive_field(self) -> int:
        return 1

    @property
    def prewarm_samples(self) -> int:
        # NAM Core: half a second at the model's rate, a single sample when the rate is unknown.
        return int(0.5 * self.sample_rate) if self.sample_rate_known else 1

    @property
    def prewarm_samples_rounded(self) -> int:
        # NAM Core feeds prewarm in whole blocks of its buffer size; its renders use 64.
        return -(-self.prewarm_samples // PREWARM_BLOCK) * PREWARM_BLOCK

    @property
    def num_weights(self) -> int:
        """The length of the file's ``weights`` list."""
        return sum(w.size + b.size + h0.size + c0.size for w, b, h0, c0 in self.layers) + self.hidden_size + 1

    def macs_per_sample(self, width=None) -> int:
        h = self.hidden_size
        total, n_in = 0, self.input_size
        for _ in self.layers:
            total += 4 * h * (n_in + h)
            n_in = h
        return total + h


@dataclass
class LinearSpec:
    """An FIR filter: ``y[t] = bias + sum_j weights[j] * x[t - j]`` (weights[0] is the newest sample)."""

    weights: np.ndarray  # (receptive_field,)
    bias: float
    sample_rate: float = 48000.0
    metadata: dict = field(default_factory=dict)
    version: str = "0.5.4"
    has_bias: bool = False

    architecture = "Linear"
    allowed_widths = None
    slimmable = False

    @property
    def receptive_field(self) -> int:
        return int(self.weights.size)

    @property
    def num_weights(self) -> int:
        """The length of the file's ``weights`` list."""
        return int(self.weights.size) + int(self.has_bias)

    def macs_per_sample(self, width=None) -> int:
        return int(self.weights.size)


@dataclass
class ContainerSpec:
    """NAM's SlimmableContainer: submodels chosen by a slimming ratio (first with v < max_value)."""

    max_values: list
    submodels: list
    sample_rate: float = 48000.0
    metadata: dict = field(default_factory=dict)
    version: str = "0.7.0"

    architecture = "SlimmableContainer"
    allowed_widths = None
    slimmable = True

    def index_for_ratio(self, ratio: float) -> int:
        ratio = _check_ratio(ratio)
        for index, max_value in enumerate(self.max_values):
            if float(ratio) < max_value:
                return index
        return len(self.submodels) - 1

    @property
    def receptive_field(self) -> int:
        return max(s.receptive_field for s in self.submodels)

    @property
    def num_weights(self) -> int:
        """Weights of all submodels (a container's own list is empty)."""
        return sum(s.num_weights for s in self.submodels)

    def macs_per_sample(self, width=None) -> int:
        return self.submodels[-1].macs_per_sample()


# ---------------------------------------------------------------------------------------------
# Presets: architectures usable without a file (benchmarks, the trainer). Seeded random weights.
# ---------------------------------------------------------------------------------------------

def _uniform(rng, shape, fan_in):
    bound = 1.0 / math.sqrt(max(fan_in, 1))
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


def make_layer_array(rng, *, input_size, channels, head_size, kernel_sizes, dilations, activation=TANH,
                     gating="none", head_bias, head_kernel_size=1, layer1x1=True,
                     allowed_widths=None, condition_size=1) -> LayerArray:
    """A layer array with PyTorch-style uniform random initialisation."""
    c = channels
    g = 1 if gating == "none" else 2
    layers = []
    for k, d in zip(kernel_sizes, dilations):
        layers.append(Layer(
            kernel_size=int(k), dilation=int(d), activation=activation, gating=gating,
            gate_activation=SIGMOID,
            conv_weight=_uniform(rng, (g * c, c, k), c * k),
            conv_bias=_uniform(rng, (g * c,), c * k),
            mixin_weight=_uniform(rng, (g * c, condition_size), condition_size),
            layer1x1_weight=_uniform(rng, (c, c), c) if layer1x1 else None,
            layer1x1_bias=_uniform(rng, (c,), c) if layer1x1 else None,
        ))
    return LayerArray(
        input_size=input_size, condition_size=condition_size, channels=c, bottleneck=c,
        head_size=head_size, head_kernel_size=head_kernel_size,
        rechannel_weight=_uniform(rng, (c, input_size), input_size), layers=layers,
        head_weight=_uniform(rng, (head_size, c, head_kernel_size), c * head_kernel_size),
        head_bias=_uniform(rng, (head_size,), c) if head_bias else None,
        allowed_widths=tuple(allowed_widths) if allowed_widths else None)


def _two_array(rng, c0, c1, dil0, dil1, name):
    a0 = make_layer_array(rng, input_size=1, channels=c0, head_size=c1, kernel_sizes=[3] * len(dil0),
                          dilations=dil0, head_bias=False)
    a1 = make_layer_array(rng, input_size=c0, channels=c1, head_size=1, kernel_sizes=[3] * len(dil1),
                          dilations=dil1, head_bias=True)
    return WaveNetSpec(arrays=[a0, a1], head_scale=0.02, metadata={"name": name}, legacy_keys=True,
                       version="0.5.4")


_POW2 = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
_LITE0 = [1, 2, 4, 8, 16, 32, 64]
_LITE1 = [128, 256, 512] + _POW2
_A2_DILATIONS = [1, 3, 7, 17, 41, 101, 239] * 2 + [1, 13] + [1, 3, 7, 17, 41, 101, 239]
_A2_KERNELS = [6] * 14 + [15, 15] + [6] * 7


def _a2(rng, channels, name):
    arr = make_layer_array(rng, input_size=1, channels=channels, head_size=1, kernel_sizes=_A2_KERNELS,
                           dilations=_A2_DILATIONS, activation=Activation("LeakyReLU", 0.01),
                           head_bias=True, head_kernel_size=16)
    return WaveNetSpec(arrays=[arr], head_scale=0.01, metadata={"name": name})


def _paper(rng, name="slimmable-paper", allowed=tuple(range(1, 9))):
    arr = make_layer_array(rng, input_size=1, channels=8, head_size=1, kernel_sizes=[6] * 15,
                           dilations=[1, 4, 16, 64, 256] * 3, head_bias=True,
                           allowed_widths=allowed)
    return WaveNetSpec(arrays=[arr], head_scale=0.01, metadata={"name": name})


def _slimmable_a1(rng, name="slimmable-a1"):
    # A1 standard's cost in one slimmable array (NAM's ``slimmable`` key slices a single layer
    # array, so A1's two arrays cannot slim): 16 channels, K=4, dilations 1..512, widths 1..16;
    # 12,992 MACs per sample at full width (A1 standard: 13,320), receptive field 3,070.
    arr = make_layer_array(rng, input_size=1, channels=16, head_size=1, kernel_sizes=[4] * 10,
                           dilations=_POW2, head_bias=True, allowed_widths=range(1, 17))
    return WaveNetSpec(arrays=[arr], head_scale=0.02, metadata={"name": name})


PRESETS = {
    "a1-standard": lambda rng: _two_array(rng, 16, 8, _POW2, _POW2, "a1-standard"),
    "a1-lite": lambda rng: _two_array(rng, 12, 6, _LITE0, _LITE1, "a1-lite"),
    "a1-feather": lambda rng: _two_array(rng, 8, 4, _LITE0, _LITE1, "a1-feather"),
    "a1-nano": lambda rng: _two_array(rng, 4, 2, _LITE0, _LITE1, "a1-nano"),
    # The paper's nano baseline: dilations 1..512 in both arrays.
    "a1-nano-paper": lambda rng: _two_array(rng, 4, 2, _POW2, _POW2, "a1-nano-paper"),
    "slimmable-paper": lambda rng: _paper(rng),
    # The same architecture, not slimmable ("new (full)" in the paper).
    "paper-full": lambda rng: _paper(rng, "paper-full", None),
    "a2-lite": lambda rng: _a2(rng, 3, "a2-lite"),
    "a2-full": lambda rng: _a2(rng, 8, "a2-full"),
    # the distillation student for teachers as costly as A1 standard (nam-dsp slim)
    "slimmable-a1": lambda rng: _slimmable_a1(rng),
}


def preset(name: str, seed: int = 0) -> WaveNetSpec:
    """A named architecture with seeded random weights (``numpy.random.default_rng(seed)``).

    Names: ``a1-standard``, ``a1-lite``, ``a1-feather``, ``a1-nano``, ``a1-nano-paper``,
    ``slimmable-paper`` (1 array, 8 ch, K=6, dilations [1,4,16,64,256]x3, widths 1..8),
    ``paper-full``, ``a2-lite``, ``a2-full``, ``slimmable-a1`` (1 array, 16 ch, K=4, dilations
    1..512, widths 1..16: A1 standard's cost, slimmable).
    """
    if name not in PRESETS:
        raise KeyError(f"unknown architecture {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name](np.random.default_rng(seed))
