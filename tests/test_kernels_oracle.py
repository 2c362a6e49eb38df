"""The Cython kernels against the float64 NumPy oracle (``nam_dsp.reference``).

Random-weight WaveNets cover every activation the engine runs, every gating mode, inactive layer
1x1s, head kernels longer than 1, one to three layer arrays, odd channel counts and kernel sizes
1..7, run in blocks whose lengths are not multiples of the 16-frame tile. The engine's own tanh
(a polynomial, not libm) is checked over the whole float32 range.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import nam_dsp
from nam_dsp import _kernels, reference
from nam_dsp.spec import ACTIVATION_CODES, ACTIVATIONS, Activation, WaveNetSpec, make_layer_array

TOLERANCE = 2e-6
ACT_NAMES = list(ACTIVATIONS)
GATINGS = ("none", "gated", "blended")
CHANNELS = (1, 3, 5, 7, 13)
BLOCKS = (1, 7, 17, 100, 333, 513, 1000, 1031)  # none a multiple of 16
HEAD_KERNELS = (1, 2, 3, 5, 16)
GATE_ACTS = ("Sigmoid", "Tanh", "Hardtanh", "SiLU", "Softsign", "LeakyReLU", "Hardswish", "Identity")
PARAMS = {"LeakyReLU": 0.05, "LeakyHardtanh": 0.2, "LeakyHardTanh": 0.1}


def _activation(name: str) -> Activation:
    return Activation(name, PARAMS.get(name, 0.0)) if ACTIVATIONS[name] else Activation(name)


def rel_rms(y, ref) -> float:
    y = np.asarray(y, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    return float(np.sqrt(np.mean((y - ref) ** 2) / np.mean(ref ** 2)))


@dataclasses.dataclass(frozen=True)
class Case:
    index: int
    activation: str
    gating: str
    gate_activation: str
    n_arrays: int
    channels: tuple
    kernel_sizes: tuple  # per array, per layer
    dilations: tuple
    layer1x1: bool
    head_kernel: int
    block: int

    @property
    def id(self) -> str:
        return (f"{self.index:02d}-{self.activation}-{self.gating}"
                f"{'-' + self.gate_activation if self.gating != 'none' else ''}"
                f"-{self.n_arrays}arr-c{'x'.join(map(str, self.channels))}"
                f"{'' if self.layer1x1 else '-no1x1'}-head{self.head_kernel}-b{self.block}")


def _cases() -> list:
    """Every activation with every gating mode (13 x 3), the other features cycled through them."""
    rng = np.random.default_rng(1234)
    cases = []
    for i in range(len(ACT_NAMES) * len(GATINGS)):
        n_arrays = 1 + i % 3
        channels = tuple(CHANNELS[(i + a) % len(CHANNELS)] for a in range(n_arrays))
        kernel_sizes, dilations = [], []
        for a in range(n_arrays):
            n_layers = int(rng.integers(1, 5))
            kernel_sizes.append(tuple(int(k) for k in rng.integers(1, 8, n_layers)))
            dilations.append(tuple(int(d) for d in rng.choice([1, 2, 3, 5, 8, 13, 21], n_layers)))
        cases.append(Case(
            index=i, activation=ACT_NAMES[i % len(ACT_NAMES)], gating=GATINGS[i // len(ACT_NAMES)],
            gate_activation=GATE_ACTS[i % len(GATE_ACTS)], n_arrays=n_arrays, channels=channels,
            kernel_sizes=tuple(kernel_sizes), dilations=tuple(dilations), layer1x1=i % 4 != 0,
            head_kernel=HEAD_KERNELS[i % len(HEAD_KERNELS)], block=BLOCKS[i % len(BLOCKS)]))
    return cases


CASES = _cases()


def build_spec(case: Case) -> WaveNetSpec:
    rng = np.random.default_rng(case.index)
    arrays = []
    for a in range(case.n_arrays):
        last = a == case.n_arrays - 1
        arr = make_layer_array(
            rng, input_size=1 if a == 0 else case.channels[a - 1], channels=case.channels[a],
            head_size=1 if last else case.channels[a + 1], kernel_sizes=case.kernel_sizes[a],
            dilations=case.dilations[a], activation=_activation(case.activation), gating=case.gating,
            head_bias=last or a % 2 == 1, head_kernel_size=case.head_kernel if a == 0 else 1 + a,
            layer1x1=case.layer1x1)
        if case.gating != "none":
            gate = _activation(case.gate_activation)
            arr.layers = [dataclasses.replace(layer, gate_activation=gate) for layer in arr.layers]
        arrays.append(arr)
    return WaveNetSpec(arrays=arrays, head_scale=0.7)


def test_the_cases_cover_every_feature():
    assert {(c.activation, c.gating) for c in CASES} == {(a, g) for a in ACT_NAMES for g in GATINGS}
    assert {k for c in CASES for arr in c.kernel_sizes for k in arr} == set(range(1, 8))
    assert {ch for c in CASES for ch in c.channels} == set(CHANNELS)
    assert {c.n_arrays for c in CASES} == {1, 2, 3}
    assert {c.layer1x1 for c in CASES} == {True, False}
    assert max(c.head_kernel for c in CASES) > 1
    assert all(c.block % 16 for c in CASES)
    assert {c.gate_activation for c in CASES if c.gating != "none"} == set(GATE_ACTS)


@pytest.fixture(scope="module")
def signal():
    rng = np.random.default_rng(99)
    x = 0.4 * rng.standard_normal(1600)
    x[200:260] = 0.0  # a stretch of silence
    x[900:] *= np.linspace(1.0, 2.0, 700)  # and some louder input
    return x.clip(-1, 1).astype(np.float32)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_engine_matches_the_float64_oracle(case, signal):
    spec = build_spec(case)
    y = nam_dsp.render(nam_dsp.from_spec(spec), signal, block_size=case.block)
    assert y.dtype == np.float32 and y.shape == signal.shape and np.isfinite(y).all()
    oracle = reference.forward(spec, signal)
    assert np.std(oracle) > 0, "degenerate case: the oracle's output is constant"
    error = rel_rms(y, oracle)
    assert error <= TOLERANCE, f"relative RMS error {error:.3g} > {TOLERANCE:g}"
    # The block size does not change a single bit.
    assert np.array_equal(y, nam_dsp.render(nam_dsp.from_spec(spec), signal))


@pytest.mark.parametrize("block", [1, 15, 17, 511, 513, 1600])
def test_chunk_boundaries_match_the_oracle(block, signal):
    """Blocks longer than the kernel's 512-frame chunk are split inside; results stay exact."""
    spec = build_spec(CASES[5])
    x = np.concatenate([signal, signal[::-1]])
    y = nam_dsp.render(nam_dsp.from_spec(spec), x, block_size=block)
    assert rel_rms(y, reference.forward(spec, x)) <= TOLERANCE


