"""The LSTM kernel (float32, NAM Core's operation order) against the float64 oracle.

``nam_dsp.reference.lstm_forward`` is the plain float64 statement of the model. The kernel rounds
as NAM Core does (see ``_kernels.LSTMKernel``), so the two differ by float32 rounding: about 1e-7
for random LSTMs, but a few 1e-5 (relative RMS) for the real models, NAM Core's own renders
included: the Boss captures' state never settles on silence and wanders on its own rounding
noise, and examples/lstm.nam's quiet output magnifies the rounding of its head's terms. The
tolerances below say so; matching NAM Core itself is test_reference_match's job.
"""

from __future__ import annotations

import numpy as np
import pytest

import nam_dsp
from nam_dsp import _kernels, reference
from nam_dsp.spec import LSTMSpec

from conftest import noise, rel_rms

RANDOM_TOLERANCE = 1e-5   # random LSTMs, 2000 samples: float32 rounding (<= 2e-6 measured)
REAL_TOLERANCE = 2e-4     # real captures, 0.25 s of guitar: 2.2e-5..6.4e-5 measured
HIDDEN = (1, 2, 3, 4, 5, 7, 8, 13, 16, 17)  # whole vector groups of 4, remainders, both


def random_lstm(seed: int, hidden: int, layers: int) -> LSTMSpec:
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.sqrt(hidden)
    specs = []
    for layer in range(layers):
        n_in = 1 if layer == 0 else hidden
        w = rng.uniform(-scale, scale, (4 * hidden, n_in + hidden)).astype(np.float32)
        b = rng.uniform(-scale, scale, 4 * hidden).astype(np.float32)
        h0 = rng.uniform(-0.5, 0.5, hidden).astype(np.float32)
        c0 = rng.uniform(-0.5, 0.5, hidden).astype(np.float32)
        specs.append((w, b, h0, c0))
    head = rng.uniform(-scale, scale, hidden).astype(np.float32)
    return LSTMSpec(hidden_size=hidden, input_size=1, layers=specs, head_weight=head,
                    head_bias=float(np.float32(0.1)), sample_rate_known=False)  # prewarm: 64 zeros


@pytest.fixture(scope="module")
def signal():
    return noise(2000, seed=7, silence=slice(500, 700))


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_random_lstm_matches_the_float64_oracle(hidden, layers, signal):
    spec = random_lstm(100 * hidden + layers, hidden, layers)
    y = nam_dsp.render(nam_dsp.from_spec(spec), signal, block_size=333)
    assert y.dtype == np.float32 and np.isfinite(y).all()
    oracle = reference.lstm_forward(spec, signal)
    assert np.std(oracle) > 0
    # Relative to the output's RMS floored at 0.01: some random heads cancel to ~1e-3, which would
    # magnify the float32 rounding of their terms (~1e-8) into a large relative figure.
    error = np.sqrt(np.mean((y - oracle) ** 2)) / max(np.sqrt(np.mean(oracle ** 2)), 0.01)
    assert error <= RANDOM_TOLERANCE, f"{error:.3g}"
    # Any block partition gives the same bits.
    assert np.array_equal(y, nam_dsp.render(nam_dsp.from_spec(spec), signal, block_size=1))


@pytest.mark.parametrize("relative", ["examples/lstm.nam", "captures/boss_sd1_lstm_1x16.nam",
                                      "captures/boss_sd1_lstm_2x8.nam"])
def test_real_lstm_stays_near_the_float64_oracle(shared_data, guitar_excerpt, relative):
    spec = nam_dsp.load_spec(shared_data / "models" / relative)
    y = nam_dsp.render(nam_dsp.from_spec(spec), guitar_excerpt, block_size=4096)
    error = rel_rms(y, reference.lstm_forward(spec, guitar_excerpt))
    assert error <= REAL_TOLERANCE, f"{relative}: {error:.3g} from the float64 oracle"


def test_vector_math_is_used_exactly_where_glibc_provides_it():
    """x86-64 with glibc's libmvec: NAM Core's 4-lane expf / tanhf; anywhere else scalar libm."""
    import ctypes
    import platform
    try:
        ctypes.CDLL("libmvec.so.1")
        available = platform.machine().lower() in ("x86_64", "amd64")
    except OSError:
        available = False
    assert _kernels.lstm_vector_math() is available
