"""The LSTM kernel (float64, ``_kernels/lstm.h``) against the float64 oracle, on any instruction set.

``nam_dsp.reference.lstm_forward`` is the plain float64 statement of the model. The kernel keeps
its state and sums in float64 too and has its own exp (2e-16 relative), so its float32 output is
the oracle's output rounded to float32: within one float32 ulp of it, sample by sample, for
random LSTMs, and far closer than NAM Core's float32 renders (3e-5..6e-5) for the real captures,
whose state never settles and keeps every rounding. The header is plain C, so it is also built
here on its own with other instruction sets and float-contraction flags: every variant computes
the same numbers to the last float32 ulp. Matching NAM Core is test_reference_match's job.
"""

from __future__ import annotations

import ctypes
import os
import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import nam_dsp
from nam_dsp import reference
from nam_dsp._lstm_layout import pack_lstm
from nam_dsp.spec import LSTMSpec

from conftest import rel_rms

HEADER_DIR = Path(nam_dsp.__file__).resolve().parent / "_kernels"
REAL_TOLERANCE = 1e-6   # real captures, 0.25 s of guitar after the prewarm (<= 1e-8 measured)
HIDDEN = (1, 2, 3, 4, 5, 7, 8, 13, 16, 17)  # whole vectors of 4, padded ones, both
REAL = ("examples/lstm.nam", "captures/boss_sd1_lstm_1x16.nam", "captures/boss_sd1_lstm_2x8.nam")


def float32_ulps(y: np.ndarray, exact: np.ndarray) -> float:
    """The largest |y - exact| in units of the float32 spacing at |exact|."""
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return float(np.max(np.abs(y.astype(np.float64) - exact) / spacing))


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
    rng = np.random.default_rng(7)
    x = 0.5 * rng.standard_normal(2000)
    x[500:700] = 0.0
    return x.clip(-1, 1).astype(np.float32)


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_random_lstm_is_the_float64_oracle_rounded_to_float32(hidden, layers, signal):
    spec = random_lstm(100 * hidden + layers, hidden, layers)
    y = nam_dsp.render(nam_dsp.from_spec(spec), signal, block_size=333)
    assert y.dtype == np.float32 and np.isfinite(y).all()
    oracle = reference.lstm_forward(spec, signal)
    assert np.std(oracle) > 0
    assert float32_ulps(y, oracle) <= 1.0
    # Any block partition gives the same bits.
    assert np.array_equal(y, nam_dsp.render(nam_dsp.from_spec(spec), signal, block_size=1))


@pytest.mark.parametrize("relative", REAL)
def test_real_lstm_is_exact_to_far_below_float32_renders(shared_data, guitar_excerpt, relative):
    spec = nam_dsp.load_spec(shared_data / "models" / relative)
    y = nam_dsp.render(nam_dsp.from_spec(spec), guitar_excerpt, block_size=4096)
    error = rel_rms(y, reference.lstm_forward(spec, guitar_excerpt))
    assert error <= REAL_TOLERANCE, f"{relative}: {error:.3g} from the float64 oracle"


def test_the_state_is_float64_and_restored_by_reset():
    model = nam_dsp.from_spec(random_lstm(5, 5, 2))
    start = model.state()
    assert all(a.dtype == np.float64 and a.shape == (10,) for a in start)
    model.process(np.full(100, 0.3, np.float32))
    assert not np.array_equal(model.state()[1], start[1])
    model.reset()
    assert all(np.array_equal(a, b) for a, b in zip(model.state(), start))


def test_more_than_one_input_channel_is_refused():
    spec = random_lstm(1, 3, 1)
    spec.input_size = 2
    with pytest.raises(ValueError, match="one input channel"):
        nam_dsp.from_spec(spec)


# --- lstm.h built on its own with other flags ------------------------------------------------

WRAPPER = """
#include "lstm.h"
long long run(const double* w, const double* b, double* h, double* c, double* g, const double* hw,
              double hb, ptrdiff_t layers, ptrdiff_t hidden, ptrdiff_t hp, const float* x, float* y,
              ptrdiff_t n) {
    return nd_lstm_run(w, b, h, c, g, hw, hb, layers, hidden, hp, x, y, n);
}
void functions(const double* x, double* e, double* s, double* t, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i += ND_LSTM_LANES) {
        nd_lstm_v v = ND_LSTM_AT_CONST(x + i);
        ND_LSTM_AT(e + i) = nd_lstm_vexp(v);
        ND_LSTM_AT(s + i) = nd_lstm_vsigmoid(v);
        ND_LSTM_AT(t + i) = nd_lstm_vtanh(v);
    }
}
"""