def _condition_model(rng, channels_out, gating="none") -> WaveNetSpec:
    arr = make_layer_array(rng, input_size=1, channels=3, head_size=channels_out, kernel_sizes=[3, 3],
                           dilations=[1, 4], gating=gating, head_bias=True)
    return WaveNetSpec(arrays=[arr], head_scale=0.5)


@pytest.mark.parametrize("gating,cond_out,n_arrays", [("none", 3, 2), ("gated", 2, 1), ("none", 1, 1)])
def test_a_condition_model_feeding_the_mixins_matches_the_oracle(gating, cond_out, n_arrays, signal):
    """NAM's condition_dsp: a WaveNet whose output channels feed every layer's input mixin."""
    rng = np.random.default_rng(5)
    cond = _condition_model(rng, cond_out)
    sizes = [(1, 4, 3 if n_arrays > 1 else 1), (4, 3, 1)][:n_arrays]
    arrays = [make_layer_array(rng, input_size=i, channels=c, head_size=h, kernel_sizes=[3, 2],
                               dilations=[2, 8], gating=gating, head_bias=True, condition_size=cond_out)
              for i, c, h in sizes]
    spec = WaveNetSpec(arrays=arrays, head_scale=0.3, condition=cond)
    assert spec.receptive_field == 1 + sum(a.receptive_field for a in arrays) + cond.receptive_field - 1
    y = nam_dsp.render(nam_dsp.from_spec(spec), signal, block_size=37)
    oracle = reference.forward(spec, signal)
    assert np.std(oracle) > 0
    assert rel_rms(y, oracle) <= TOLERANCE
    assert np.array_equal(y, nam_dsp.render(nam_dsp.from_spec(spec), signal))
    # The file form round-trips, condition model included.
    again = nam_dsp.nam_file.loads(nam_dsp.nam_file.dumps(spec, form="0.7"))
    assert np.array_equal(nam_dsp.render(nam_dsp.from_spec(again), signal), nam_dsp.render(nam_dsp.from_spec(spec), signal))


# ---------------------------------------------------------------------------------------------
# The engine's tanh over the whole float32 range
# ---------------------------------------------------------------------------------------------

def _tiny_floats(n=400_000) -> np.ndarray:
    """Float32 values in [-1e-30, 1e-30]: every bit pattern up to 1e-30 is equally likely,
    so subnormals and tiny normals are sampled as densely as the grid allows, plus the edges."""
    limit = int(np.array(1e-30, np.float32).view(np.uint32))
    rng = np.random.default_rng(5)
    bits = rng.integers(0, limit + 1, n, dtype=np.int64).astype(np.uint32)
    bits = np.concatenate([bits, np.arange(0, 4096, dtype=np.uint32), [limit, 1, 0x007FFFFF, 0x00800000]])
    tiny = bits.view(np.float32)
    return np.concatenate([tiny, -tiny])


def _all_floats_sample(n=400_000) -> np.ndarray:
    rng = np.random.default_rng(6)
    bits = rng.integers(0, 0x7F800000, n, dtype=np.int64).astype(np.uint32)
    values = bits.view(np.float32)
    return np.concatenate([values, -values])


