"""The streaming convention, as properties: any partition of a signal gives the one-shot output.

A model keeps its own state; each ``process`` call continues the stream, so splitting a signal
into blocks in any way gives bit-identical output and leaves the model in the same state. Empty
blocks are no-ops, non-finite samples are treated as 0 and counted, ``reset`` starts over.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import nam_dsp
from nam_dsp.spec import LinearSpec

from conftest import noise

# Seeded (derandomize) and without an example database, so runs are repeatable and write nothing.
PROPERTY = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                    phases=[Phase.explicit, Phase.generate, Phase.shrink],
                    suppress_health_check=[HealthCheck.too_slow])

MAX_LEN = 2500


def _linear_random(_request):
    rng = np.random.default_rng(7)
    spec = LinearSpec(weights=rng.normal(0, 0.3, 37).astype(np.float32), bias=0.05, has_bias=True)
    return nam_dsp.from_spec(spec)


def _shared(relative):
    def build(request):
        data = request.getfixturevalue("shared_data")
        return nam_dsp.load(data / "models" / relative)
    return build


BUILDERS = {
    "a1-nano": lambda r: nam_dsp.from_spec(nam_dsp.preset("a1-nano")),
    "slimmable-paper": lambda r: nam_dsp.from_spec(nam_dsp.preset("slimmable-paper")),
    "slimmable-paper@3": lambda r: nam_dsp.from_spec(nam_dsp.preset("slimmable-paper"), width=3),
    "lstm": _shared("examples/lstm.nam"),
    "linear_10-identity": _shared("identity/linear_10.nam"),
    "linear-random": _linear_random,
    "A2-container": _shared("examples/A2.nam"),
}


def _model_params():
    return list(BUILDERS)


@pytest.fixture(scope="module")
def model(request):
    return BUILDERS[request.param](request)


@st.composite
def signal_and_cuts(draw, max_len=MAX_LEN, max_cuts=30):
    n = draw(st.integers(0, max_len))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    cuts = draw(st.lists(st.integers(0, n), max_size=max_cuts))
    # Cuts may repeat: a repeated cut makes an empty block, which must be harmless too.
    return noise(n, seed=seed), sorted(cuts)


def _blocks(x, cuts):
    edges = [0] + list(cuts) + [x.shape[0]]
    return [x[a:b] for a, b in zip(edges[:-1], edges[1:])]


def _run_blocks(model, x, cuts) -> np.ndarray:
    outs = [model.process(block) for block in _blocks(x, cuts)]
    for block, out in zip(_blocks(x, cuts), outs):
        assert out.dtype == np.float32 and out.shape == block.shape
    return np.concatenate(outs) if outs else np.zeros(0, np.float32)


def _states_equal(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


@pytest.mark.parametrize("model", _model_params(), indirect=True)
@PROPERTY
@given(case=signal_and_cuts())
def test_any_block_partition_is_bit_identical_to_one_call(model, case):
    x, cuts = case
    model.reset()
    whole = model.process(x)
    model.reset()
    parts = _run_blocks(model, x, cuts)
    assert parts.dtype == np.float32 and parts.shape == x.shape
    assert np.array_equal(parts, whole)


@pytest.mark.parametrize("model", _model_params(), indirect=True)
@PROPERTY
@given(case=signal_and_cuts(max_cuts=1))
def test_split_run_with_carried_state_equals_one_shot_output(model, case):
    x, cuts = case
    k = cuts[0] if cuts else x.shape[0] // 2
    model.reset()
    one_shot = model.process(x).copy()
    model.reset()
    first = model.process(x[:k])
    second = model.process(x[k:])
    assert np.array_equal(np.concatenate([first, second]), one_shot)


@pytest.mark.parametrize("model", _model_params(), indirect=True)
def test_state_holds_what_was_heard_and_reset_restores_it(model):
    model.reset()
    fresh = model.state()
    kept = [a.copy() for a in fresh]
    model.process(noise(700, seed=5))
    assert not _states_equal(model.state(), fresh)  # the history now holds the signal
    assert _states_equal(fresh, kept)  # state() is a snapshot, not a view the next block moves
    model.reset()
    assert _states_equal(model.state(), fresh)


@pytest.mark.parametrize("model", _model_params(), indirect=True)
@PROPERTY
@given(case=signal_and_cuts(max_cuts=1))
def test_split_run_leaves_the_same_state_as_one_shot(model, case):
    x, cuts = case
    k = cuts[0] if cuts else x.shape[0] // 2
    model.reset()
    model.process(x)
    one_shot_state = model.state()
    model.reset()
    model.process(x[:k])
    model.process(x[k:])
    split_state = model.state()
    assert len(split_state) > 0
    assert _states_equal(split_state, one_shot_state)


@pytest.mark.parametrize("model", _model_params(), indirect=True)
@pytest.mark.parametrize("empty", [np.zeros(0, np.float32), np.zeros(0, np.float64), [],
                                   np.zeros(0, np.int16)], ids=["float32", "float64", "list", "int16"])
def test_empty_block_returns_empty_float32_and_changes_nothing(model, empty):
    x = noise(700, seed=1)
    model.reset()
    reference = model.process(x).copy()
    model.reset()
    out = model.process(empty)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (0,)
    a = model.process(x[:300])
    assert model.process(empty).shape == (0,)
    b = model.process(x[300:])
    assert np.array_equal(np.concatenate([a, b]), reference)
    out_buffer = np.zeros(0, np.float32)
    assert model.process(np.zeros(0, np.float32), out=out_buffer) is out_buffer


@pytest.mark.parametrize("model", _model_params(), indirect=True)
def test_float64_and_int16_input_give_float32_of_the_same_length(model):
    x64 = noise(1000, seed=2).astype(np.float64) + 1e-9  # not exactly float32-representable
    model.reset()
    y64 = model.process(x64)
    model.reset()
    y32 = model.process(x64.astype(np.float32))
    assert y64.dtype == np.float32 and y64.shape == x64.shape
    assert np.array_equal(y64, y32)

    x16 = np.random.default_rng(3).integers(-4, 5, 777).astype(np.int16)
    model.reset()
    y16 = model.process(x16)
    model.reset()
    y16_as_float = model.process(x16.astype(np.float32))
    assert y16.dtype == np.float32 and y16.shape == x16.shape
    assert np.array_equal(y16, y16_as_float)

    strided = noise(2000, seed=4)[::2]  # non-contiguous float32
    model.reset()
    ys = model.process(strided)
    model.reset()
    assert np.array_equal(ys, model.process(np.ascontiguousarray(strided)))


@pytest.mark.parametrize("model", _model_params(), indirect=True)
@pytest.mark.parametrize("shape", [(64, 1), (1, 64), (2, 32), (0, 0), (2, 3, 4), ()])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_that_is_not_1d_raises_value_error(model, shape, dtype):
    with pytest.raises(ValueError):
        model.process(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize("model", _model_params(), indirect=True)
def test_out_of_the_wrong_length_or_dtype_raises_value_error(model):
    x = noise(64, seed=5)
    with pytest.raises(ValueError):
        model.process(x, out=np.zeros(63, np.float32))
    with pytest.raises(ValueError):
        model.process(x, out=np.zeros(64, np.float64))


@pytest.mark.parametrize("model", _model_params(), indirect=True)
@PROPERTY
@given(case=signal_and_cuts(max_cuts=6))
def test_in_place_processing_gives_the_same_output(model, case):
    """``process(x, out=x)``: a host handing one buffer for input and output."""
    x, cuts = case
    model.reset()
    expected = model.process(x)
    model.reset()
    buffer = x.copy()
    for block in _blocks(buffer, cuts):
        assert model.process(block, out=block) is block
    assert np.array_equal(buffer, expected)


@st.composite
def signal_with_nonfinite(draw):
    x, cuts = draw(signal_and_cuts(max_len=1500, max_cuts=8))
    n = x.shape[0]
    positions = draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=20, unique=True)) if n else []
    values = draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf]),
                           min_size=len(positions), max_size=len(positions)))
    return x, cuts, positions, values


@pytest.mark.parametrize("model", _model_params(), indirect=True)
@PROPERTY
@given(case=signal_with_nonfinite(), tail_seed=st.integers(0, 2 ** 32 - 1))
def test_nonfinite_samples_are_zeros_counted_and_never_poison_the_state(model, case, tail_seed):
    x, cuts, positions, values = case
    bad = x.copy()
    bad[positions] = values
    zeroed = x.copy()
    zeroed[positions] = 0.0
    tail = noise(300, seed=tail_seed)

    model.reset()
    y_zero = model.process(zeroed)
    y_zero_tail = model.process(tail).copy()

    model.reset()
    y_bad = _run_blocks(model, bad, cuts)
    assert model.nonfinite_count == len(positions)
    y_bad_tail = model.process(tail)

    assert np.isfinite(y_bad).all() and np.isfinite(y_bad_tail).all()
    assert np.array_equal(y_bad, y_zero)
    assert np.array_equal(y_bad_tail, y_zero_tail)


@pytest.mark.parametrize("model", _model_params(), indirect=True)
@PROPERTY
@given(case=signal_and_cuts(max_len=1500, max_cuts=10))
def test_reset_makes_the_model_repeat_its_output_exactly(model, case):
    x, cuts = case
    model.reset()
    first = _run_blocks(model, x, cuts)
    model.process(noise(257, seed=99))  # wander off
    model.reset()
    second = _run_blocks(model, x, cuts)
    assert np.array_equal(first, second)


@pytest.mark.parametrize("model", _model_params(), indirect=True)
def test_reset_zeroes_the_nonfinite_count(model):
    x = noise(100, seed=6)
    x[[3, 50]] = [np.nan, np.inf]
    model.reset()
    model.process(x)
    assert model.nonfinite_count == 2
    if isinstance(model, nam_dsp.ContainerModel):
        # Switch submodel and back, so that more than one submodel has heard the stream.
        original = model.active_index
        model.set_slim(0.0)
        model.process(x[:10])
        model.set_slim(1.0)
        model.process(x[:10])
        assert model.active_index == original
    model.reset()
    assert model.nonfinite_count == 0
    model.process(noise(100, seed=7))
    assert model.nonfinite_count == 0


def test_holding_the_gil_through_a_block_gives_the_same_output():
    x = np.random.default_rng(7).standard_normal(1000).astype(np.float32) * 0.1
    released = nam_dsp.from_spec(nam_dsp.preset("slimmable-paper", seed=3))
    held = nam_dsp.from_spec(nam_dsp.preset("slimmable-paper", seed=3))
    a = np.concatenate([released.process(x[i:i + 64]) for i in range(0, 1000, 64)])
    b = np.concatenate([held.process(x[i:i + 64], release_gil=False) for i in range(0, 1000, 64)])
    assert np.array_equal(a, b)
