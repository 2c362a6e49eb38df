"""``.nam`` files -> specs: parse and validate (writing is :mod:`nam_dsp.nam_writer`'s job).

Everything here is pure data handling: a ``.nam`` file is JSON and is only ever read with
:func:`json.loads`; nothing in it is executed. Every problem raises :class:`NamFileError` naming the
file, the JSON field and what was expected (each value is read through a
:class:`~nam_dsp.json_node.JsonNode`, which carries its path). Sizes are checked against hard
limits *before* any array is allocated, so a file claiming absurd channel counts or dilations fails
fast. One small parser per block of the format: activations, the parts of a layer array (layer
shapes, gating, layer 1x1, head 1x1, FiLM, head, slimming), WaveNet, LSTM, Linear, container.
"""

from __future__ import annotations

import json
import os
from typing import Optional

import numpy as np

from .errors import NamFileError
from .json_node import JsonNode, describe_value
from .nam_writer import can_write_legacy
from .spec import (ACTIVATIONS, FILM_KEYS, GATING_MODES, SIGMOID, Activation, ContainerSpec, FiLM, Layer,
                   LayerArray, LinearSpec, LSTMSpec, WaveNetSpec)

SUPPORTED_VERSIONS = ((0, 5), (0, 6), (0, 7))

# Hard limits that keep a hostile or broken file from exhausting memory. Real models are far
# below them (the largest shared capture has 24 channels and a 4,093-sample receptive field).
MAX_CHANNELS = 512
MAX_KERNEL = 256
MAX_DILATION = 1 << 16
MAX_LAYERS = 512
MAX_RECEPTIVE_FIELD = 1 << 20
MAX_LSTM_HIDDEN = 1024
MAX_LSTM_LAYERS = 16
MAX_WEIGHTS = 50_000_000
MAX_STATE_FLOATS = 1 << 28  # 1 GiB of float32 history in the engine
MAX_CONTAINER_DEPTH = 4
MAX_BOUND = 1e6
MAX_SLOPE = 1e3  # activation slopes in real models are ~0.01; beyond this a model overflows


# ---------------------------------------------------------------------------------------------
# Fields every model has
# ---------------------------------------------------------------------------------------------

def _parse_version(model: JsonNode) -> str:
    node = model["version"]
    version = node.string()
    parts = version.split(".")
    try:
        major, minor = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        node.fail(f"expected a version like '0.5.4', got {version!r}")
    if (major, minor) not in SUPPORTED_VERSIONS:
        node.unsupported(f"file format version {version} is not supported (this engine reads 0.5.x to 0.7.x)")
    return version


def _sample_rate(model: JsonNode):
    """``(rate, known)``: files without a rate are assumed to be at 48 kHz."""
    node = model["sample_rate"]
    if not node.given:
        return 48000.0, False
    rate = node.number()
    if not (1000.0 <= rate <= 768000.0):
        node.fail(f"expected a sample rate in Hz between 1000 and 768000, got {rate}")
    return rate, True


def _metadata(model: JsonNode) -> dict:
    node = model["metadata"]
    return dict(node.object().value) if node.given else {}


def _parse_weights(node: JsonNode, expected: int) -> np.ndarray:
    """Check the count first (before converting a possibly huge list), then types and finiteness."""
    values = node.array()
    if len(values) != expected:
        node.fail(f"the config needs {expected} weights, the file has {len(values)}")
    if expected == 0:
        return np.zeros(0, dtype=np.float64)
    # Only JSON numbers: numpy would also turn "1.5" and true into floats.
    for i, v in enumerate(values):
        if type(v) is not float and (type(v) is not int or not -(1 << 128) < v < (1 << 128)):
            if isinstance(v, int) and not isinstance(v, bool):
                node[i].fail(f"weights must be finite float32 values, got an integer of {len(str(v))} digits")
            node[i].fail(f"expected a number, got {describe_value(v)}")
    arr = np.array(values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(arr) | (np.abs(arr) > 3.4e38))
    if bad.size:
        node[int(bad[0])].fail(f"weights must be finite float32 values, got {values[int(bad[0])]!r}")
    return arr


