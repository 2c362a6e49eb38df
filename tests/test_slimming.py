"""Run-time slimming: a slimmable WaveNet at width w is exactly its first w channels.

Checked against a standalone model built from ``spec.sliced(w)`` (bit for bit) and against the
float64 oracle; NAM's ratio rule; width changes between blocks (applied at the next block, no
allocation, exact convergence within one receptive field); refusals (WidthError); and
SlimmableContainer switching.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import nam_dsp
from nam_dsp import reference
from nam_dsp.presets import make_layer_array
from nam_dsp.spec import WaveNetSpec

from conftest import noise, rel_rms

SHARED_SLIMMABLE = ["slimmable/nam_trainer_paper_crunch_30min.nam",
                    "slimmable/nam_trainer_paper_clean_20min.nam",
                    "examples/slimmable_wavenet.nam"]


def _gapped_spec():
    """A slimmable spec whose allowed widths are not contiguous: (2, 5, 8)."""
    arr = make_layer_array(np.random.default_rng(11), input_size=1, channels=8, head_size=1,
                           kernel_sizes=[3, 4, 2], dilations=[1, 3, 9], head_bias=True,
                           allowed_widths=(2, 5, 8))
    return WaveNetSpec(arrays=[arr], head_scale=0.3)


def _gated_spec(gating, layer1x1):
    """Gated / blended slimmable layers: slicing keeps the first w rows of *each* half."""
    arr = make_layer_array(np.random.default_rng(12), input_size=1, channels=6, head_size=1,
                           kernel_sizes=[2, 5, 3], dilations=[1, 2, 7], gating=gating, head_bias=False,
                           head_kernel_size=3, layer1x1=layer1x1, allowed_widths=(1, 3, 4, 6))
    return WaveNetSpec(arrays=[arr], head_scale=0.5)


@pytest.fixture(scope="module", params=["preset:slimmable-paper", "gapped", "gated", "blended-no1x1"]
                + SHARED_SLIMMABLE)
def slimmable(request):
    """(spec, test signal) for each slimmable model."""
    if request.param == "preset:slimmable-paper":
        return nam_dsp.preset("slimmable-paper"), noise(8000, seed=1, scale=0.3)
    if request.param == "gapped":
        return _gapped_spec(), noise(3000, seed=2, scale=0.3)
    if request.param == "gated":
        return _gated_spec("gated", True), noise(3000, seed=13, scale=0.3)
    if request.param == "blended-no1x1":
        return _gated_spec("blended", False), noise(3000, seed=14, scale=0.3)
    data = request.getfixturevalue("shared_data")
    x = request.getfixturevalue("guitar_excerpt")
    return nam_dsp.load_spec(data / "models" / request.param), np.ascontiguousarray(x)


def test_every_width_is_bit_identical_to_the_sliced_spec_and_matches_the_oracle(slimmable):
    spec, x = slimmable
    assert spec.slimmable and spec.allowed_widths
    engine = nam_dsp.from_spec(spec)
    for width in spec.allowed_widths:
        engine.set_width(width)
        y = nam_dsp.render(engine, x, block_size=333)
        assert engine.width == width
        standalone = nam_dsp.from_spec(spec.sliced(width))
        assert not standalone.slimmable and standalone.spec.arrays[0].channels == width
        y_sliced = nam_dsp.render(standalone, x)
        assert np.array_equal(y, y_sliced), f"width {width}: differs from spec.sliced({width})"
        assert np.array_equal(nam_dsp.render(nam_dsp.from_spec(spec, width=width), x), y)
        oracle = reference.forward(spec, x, width=width)
        error = rel_rms(y, oracle)
        assert error <= 1e-5, f"width {width}: relative RMS error {error:.3g} against the float64 oracle"


def _nam_rule(allowed, ratio):
    n = len(allowed)
    return allowed[min(math.floor(ratio * n), n - 1)]


RATIOS = sorted(set([0.0, 1e-12, 0.1, 0.124999, 0.125, 0.2, 0.25, 0.3, 1 / 3, 0.3333334, 0.5,
                     0.625, 2 / 3, 0.7, 0.874999, 0.875, 0.9, 0.999999, 1.0]
                    + [float(v) for v in np.linspace(0.0, 1.0, 41)]))


def test_set_slim_follows_nam_ratio_rule(slimmable):
    spec, x = slimmable
    model = nam_dsp.from_spec(spec)
    allowed = spec.allowed_widths
    for ratio in RATIOS:
        model.set_slim(ratio)
        assert model.width == _nam_rule(allowed, ratio), f"ratio {ratio}"
        assert nam_dsp.from_spec(spec, slim=ratio).width == _nam_rule(allowed, ratio)
    # The rule decides what runs, not just what is reported.
    short = x[:1000]
    for ratio in (0.0, 0.5, 1.0):
        model.set_slim(ratio)
        expected = nam_dsp.render(nam_dsp.from_spec(spec.sliced(_nam_rule(allowed, ratio))), short)
        assert np.array_equal(nam_dsp.render(model, short), expected)


@pytest.mark.parametrize("ratio", [-0.01, 1.01, -1.0, 2.0, float("nan"), float("inf")])
def test_ratio_outside_0_1_raises_width_error(ratio):
    model = nam_dsp.from_spec(nam_dsp.preset("slimmable-paper"), width=4)
    with pytest.raises(nam_dsp.WidthError):
        model.set_slim(ratio)
    assert model.width == 4


SWITCHES = [(8, 3), (3, 8), (1, 8), (8, 1), (5, 2), (2, 5)]


@pytest.fixture(scope="module")
def paper():
    return nam_dsp.preset("slimmable-paper")


@pytest.mark.parametrize("old,new", SWITCHES)
def test_width_change_applies_at_the_next_block_and_converges_within_a_receptive_field(paper, old, new):
    rf = paper.receptive_field
    x = noise(2000 + rf + 1500, seed=3, scale=0.3)
    switching = nam_dsp.from_spec(paper, width=old)
    never = nam_dsp.from_spec(paper, width=old)
    target = nam_dsp.from_spec(paper, width=new)
    y_target = nam_dsp.render(target, x)

    before = switching.process(x[:2000])
    assert np.array_equal(before, never.process(x[:2000]))
    switching.set_width(new)
    assert switching.width == new
    after = np.concatenate([switching.process(x[2000:2700]), switching.process(x[2700:])])
    untouched = np.concatenate([never.process(x[2000:2700]), never.process(x[2700:])])
    assert not np.array_equal(after[:700], untouched[:700]), "the new width did not apply at the next block"
    # The history is kept, so after one receptive field the output is exactly the new width's.
    assert np.array_equal(after[rf:], y_target[2000 + rf:])


def test_pending_width_change_does_not_touch_the_block_already_processed(paper):
    """set_width between two blocks changes only what comes after it."""
    x = noise(3000, seed=4, scale=0.3)
    a = nam_dsp.from_spec(paper, width=8)
    b = nam_dsp.from_spec(paper, width=8)
    a.process(x[:1000])
    b.process(x[:1000])
    a.set_width(2)
    a.set_width(8)  # a change and its undo before the next block: nothing happens
    assert np.array_equal(a.process(x[1000:]), b.process(x[1000:]))


@pytest.mark.parametrize("old,new", [(8, 3), (3, 8), (1, 5)])
def test_process_right_after_a_width_change_allocates_nothing(paper, old, new):
    model = nam_dsp.from_spec(paper, width=old)
    x = noise(512, seed=5, scale=0.3)
    out = np.empty(512, np.float32)
    model.process(x, out=out)
    model.process(x, out=out)
    tracemalloc.start()
    try:
        model.set_width(new)
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        model.process(x, out=out)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A few dozen bytes of transient Python objects (e.g. an int for the block length) are
    # tolerated; a reallocated history would be tens of kilobytes.
    assert peak - baseline < 1024, f"process() after set_width({new}) allocated {peak - baseline} bytes"
    assert model.width == new


def _non_slimmable(request, which):
    if which == "preset:paper-full":
        return nam_dsp.from_spec(nam_dsp.preset("paper-full"))
    if which == "preset:a1-nano":
        return nam_dsp.from_spec(nam_dsp.preset("a1-nano"))
    data = request.getfixturevalue("shared_data")
    return nam_dsp.load(data / "models" / which)


@pytest.mark.parametrize("which", ["captures/marshall_jcm_standard.nam", "examples/lstm.nam",
                                   "identity/linear_10.nam", "preset:paper-full", "preset:a1-nano"])
def test_non_slimmable_models_refuse_width_changes(request, which):
    model = _non_slimmable(request, which)
    assert not model.slimmable
    x = noise(600, seed=6, scale=0.3)
    expected = nam_dsp.render(_non_slimmable(request, which), x)
    for width in (1, 2, 8):
        with pytest.raises(nam_dsp.WidthError):
            model.set_width(width)
    for ratio in (0.0, 0.5, 1.0):
        with pytest.raises(nam_dsp.WidthError):
            model.set_slim(ratio)
    with pytest.raises(nam_dsp.WidthError):
        nam_dsp.from_spec(model.spec, width=1)
    with pytest.raises(nam_dsp.WidthError):
        nam_dsp.from_spec(model.spec, slim=0.5)
    model.reset()
    assert np.array_equal(model.process(x), expected), "a refused width change altered the model"


def test_loading_a_non_slimmable_file_with_slim_raises_width_error(shared_data):
    for relative in ("captures/boss_sd1_nano.nam", "examples/lstm.nam", "identity/linear_1.nam"):
        with pytest.raises(nam_dsp.WidthError):
            nam_dsp.load(shared_data / "models" / relative, slim=0.5)


@pytest.mark.parametrize("width", [0, 9, -1, 2.5, 100, 3.0000001, 10 ** 30, float("nan"), float("inf"),
                                   -float("inf"), None, [3]])
def test_disallowed_width_raises_width_error_and_keeps_the_width(paper, width):
    model = nam_dsp.from_spec(paper, width=6)
    with pytest.raises(nam_dsp.WidthError):
        model.set_width(width)
    assert model.width == 6
    if width is not None:  # from_spec(width=None) means "full width"
        with pytest.raises(nam_dsp.WidthError):
            nam_dsp.from_spec(paper, width=width)


@pytest.mark.parametrize("width", ["3", "8", b"3", True])
def test_a_string_is_not_a_width(paper, width):
    model = nam_dsp.from_spec(paper, width=6)
    with pytest.raises(nam_dsp.WidthError):
        model.set_width(width)
    assert model.width == 6


@pytest.mark.parametrize("width", [1, 3, 4, 6, 7])
def test_width_outside_a_gapped_allowed_list_raises_width_error(width):
    model = nam_dsp.from_spec(_gapped_spec())
    with pytest.raises(nam_dsp.WidthError):
        model.set_width(width)
    assert model.width == 8


def test_whole_number_float_width_is_accepted(paper):
    model = nam_dsp.from_spec(paper)
    model.set_width(3.0)
    assert model.width == 3


# ---------------------------------------------------------------------------------------------
# SlimmableContainer
# ---------------------------------------------------------------------------------------------

CONTAINERS = ["examples/A2.nam", "examples/slimmable_container.nam", "captures/mesa_rectifier_a2.nam"]


@pytest.fixture(scope="module", params=CONTAINERS)
def container_spec(request):
    data = request.getfixturevalue("shared_data")
    spec = nam_dsp.load_spec(data / "models" / request.param)
    assert spec.architecture == "SlimmableContainer"
    return spec


def _max_value_rule(max_values, ratio):
    for index, mv in enumerate(max_values):
        if ratio < mv:
            return index
    return len(max_values) - 1


def test_container_set_slim_picks_the_first_submodel_with_ratio_below_max_value(container_spec):
    model = nam_dsp.from_spec(container_spec)
    assert model.active_index == len(container_spec.submodels) - 1  # full size by default
    ratios = sorted(set(RATIOS + [mv for mv in container_spec.max_values if mv <= 1.0]
                        + [math.nextafter(mv, 0.0) for mv in container_spec.max_values if mv <= 1.0]))
    for ratio in ratios:
        model.set_slim(ratio)
        expected = _max_value_rule(container_spec.max_values, ratio)
        assert model.active_index == expected, f"ratio {ratio}"
        assert nam_dsp.from_spec(container_spec, slim=ratio).active_index == expected
    for bad in (-0.5, 1.5, float("nan")):
        with pytest.raises(nam_dsp.WidthError):
            model.set_slim(bad)


def test_container_output_after_a_switch_equals_the_submodel_run_all_along(container_spec, guitar_di):
    x = np.ascontiguousarray(guitar_di[:48000 + 36000])
    split = 48000 + 1000
    n_sub = len(container_spec.submodels)
    ratio_for = {}
    for ratio in np.linspace(0.0, 1.0, 21):
        ratio_for.setdefault(_max_value_rule(container_spec.max_values, ratio), float(ratio))
    assert len(ratio_for) == n_sub
    alone = {i: nam_dsp.render(nam_dsp.from_spec(container_spec.submodels[i]), x) for i in range(n_sub)}
    for start in range(n_sub):
        for target in range(n_sub):
            if start == target:
                continue
            model = nam_dsp.from_spec(container_spec, slim=ratio_for[start])
            head = np.concatenate([model.process(x[:20000]), model.process(x[20000:split])])
            assert np.array_equal(head, alone[start][:split])
            model.set_slim(ratio_for[target])
            tail = np.concatenate([model.process(x[split:split + 777]), model.process(x[split + 777:])])
            expected = alone[target][split:]
            sub = container_spec.submodels[target]
            if sub.architecture == "WaveNet":
                assert np.array_equal(tail, expected), f"switch {start} -> {target}"
            else:  # an LSTM takes over only nearly in its all-along state (0.5 s of history)
                np.testing.assert_allclose(tail, expected, rtol=0, atol=1e-6,
                                           err_msg=f"switch {start} -> {target}")


def test_container_switch_does_not_recount_nonfinite_samples(shared_data):
    model = nam_dsp.load(shared_data / "models" / "examples" / "A2.nam", slim=1.0)
    x = noise(2000, seed=8, scale=0.3)
    x[[10, 500, 1500]] = [np.nan, np.inf, -np.inf]
    model.process(x)
    assert model.nonfinite_count == 3
    model.set_slim(0.0)
    y = model.process(noise(100, seed=9, scale=0.3))
    assert np.isfinite(y).all()
    assert model.nonfinite_count == 3


def test_container_switch_after_in_place_processing_matches_out_of_place(shared_data):
    path = shared_data / "models" / "examples" / "A2.nam"
    x = noise(12000, seed=10, scale=0.3)

    def run(in_place):
        model = nam_dsp.load(path, slim=1.0)
        outs = []
        for start in range(0, x.size, 500):
            if start == 6000:
                model.set_slim(0.0)
            block = x[start:start + 500].copy()
            outs.append(model.process(block, out=block).copy() if in_place else model.process(block))
        return np.concatenate(outs)

    assert np.array_equal(run(in_place=True), run(in_place=False))
