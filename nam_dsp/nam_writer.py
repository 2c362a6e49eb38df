"""Specs -> ``.nam`` files: the JSON dict, its text, and atomic saves.

The inverse of :mod:`nam_dsp.nam_file`: ``nam_file.loads(dumps(spec))`` gives back ``spec`` bit for
bit (weights are written as the shortest decimal that reads back as the same float32).
"""

from __future__ import annotations

import json

import numpy as np

from .errors import ConfigError
from .output_paths import write_text_atomic
from .spec import FILM_KEYS, SIGMOID, Activation, ContainerSpec, LayerArray, LinearSpec, LSTMSpec, WaveNetSpec

__all__ = ["to_dict", "dumps", "save_spec", "can_write_legacy"]


def save_spec(spec, path, form: str = "auto") -> None:
    """Write ``spec`` to ``path`` atomically: a temporary file in the same folder, fsync, rename.

    A crash mid-write leaves the old file (or none), never a truncated one.
    """
    write_text_atomic(path, dumps(spec, form))


def dumps(spec, form: str = "auto") -> str:
    """The ``.nam`` JSON text of ``spec`` (``form`` as in :func:`to_dict`)."""
    return json.dumps(to_dict(spec, form), allow_nan=False)


def to_dict(spec, form: str = "auto") -> dict:
    """A JSON-ready ``.nam`` dict for ``spec``.

    ``form``: ``"legacy"`` (0.5 keys, read by every NAM release), ``"0.7"`` (NAM trainer 0.13's
    layout with explicit ``head``, ``kernel_sizes``, ``gating_mode`` ...), or ``"auto"`` (the form the
    model was read in when it can be written that way). Only WaveNets have two forms.
    """
    if isinstance(spec, ContainerSpec):
        return {"version": spec.version, "metadata": spec.metadata, "architecture": "SlimmableContainer",
                "config": {"submodels": [{"max_value": mv, "model": to_dict(m, form)}
                                         for mv, m in zip(spec.max_values, spec.submodels)]},
                "weights": [], "sample_rate": spec.sample_rate}
    if isinstance(spec, LSTMSpec):
        return _lstm_dict(spec)
    if isinstance(spec, LinearSpec):
        flat = [spec.weights] + ([np.array([spec.bias])] if spec.has_bias else [])
        return {"version": spec.version, "metadata": spec.metadata, "architecture": "Linear",
                "config": {"receptive_field": spec.receptive_field, "bias": spec.has_bias},
                "weights": _flat(flat), "sample_rate": spec.sample_rate}
    return _wavenet_dict(spec, form)


def can_write_legacy(spec: WaveNetSpec) -> bool:
    """Whether the 0.5 keys can express ``spec`` (one kernel size, activation and gating per
    array, the layer 1x1 on, no A2 extensions, a 1-tap head)."""
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


def _lstm_dict(spec: LSTMSpec) -> dict:
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


def _wavenet_dict(spec: WaveNetSpec, form: str) -> dict:
    if form == "auto":
        form = "legacy" if spec.legacy_keys and can_write_legacy(spec) else "0.7"
    if form == "legacy" and not can_write_legacy(spec):
        raise ConfigError("this WaveNet uses features that only the 0.7 form can express", ("form",))
    legacy = form == "legacy"
    # The 0.7 form's keys are what NAM Core reads from 0.6 files too: a 0.6+ file keeps its version.
    version = spec.version if legacy or _version_at_least(spec.version, (0, 6)) else "0.7.0"
    return {"version": version, "metadata": spec.metadata, "architecture": "WaveNet",
            "config": {"layers": [_layer_array_dict(a, legacy) for a in spec.arrays], "head": None,
                       "head_scale": float(spec.head_scale),
                       **({} if spec.condition is None else {"condition_dsp": to_dict(spec.condition, form)})},
            "weights": _flat(spec.parameters() + [np.array([spec.head_scale])]),
            "sample_rate": spec.sample_rate}


def _layer_array_dict(arr: LayerArray, legacy: bool) -> dict:
    base = {"input_size": arr.input_size, "condition_size": arr.condition_size}
    base.update(_legacy_array_keys(arr) if legacy else _array_keys_07(arr))
    if arr.allowed_widths is not None:
        base["slimmable"] = {"method": "slice_channels_uniform",
                             "kwargs": {"allowed_channels": list(arr.allowed_widths)}}
    return base


def _legacy_array_keys(arr: LayerArray) -> dict:
    layers = arr.layers
    return {"head_size": arr.head_size, "channels": arr.channels, "kernel_size": layers[0].kernel_size,
            "dilations": [l.dilation for l in layers], "activation": layers[0].activation.name,
            "gated": layers[0].gating == "gated", "head_bias": arr.head_bias is not None}


def _array_keys_07(arr: LayerArray) -> dict:
    layers = arr.layers
    first = layers[0]
    inactive = {"active": False, "shift": True, "groups": 1}

    def film_json(key):
        f = first.films.get(key)
        return dict(inactive) if f is None else {"active": True, "shift": f.shift, "groups": f.groups}
    head1x1 = {"active": False, "out_channels": arr.head_size, "groups": 1}
    if first.head1x1_weight is not None:
        head1x1 = {"active": True, "out_channels": first.head1x1_weight.shape[0], "groups": first.head1x1_groups}
    return {
        "head": {"out_channels": arr.head_size, "kernel_size": arr.head_kernel_size,
                 "bias": arr.head_bias is not None},
        "channels": arr.channels,
        "kernel_sizes": [l.kernel_size for l in layers],
        "dilations": [l.dilation for l in layers],
        "activation": [_activation_json(l.activation) for l in layers],
        "bottleneck": arr.bottleneck,
        "head1x1": head1x1,
        "layer1x1": {"active": first.layer1x1_weight is not None, "groups": first.layer1x1_groups},
        "groups_input": first.groups_input, "groups_input_mixin": first.groups_mixin,
        **{key: film_json(key) for key in FILM_KEYS},
        "gating_mode": [l.gating for l in layers],
        "secondary_activation": [None if l.gating == "none" else _activation_json(l.gate_activation)
                                 for l in layers],
        "slimmable": None,
    }


def _activation_json(act: Activation):
    """0.7's activation object (the legacy form writes only the name)."""
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


def _version_at_least(version: str, minimum: tuple) -> bool:
    try:
        return tuple(int(p) for p in version.split(".")[:2]) >= minimum
    except ValueError:
        return False


def _flat(arrays) -> list:
    # float32 -> Python float keeps every bit; JSON's shortest repr round-trips exactly.
    return [float(v) for a in arrays for v in np.asarray(a, dtype=np.float32).ravel()]
