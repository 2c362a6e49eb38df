"""NAM's A2 WaveNet extensions, feature by feature: kernel against the float64 oracle.

Each case is a small random-weight ``.nam`` dict (so the parser, the weight order and the shapes
are exercised too) using one extension: grouped dilated convs (``groups_input``), grouped input
mixins (``groups_input_mixin``), grouped layer 1x1s, a bottleneck different from the channel
count, ``head1x1`` (grouped, feeding the next array's head), each of the eight FiLM sites (with and
without shift, grouped), PReLU and ranged LeakyHardtanh, and finally everything at once with a
condition model that uses them too. The engine runs them on its extended (A2) path; the output
must match ``nam_dsp.reference`` and be bit-identical for any block partition.

NAM Core's own fixture (``wavenet_a2_max.nam``) is checked against NAM Core's render in
``test_reference_match.py``.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import nam_dsp
from nam_dsp import nam_file, reference
from nam_dsp.spec import FILM_KEYS

TOLERANCE = 2e-6


def rel_rms(y, ref) -> float:
    y = np.asarray(y, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    return float(np.sqrt(np.mean((y - ref) ** 2) / np.mean(ref ** 2)))


def array_config(*, input_size=1, condition_size=1, channels=4, bottleneck=None, head_size=1, kernel_size=3,
                 dilations=(1, 2), activation="Tanh", gating="none", secondary="Sigmoid", head_bias=True,
                 groups_input=1, groups_input_mixin=1, layer1x1=(True, 1), head1x1=None, films=None,
                 head_kernel=1):
    """One 0.7-form layer-array config; ``films``: {site: (shift, groups)}; ``head1x1``: (out, groups)."""
    la = {
        "input_size": input_size, "condition_size": condition_size, "channels": channels,
        "bottleneck": channels if bottleneck is None else bottleneck,
        "head": {"out_channels": head_size, "kernel_size": head_kernel, "bias": head_bias},
        "kernel_sizes": [kernel_size] * len(dilations), "dilations": list(dilations),
        "activation": activation, "gating_mode": gating, "secondary_activation": secondary,
        "groups_input": groups_input, "groups_input_mixin": groups_input_mixin,
        "layer1x1": {"active": layer1x1[0], "groups": layer1x1[1]},
        "head1x1": ({"active": False, "out_channels": 1, "groups": 1} if head1x1 is None
                    else {"active": True, "out_channels": head1x1[0], "groups": head1x1[1]}),
    }
    for key, (shift, groups) in (films or {}).items():
        la[key] = {"active": True, "shift": shift, "groups": groups}
    return la


def weight_count(layers: list) -> int:
    reader = nam_file._Reader(None)
    return sum(nam_file._ArrayConfig(reader, la, "layers").weight_count() for la in layers) + 1


def model(layers: list, seed: int, condition: dict | None = None, scale: float = 0.5) -> dict:
    """A WaveNet .nam dict with seeded random weights (the last one is head_scale)."""
    rng = np.random.default_rng(seed)
    weights = rng.uniform(-0.6, 0.6, weight_count(layers) - 1).tolist() + [scale]
    config = {"layers": layers, "head": None, "head_scale": scale}
    if condition is not None:
        config["condition_dsp"] = condition
    return {"version": "0.7.0", "architecture": "WaveNet", "config": config, "weights": weights,
            "sample_rate": 48000}


def condition_model(outputs: int, seed: int, **features) -> dict:
    return model([array_config(channels=3, head_size=outputs, dilations=(1, 3), **features)], seed, scale=1.0)


@pytest.fixture(scope="module")
def signal():
    rng = np.random.default_rng(7)
    x = 0.5 * rng.standard_normal(1500)
    x[300:380] = 0.0
    return x.clip(-1, 1).astype(np.float32)


def _partition(n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    sizes, total = [], 0
    while total < n:
        size = min(int(rng.choice([1, 3, 16, 17, 100, 513, 700])), n - total)
        sizes.append(size)
        total += size
    return sizes


def check_against_oracle(d: dict, x: np.ndarray, seed: int = 0):
    spec = nam_file.from_dict(copy.deepcopy(d))
    assert spec.is_extended or (spec.condition is not None and spec.condition.is_extended)
    expected = reference.forward(spec, x)
    m = nam_dsp.from_spec(spec)
    whole = nam_dsp.render(m, x)
    assert np.isfinite(whole).all()
    error = rel_rms(whole, expected)
    assert error <= TOLERANCE, f"relative RMS error {error:.3g} against the oracle"
    # Any block partition gives the same bits.
    m.reset()
    parts = np.empty_like(whole)
    start = 0
    for size in _partition(x.shape[0], seed):
        m.process(x[start:start + size], out=parts[start:start + size])
        start += size
    assert np.array_equal(parts, whole)
    assert np.array_equal(nam_dsp.render(m, x, block_size=1), whole)
    return spec, whole


# ---------------------------------------------------------------------------------------------
# One extension at a time
# ---------------------------------------------------------------------------------------------

SINGLE = {
    "groups_input": dict(channels=4, groups_input=2),
    "groups_input_gated": dict(channels=6, groups_input=3, gating="gated"),
    "layer1x1_groups": dict(channels=4, layer1x1=(True, 2)),
    "bottleneck_narrow": dict(channels=5, bottleneck=2),
    "bottleneck_wide_gated": dict(channels=3, bottleneck=6, gating="gated", groups_input=3, layer1x1=(True, 3)),
    "bottleneck_blended": dict(channels=4, bottleneck=2, gating="blended", secondary="Tanh"),
    "head1x1": dict(channels=4, head1x1=(6, 1)),
    "head1x1_groups_bottleneck": dict(channels=4, bottleneck=2, head1x1=(4, 2), head_kernel=3),
    "prelu_gated": dict(channels=3, gating="gated",
                        activation={"type": "PReLU", "negative_slopes": [0.05, 0.3, 0.7]}),
    "prelu_blended_single_slope": dict(channels=2, gating="blended", activation={"type": "PReLU", "negative_slope": 0.2}),
    "prelu_secondary": dict(channels=2, gating="gated", activation="Softsign",
                            secondary={"type": "PReLU", "negative_slopes": [0.1, 0.4]}),
    "leaky_hardtanh_range": dict(channels=3, activation={"type": "LeakyHardtanh", "min_val": -0.2, "max_val": 0.5,
                                                         "min_slope": 0.05, "max_slope": 0.3}),
    "leaky_hardtanh_blend": dict(channels=2, bottleneck=4, gating="blended", activation="SiLU",
                                 secondary={"type": "LeakyHardtanh", "min_val": 0.0, "max_val": 0.9,
                                            "min_slope": 0.0, "max_slope": 0.02}),
}


@pytest.mark.parametrize("name", list(SINGLE))
def test_single_extension_matches_the_oracle(name, signal):
    check_against_oracle(model([array_config(**SINGLE[name])], seed=len(name)), signal, seed=len(name))


@pytest.mark.parametrize("gating", ["none", "gated", "blended"])
@pytest.mark.parametrize("site", FILM_KEYS)
def test_each_film_site_matches_the_oracle(site, gating, signal):
    films = {site: (True, 1)}
    head1x1 = (4, 2) if site == "head1x1_post_film" else None
    d = model([array_config(channels=4, bottleneck=2, gating=gating, films=films, head1x1=head1x1,
                            activation="SiLU" if gating == "none" else "Tanh")], seed=FILM_KEYS.index(site))
    check_against_oracle(d, signal)


@pytest.mark.parametrize("shift", [True, False])
def test_grouped_films_of_a_multichannel_condition_match_the_oracle(shift, signal):
    """A 4-channel condition model: FiLM convs grouped 2 and 4 ways, a grouped input mixin."""
    films = {key: (shift, 2 if i % 2 else 4) for i, key in enumerate(FILM_KEYS)}
    d = model([array_config(condition_size=4, channels=4, gating="blended", films=films, head1x1=(4, 4),
                            groups_input_mixin=4, groups_input=2, layer1x1=(True, 2))],
              seed=11, condition=condition_model(4, seed=12))
    check_against_oracle(d, signal)


def test_everything_at_once_with_a_featured_condition_model(signal):
    """Like NAM Core's wavenet_a2_max: two arrays (head1x1 output seeding the next head), a
    condition model that itself uses FiLM, groups, gating and a bottleneck."""
    all_films = {key: (True, 1) for key in FILM_KEYS}
    cond = model([
        array_config(channels=3, bottleneck=6, gating="gated", activation="SiLU", secondary="Hardswish",
                     groups_input=3, head1x1=(6, 3), layer1x1=(True, 3), films=all_films, head_size=4,
                     head_bias=False, kernel_size=2),
        array_config(input_size=3, channels=4, bottleneck=2, gating="blended",
                     activation={"type": "PReLU", "negative_slopes": [0.04, 0.05]},
                     secondary={"type": "LeakyHardtanh", "min_val": 0.0, "max_val": 0.9, "min_slope": 0.0,
                                "max_slope": 0.02},
                     head1x1=(4, 2), films={k: (False, 1) for k in FILM_KEYS}, head_size=8, dilations=(1, 3, 5)),
    ], seed=21, scale=0.02)
    main = [array_config(condition_size=8, channels=4, activation="Softsign", groups_input_mixin=4, head1x1=(4, 2),
                         layer1x1=(True, 2), kernel_size=4,
                         films={"conv_pre_film": (True, 2), "conv_post_film": (True, 4),
                                "input_mixin_pre_film": (True, 4), "input_mixin_post_film": (True, 2),
                                "activation_pre_film": (True, 1), "activation_post_film": (True, 2),
                                "layer1x1_post_film": (True, 8), "head1x1_post_film": (True, 4)})]
    check_against_oracle(model(main, seed=22, condition=cond), signal)


def test_two_arrays_where_head1x1_feeds_the_next_head(signal):
    layers = [array_config(channels=3, head_size=5, head_bias=False),
              array_config(input_size=3, channels=5, bottleneck=3, head1x1=(5, 1), gating="gated", head_size=2,
                           films={"activation_post_film": (True, 1)}),
              array_config(input_size=5, channels=2, head_size=1)]
    check_against_oracle(model(layers, seed=31), signal)


# ---------------------------------------------------------------------------------------------
# NAM Core's quirk: layer1x1_post_film only acts in blended layers
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gating", ["none", "gated", "blended"])
def test_layer1x1_post_film_acts_only_in_blended_layers(gating, signal):
    # (activation_post_film keeps the layer on the extended path once the other film is gone)
    d = model([array_config(channels=3, gating=gating, films={"layer1x1_post_film": (True, 1),
                                                              "activation_post_film": (True, 1)})], seed=41)
    spec = nam_file.from_dict(d)
    with_film = nam_dsp.render(nam_dsp.from_spec(spec), signal)
    for layer in spec.arrays[0].layers:
        del layer.films["layer1x1_post_film"]
    without = nam_dsp.render(nam_dsp.from_spec(spec), signal)
    assert np.array_equal(with_film, without) == (gating != "blended")


# ---------------------------------------------------------------------------------------------
# Files: round trips, errors, slimming
# ---------------------------------------------------------------------------------------------

def test_featured_model_round_trips_through_a_file(tmp_path, signal):
    d = model([array_config(channels=4, bottleneck=2, gating="blended", head1x1=(4, 2), groups_input=2,
                            activation={"type": "PReLU", "negative_slopes": [0.1, 0.2]},
                            secondary={"type": "LeakyHardtanh", "min_val": -0.5, "max_val": 0.7},
                            films={"conv_pre_film": (False, 1), "layer1x1_post_film": (True, 1)})],
              seed=51, condition=None)
    d["version"] = "0.6.0"
    spec = nam_file.from_dict(d)
    path = tmp_path / "featured.nam"
    nam_dsp.save_spec(spec, path)
    again = nam_dsp.load_spec(path)
    assert json.dumps(nam_file.to_dict(again)) == json.dumps(nam_file.to_dict(spec))
    assert again.version == "0.6.0"
    layer = again.arrays[0].layers[0]
    assert layer.groups_input == 2 and layer.head1x1_weight.shape == (4, 1) and sorted(layer.films) == [
        "conv_pre_film", "layer1x1_post_film"]
    assert not layer.films["conv_pre_film"].shift
    assert layer.gate_activation.min_val == -0.5 and layer.activation.slopes == (0.1, 0.2)
    assert np.array_equal(nam_dsp.render(nam_dsp.load(path), signal), nam_dsp.render(nam_dsp.from_spec(spec), signal))


def _bad(tmp_path, d) -> nam_dsp.NamFileError:
    path = tmp_path / "bad.nam"
    path.write_text(json.dumps(d))
    with pytest.raises(nam_dsp.NamFileError) as info:
        nam_dsp.load(path)
    assert str(path) in str(info.value)
    return info.value


def _counts(layers) -> bool:
    try:
        weight_count(layers)
        return True
    except nam_dsp.NamFileError:
        return False


@pytest.mark.parametrize("features,field,needle", [
    (dict(channels=4, groups_input=3), "groups_input", "divide"),
    (dict(channels=4, layer1x1=(True, 3)), "layer1x1.groups", "divide"),
    (dict(channels=4, head1x1=(5, 2)), "head1x1.groups", "divide"),
    (dict(channels=4, films={"conv_post_film": (True, 3)}), "conv_post_film.groups", "divide"),
    (dict(channels=4, bottleneck=2, layer1x1=(False, 1)), "bottleneck", "layer 1x1"),
    (dict(channels=4, films={"head1x1_post_film": (True, 1)}), "head1x1_post_film", "head1x1"),
    (dict(channels=4, layer1x1=(False, 1), films={"layer1x1_post_film": (True, 1)}), "layer1x1_post_film",
     "layer1x1"),
    (dict(channels=3, gating="gated", activation={"type": "PReLU", "negative_slopes": [0.1, 0.2]}),
     "negative_slopes", "slopes"),
    (dict(channels=3, activation={"type": "PReLU", "negative_slopes": [0.1, 0.2, 0.3]}), "activation", "PReLU"),
    (dict(channels=3, activation={"type": "LeakyHardtanh", "min_val": 1.0, "max_val": 0.5}), "max_val",
     "min_val"),
])
def test_inconsistent_extension_configs_name_the_field(tmp_path, features, field, needle):
    la = array_config(**features)
    counts = _counts([la])
    d = model([la], seed=0) if counts else {"version": "0.7.0", "architecture": "WaveNet",
                                            "config": {"layers": [la], "head": None, "head_scale": 1.0},
                                            "weights": [0.0]}
    error = _bad(tmp_path, d)
    assert field in error.field and needle in error.problem, str(error)


def test_next_array_head_accumulator_must_match_the_previous_head(tmp_path):
    layers = [array_config(channels=3, head_size=5),
              array_config(input_size=3, channels=5, head1x1=(4, 1))]
    d = {"version": "0.7.0", "architecture": "WaveNet", "config": {"layers": layers, "head": None, "head_scale": 1.0},
         "weights": []}
    error = _bad(tmp_path, d)
    assert error.field.endswith("layers[0].head_size") and "accumulator" in error.problem


def test_a_featured_slimmable_model_runs_only_at_full_width(signal):
    la = array_config(channels=4, films={"activation_post_film": (True, 1)})
    la["slimmable"] = {"method": "slice_channels_uniform", "kwargs": {"allowed_channels": [2, 4]}}
    spec = nam_file.from_dict(model([la], seed=61))
    assert spec.slimmable and spec.is_extended
    m = nam_dsp.from_spec(spec)
    assert rel_rms(nam_dsp.render(m, signal), reference.forward(spec, signal)) <= TOLERANCE
    with pytest.raises(nam_dsp.WidthError, match="full width"):
        m.set_width(2)
    with pytest.raises(nam_dsp.WidthError):
        m.set_slim(0.0)
    with pytest.raises(nam_dsp.WidthError):
        nam_dsp.from_spec(spec, width=2)
    m.set_width(4)  # the full width is fine
    assert m.width == 4


def test_plain_models_do_not_take_the_extended_path(shared_data):
    for name in ("a1-standard", "a2-full", "slimmable-paper"):
        assert not nam_dsp.preset(name).is_extended
    for path in sorted(shared_data.glob("models/*/*.nam")):
        spec = nam_dsp.load_spec(path)
        subs = spec.submodels if hasattr(spec, "submodels") else [spec]
        extended = any(getattr(s, "is_extended", False) for s in subs)
        assert extended == (path.stem == "wavenet_a2_max"), path.stem


def test_the_oracle_matches_nam_cores_render_of_its_feature_fixture(shared_data, guitar_di):
    """The proof that the semantics above are NAM Core's: the float64 oracle (no engine code)
    reproduces NAM Core's render of wavenet_a2_max over the whole DI (1.3e-7 when written)."""
    soundfile = pytest.importorskip("soundfile")
    spec = nam_dsp.load_spec(shared_data / "models" / "examples" / "wavenet_a2_max.nam")
    ref, rate = soundfile.read(str(shared_data / "reference" / "wavenet_a2_max.wav"), dtype="float32")
    assert rate == 48000 and ref.shape == guitar_di.shape
    assert rel_rms(reference.forward(spec, guitar_di), ref) <= 1e-6