class _Weights:
    """Consumes a flat weight vector in NAM's fixed order (its length was checked already)."""

    def __init__(self, values: np.ndarray):
        self.values, self.pos = values, 0

    def take(self, shape) -> np.ndarray:
        n = int(np.prod(shape))
        out = self.values[self.pos:self.pos + n]
        self.pos += n
        return np.ascontiguousarray(out.reshape(shape), dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------------

def _parse_activation(node: JsonNode) -> Activation:
    """A name (``"Tanh"``) or an object (``{"type": "LeakyReLU", "negative_slope": 0.01}``)."""
    value = node.required()
    if isinstance(value, str):
        name = value
    elif isinstance(value, dict):
        name = node["type"].string()
    else:
        node.fail(f"expected an activation name or object, got {describe_value(value)}")
    if name not in ACTIVATIONS:
        node.unsupported(f"unknown activation {name!r}; supported: {', '.join(sorted(ACTIVATIONS))}")
    # Parameters of a plain name read as missing, so they take their defaults.
    if name == "LeakyReLU":
        return Activation(name, _slope(node["negative_slope"].or_default(0.01)))
    if name in ("LeakyHardtanh", "LeakyHardTanh"):
        return _leaky_hardtanh(node, name)
    if name == "PReLU":
        return _prelu(node)
    if name == "Softsign" and node["alpha"].or_default(1.0).value != 1.0:
        node["alpha"].unsupported("Softsign with alpha != 1 is not supported")
    # Hardtanh: NAM Core always clamps to [-1, 1] and ignores min_val / max_val; so do we.
    return Activation(name)


def _leaky_hardtanh(node: JsonNode, name: str) -> Activation:
    # NAM Core: x < min_val -> min_val + min_slope (x - min_val); x > max_val likewise.
    lo = _bound(node["min_val"].or_default(-1.0))
    hi = _bound(node["max_val"].or_default(1.0))
    if lo > hi:
        node["max_val"].fail(f"expected max_val >= min_val ({lo!r}), got {hi!r}")
    param = _slope(node["min_slope"].or_default(node["negative_slope"].or_default(0.01).value))
    max_slope = _slope(node["max_slope"].or_default(param))
    return Activation(name, param, min_val=lo, max_val=hi, max_slope=None if max_slope == param else max_slope)


def _prelu(node: JsonNode) -> Activation:
    slopes = node["negative_slopes"]
    if not slopes.given:
        return Activation("PReLU", slopes=(_slope(node["negative_slope"].or_default(0.01)),))
    items = slopes.items()
    if not 1 <= len(items) <= MAX_CHANNELS:
        slopes.fail(f"expected 1 to {MAX_CHANNELS} slopes, got {len(items)}")
    return Activation("PReLU", slopes=tuple(_slope(v) for v in items))


def _bound(node: JsonNode) -> float:
    v = node.number()
    if abs(v) > MAX_BOUND:
        node.fail(f"expected a value with magnitude <= {MAX_BOUND:g}, got {v!r}")
    return v


def _slope(node: JsonNode) -> float:
    slope = node.number()
    if abs(slope) > MAX_SLOPE:
        node.fail(f"expected a slope with magnitude <= {MAX_SLOPE:g}, got {slope!r}")
    return slope


def _check_slopes(node: JsonNode, act: Activation, rows: int):
    n = len(act.slopes)
    if n not in (1, rows):
        node["negative_slopes"].fail(f"expected 1 or {rows} (the bottleneck) slopes, got {n}")


def _gate_activation(node: JsonNode) -> Activation:
    return SIGMOID if not node.present or node.value in (None, "") else _parse_activation(node)


def _gating_mode(node: JsonNode) -> str:
    mode = node.string()
    if mode not in GATING_MODES:
        node.unsupported(f"unknown gating mode {mode!r}; expected one of {GATING_MODES}")
    return mode


def _per_layer(node: JsonNode, n: int, parse) -> list:
    """A value given once for every layer, or as a list of one per layer."""
    if isinstance(node.value, list):
        return [parse(item) for item in node.items(n)]
    return [parse(node)] * n


# ---------------------------------------------------------------------------------------------
# The parts of one layer array
# ---------------------------------------------------------------------------------------------

def _layer_shapes(la: JsonNode):
    """``(dilations, kernel_sizes)``, one per layer; ``kernel_sizes`` (0.7) or ``kernel_size``."""
    dilations = [d.integer(1, MAX_DILATION) for d in la["dilations"].items()]
    n = len(dilations)
    if n == 0 or n > MAX_LAYERS:
        la["dilations"].fail(f"expected 1 to {MAX_LAYERS} layers, got {n}")
    if la["kernel_sizes"].given:
        kernel_sizes = [k.integer(1, MAX_KERNEL) for k in la["kernel_sizes"].items(n)]
    else:
        kernel_sizes = [la["kernel_size"].integer(1, MAX_KERNEL)] * n
    return dilations, kernel_sizes


def _gating(la: JsonNode, n: int) -> list:
    """Legacy boolean ``gated``, or 0.7's ``gating_mode`` (one string or one per layer)."""
    if la["gating_mode"].given:
        return _per_layer(la["gating_mode"], n, _gating_mode)
    gated = la["gated"].or_default(False).boolean()
    return ["gated" if gated else "none"] * n


def _layer1x1(la: JsonNode, bottleneck: int, channels: int):
    """``(active, groups)`` of the layer 1x1 (always active in legacy files)."""
    node = la["layer1x1"]
    active, groups = True, 1
    if node.given:
        node.object()
        active = node["active"].or_default(True).boolean()
        groups = node["groups"].or_default(1).integer(1, MAX_CHANNELS)
    if active:
        _check_groups(node["groups"], groups, bottleneck=bottleneck, channels=channels)
    elif bottleneck != channels:
        la["bottleneck"].fail(f"with the layer 1x1 inactive the bottleneck ({bottleneck}) must equal "
                              f"channels ({channels})")
    return active, groups


def _input_groups(la: JsonNode) -> dict:
    groups = {key: la[key].integer(1, MAX_CHANNELS) if la[key].given else 1
              for key in ("groups_input", "groups_input_mixin")}
    if la["groups"].given and la["groups"].integer(1) != 1:
        la["groups"].unsupported("a 'groups' key is not part of NAM's format (expected groups_input)")
    return groups


def _head1x1(la: JsonNode, bottleneck: int):
    """``(out_channels, groups)`` when the head 1x1 is active, else None."""
    node = la["head1x1"]
    if not node.given:
        return None
    node.object()
    if not node["active"].or_default(False).boolean():
        return None
    out = node["out_channels"].integer(1, MAX_CHANNELS)
    groups = node["groups"].or_default(1).integer(1, MAX_CHANNELS)
    _check_groups(node["groups"], groups, bottleneck=bottleneck, out_channels=out)
    return out, groups


def _film(node: JsonNode):
    """NAM Core's FiLM switch: absent, null or false = off; else an object with ``active``
    (default true), ``shift`` (default true), ``groups`` (default 1). Returns (shift, groups) or None."""
    if not node.given or node.value is False:
        return None
    node.object()
    if not node["active"].or_default(True).boolean():
        return None
    shift = node["shift"].or_default(True).boolean()
    groups = node["groups"].or_default(1).integer(1, MAX_CHANNELS)
    return shift, groups


def _films(la: JsonNode, layer1x1: bool, head1x1) -> dict:
    """The active FiLM sites: name -> (shift, groups)."""
    films = {}
    for key in FILM_KEYS:
        film = _film(la[key])
        if film is not None:
            films[key] = film
    if "layer1x1_post_film" in films and not layer1x1:
        la["layer1x1_post_film"].fail("cannot be active when layer1x1.active is false")
    if "head1x1_post_film" in films and head1x1 is None:
        la["head1x1_post_film"].fail("cannot be active when head1x1.active is false")
    return films


def _check_prelu(la: JsonNode, gating: list, activations: list, gate_activations: list, bottleneck: int):
    for j, (mode, act, gate) in enumerate(zip(gating, activations, gate_activations)):
        act_node = la["activation"][j] if isinstance(la["activation"].value, list) else la["activation"]
        if act.name == "PReLU":
            if mode == "none":
                # NAM Core applies a layer's activation to a block view there, which PReLU
                # (a per-channel matrix activation) does not implement: its output is
                # version dependent, so refuse rather than guess.
                act_node.unsupported("PReLU is supported only in gated or blended layers")
            _check_slopes(act_node, act, bottleneck)
        if mode != "none" and gate.name == "PReLU":
            _check_slopes(la["secondary_activation"], gate, bottleneck)


def _head(la: JsonNode):
    """``(out_channels, kernel_size, bias)``: 0.7's ``head`` object, or legacy ``head_size``."""
    head = la["head"]
    if head.given:
        head.object()
        return (head["out_channels"].integer(1, MAX_CHANNELS), head["kernel_size"].or_default(1).integer(1, MAX_KERNEL),
                head["bias"].or_default(False).boolean())
    return la["head_size"].integer(1, MAX_CHANNELS), 1, la["head_bias"].boolean()


def _allowed_widths(la: JsonNode, channels: int):
    """The widths of a ``slimmable`` array (default 1..channels), or None."""
    slim = la["slimmable"]
    if not slim.given:
        return None
    slim.object()
    method = slim["method"].or_default(None).value
    if method != "slice_channels_uniform":
        slim["method"].unsupported(f"slimming method {method!r} is not supported (only 'slice_channels_uniform')")
    allowed = slim["kwargs"].or_default({}).object()["allowed_channels"]
    if not allowed.given:
        return tuple(range(1, channels + 1))
    widths = [w.integer(1, channels) for w in allowed.items()]
    if not widths or sorted(set(widths)) != widths:
        allowed.fail(f"expected a non-empty strictly increasing list of widths in 1..{channels}, got {allowed.value}")
    return tuple(widths)


def _check_groups(node: JsonNode, groups: int, **sizes):
    for what, n in sizes.items():
        if n % groups:
            node.fail(f"groups={groups} must divide {what.replace('_', ' ')} ({n})")


class _ArrayConfig:
    """The validated shape of one layer array (no weights yet)."""

    def __init__(self, la: JsonNode):
        self.node = la.object()
        self.input_size = la["input_size"].integer(1, MAX_CHANNELS)
        self.condition_size = la["condition_size"].or_default(1).integer(1, MAX_CHANNELS)
        self.channels = c = la["channels"].integer(1, MAX_CHANNELS)
        self.dilations, self.kernel_sizes = _layer_shapes(la)
        n = len(self.dilations)
        self.activations = _per_layer(la["activation"], n, _parse_activation)
        self.gating = _gating(la, n)
        self.gate_activations = _per_layer(la["secondary_activation"], n, _gate_activation)
        self.bottleneck = b = la["bottleneck"].or_default(c).integer(1, MAX_CHANNELS)
        self.layer1x1, self.layer1x1_groups = _layer1x1(la, b, c)
        self.groups = _input_groups(la)
        self.head1x1 = _head1x1(la, b)  # (out_channels, groups) when active
        self.films = _films(la, self.layer1x1, self.head1x1)
        _check_prelu(la, self.gating, self.activations, self.gate_activations, b)
        self.head_input = self.head1x1[0] if self.head1x1 is not None else b
        self.head_size, self.head_kernel, self.head_bias = _head(la)
        self.allowed_widths = _allowed_widths(la, c)

    @property
    def lookback(self) -> int:
        return sum((k - 1) * d for k, d in zip(self.kernel_sizes, self.dilations)) + self.head_kernel - 1

    def _film_rows(self, gating: str) -> dict:
        """The rows each FiLM site modulates."""
        gb = (1 if gating == "none" else 2) * self.bottleneck
        return {"conv_pre_film": self.channels, "conv_post_film": gb, "input_mixin_pre_film": self.condition_size,
                "input_mixin_post_film": gb, "activation_pre_film": gb, "activation_post_film": self.bottleneck,
                "layer1x1_post_film": self.channels,
                "head1x1_post_film": self.head1x1[0] if self.head1x1 is not None else 0}

    def check_groups(self):
        """Every grouped conv's channel counts must divide by its groups (NAM Core refuses otherwise)."""
        c, b, n_cond, la = self.channels, self.bottleneck, self.condition_size, self.node
        for gating in sorted(set(self.gating)):
            gb = (1 if gating == "none" else 2) * b
            _check_groups(la["groups_input"], self.groups["groups_input"], channels=c, conv_outputs=gb)
            _check_groups(la["groups_input_mixin"], self.groups["groups_input_mixin"],
                          condition_size=n_cond, conv_outputs=gb)
            rows = self._film_rows(gating)
            for key, (shift, groups) in self.films.items():
                _check_groups(la[key]["groups"], groups, condition_size=n_cond,
                              film_outputs=(2 if shift else 1) * rows[key])

    def weight_count(self) -> int:
        c, b, n_in = self.channels, self.bottleneck, self.input_size
        gi, gm = self.groups["groups_input"], self.groups["groups_input_mixin"]
        total = c * n_in
        for k, gating in zip(self.kernel_sizes, self.gating):
            g = 1 if gating == "none" else 2
            total += g * b * (c // gi) * k + g * b + g * b * (self.condition_size // gm)
            if self.layer1x1:
                total += c * (b // self.layer1x1_groups) + c
            if self.head1x1 is not None:
                out, groups = self.head1x1
                total += out * (b // groups) + out
            rows = self._film_rows(gating)
            for key, (shift, groups) in self.films.items():
                n_out = (2 if shift else 1) * rows[key]
                total += n_out * (self.condition_size // groups) + n_out
        total += self.head_size * self.head_input * self.head_kernel + (self.head_size if self.head_bias else 0)
        return total

    def state_floats(self, chunk=4096) -> int:
        return sum(self.channels * (2 * (k - 1) * d + chunk) for k, d in zip(self.kernel_sizes, self.dilations))

    def build(self, w: _Weights) -> LayerArray:
        c, b = self.channels, self.bottleneck
        gi, gm = self.groups["groups_input"], self.groups["groups_input_mixin"]
        rechannel = w.take((c, self.input_size))
        layers = []
        for j, (k, d) in enumerate(zip(self.kernel_sizes, self.dilations)):
            g = 1 if self.gating[j] == "none" else 2
            conv_w = w.take((g * b, c // gi, k))
            conv_b = w.take((g * b,))
            mixin = w.take((g * b, self.condition_size // gm))
            l1w = w.take((c, b // self.layer1x1_groups)) if self.layer1x1 else None
            l1b = w.take((c,)) if self.layer1x1 else None
            h1w = h1b = None
            if self.head1x1 is not None:
                out, groups = self.head1x1
                h1w, h1b = w.take((out, b // groups)), w.take((out,))
            films = {}
            rows = self._film_rows(self.gating[j])
            for key in FILM_KEYS:
                if key in self.films:
                    shift, groups = self.films[key]
                    n_out = (2 if shift else 1) * rows[key]
                    films[key] = FiLM(shift=shift, groups=groups, weight=w.take((n_out, self.condition_size // groups)),
                                      bias=w.take((n_out,)))
            layers.append(Layer(kernel_size=k, dilation=d, activation=self.activations[j], gating=self.gating[j],
                                gate_activation=self.gate_activations[j], conv_weight=conv_w, conv_bias=conv_b,
                                mixin_weight=mixin, layer1x1_weight=l1w, layer1x1_bias=l1b,
                                groups_input=gi, groups_mixin=gm, layer1x1_groups=self.layer1x1_groups,
                                head1x1_weight=h1w, head1x1_bias=h1b,
                                head1x1_groups=self.head1x1[1] if self.head1x1 is not None else 1, films=films))
        head_w = w.take((self.head_size, self.head_input, self.head_kernel))
        head_b = w.take((self.head_size,)) if self.head_bias else None
        return LayerArray(input_size=self.input_size, condition_size=self.condition_size, channels=c,
                          bottleneck=b, head_size=self.head_size, head_kernel_size=self.head_kernel,
                          rechannel_weight=rechannel, layers=layers, head_weight=head_w, head_bias=head_b,
                          allowed_widths=self.allowed_widths)




# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------

def _parse_condition_dsp(model: JsonNode, config: JsonNode, depth: int) -> WaveNetSpec:
    """The WaveNet that turns the input into the condition of every layer (0.7's ``condition_dsp``)."""
    cd = config["condition_dsp"].object()
    if depth >= 1:
        cd.unsupported("a condition_dsp inside a condition_dsp is not supported")
    _parse_version(cd)
    arch = cd["architecture"].string()
    if arch != "WaveNet":
        cd["architecture"].unsupported(f"only a WaveNet condition_dsp is supported, got {arch!r}")
    layers = cd["config"].object()["layers"]
    last = layers[len(layers.array()) - 1]
    raw = last.object().value if last.present else {}
    head = raw.get("head")
    n_out = head.get("out_channels") if isinstance(head, dict) else raw.get("head_size")
    n_out = last["head_size"].substitute(n_out).integer(1, MAX_CHANNELS)
    condition = _parse_wavenet(cd, depth + 1, outputs=n_out)
    if condition.sample_rate != _sample_rate(model)[0]:
        cd["sample_rate"].fail("the condition model must run at the model's rate")
    return condition


def _check_array_chain(layers: JsonNode, arrays: list, outputs: int):
    """Each array reads the previous one's residual stream and continues its head stream."""
    for i in range(1, len(arrays)):
        prev, cur = arrays[i - 1], arrays[i]
        if cur.input_size != prev.channels:
            layers[i]["input_size"].fail(f"expected {prev.channels} (the previous array's channels), "
                                         f"got {cur.input_size}")
        if prev.head_size != cur.channels:
            layers[i - 1]["head_size"].fail(f"expected {cur.channels} (the next array's channels), "
                                            f"got {prev.head_size}")
        if prev.head_size != cur.head_input:
            # The previous head output seeds this array's head accumulator (head1x1 outputs, or
            # the bottleneck, rows).
            layers[i - 1]["head_size"].fail(f"expected {cur.head_input} (the next array's head accumulator "
                                            f"rows), got {prev.head_size}")
    if arrays[0].input_size != 1:
        layers[0]["input_size"].unsupported(f"only 1 input channel is supported, got {arrays[0].input_size}")
    if arrays[-1].head_size != outputs:
        layers[len(arrays) - 1]["head_size"].unsupported(f"expected {outputs} output channel(s), "
                                                         f"got {arrays[-1].head_size}")


def _check_conditions(layers: JsonNode, arrays: list, condition: Optional[WaveNetSpec]):
    cond_channels = 1 if condition is None else condition.output_channels
    for i, a in enumerate(arrays):
        if a.condition_size != cond_channels:
            what = "the condition_dsp's output channels" if condition is not None else "the raw input"
            layers[i]["condition_size"].unsupported(f"expected {cond_channels} ({what}), got {a.condition_size}")
        a.check_groups()
    if any(a.allowed_widths is not None for a in arrays) and len(arrays) != 1:
        layers.unsupported("slimmable WaveNets with more than one layer array are not supported")


def _check_size_limits(layers: JsonNode, arrays: list, condition: Optional[WaveNetSpec]) -> int:
    """Refuse what would be too big to run; return the weight count the config implies."""
    rf = 1 + sum(a.lookback for a in arrays) + (0 if condition is None else condition.receptive_field - 1)
    if rf > MAX_RECEPTIVE_FIELD:
        layers.fail(f"receptive field {rf} exceeds the limit of {MAX_RECEPTIVE_FIELD} samples")
    if sum(a.state_floats() for a in arrays) > MAX_STATE_FLOATS:
        layers.fail("channels x dilations would need more than 1 GiB of history")
    expected = sum(a.weight_count() for a in arrays) + 1  # + head_scale
    if expected > MAX_WEIGHTS:
        layers.fail(f"the config implies {expected} weights, above the limit {MAX_WEIGHTS}")
    return expected


def _parse_wavenet(model: JsonNode, depth: int = 0, outputs: int = 1) -> WaveNetSpec:
    """``outputs``: the output channels expected (1 for a model, the mixin width for a condition model)."""
    config = model["config"].object()
    condition = _parse_condition_dsp(model, config, depth) if config["condition_dsp"].given else None
    if config["head"].given:
        config["head"].unsupported("a top-level WaveNet head is not supported (expected null)")
    layers = config["layers"]
    if not 1 <= len(layers.array()) <= 16:
        layers.fail(f"expected 1 to 16 layer arrays, got {len(layers.value)}")
    arrays = [_ArrayConfig(la) for la in layers.items()]
    _check_array_chain(layers, arrays, outputs)
    _check_conditions(layers, arrays, condition)
    expected = _check_size_limits(layers, arrays, condition)
    values = _parse_weights(model["weights"], expected)
    w = _Weights(values)
    built = [a.build(w) for a in arrays]
    head_scale = float(np.float32(values[-1]))  # the engine runs in float32; saves round-trip
    if config["head_scale"].present:
        config["head_scale"].number()
    rate, _ = _sample_rate(model)
    legacy = all(not a.node["head"].given and not a.node["kernel_sizes"].present for a in arrays)
    spec = WaveNetSpec(arrays=built, head_scale=head_scale, sample_rate=rate, metadata=_metadata(model),
                       version=_parse_version(model), legacy_keys=legacy, condition=condition)
    # A file spelled in the legacy keys but using features only the 0.7 form can express (a 0.6
    # file with FiLM, say) is saved in the 0.7 form: say so here, so a save round-trips exactly.
    spec.legacy_keys = legacy and can_write_legacy(spec)
    return spec


def _parse_lstm(model: JsonNode) -> LSTMSpec:
    config = model["config"].object()
    n_in = config["input_size"].or_default(1).integer(1, 1)
    h = config["hidden_size"].integer(1, MAX_LSTM_HIDDEN)
    n_layers = config["num_layers"].integer(1, MAX_LSTM_LAYERS)
    expected, inputs = 0, n_in
    for _ in range(n_layers):
        expected += 4 * h * (inputs + h) + 4 * h + 2 * h
        inputs = h
    expected += h + 1
    w = _Weights(_parse_weights(model["weights"], expected))
    layers, inputs = [], n_in
    for _ in range(n_layers):
        layers.append((w.take((4 * h, inputs + h)), w.take((4 * h,)), w.take((h,)), w.take((h,))))
        inputs = h
    head_w = w.take((h,))
    head_b = float(w.take((1,))[0])
    rate, known = _sample_rate(model)
    return LSTMSpec(hidden_size=h, input_size=n_in, layers=layers, head_weight=head_w, head_bias=head_b,
                    sample_rate=rate, metadata=_metadata(model), version=_parse_version(model),
                    sample_rate_known=known)


def _parse_linear(model: JsonNode) -> LinearSpec:
    config = model["config"].object()
    n = config["receptive_field"].integer(1, MAX_RECEPTIVE_FIELD)
    has_bias = config["bias"].or_default(False).boolean()
    values = _parse_weights(model["weights"], n + int(has_bias))
    taps = np.ascontiguousarray(values[:n], dtype=np.float32)
    rate, _ = _sample_rate(model)
    return LinearSpec(weights=taps, bias=float(values[n]) if has_bias else 0.0, sample_rate=rate,
                      metadata=_metadata(model), version=_parse_version(model), has_bias=has_bias)


def _parse_container(model: JsonNode, depth: int) -> ContainerSpec:
    submodels = model["config"].object()["submodels"]
    subs = submodels.items()
    if not subs:
        submodels.fail("expected at least one submodel")
    if model["weights"].or_default([]).value not in (None, []):
        model["weights"].fail("a SlimmableContainer keeps its weights in its submodels; expected []")
    max_values, models = [], []
    for sub in subs:
        sub.object()
        mv = sub["max_value"].number()
        if max_values and mv <= max_values[-1]:
            sub["max_value"].fail(f"submodels must be sorted by increasing max_value; got {mv} after {max_values[-1]}")
        max_values.append(mv)
        models.append(_parse_model(sub["model"], depth + 1))
    if max_values[-1] < 1.0:
        subs[-1]["max_value"].fail(f"the last max_value must be >= 1.0, got {max_values[-1]}")
    rate, known = _sample_rate(model)
    for sub, m in zip(subs, models):
        if m.sample_rate != rate and known:
            sub["model"]["sample_rate"].fail(f"submodel rate {m.sample_rate} differs from the container's {rate}")
    return ContainerSpec(max_values=max_values, submodels=models, sample_rate=rate,
                         metadata=_metadata(model), version=_parse_version(model))


_PARSERS = {"WaveNet": _parse_wavenet, "LSTM": _parse_lstm, "Linear": _parse_linear}


def _parse_model(model: JsonNode, depth: int = 0):
    model.object()
    if depth > MAX_CONTAINER_DEPTH:
        model.fail(f"containers nested deeper than {MAX_CONTAINER_DEPTH} levels")
    _parse_version(model)
    arch = model["architecture"].string()
    if arch == "SlimmableContainer":
        return _parse_container(model, depth)
    if arch in _PARSERS:
        return _PARSERS[arch](model)
    if arch == "ConvNet":
        model["architecture"].unsupported("the ConvNet architecture is not supported by this engine")
    model["architecture"].unsupported(
        f"unknown architecture {arch!r}; expected WaveNet, LSTM, Linear or SlimmableContainer")


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------

def from_dict(d, path: Optional[str] = None):
    """Validate a parsed ``.nam`` JSON object and return its spec."""
    return _parse_model(JsonNode(d, path))


def loads(text, path: Optional[str] = None):
    """Parse ``.nam`` JSON text (str or bytes) into a spec."""
    try:
        if isinstance(text, bytes):
            # utf-8-sig: a byte-order mark is skipped, as NAM Core's JSON parser does.
            text = text.decode("utf-8-sig")
        elif text.startswith("\ufeff"):
            text = text[1:]
        d = json.loads(text, parse_constant=lambda name: float(name))
    except UnicodeDecodeError as exc:
        raise NamFileError(path, "<file>", f"not UTF-8 text: {exc}") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise NamFileError(path, "<file>", f"not valid JSON: {exc}") from None
    return from_dict(d, path)


def load_spec(path):
    """Read and validate a ``.nam`` file; raise :class:`NamFileError` on any problem."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            text = fh.read()
    except OSError as exc:
        raise NamFileError(path, "<file>", f"cannot read the file: {exc.strerror or exc}") from None
    return loads(text, path)