def _tanh_inputs() -> np.ndarray:
    grid = np.linspace(-20.0, 20.0, 4_000_001, dtype=np.float32)
    special = np.array([0.0, -0.0, 0.5, -0.5, np.nextafter(np.float32(0.5), np.float32(0)), 9.0, 9.1, 9.2,
                        20.0, 88.0, 89.0, 1e10, 1e30, np.finfo(np.float32).max, np.inf], np.float32)
    return np.concatenate([grid, _tiny_floats(), _all_floats_sample(), special, -special])


# Both tanh implementations: tanh_tile / the AVX-512 form (every layer of 5 or more channels, and
# tanh_array), and the shorter-chain form narrow layers use on AVX-512 builds.
TANHS = [pytest.param(_kernels.tanh_array, id="tanh"),
         pytest.param(_kernels.tanh_short_array, id="narrow-tanh", marks=pytest.mark.skipif(
             _kernels.tanh_short_array(np.zeros(1, np.float32)) is None,
             reason="no AVX-512 in this build: narrow layers use tanh_array"))]


@pytest.fixture(scope="module", params=TANHS)
def tanh_impl(request):
    return request.param


@pytest.fixture(scope="module")
def tanh_pair(tanh_impl):
    x = _tanh_inputs()
    return x, tanh_impl(x)


def test_tanh_matches_numpy_in_absolute_and_relative_error(tanh_pair):
    x, y = tanh_pair
    assert y.dtype == np.float32 and y.shape == x.shape
    exact = np.tanh(x.astype(np.float64))
    error = np.abs(y.astype(np.float64) - exact)
    worst = int(np.argmax(error))
    assert error.max() <= 2e-7, f"max abs error {error.max():.3g} at x = {x[worst]!r}"
    nonzero = exact != 0
    relative = error[nonzero] / np.abs(exact[nonzero])
    worst = int(np.argmax(relative))
    assert relative.max() <= 4e-7, f"max relative error {relative.max():.3g} at x = {x[nonzero][worst]!r}"
    assert np.all(y[~nonzero] == 0)


def test_tanh_is_exactly_odd_and_bounded(tanh_pair, tanh_impl):
    x, y = tanh_pair
    assert np.array_equal(tanh_impl(-x), -y)
    assert np.all(np.abs(y) <= 1.0)
    assert np.all(np.sign(y[x != 0]) == np.sign(x[x != 0]))


def test_tanh_at_infinities_and_huge_values(tanh_impl):
    big = np.array([np.inf, -np.inf, 3.4e38, -3.4e38, 1e20, -1e20, 50.0, -50.0], np.float32)
    assert np.array_equal(tanh_impl(big), np.array([1, -1, 1, -1, 1, -1, 1, -1], np.float32))


def test_tanh_is_monotonic_on_a_dense_grid(tanh_impl):
    x = np.linspace(-10.0, 10.0, 2_000_001, dtype=np.float32)
    assert np.all(np.diff(tanh_impl(x)) >= 0)


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 1000])
def test_tanh_array_handles_any_length(n, tanh_impl):
    x = np.linspace(-3, 3, n, dtype=np.float32)
    y = tanh_impl(x)
    assert y.shape == (n,) and y.dtype == np.float32
    np.testing.assert_allclose(y, np.tanh(x.astype(np.float64)), rtol=0, atol=2e-7)


# ---------------------------------------------------------------------------------------------
# Every activation code against reference.activation
# ---------------------------------------------------------------------------------------------

def _activation_inputs() -> np.ndarray:
    grid = np.linspace(-30.0, 30.0, 600_001, dtype=np.float32)
    special = np.array([0.0, -0.0, 1.0, -1.0, 3.0, -3.0, 6.0, 1e-30, 1e-40, 1e6, 1e30], np.float32)
    return np.concatenate([grid, special, -special])


@pytest.mark.parametrize("name,param", [(n, p) for n in ACTIVATIONS
                                        for p in ((0.01, 0.2) if ACTIVATIONS[n] else (0.0,))])
def test_activation_array_matches_the_reference(name, param):
    x = _activation_inputs()
    y = _kernels.activation_array(x, ACTIVATION_CODES[name], param)
    assert y.dtype == np.float32 and y.shape == x.shape
    with np.errstate(over="ignore"):
        exact = reference.activation(name, float(np.float32(param)), x.astype(np.float64))
    # float32 evaluation of a float64 formula: a few ulps of the result, or of 1 near zero.
    error = np.abs(y.astype(np.float64) - exact)
    bound = 4e-7 * np.maximum(1.0, np.abs(exact))
    worst = int(np.argmax(error / bound))
    assert np.all(error <= bound), (
        f"{name}({param}) at x = {x[worst]!r}: engine {y[worst]!r}, reference {exact[worst]!r}")


def test_every_activation_name_has_a_kernel_code():
    assert set(ACTIVATION_CODES) == set(ACTIVATIONS)
    assert _kernels.activation_array(np.zeros(0, np.float32), 1).shape == (0,)
