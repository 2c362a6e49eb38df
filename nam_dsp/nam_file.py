"""``.nam`` files <-> specs: parse, validate, save.

Everything here is pure data handling: a ``.nam`` file is JSON and is only ever read with
:func:`json.loads`; nothing in it is executed. Every problem raises :class:`NamFileError` naming the
file, the JSON field and what was expected. Sizes are checked against hard limits *before* any
array is allocated, so a file claiming absurd channel counts or dilations fails fast.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Any, Optional

import numpy as np

from .errors import NamFileError, UnsupportedFeatureError
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


class _Reader:
    """Typed access to a JSON object with the file name and JSON path in every error."""

    def __init__(self, path):
        self.path = path

    def fail(self, field: str, problem: str):
        raise NamFileError(self.path, field, problem)

    def unsupported(self, field: str, problem: str):
        raise UnsupportedFeatureError(self.path, field, problem)

    def obj(self, value, field) -> dict:
        if not isinstance(value, dict):
            self.fail(field, f"expected a JSON object, got {_kind(value)}")
        return value

    def key(self, obj: dict, key: str, field: str, default=KeyError):
        if key not in obj:
            if default is KeyError:
                self.fail(f"{field}.{key}" if field else key, "required key is missing")
            return default
        return obj[key]

    def int_(self, value, field, lo=None, hi=None) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(field, f"expected an integer, got {_kind(value)}")
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            self.fail(field, f"expected an integer, got {value!r}")
        value = int(value)
        if lo is not None and value < lo:
            self.fail(field, f"expected an integer >= {lo}, got {value}")
        if hi is not None and value > hi:
            self.fail(field, f"expected an integer <= {hi}, got {value}")
        return value

    def float_(self, value, field) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(field, f"expected a number, got {_kind(value)}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            self.fail(field, f"expected a finite number, got {_kind(value)}")
        return number

    def bool_(self, value, field) -> bool:
        if not isinstance(value, bool):
            self.fail(field, f"expected true or false, got {_kind(value)}")
        return value

    def list_(self, value, field, length=None) -> list:
        if not isinstance(value, list):
            self.fail(field, f"expected a list, got {_kind(value)}")
        if length is not None and len(value) != length:
            self.fail(field, f"expected a list of {length} items, got {len(value)}")
        return value

    def str_(self, value, field) -> str:
        if not isinstance(value, str):
            self.fail(field, f"expected a string, got {_kind(value)}")
        return value


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class _Weights:
    """Consumes a flat weight vector in NAM's fixed order; shortfalls and leftovers are errors."""

    def __init__(self, reader: _Reader, values: np.ndarray, field: str):
        self.reader, self.values, self.field, self.pos = reader, values, field, 0

    def take(self, shape) -> np.ndarray:
        n = int(np.prod(shape))
        out = self.values[self.pos:self.pos + n]
        self.pos += n
        return np.ascontiguousarray(out.reshape(shape), dtype=np.float32)


def _parse_weights(r: _Reader, raw, field: str, expected: int) -> np.ndarray:
    """Check the count first (before converting a possibly huge list), then types and finiteness."""
    values = r.list_(raw, field)
    if len(values) != expected:
        r.fail(field, f"the config needs {expected} weights, the file has {len(values)}")
    if expected == 0:
        return np.zeros(0, dtype=np.float64)
    # Only JSON numbers: numpy would also turn "1.5" and true into floats.
    for i, v in enumerate(values):
        if type(v) is not float and (type(v) is not int or not -(1 << 128) < v < (1 << 128)):
            if isinstance(v, int) and not isinstance(v, bool):
                r.fail(f"{field}[{i}]", f"weights must be finite float32 values, got an integer of {len(str(v))} digits")
            r.fail(f"{field}[{i}]", f"expected a number, got {_kind(v)}")
    arr = np.array(values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(arr) | (np.abs(arr) > 3.4e38))
    if bad.size:
        r.fail(f"{field}[{int(bad[0])}]", f"weights must be finite float32 values, got {values[int(bad[0])]!r}")
    return arr


def _parse_version(r: _Reader, d: dict, field: str) -> str:
    version = r.str_(r.key(d, "version", field), _f(field, "version"))
    parts = version.split(".")
    try:
        major, minor = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        r.fail(_f(field, "version"), f"expected a version like '0.5.4', got {version!r}")
    if (major, minor) not in SUPPORTED_VERSIONS:
        r.unsupported(_f(field, "version"),
                      f"file format version {version} is not supported (this engine reads 0.5.x to 0.7.x)")
    return version