def _variants() -> dict:
    """Instruction-set / contraction variants this machine can run: name -> compiler flags."""
    machine = platform.machine().lower()
    native = "-march=native" if machine in ("x86_64", "amd64") else "-mcpu=native"
    variants = {"baseline ISA, no contraction": ["-O2", "-ffp-contract=off"],
                "native, FMA contraction": ["-O3", native, "-ffp-contract=fast"],
                "native, no contraction": ["-O3", native, "-ffp-contract=off"]}
    if machine in ("x86_64", "amd64"):
        variants["baseline ISA"] = ["-O3", "-ffp-contract=fast"]  # SSE2 only: 2 lanes per op
    return variants


@pytest.fixture(scope="module")
def header_builds(tmp_path_factory):
    """name -> lstm.h compiled with that variant's flags (run() and functions(), see WRAPPER)."""
    compiler = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler")
    folder = tmp_path_factory.mktemp("lstm_h")
    (folder / "wrapper.c").write_text(WRAPPER)
    builds = {}
    for index, (name, flags) in enumerate(_variants().items()):
        path = folder / f"lstm{index}.so"
        done = subprocess.run([compiler, "-shared", "-fPIC", "-std=gnu99", *flags, f"-I{HEADER_DIR}",
                               str(folder / "wrapper.c"), "-o", str(path)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
        library = ctypes.CDLL(str(path))
        library.run.restype = ctypes.c_longlong
        library.run.argtypes = [ctypes.c_void_p] * 6 + [ctypes.c_double] + [ctypes.c_ssize_t] * 3 + \
            [ctypes.c_void_p] * 2 + [ctypes.c_ssize_t]
        library.functions.restype = None
        library.functions.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_ssize_t]
        builds[name] = library
    return builds


def _aligned(values) -> np.ndarray:
    """A float64 copy at a 64-byte aligned address (lstm.h loads whole aligned vectors)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    raw = np.zeros(values.size + 8)
    start = (-raw.ctypes.data % 64) // 8
    out = raw[start:start + values.size]
    out[:] = values
    return out


def _run_header(library, spec, x: np.ndarray) -> np.ndarray:
    """Prewarm, then x, through one build of lstm.h, as LSTMModel does."""
    p = pack_lstm(spec)
    arrays = [_aligned(a) for a in (p.w, p.b, p.h0, p.c0, np.zeros(4 * p.hp), p.head_w)]
    w, b, h, c, gates, head_w = arrays
    ptr = [a.ctypes.data for a in arrays]
    silence = np.zeros(spec.prewarm_samples_rounded, np.float32)
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.empty_like(x)
    for block, out in ((silence, np.empty_like(silence)), (x, y)):
        library.run(ptr[0], ptr[1], ptr[2], ptr[3], ptr[4], ptr[5], p.head_b, p.n_layers, p.hidden, p.hp,
            block.ctypes.data, out.ctypes.data, block.size)
    return y


def test_exp_sigmoid_and_tanh_are_float64_accurate_in_every_variant(header_builds):
    x = _aligned(np.concatenate([np.linspace(-45, 45, 40001), [0.0, 1e-300, -1e-300, 1e-9, 700.0, -700.0, 1e300, -1e300]]))
    x = _aligned(x[:x.size // 4 * 4])
    inside = np.abs(x) <= 40
    exact_sigmoid = 0.5 * (1 + np.tanh(0.5 * x))
    for name, library in header_builds.items():
        e, s, t = (_aligned(np.zeros(x.size)) for _ in range(3))
        library.functions(x.ctypes.data, e.ctypes.data, s.ctypes.data, t.ctypes.data, x.size)
        assert np.max(np.abs(e[inside] / np.exp(x[inside]) - 1)) <= 4e-16, name
        # sigmoid and tanh: absolute error (what the cell adds up), clamped far out
        assert np.max(np.abs(s - exact_sigmoid)) <= 4e-16, name
        assert np.max(np.abs(t - np.tanh(x))) <= 1e-15, name
        assert s[x == 0.0][0] == 0.5 and t[x == 0.0][0] == 0.0, name


def test_every_instruction_set_and_contraction_variant_computes_the_same(header_builds, signal):
    spec = random_lstm(3, 13, 2)
    oracle = reference.lstm_forward(spec, signal)
    engine = nam_dsp.render(nam_dsp.from_spec(spec), signal, block_size=64)
    for name, library in header_builds.items():
        y = _run_header(library, spec, signal)
        assert float32_ulps(y, oracle) <= 1.0, name
        assert float32_ulps(y, engine.astype(np.float64)) <= 1.0, name


@pytest.mark.parametrize("relative", REAL[1:])
def test_every_variant_runs_the_boss_captures_exactly(header_builds, shared_data, guitar_excerpt, relative):
    spec = nam_dsp.load_spec(shared_data / "models" / relative)
    oracle = reference.lstm_forward(spec, guitar_excerpt)
    for name, library in header_builds.items():
        error = rel_rms(_run_header(library, spec, guitar_excerpt), oracle)
        assert error <= REAL_TOLERANCE, f"{relative}, {name}: {error:.3g} from the float64 oracle"
