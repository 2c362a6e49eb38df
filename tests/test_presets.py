"""The preset registry: every name builds, is deterministic in its seed, survives a save/load, and
is recognised by its architecture; the dedicated narrow models are the paper model sliced."""

import numpy as np
import pytest

import nam_dsp
from nam_dsp import presets
from nam_dsp.spec import LSTMSpec


def test_every_preset_is_named_after_itself_and_seeded(tmp_path):
    for name, entry in presets.PRESETS.items():
        assert entry.name == name and entry.summary
        spec = presets.preset(name, seed=4)
        assert spec.metadata["name"] == name
        again, other = presets.preset(name, seed=4), presets.preset(name, seed=5)
        np.testing.assert_array_equal(spec.parameters()[0], again.parameters()[0])
        assert not np.array_equal(spec.parameters()[0], other.parameters()[0])
        # the name survives a file round trip: architecture, not metadata, identifies the preset
        spec.metadata = {}
        nam_dsp.save_spec(spec, tmp_path / f"{name}.nam")
        assert presets.preset_name(nam_dsp.load_spec(tmp_path / f"{name}.nam")) == name


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="unknown architecture 'a3'.*a1-standard.*tiny-slimmable"):
        presets.preset("a3")


def test_a_model_of_no_preset_has_no_preset_name():
    spec = presets.preset("a1-nano")
    spec.arrays[1].layers.pop()
    assert presets.preset_name(spec) is None
    h = 3
    lstm = LSTMSpec(hidden_size=h, input_size=1, head_weight=np.ones(h, np.float32), head_bias=0.0,
                    layers=[(np.ones((4 * h, 1 + h), np.float32), np.zeros(4 * h, np.float32),
                             np.zeros(h, np.float32), np.zeros(h, np.float32))])
    assert presets.preset_name(lstm) is None


@pytest.mark.parametrize("channels", [2, 4])
def test_dedicated_models_are_the_paper_model_sliced(channels):
    mine, paper = presets.preset(f"paper-w{channels}"), presets.preset("slimmable-paper")
    sliced = paper.sliced(channels)
    assert [p.shape for p in mine.parameters()] == [p.shape for p in sliced.parameters()]
    assert presets.architecture(mine)["arrays"][0]["dilations"] == presets.PAPER_DILATIONS
    assert mine.macs_per_sample() == paper.macs_per_sample(channels)
    assert not mine.slimmable
