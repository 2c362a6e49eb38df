"""A model whose own float32 arithmetic overflows never emits, or keeps, non-finite values.

Inputs are sanitised before they reach the state (tests/test_streaming.py); these tests cover the
other way in: legal files with absurd (finite) weights, and absurdly loud finite input through an
unbounded activation. The output samples are replaced by 0 and counted, and the state is put back
to silence, so the stream recovers as soon as the input is sane again.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

import nam_dsp
from nam_dsp import reference
from nam_dsp.presets import make_layer_array
from nam_dsp.spec import Activation, WaveNetSpec

from conftest import SHARED_DATA



def _relu_spec(head_gain: float = 1.0) -> WaveNetSpec:
    rng = np.random.default_rng(7)
    arr = make_layer_array(rng, input_size=1, channels=4, head_size=1, kernel_sizes=(3, 3, 3),
                           dilations=(1, 2, 4), activation=Activation("ReLU"), head_bias=True)
    arr = dataclasses.replace(arr, head_weight=arr.head_weight * np.float32(head_gain))
    return WaveNetSpec(arrays=[arr], head_scale=1.0)


def _relu_model(head_gain: float = 1.0) -> nam_dsp.Model:
    return nam_dsp.from_spec(_relu_spec(head_gain))


def _guitar(n: int, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def test_absurd_weights_give_zeros_and_a_count_not_inf():
    # Head weights near float32's maximum: the head's sum overflows wherever |output| would
    # exceed it (the float64 oracle says where); elsewhere the output is untouched.
    spec = _relu_spec(head_gain=3e38)
    x = 10 * _guitar(2048)
    exact = reference.forward(spec, x)
    overflow = np.abs(exact) > 1.01 * float(np.finfo(np.float32).max)
    assert 0 < overflow.sum() < x.shape[0], "degenerate case"
    model = nam_dsp.from_spec(spec)
    y = np.concatenate([model.process(x[i:i + 64]) for i in range(0, x.shape[0], 64)])
    assert np.isfinite(y).all()
    assert np.all(y[overflow] == 0)
    assert model.nonfinite_output_count >= overflow.sum()
    model.reset()
    assert model.nonfinite_output_count == 0


def test_an_overflowing_block_is_zeroed_and_the_stream_recovers_from_silence():
    model = _relu_model()
    loud = np.full(64, np.finfo(np.float32).max, np.float32)   # finite, but overflows in the convs
    y = model.process(loud)
    assert np.isfinite(y).all() and model.nonfinite_output_count > 0
    # After the overflowing block the state is the prewarmed silence: the rest of the stream is
    # exactly what a freshly reset model makes of it.
    rest = _guitar(1000, seed=3)
    fresh = _relu_model()
    np.testing.assert_array_equal(model.process(rest), fresh.process(rest))
    assert fresh.nonfinite_output_count == 0


@pytest.mark.parametrize("block", [1, 64, 1000])
def test_sane_models_never_touch_the_counter(block):
    model = nam_dsp.from_spec(nam_dsp.preset("slimmable-paper"))
    x = _guitar(4000)
    for i in range(0, x.shape[0], block):
        model.process(x[i:i + block])
    assert model.nonfinite_output_count == 0


def test_an_lstm_fed_the_loudest_finite_input_saturates_and_stays_finite():
    path = str(SHARED_DATA / "models" / "examples" / "lstm.nam")
    if not os.path.isfile(path):
        pytest.skip(f"{path} is absent: the shared example LSTM is needed")
    model = nam_dsp.load(path)
    y = model.process(np.full(64, np.finfo(np.float32).max, np.float32))
    assert np.isfinite(y).all()
    assert np.isfinite(model.process(_guitar(1000, seed=5))).all()
    assert model.nonfinite_output_count == 0   # its gates saturate: nothing overflows