def _f(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _parse_activation(r: _Reader, value, field) -> Activation:
    if isinstance(value, str):
        name, params = value, {}
    elif isinstance(value, dict):
        name = r.str_(r.key(value, "type", field), _f(field, "type"))
        params = value
    else:
        r.fail(field, f"expected an activation name or object, got {_kind(value)}")
    if name not in ACTIVATIONS:
        r.unsupported(field, f"unknown activation {name!r}; supported: {', '.join(sorted(ACTIVATIONS))}")
    if name == "LeakyReLU":
        return Activation(name, _slope(r, params.get("negative_slope", 0.01), _f(field, "negative_slope")))
    if name in ("LeakyHardtanh", "LeakyHardTanh"):
        # NAM Core: x < min_val -> min_val + min_slope (x - min_val); x > max_val likewise.
        lo = _bound(r, params.get("min_val", -1.0), _f(field, "min_val"))
        hi = _bound(r, params.get("max_val", 1.0), _f(field, "max_val"))
        if lo > hi:
            r.fail(_f(field, "max_val"), f"expected max_val >= min_val ({lo!r}), got {hi!r}")
        param = _slope(r, params.get("min_slope", params.get("negative_slope", 0.01)), _f(field, "min_slope"))
        max_slope = _slope(r, params.get("max_slope", param), _f(field, "max_slope"))
        return Activation(name, param, min_val=lo, max_val=hi, max_slope=None if max_slope == param else max_slope)
    if name == "PReLU":
        if params.get("negative_slopes") is not None:
            raw = r.list_(params["negative_slopes"], _f(field, "negative_slopes"))
            if not 1 <= len(raw) <= MAX_CHANNELS:
                r.fail(_f(field, "negative_slopes"), f"expected 1 to {MAX_CHANNELS} slopes, got {len(raw)}")
            slopes = tuple(_slope(r, v, f"{field}.negative_slopes[{i}]") for i, v in enumerate(raw))
        else:
            slopes = (_slope(r, params.get("negative_slope", 0.01), _f(field, "negative_slope")),)
        return Activation(name, slopes=slopes)
    if name == "Softsign" and params.get("alpha", 1.0) != 1.0:
        r.unsupported(_f(field, "alpha"), "Softsign with alpha != 1 is not supported")
    # Hardtanh: NAM Core always clamps to [-1, 1] and ignores min_val / max_val; so do we.
    return Activation(name)


MAX_BOUND = 1e6


def _bound(r: _Reader, value, field) -> float:
    v = r.float_(value, field)
    if abs(v) > MAX_BOUND:
        r.fail(field, f"expected a value with magnitude <= {MAX_BOUND:g}, got {v!r}")
    return v


MAX_SLOPE = 1e3  # activation slopes in real models are ~0.01; beyond this a model overflows


def _slope(r: _Reader, value, field) -> float:
    slope = r.float_(value, field)
    if abs(slope) > MAX_SLOPE:
        r.fail(field, f"expected a slope with magnitude <= {MAX_SLOPE:g}, got {slope!r}")
    return slope


def _per_layer(r: _Reader, value, n: int, field: str, parse):
    if isinstance(value, list):
        r.list_(value, field, n)
        return [parse(v, f"{field}[{i}]") for i, v in enumerate(value)]
    one = parse(value, field)
    return [one] * n


def _film_config(r: _Reader, la: dict, key: str, field: str):
    """NAM Core's FiLM switch: absent, null or false = off; else an object with ``active``
    (default true), ``shift`` (default true), ``groups`` (default 1). Returns (shift, groups) or None."""
    value = la.get(key)
    if value is None or value is False:
        return None
    value = r.obj(value, _f(field, key))
    if not r.bool_(value.get("active", True), _f(field, f"{key}.active")):
        return None
    shift = r.bool_(value.get("shift", True), _f(field, f"{key}.shift"))
    groups = r.int_(value.get("groups", 1), _f(field, f"{key}.groups"), 1, MAX_CHANNELS)
    return shift, groups


def _check_groups(r: _Reader, field: str, groups: int, **sizes):
    for what, n in sizes.items():
        if n % groups:
            r.fail(field, f"groups={groups} must divide {what.replace('_', ' ')} ({n})")


class _ArrayConfig:
    """The validated shape of one layer array (no weights yet)."""

    def __init__(self, r: _Reader, la: Any, field: str):
        la = r.obj(la, field)
        self.input_size = r.int_(r.key(la, "input_size", field), _f(field, "input_size"), 1, MAX_CHANNELS)
        self.condition_size = r.int_(r.key(la, "condition_size", field, 1), _f(field, "condition_size"),
                                     1, MAX_CHANNELS)
        self.channels = c = r.int_(r.key(la, "channels", field), _f(field, "channels"), 1, MAX_CHANNELS)
        self.dilations = [r.int_(d, f"{field}.dilations[{i}]", 1, MAX_DILATION)
                          for i, d in enumerate(r.list_(r.key(la, "dilations", field), _f(field, "dilations")))]
        n = len(self.dilations)
        if n == 0 or n > MAX_LAYERS:
            r.fail(_f(field, "dilations"), f"expected 1 to {MAX_LAYERS} layers, got {n}")
        if "kernel_sizes" in la and la["kernel_sizes"] is not None:
            ks = r.list_(la["kernel_sizes"], _f(field, "kernel_sizes"), n)
            self.kernel_sizes = [r.int_(k, f"{field}.kernel_sizes[{i}]", 1, MAX_KERNEL) for i, k in enumerate(ks)]
        else:
            k = r.int_(r.key(la, "kernel_size", field), _f(field, "kernel_size"), 1, MAX_KERNEL)
            self.kernel_sizes = [k] * n
        self.activations = _per_layer(r, r.key(la, "activation", field), n, _f(field, "activation"),
                                      lambda v, f: _parse_activation(r, v, f))
        # Gating: legacy boolean "gated", or 0.7.0 "gating_mode" (one string or one per layer).
        if "gating_mode" in la and la["gating_mode"] is not None:
            def mode(v, f):
                v = r.str_(v, f)
                if v not in GATING_MODES:
                    r.unsupported(f, f"unknown gating mode {v!r}; expected one of {GATING_MODES}")
                return v
            self.gating = _per_layer(r, la["gating_mode"], n, _f(field, "gating_mode"), mode)
        else:
            gated = r.bool_(la.get("gated", False), _f(field, "gated"))
            self.gating = ["gated" if gated else "none"] * n
        secondary = la.get("secondary_activation")

        def gate_act(v, f):
            return SIGMOID if v in (None, "") else _parse_activation(r, v, f)
        if isinstance(secondary, list):
            self.gate_activations = _per_layer(r, secondary, n, _f(field, "secondary_activation"), gate_act)
        else:
            self.gate_activations = [gate_act(secondary, _f(field, "secondary_activation"))] * n
        self.bottleneck = b = r.int_(la.get("bottleneck", c), _f(field, "bottleneck"), 1, MAX_CHANNELS)
        layer1x1 = la.get("layer1x1")
        self.layer1x1 = True
        self.layer1x1_groups = 1
        if layer1x1 is not None:
            layer1x1 = r.obj(layer1x1, _f(field, "layer1x1"))
            self.layer1x1 = r.bool_(layer1x1.get("active", True), _f(field, "layer1x1.active"))
            self.layer1x1_groups = r.int_(layer1x1.get("groups", 1), _f(field, "layer1x1.groups"), 1, MAX_CHANNELS)
        if self.layer1x1:
            _check_groups(r, _f(field, "layer1x1.groups"), self.layer1x1_groups, bottleneck=b, channels=c)
        elif b != c:
            r.fail(_f(field, "bottleneck"),
                   f"with the layer 1x1 inactive the bottleneck ({b}) must equal channels ({c})")
        self.groups = {}
        for key in ("groups_input", "groups_input_mixin"):
            value = la.get(key)
            self.groups[key] = 1 if value is None else r.int_(value, _f(field, key), 1, MAX_CHANNELS)
        if "groups" in la and la["groups"] is not None and r.int_(la["groups"], _f(field, "groups"), 1) != 1:
            r.unsupported(_f(field, "groups"), "a 'groups' key is not part of NAM's format (expected groups_input)")
        self.head1x1 = None  # (out_channels, groups) when active
        head1x1 = la.get("head1x1")
        if head1x1 is not None:
            head1x1 = r.obj(head1x1, _f(field, "head1x1"))
            if r.bool_(head1x1.get("active", False), _f(field, "head1x1.active")):
                out = r.int_(r.key(head1x1, "out_channels", _f(field, "head1x1")), _f(field, "head1x1.out_channels"),
                             1, MAX_CHANNELS)
                groups = r.int_(head1x1.get("groups", 1), _f(field, "head1x1.groups"), 1, MAX_CHANNELS)
                _check_groups(r, _f(field, "head1x1.groups"), groups, bottleneck=b, out_channels=out)
                self.head1x1 = (out, groups)
        self.films = {}
        for key in FILM_KEYS:
            film = _film_config(r, la, key, field)
            if film is not None:
                self.films[key] = film
        if "layer1x1_post_film" in self.films and not self.layer1x1:
            r.fail(_f(field, "layer1x1_post_film"), "cannot be active when layer1x1.active is false")
        if "head1x1_post_film" in self.films and self.head1x1 is None:
            r.fail(_f(field, "head1x1_post_film"), "cannot be active when head1x1.active is false")
        for j, (gating, act, gate) in enumerate(zip(self.gating, self.activations, self.gate_activations)):
            g = 1 if gating == "none" else 2
            act_field = _f(field, "activation") + (f"[{j}]" if isinstance(la.get("activation"), list) else "")
            if act.name == "PReLU":
                if gating == "none":
                    # NAM Core applies a layer's activation to a block view there, which PReLU
                    # (a per-channel matrix activation) does not implement: its output is
                    # version dependent, so refuse rather than guess.
                    r.unsupported(act_field, "PReLU is supported only in gated or blended layers")
                _check_slopes(r, act, b, act_field)
            if g == 2 and gate.name == "PReLU":
                _check_slopes(r, gate, b, _f(field, "secondary_activation"))

        self.head_input = self.head1x1[0] if self.head1x1 is not None else b
        if la.get("head") is not None:
            head = r.obj(la["head"], _f(field, "head"))
            self.head_size = r.int_(r.key(head, "out_channels", _f(field, "head")), _f(field, "head.out_channels"),
                                    1, MAX_CHANNELS)
            self.head_kernel = r.int_(head.get("kernel_size", 1), _f(field, "head.kernel_size"), 1, MAX_KERNEL)
            self.head_bias = r.bool_(head.get("bias", False), _f(field, "head.bias"))
        else:
            self.head_size = r.int_(r.key(la, "head_size", field), _f(field, "head_size"), 1, MAX_CHANNELS)
            self.head_kernel = 1
            self.head_bias = r.bool_(r.key(la, "head_bias", field), _f(field, "head_bias"))
        self.allowed_widths = None
        slim = la.get("slimmable")
        if slim is not None:
            slim = r.obj(slim, _f(field, "slimmable"))
            method = slim.get("method")
            if method != "slice_channels_uniform":
                r.unsupported(_f(field, "slimmable.method"),
                              f"slimming method {method!r} is not supported (only 'slice_channels_uniform')")
            kwargs = r.obj(slim.get("kwargs", {}), _f(field, "slimmable.kwargs"))
            if kwargs.get("allowed_channels") is None:
                widths = list(range(1, c + 1))
            else:
                raw = r.list_(kwargs["allowed_channels"], _f(field, "slimmable.kwargs.allowed_channels"))
                widths = [r.int_(w, f"{field}.slimmable.kwargs.allowed_channels[{i}]", 1, c) for i, w in enumerate(raw)]
                if not widths or sorted(set(widths)) != widths:
                    r.fail(_f(field, "slimmable.kwargs.allowed_channels"),
                           f"expected a non-empty strictly increasing list of widths in 1..{c}, got {raw}")
            self.allowed_widths = tuple(widths)

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

    def check_groups(self, r: _Reader, field: str):
        """Every grouped conv's channel counts must divide by its groups (NAM Core refuses otherwise)."""
        c, b, n_cond = self.channels, self.bottleneck, self.condition_size
        for gating in sorted(set(self.gating)):
            gb = (1 if gating == "none" else 2) * b
            _check_groups(r, _f(field, "groups_input"), self.groups["groups_input"], channels=c, conv_outputs=gb)
            _check_groups(r, _f(field, "groups_input_mixin"), self.groups["groups_input_mixin"],
                          condition_size=n_cond, conv_outputs=gb)
            rows = self._film_rows(gating)
            for key, (shift, groups) in self.films.items():
                _check_groups(r, _f(field, f"{key}.groups"), groups, condition_size=n_cond,
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


def _check_slopes(r: _Reader, act: Activation, rows: int, field: str):
    n = len(act.slopes)
    if n not in (1, rows):
        r.fail(_f(field, "negative_slopes"), f"expected 1 or {rows} (the bottleneck) slopes, got {n}")


def _sample_rate(r: _Reader, d: dict, field: str):
    value = d.get("sample_rate")
    if value is None:
        return 48000.0, False
    rate = r.float_(value, _f(field, "sample_rate"))
    if not (1000.0 <= rate <= 768000.0):
        r.fail(_f(field, "sample_rate"), f"expected a sample rate in Hz between 1000 and 768000, got {rate}")
    return rate, True


def _metadata(r: _Reader, d: dict, field: str) -> dict:
    meta = d.get("metadata")
    if meta is None:
        return {}
    return dict(r.obj(meta, _f(field, "metadata")))


def _parse_wavenet(r: _Reader, d: dict, field: str, depth: int = 0, outputs: int = 1) -> WaveNetSpec:
    """``outputs``: the output channels expected (1 for a model, the mixin width for a condition model)."""
    config = r.obj(r.key(d, "config", field), _f(field, "config"))
    cfield = _f(field, "config")
    condition = None
    if config.get("condition_dsp") is not None:
        cd_field = _f(cfield, "condition_dsp")
        cd = r.obj(config["condition_dsp"], cd_field)
        if depth >= 1:
            r.unsupported(cd_field, "a condition_dsp inside a condition_dsp is not supported")
        _parse_version(r, cd, cd_field)
        arch = r.str_(r.key(cd, "architecture", cd_field), _f(cd_field, "architecture"))
        if arch != "WaveNet":
            r.unsupported(_f(cd_field, "architecture"),
                          f"only a WaveNet condition_dsp is supported, got {arch!r}")
        raw = r.list_(r.key(r.obj(r.key(cd, "config", cd_field), _f(cd_field, "config")), "layers",
                            _f(cd_field, "config")), _f(cd_field, "config.layers"))
        last = r.obj(raw[-1], f"{cd_field}.config.layers[{len(raw) - 1}]") if raw else {}
        head = last.get("head")
        n_out = head.get("out_channels") if isinstance(head, dict) else last.get("head_size")
        n_out = r.int_(n_out, f"{cd_field}.config.layers[{len(raw) - 1}].head_size", 1, MAX_CHANNELS)
        condition = _parse_wavenet(r, cd, cd_field, depth + 1, outputs=n_out)
        if condition.sample_rate != _sample_rate(r, d, field)[0]:
            r.fail(_f(cd_field, "sample_rate"), "the condition model must run at the model's rate")
    if config.get("head") is not None:
        r.unsupported(_f(cfield, "head"), "a top-level WaveNet head is not supported (expected null)")
    raw_layers = r.list_(r.key(config, "layers", cfield), _f(cfield, "layers"))
    if not raw_layers or len(raw_layers) > 16:
        r.fail(_f(cfield, "layers"), f"expected 1 to 16 layer arrays, got {len(raw_layers)}")
    arrays = [_ArrayConfig(r, la, f"{cfield}.layers[{i}]") for i, la in enumerate(raw_layers)]
    for i in range(1, len(arrays)):
        prev, cur = arrays[i - 1], arrays[i]
        if cur.input_size != prev.channels:
            r.fail(f"{cfield}.layers[{i}].input_size",
                   f"expected {prev.channels} (the previous array's channels), got {cur.input_size}")
        if prev.head_size != cur.channels:
            r.fail(f"{cfield}.layers[{i - 1}].head_size",
                   f"expected {cur.channels} (the next array's channels), got {prev.head_size}")
        if prev.head_size != cur.head_input:
            # The previous head output seeds this array's head accumulator (head1x1 outputs, or
            # the bottleneck, rows).
            r.fail(f"{cfield}.layers[{i - 1}].head_size",
                   f"expected {cur.head_input} (the next array's head accumulator rows), got {prev.head_size}")
    if arrays[0].input_size != 1:
        r.unsupported(f"{cfield}.layers[0].input_size", f"only 1 input channel is supported, got {arrays[0].input_size}")
    if arrays[-1].head_size != outputs:
        r.unsupported(f"{cfield}.layers[{len(arrays) - 1}].head_size",
                      f"expected {outputs} output channel(s), got {arrays[-1].head_size}")
    cond_channels = 1 if condition is None else condition.output_channels
    for i, a in enumerate(arrays):
        if a.condition_size != cond_channels:
            what = "the condition_dsp's output channels" if condition is not None else "the raw input"
            r.unsupported(f"{cfield}.layers[{i}].condition_size",
                          f"expected {cond_channels} ({what}), got {a.condition_size}")
        a.check_groups(r, f"{cfield}.layers[{i}]")
    if any(a.allowed_widths is not None for a in arrays) and len(arrays) != 1:
        r.unsupported(_f(cfield, "layers"), "slimmable WaveNets with more than one layer array are not supported")
    rf = 1 + sum(a.lookback for a in arrays) + (0 if condition is None else condition.receptive_field - 1)
    if rf > MAX_RECEPTIVE_FIELD:
        r.fail(_f(cfield, "layers"), f"receptive field {rf} exceeds the limit of {MAX_RECEPTIVE_FIELD} samples")
    if sum(a.state_floats() for a in arrays) > MAX_STATE_FLOATS:
        r.fail(_f(cfield, "layers"), "channels x dilations would need more than 1 GiB of history")
    expected = sum(a.weight_count() for a in arrays) + 1  # + head_scale
    if expected > MAX_WEIGHTS:
        r.fail(_f(cfield, "layers"), f"the config implies {expected} weights, above the limit {MAX_WEIGHTS}")
    values = _parse_weights(r, r.key(d, "weights", field), _f(field, "weights"), expected)
    w = _Weights(r, values, _f(field, "weights"))
    built = [a.build(w) for a in arrays]
    head_scale = float(np.float32(values[-1]))  # the engine runs in float32; saves round-trip
    if "head_scale" in config:
        r.float_(config["head_scale"], _f(cfield, "head_scale"))
    rate, _ = _sample_rate(r, d, field)
    legacy = all("head" not in la or la.get("head") is None for la in raw_layers) and all(
        "kernel_sizes" not in la for la in raw_layers)
    spec = WaveNetSpec(arrays=built, head_scale=head_scale, sample_rate=rate, metadata=_metadata(r, d, field),
                       version=_parse_version(r, d, field), legacy_keys=legacy, condition=condition)
    # A file spelled in the legacy keys but using features only the 0.7 form can express (a 0.6
    # file with FiLM, say) is saved in the 0.7 form: say so here, so a save round-trips exactly.
    spec.legacy_keys = legacy and _can_write_legacy(spec)
    return spec


def _parse_lstm(r: _Reader, d: dict, field: str) -> LSTMSpec:
    config = r.obj(r.key(d, "config", field), _f(field, "config"))
    cfield = _f(field, "config")
    n_in = r.int_(config.get("input_size", 1), _f(cfield, "input_size"), 1, 1)
    h = r.int_(r.key(config, "hidden_size", cfield), _f(cfield, "hidden_size"), 1, MAX_LSTM_HIDDEN)
    n_layers = r.int_(r.key(config, "num_layers", cfield), _f(cfield, "num_layers"), 1, MAX_LSTM_LAYERS)
    expected, inputs = 0, n_in
    for _ in range(n_layers):
        expected += 4 * h * (inputs + h) + 4 * h + 2 * h
        inputs = h
    expected += h + 1
    values = _parse_weights(r, r.key(d, "weights", field), _f(field, "weights"), expected)
    w = _Weights(r, values, _f(field, "weights"))
    layers, inputs = [], n_in
    for _ in range(n_layers):
        layers.append((w.take((4 * h, inputs + h)), w.take((4 * h,)), w.take((h,)), w.take((h,))))
        inputs = h
    head_w = w.take((h,))
    head_b = float(w.take((1,))[0])
    rate, known = _sample_rate(r, d, field)
    return LSTMSpec(hidden_size=h, input_size=n_in, layers=layers, head_weight=head_w, head_bias=head_b,
                    sample_rate=rate, metadata=_metadata(r, d, field), version=_parse_version(r, d, field),
                    sample_rate_known=known)


def _parse_linear(r: _Reader, d: dict, field: str) -> LinearSpec:
    config = r.obj(r.key(d, "config", field), _f(field, "config"))
    cfield = _f(field, "config")
    n = r.int_(r.key(config, "receptive_field", cfield), _f(cfield, "receptive_field"), 1, MAX_RECEPTIVE_FIELD)
    has_bias = r.bool_(config.get("bias", False), _f(cfield, "bias"))
    values = _parse_weights(r, r.key(d, "weights", field), _f(field, "weights"), n + int(has_bias))
    taps = np.ascontiguousarray(values[:n], dtype=np.float32)
    rate, _ = _sample_rate(r, d, field)
    return LinearSpec(weights=taps, bias=float(values[n]) if has_bias else 0.0, sample_rate=rate,
                      metadata=_metadata(r, d, field), version=_parse_version(r, d, field), has_bias=has_bias)


def _parse_container(r: _Reader, d: dict, field: str, depth: int) -> ContainerSpec:
    config = r.obj(r.key(d, "config", field), _f(field, "config"))
    cfield = _f(field, "config")
    subs = r.list_(r.key(config, "submodels", cfield), _f(cfield, "submodels"))
    if not subs:
        r.fail(_f(cfield, "submodels"), "expected at least one submodel")
    weights = d.get("weights", [])
    if weights not in (None, []):
        r.fail(_f(field, "weights"), "a SlimmableContainer keeps its weights in its submodels; expected []")
    max_values, models = [], []
    for i, sub in enumerate(subs):
        sfield = f"{cfield}.submodels[{i}]"
        sub = r.obj(sub, sfield)
        mv = r.float_(r.key(sub, "max_value", sfield), _f(sfield, "max_value"))
        if max_values and mv <= max_values[-1]:
            r.fail(_f(sfield, "max_value"), f"submodels must be sorted by increasing max_value; got {mv} after {max_values[-1]}")
        max_values.append(mv)
        models.append(_parse_model(r, r.key(sub, "model", sfield), _f(sfield, "model"), depth + 1))
    if max_values[-1] < 1.0:
        r.fail(f"{cfield}.submodels[{len(subs) - 1}].max_value", f"the last max_value must be >= 1.0, got {max_values[-1]}")
    rate, known = _sample_rate(r, d, field)
    for i, m in enumerate(models):
        if m.sample_rate != rate and known:
            r.fail(f"{cfield}.submodels[{i}].model.sample_rate",
                   f"submodel rate {m.sample_rate} differs from the container's {rate}")
    return ContainerSpec(max_values=max_values, submodels=models, sample_rate=rate,
                         metadata=_metadata(r, d, field), version=_parse_version(r, d, field))


_PARSERS = {"WaveNet": _parse_wavenet, "LSTM": _parse_lstm, "Linear": _parse_linear}


def _parse_model(r: _Reader, d: Any, field: str, depth: int = 0):
    d = r.obj(d, field or "<top level>")
    if depth > MAX_CONTAINER_DEPTH:
        r.fail(field, f"containers nested deeper than {MAX_CONTAINER_DEPTH} levels")
    _parse_version(r, d, field)
    arch = r.str_(r.key(d, "architecture", field), _f(field, "architecture"))
    if arch == "SlimmableContainer":
        return _parse_container(r, d, field, depth)
    if arch in _PARSERS:
        return _PARSERS[arch](r, d, field)
    if arch == "ConvNet":
        r.unsupported(_f(field, "architecture"), "the ConvNet architecture is not supported by this engine")
    r.unsupported(_f(field, "architecture"),
                  f"unknown architecture {arch!r}; expected WaveNet, LSTM, Linear or SlimmableContainer")


def from_dict(d: Any, path: Optional[str] = None):
    """Validate a parsed ``.nam`` JSON object and return its spec."""
    return _parse_model(_Reader(path), d, "")


def loads(text, path: Optional[str] = None):
    """Parse ``.nam`` JSON text (str or bytes) into a spec."""
    r = _Reader(path)
    try:
        if isinstance(text, bytes):
            # utf-8-sig: a byte-order mark is skipped, as NAM Core's JSON parser does.
            text = text.decode("utf-8-sig")
        elif text.startswith("\ufeff"):
            text = text[1:]
        d = json.loads(text, parse_constant=lambda name: float(name))
    except UnicodeDecodeError as exc:
        r.fail("<file>", f"not UTF-8 text: {exc}")
    except (json.JSONDecodeError, RecursionError) as exc:
        r.fail("<file>", f"not valid JSON: {exc}")
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


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

def _act_json(act: Activation, legacy: bool):
    if legacy:
        return act.name
    if act.name == "LeakyReLU":
        return {"type": "LeakyReLU", "negative_slope": act.param}
    if act.name in ("LeakyHardtanh", "LeakyHardTanh"):
        out = {"type": act.name, "min_slope": act.param, "max_slope": act.upper_slope}
        if (act.min_val, act.max_val) != (-1.0, 1.0):
            out.update(min_val=act.min_val, max_val=act.max_val)
        return out
    if act.name == "PReLU":
        return {"type": "PReLU", "negative_slopes": list(act.slopes)}
    return {"type": act.name}


def _layer_array_json(arr: LayerArray, legacy: bool) -> dict:
    layers = arr.layers
    first = layers[0]
    base = {"input_size": arr.input_size, "condition_size": arr.condition_size}
    if legacy:
        base.update({
            "head_size": arr.head_size, "channels": arr.channels, "kernel_size": layers[0].kernel_size,
            "dilations": [l.dilation for l in layers], "activation": layers[0].activation.name,
            "gated": layers[0].gating == "gated", "head_bias": arr.head_bias is not None})
    else:
        inactive = {"active": False, "shift": True, "groups": 1}

        def film_json(key):
            f = first.films.get(key)
            return dict(inactive) if f is None else {"active": True, "shift": f.shift, "groups": f.groups}
        head1x1 = {"active": False, "out_channels": arr.head_size, "groups": 1}
        if first.head1x1_weight is not None:
            head1x1 = {"active": True, "out_channels": first.head1x1_weight.shape[0], "groups": first.head1x1_groups}
        base.update({
            "head": {"out_channels": arr.head_size, "kernel_size": arr.head_kernel_size,
                     "bias": arr.head_bias is not None},
            "channels": arr.channels,
            "kernel_sizes": [l.kernel_size for l in layers],
            "dilations": [l.dilation for l in layers],
            "activation": [_act_json(l.activation, False) for l in layers],
            "bottleneck": arr.bottleneck,
            "head1x1": head1x1,
            "layer1x1": {"active": first.layer1x1_weight is not None, "groups": first.layer1x1_groups},
            "groups_input": first.groups_input, "groups_input_mixin": first.groups_mixin,
            **{key: film_json(key) for key in FILM_KEYS},
            "gating_mode": [l.gating for l in layers],
            "secondary_activation": [None if l.gating == "none" else _act_json(l.gate_activation, False)
                                     for l in layers],
        })
        base["slimmable"] = None
    if arr.allowed_widths is not None:
        base["slimmable"] = {"method": "slice_channels_uniform",
                             "kwargs": {"allowed_channels": list(arr.allowed_widths)}}
    return base


def _version_at_least(version: str, minimum: tuple) -> bool:
    try:
        return tuple(int(p) for p in version.split(".")[:2]) >= minimum
    except ValueError:
        return False


def _can_write_legacy(spec: WaveNetSpec) -> bool:
    for arr in spec.arrays:
        if arr.is_extended:
            return False
        first = arr.layers[0]
        for layer in arr.layers:
            if (layer.kernel_size != first.kernel_size or layer.activation != first.activation
                    or layer.gating != first.gating or layer.layer1x1_weight is None
                    or layer.activation.name not in ("Tanh", "ReLU", "Sigmoid", "Hardtanh")
                    or layer.gating == "blended" or layer.gate_activation != SIGMOID):
                return False
        if arr.head_kernel_size != 1:
            return False
    return True


def to_dict(spec, form: str = "auto") -> dict:
    """A JSON-ready ``.nam`` dict for ``spec``.

    ``form``: ``"legacy"`` (0.5 keys, read by every NAM release), ``"0.7"`` (NAM trainer 0.13's
    layout with explicit ``head``, ``kernel_sizes``, ``gating_mode`` ...), or ``"auto"`` (the form the
    model was read in when it can be written that way).
    """
    if isinstance(spec, ContainerSpec):
        return {"version": spec.version, "metadata": spec.metadata, "architecture": "SlimmableContainer",
                "config": {"submodels": [{"max_value": mv, "model": to_dict(m, form)}
                                         for mv, m in zip(spec.max_values, spec.submodels)]},
                "weights": [], "sample_rate": spec.sample_rate}
    if isinstance(spec, LSTMSpec):
        flat = []
        for w, b, h0, c0 in spec.layers:
            flat += [w, b, h0, c0]
        flat += [spec.head_weight, np.array([spec.head_bias])]
        return {"version": spec.version, "metadata": spec.metadata, "architecture": "LSTM",
                "config": {"input_size": spec.input_size, "hidden_size": spec.hidden_size,
                           "num_layers": spec.num_layers},
                "weights": _flat(flat),
                # An unknown rate changes NAM Core's LSTM prewarm: keep it unknown.
                "sample_rate": spec.sample_rate if spec.sample_rate_known else None}
    if isinstance(spec, LinearSpec):
        flat = [spec.weights] + ([np.array([spec.bias])] if spec.has_bias else [])
        return {"version": spec.version, "metadata": spec.metadata, "architecture": "Linear",
                "config": {"receptive_field": spec.receptive_field, "bias": spec.has_bias},
                "weights": _flat(flat), "sample_rate": spec.sample_rate}
    if form == "auto":
        form = "legacy" if spec.legacy_keys and _can_write_legacy(spec) else "0.7"
    if form == "legacy" and not _can_write_legacy(spec):
        raise ValueError("this WaveNet uses features that only the 0.7 form can express")
    legacy = form == "legacy"
    # The 0.7 form's keys are what NAM Core reads from 0.6 files too: a 0.6+ file keeps its version.
    version = spec.version if legacy or _version_at_least(spec.version, (0, 6)) else "0.7.0"
    return {"version": version, "metadata": spec.metadata, "architecture": "WaveNet",
            "config": {"layers": [_layer_array_json(a, legacy) for a in spec.arrays], "head": None,
                       "head_scale": float(spec.head_scale),
                       **({} if spec.condition is None else {"condition_dsp": to_dict(spec.condition, form)})},
            "weights": _flat(spec.parameters() + [np.array([spec.head_scale])]),
            "sample_rate": spec.sample_rate}


def _flat(arrays) -> list:
    # float32 -> Python float keeps every bit; JSON's shortest repr round-trips exactly.
    return [float(v) for a in arrays for v in np.asarray(a, dtype=np.float32).ravel()]


def dumps(spec, form: str = "auto") -> str:
    return json.dumps(to_dict(spec, form), allow_nan=False)


def save_spec(spec, path, form: str = "auto") -> None:
    """Write ``spec`` to ``path`` atomically: a temporary file in the same folder, fsync, rename.

    A crash mid-write leaves the old file (or none), never a truncated one.
    """
    atomic_write_text(path, dumps(spec, form))


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path, data: bytes) -> None:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
