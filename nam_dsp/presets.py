"""Named architectures with seeded random weights: what benchmarks, the trainer, the CLI and the
paper experiment build when they have no file.

``preset(name, seed)`` builds one (``numpy.random.default_rng(seed)``, PyTorch-style uniform
initialisation, so a given name and seed always give the same weights); :data:`PRESETS` lists them
with a one-line summary; :func:`preset_name` says which preset a loaded model's architecture is
(its shapes, not its weights), e.g. for a file the trainer exported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .spec import SIGMOID, TANH, Activation, Layer, LayerArray, WaveNetSpec


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
#: The Slimmable NAM paper's architecture: 1 array, K=6, dilations [1,4,16,64,256] x 3, Tanh.
PAPER_KERNELS = [6] * 15
PAPER_DILATIONS = [1, 4, 16, 64, 256] * 3


def _a2(rng, channels, name):
    arr = make_layer_array(rng, input_size=1, channels=channels, head_size=1, kernel_sizes=_A2_KERNELS,
                           dilations=_A2_DILATIONS, activation=Activation("LeakyReLU", 0.01),
                           head_bias=True, head_kernel_size=16)
    return WaveNetSpec(arrays=[arr], head_scale=0.01, metadata={"name": name})


def _paper(rng, name, channels=8, allowed=None):
    arr = make_layer_array(rng, input_size=1, channels=channels, head_size=1, kernel_sizes=PAPER_KERNELS,
                           dilations=PAPER_DILATIONS, head_bias=True, allowed_widths=allowed)
    return WaveNetSpec(arrays=[arr], head_scale=0.01, metadata={"name": name})


def _slimmable_a1(rng, name):
    # A1 standard's cost in one slimmable array (NAM's ``slimmable`` key slices a single layer
    # array, so A1's two arrays cannot slim): 12,992 MACs per sample at full width (A1 standard:
    # 13,320), receptive field 3,070.
    arr = make_layer_array(rng, input_size=1, channels=16, head_size=1, kernel_sizes=[4] * 10,
                           dilations=_POW2, head_bias=True, allowed_widths=range(1, 17))
    return WaveNetSpec(arrays=[arr], head_scale=0.02, metadata={"name": name})


def _tiny(rng, name):
    arr = make_layer_array(rng, input_size=1, channels=4, head_size=1, kernel_sizes=[3] * 4,
                           dilations=[1, 2, 4, 8], head_bias=True, allowed_widths=range(1, 5))
    return WaveNetSpec(arrays=[arr], head_scale=0.1, metadata={"name": name})


@dataclass(frozen=True)
class Preset:
    """A named architecture: ``build(rng)`` makes a spec with random weights drawn from ``rng``."""

    name: str
    summary: str
    build: Callable[[np.random.Generator], WaveNetSpec]


def _register(*presets: Preset) -> dict:
    return {p.name: p for p in presets}


PRESETS = _register(
    Preset("a1-standard", "NAM's A1 standard: 2 arrays (16 and 8 channels), dilations 1..512 in each",
           lambda rng: _two_array(rng, 16, 8, _POW2, _POW2, "a1-standard")),
    Preset("a1-lite", "NAM's A1 lite: 2 arrays (12 and 6 channels)",
           lambda rng: _two_array(rng, 12, 6, _LITE0, _LITE1, "a1-lite")),
    Preset("a1-feather", "NAM's A1 feather: 2 arrays (8 and 4 channels)",
           lambda rng: _two_array(rng, 8, 4, _LITE0, _LITE1, "a1-feather")),
    Preset("a1-nano", "NAM's A1 nano: 2 arrays (4 and 2 channels)",
           lambda rng: _two_array(rng, 4, 2, _LITE0, _LITE1, "a1-nano")),
    Preset("a1-nano-paper", "the paper's nano baseline: A1 nano with dilations 1..512 in both arrays",
           lambda rng: _two_array(rng, 4, 2, _POW2, _POW2, "a1-nano-paper")),
    Preset("slimmable-paper", "the Slimmable NAM paper's model: 1 array, 8 channels, K=6, "
           "dilations [1,4,16,64,256] x 3, widths 1..8",
           lambda rng: _paper(rng, "slimmable-paper", allowed=tuple(range(1, 9)))),
    Preset("paper-full", "the paper's architecture, not slimmable (\"new (full)\" in the paper)",
           lambda rng: _paper(rng, "paper-full")),
    # Dedicated narrow models: the shapes of preset('slimmable-paper').sliced(c), trained alone.
    Preset("paper-w2", "the paper's architecture built with 2 channels, not slimmable",
           lambda rng: _paper(rng, "paper-w2", channels=2)),
    Preset("paper-w4", "the paper's architecture built with 4 channels, not slimmable",
           lambda rng: _paper(rng, "paper-w4", channels=4)),
    Preset("a2-lite", "an A2-style stack (LeakyReLU, head kernel 16) with 3 channels",
           lambda rng: _a2(rng, 3, "a2-lite")),
    Preset("a2-full", "an A2-style stack (LeakyReLU, head kernel 16) with 8 channels",
           lambda rng: _a2(rng, 8, "a2-full")),
    Preset("slimmable-a1", "A1 standard's cost, slimmable: 1 array, 16 channels, K=4, dilations "
           "1..512, widths 1..16 (nam-dsp slim's student for costly teachers)",
           lambda rng: _slimmable_a1(rng, "slimmable-a1")),
    Preset("tiny-slimmable", "4 channels, K=3, 4 layers, widths 1..4: trains in seconds (tests)",
           lambda rng: _tiny(rng, "tiny-slimmable")),
)


def preset(name: str, seed: int = 0) -> WaveNetSpec:
    """The preset ``name`` (see :data:`PRESETS`) with random weights from ``default_rng(seed)``.

    Raises KeyError, listing the known names, for any other name.
    """
    if name not in PRESETS:
        raise KeyError(f"unknown architecture {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name].build(np.random.default_rng(seed))


def architecture(spec) -> Optional[dict]:
    """What defines a WaveNet's architecture (shapes, activations, widths; not weights) as a
    JSON-ready dict; None for a model that is not a WaveNet."""
    if getattr(spec, "architecture", None) != "WaveNet":
        return None
    return {
        "arrays": [{"channels": a.channels, "head_size": a.head_size, "head_kernel_size": a.head_kernel_size,
                    "kernel_sizes": [layer.kernel_size for layer in a.layers],
                    "dilations": [layer.dilation for layer in a.layers],
                    "activation": a.layers[0].activation.name, "gating": a.layers[0].gating,
                    "head_bias": a.head_bias is not None,
                    "allowed_widths": list(a.allowed_widths) if a.allowed_widths else None}
                   for a in spec.arrays],
        "receptive_field": spec.receptive_field,
        "weights": spec.num_weights,
    }


_ARCHITECTURES: dict = {}  # preset name -> architecture(), filled on first use


def preset_name(spec) -> Optional[str]:
    """The name of the preset whose architecture ``spec`` has (any weights), or None.

    Compares :func:`architecture` plus per-layer activations and the A2 extensions' absence, so a
    model the trainer exported from ``--arch a1-nano`` is named ``a1-nano``.
    """
    mine = architecture(spec)
    if mine is None or spec.condition is not None or spec.is_extended:
        return None
    mine["layers"] = _layer_kinds(spec)
    if not _ARCHITECTURES:
        for name in PRESETS:
            built = preset(name)
            _ARCHITECTURES[name] = dict(architecture(built), layers=_layer_kinds(built))
    return next((name for name, arch in _ARCHITECTURES.items() if arch == mine), None)


def _layer_kinds(spec) -> list:
    return [(layer.activation, layer.gating, layer.gate_activation.name if layer.gating != "none" else None,
             layer.layer1x1_weight is not None, arr.input_size, arr.condition_size)
            for arr in spec.arrays for layer in arr.layers]
