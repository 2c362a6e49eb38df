""".nam files: save/load round trips, the 0.7 form, atomic saves, and error messages.

Every error a file can cause is a :class:`nam_dsp.NamFileError` whose message names the file and
the JSON field, with the value found and what was expected.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest

import nam_dsp
from nam_dsp import nam_file, nam_writer
from nam_dsp.spec import ContainerSpec, LinearSpec, LSTMSpec, WaveNetSpec

from conftest import SHARED_DATA

DATA = SHARED_DATA
UNSUPPORTED: set = set()  # shared models to leave out of the round trips (none today)


def _shared_models():
    if not (DATA / "models").is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"shared test data not found at {DATA}"))]
    return [p for p in sorted(DATA.glob("models/*/*.nam")) if p.stem not in UNSUPPORTED]


def _params():
    return [p if not isinstance(p, Path) else pytest.param(p, id=p.stem) for p in _shared_models()]


def _spec_diff(a, b, where="spec") -> list:
    """Every field where two specs differ (arrays compared bit for bit, dtype included)."""
    if dataclasses.is_dataclass(a):
        if type(a) is not type(b):
            return [f"{where}: {type(a).__name__} vs {type(b).__name__}"]
        out = []
        for f in dataclasses.fields(a):
            out += _spec_diff(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
        return out
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        ok = (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
              and a.shape == b.shape and np.array_equal(a, b))
        return [] if ok else [where]
    if isinstance(a, dict) and isinstance(b, dict):
        if sorted(a) != sorted(b):
            return [f"{where}: keys {sorted(a)} vs {sorted(b)}"]
        out = []
        for key in a:
            out += _spec_diff(a[key], b[key], f"{where}[{key!r}]")
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{where}: length {len(a)} vs {len(b)}"]
        out = []
        for i, (u, v) in enumerate(zip(a, b)):
            out += _spec_diff(u, v, f"{where}[{i}]")
        return out
    return [] if a == b else [f"{where}: {a!r} vs {b!r}"]


def _weights(spec) -> list:
    """Every number the model computes with, in file order, as stored in the spec."""
    if isinstance(spec, ContainerSpec):
        return [w for sub in spec.submodels for w in _weights(sub)] + [np.array(spec.max_values)]
    if isinstance(spec, WaveNetSpec):
        return list(spec.parameters()) + [np.array([spec.head_scale])]
    if isinstance(spec, LSTMSpec):
        flat = [a for layer in spec.layers for a in layer]
        return flat + [spec.head_weight, np.array([spec.head_bias])]
    if isinstance(spec, LinearSpec):
        return [spec.weights, np.array([spec.bias])]
    raise TypeError(type(spec))


def _same_weights(a, b) -> bool:
    wa, wb = _weights(a), _weights(b)
    return len(wa) == len(wb) and all(
        u.dtype == v.dtype and u.shape == v.shape and np.array_equal(u, v) for u, v in zip(wa, wb))


def _excerpt():
    soundfile = pytest.importorskip("soundfile")
    x, _ = soundfile.read(str(DATA / "audio" / "di" / "guitar_di_10s.wav"), dtype="float32",
                          frames=48000 + 4096)
    return np.ascontiguousarray(x[48000:])


# ---------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", _params())
def test_save_then_load_keeps_every_weight(path, tmp_path):
    spec = nam_dsp.load_spec(path)
    target = tmp_path / path.name
    nam_dsp.save_spec(spec, target)
    again = nam_dsp.load_spec(target)
    assert _same_weights(spec, again)


@pytest.mark.parametrize("path", _params())
def test_save_then_load_gives_an_identical_spec(path, tmp_path):
    spec = nam_dsp.load_spec(path)
    target = tmp_path / path.name
    nam_dsp.load(path).save(target)  # Model.save and save_spec write the same thing
    again = nam_dsp.load_spec(target)
    assert _spec_diff(spec, again) == []
    # And the second generation is byte-identical to the first.
    second = tmp_path / ("second_" + path.name)
    nam_dsp.save_spec(again, second)
    assert second.read_bytes() == target.read_bytes()


@pytest.mark.parametrize("path", _params())
def test_save_then_load_renders_identically(path, tmp_path):
    x = _excerpt()
    target = tmp_path / path.name
    nam_dsp.save_spec(nam_dsp.load_spec(path), target)
    original = nam_dsp.render(nam_dsp.load(path), x)
    again = nam_dsp.render(nam_dsp.load(target), x)
    assert np.array_equal(original, again)


def test_saved_file_is_strict_json_with_the_required_keys(shared_data, tmp_path):
    for relative in ("captures/boss_sd1_nano.nam", "examples/A2.nam", "examples/lstm.nam",
                     "identity/linear_10.nam"):
        target = tmp_path / Path(relative).name
        nam_dsp.save_spec(nam_dsp.load_spec(shared_data / "models" / relative), target)
        d = json.loads(target.read_text(encoding="utf-8"),
                       parse_constant=lambda name: pytest.fail(f"{relative}: saved {name}"))
        assert {"version", "architecture", "config", "weights"} <= set(d)


@pytest.mark.parametrize("relative", ["captures/boss_sd1_nano.nam", "examples/wavenet_a1_standard.nam",
                                      "captures/boss_sd1_feather.nam"])
def test_a1_model_in_the_0_7_form_loads_back_and_renders_identically(shared_data, tmp_path, relative):
    spec = nam_dsp.load_spec(shared_data / "models" / relative)
    assert spec.legacy_keys
    d = nam_writer.to_dict(spec, form="0.7")
    assert d["version"] == "0.7.0"
    for layer in d["config"]["layers"]:
        assert {"head", "kernel_sizes", "gating_mode", "layer1x1"} <= set(layer)
        assert "head_size" not in layer and "kernel_size" not in layer
    target = tmp_path / "a1_as_0_7.nam"
    target.write_text(json.dumps(d), encoding="utf-8")
    again = nam_dsp.load_spec(target)
    assert _same_weights(spec, again)
    assert not again.legacy_keys
    x = _excerpt()
    assert np.array_equal(nam_dsp.render(nam_dsp.from_spec(spec), x),
                          nam_dsp.render(nam_dsp.load(target), x))


def test_legacy_form_of_a_model_with_0_7_features_is_refused():
    spec = nam_dsp.preset("a2-lite")  # LeakyReLU, head kernel 16: only the 0.7 form can say that
    with pytest.raises(ValueError):
        nam_writer.to_dict(spec, form="legacy")


def test_preset_round_trips_through_text_from_the_first_save_on():
    spec = nam_dsp.preset("slimmable-paper", seed=3)
    again = nam_file.loads(nam_writer.dumps(spec))
    assert again.allowed_widths == spec.allowed_widths
    assert all(np.array_equal(a, b) for a, b in zip(spec.parameters(), again.parameters()))
    assert np.float32(again.head_scale) == np.float32(spec.head_scale)
    # Once read back from a file, a spec saves to exactly the same text again.
    assert nam_writer.dumps(nam_file.loads(nam_writer.dumps(again))) == nam_writer.dumps(again)


def test_preset_head_scale_survives_a_round_trip():
    spec = nam_dsp.preset("slimmable-paper", seed=3)  # head_scale 0.01 is not a float32 value
    assert nam_file.loads(nam_writer.dumps(spec)).head_scale == spec.head_scale


# ---------------------------------------------------------------------------------------------
# Atomic saves
# ---------------------------------------------------------------------------------------------

def _boom(*args, **kwargs):
    raise OSError("simulated crash")


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_a_failed_save_leaves_the_old_file_intact_and_no_temporary_file(tmp_path, monkeypatch, failing):
    target = tmp_path / "model.nam"
    nam_dsp.save_spec(nam_dsp.preset("a1-nano", seed=1), target)
    before = target.read_bytes()
    monkeypatch.setattr(os, failing, _boom)
    with pytest.raises(OSError, match="simulated crash"):
        nam_dsp.save_spec(nam_dsp.preset("a1-nano", seed=2), target)
    with pytest.raises(OSError, match="simulated crash"):
        nam_dsp.from_spec(nam_dsp.preset("a1-nano", seed=2)).save(target)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.nam"]
    nam_dsp.load_spec(target)


def test_a_failed_first_save_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", _boom)
    with pytest.raises(OSError):
        nam_dsp.save_spec(nam_dsp.preset("a1-nano"), tmp_path / "new.nam")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_save_replaces_an_existing_file(tmp_path):
    target = tmp_path / "model.nam"
    nam_dsp.save_spec(nam_dsp.preset("a1-nano", seed=1), target)
    nam_dsp.save_spec(nam_dsp.preset("a1-nano", seed=2), target)
    assert target.read_text(encoding="utf-8") == nam_writer.dumps(nam_dsp.preset("a1-nano", seed=2))
    assert sorted(os.listdir(tmp_path)) == ["model.nam"]


# ---------------------------------------------------------------------------------------------
# Error messages name the file and the field
# ---------------------------------------------------------------------------------------------

def _base() -> dict:
    """A valid legacy-form A1-nano file (842 weights), no shared data needed."""
    return nam_writer.to_dict(nam_dsp.preset("a1-nano"), form="legacy")


N_WEIGHTS = 842


def _set(path_keys, value):
    def mutate(d):
        node = d
        for key in path_keys[:-1]:
            node = node[key]
        node[path_keys[-1]] = value
        return d
    return mutate


def _delete(key):
    def mutate(d):
        del d[key]
        return d
    return mutate


def _weights_edit(fn):
    def mutate(d):
        d["weights"] = fn(list(d["weights"]))
        return d
    return mutate


def _at(i, value):
    def fn(w):
        w[i] = value
        return w
    return fn


# (id, mutation of the base dict or raw bytes, expected field, substrings the message must contain,
#  exception class, marks)
BAD_FILES = [
    ("missing-weights", _delete("weights"), "weights", ["missing"], nam_dsp.NamFileError, []),
    ("too-few-weights", _weights_edit(lambda w: w[:-3]), "weights",
     [str(N_WEIGHTS), str(N_WEIGHTS - 3)], nam_dsp.NamFileError, []),
    ("too-many-weights", _weights_edit(lambda w: w + [0.5]), "weights",
     [str(N_WEIGHTS), str(N_WEIGHTS + 1)], nam_dsp.NamFileError, []),
    ("weights-not-a-list", _set(["weights"], {"a": 1}), "weights", ["list"], nam_dsp.NamFileError, []),
    ("nan-weight", _weights_edit(_at(17, float("nan"))), "weights[17]", ["nan"], nam_dsp.NamFileError, []),
    ("inf-weight", _weights_edit(_at(5, float("inf"))), "weights[5]", ["inf"], nam_dsp.NamFileError, []),
    ("float32-overflow-weight", _weights_edit(_at(99, 1e39)), "weights[99]", ["1e+39"],
     nam_dsp.NamFileError, []),
    ("null-weight", _weights_edit(_at(8, None)), "weights[8]", [], nam_dsp.NamFileError, []),
    ("list-weight", _weights_edit(_at(8, [1.0])), "weights[8]", ["list"], nam_dsp.NamFileError, []),
    # Numbers given as strings or booleans are refused, not converted.
    ("string-weight", _weights_edit(_at(3, "1.5")), "weights[3]", [], nam_dsp.NamFileError, []),
    ("bool-weight", _weights_edit(_at(3, True)), "weights[3]", [], nam_dsp.NamFileError, []),
    # Integer literals beyond the float range (JSON allows them; Python reads exact ints).
    ("huge-integer-weight", _weights_edit(_at(4, 10 ** 400)), "weights[4]", [], nam_dsp.NamFileError, []),
    ("huge-integer-sample-rate", _set(["sample_rate"], 10 ** 400), "sample_rate", [],
     nam_dsp.NamFileError, []),
    ("huge-integer-head-scale", _set(["config", "head_scale"], 10 ** 400), "config.head_scale", [],
     nam_dsp.NamFileError, []),
    ("unknown-activation", _set(["config", "layers", 0, "activation"], "Mish"),
     "config.layers[0].activation", ["Mish"], nam_dsp.NamFileError, []),
    ("leaky-relu-slope-beyond-float32",
     _set(["config", "layers", 0, "activation"], {"type": "LeakyReLU", "negative_slope": 1e39}),
     "config.layers[0].activation.negative_slope", ["1e+39"], nam_dsp.NamFileError, []),
    ("activation-not-a-string", _set(["config", "layers", 1, "activation"], 3),
     "config.layers[1].activation", ["3"], nam_dsp.NamFileError, []),
    ("dilation-0", _set(["config", "layers", 1, "dilations", 2], 0), "config.layers[1].dilations[2]",
     [">= 1", "0"], nam_dsp.NamFileError, []),
    ("dilation-negative", _set(["config", "layers", 0, "dilations", 0], -4),
     "config.layers[0].dilations[0]", ["-4"], nam_dsp.NamFileError, []),
    ("dilation-huge", _set(["config", "layers", 0, "dilations", 0], 10 ** 12),
     "config.layers[0].dilations[0]", [str(10 ** 12)], nam_dsp.NamFileError, []),
    ("dilation-fractional", _set(["config", "layers", 0, "dilations", 1], 1.5),
     "config.layers[0].dilations[1]", ["1.5"], nam_dsp.NamFileError, []),
    ("channels-absurd", _set(["config", "layers", 0, "channels"], 10 ** 9),
     "config.layers[0].channels", [str(10 ** 9)], nam_dsp.NamFileError, []),
    ("version-2", _set(["version"], "2.0.0"), "version", ["2.0.0"], nam_dsp.UnsupportedFeatureError, []),
    ("version-garbage", _set(["version"], "banana"), "version", ["banana"], nam_dsp.NamFileError, []),
    ("missing-version", _delete("version"), "version", ["missing"], nam_dsp.NamFileError, []),
    ("convnet", _set(["architecture"], "ConvNet"), "architecture", ["ConvNet"],
     nam_dsp.UnsupportedFeatureError, []),
    ("unknown-architecture", _set(["architecture"], "Transformer"), "architecture", ["Transformer"],
     nam_dsp.UnsupportedFeatureError, []),
    ("missing-config", _delete("config"), "config", ["missing"], nam_dsp.NamFileError, []),
    ("sample-rate-string", _set(["sample_rate"], "48k"), "sample_rate", ["48k"], nam_dsp.NamFileError, []),
    ("sample-rate-zero", _set(["sample_rate"], 0), "sample_rate", ["0"], nam_dsp.NamFileError, []),
    ("top-level-list", lambda d: [d], "<top level>", ["object"], nam_dsp.NamFileError, []),
    ("non-json", b"{this is not json", "<file>", ["JSON"], nam_dsp.NamFileError, []),
    ("empty-file", b"", "<file>", ["JSON"], nam_dsp.NamFileError, []),
    ("not-utf8", b"\xff\xfe{\x00}\x00", "<file>", ["UTF-8"], nam_dsp.NamFileError, []),
    ("truncated", lambda d: json.dumps(d).encode()[:1000], "<file>", ["JSON"], nam_dsp.NamFileError, []),
    # NAM Core's JSON parser (nlohmann) skips a UTF-8 byte-order mark: so must we.
    ("utf8-bom", lambda d: b"\xef\xbb\xbf" + json.dumps(d).encode(), None, [], None, []),
]


@pytest.mark.parametrize("mutation,field,needles,error_type",
                         [pytest.param(m, f, n, e, id=name, marks=marks)
                          for name, m, f, n, e, marks in BAD_FILES])
def test_bad_file_error_names_the_file_and_the_field(tmp_path, mutation, field, needles, error_type):
    path = tmp_path / "bad model.nam"
    content = mutation if isinstance(mutation, bytes) else mutation(copy.deepcopy(_base()))
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(json.dumps(content), encoding="utf-8")
    if error_type is None:  # a file that must load
        nam_dsp.load(path)
        return
    with pytest.raises(nam_dsp.NamFileError) as info:
        nam_dsp.load(path)
    error = info.value
    message = str(error)
    assert isinstance(error, error_type) and isinstance(error, ValueError)
    assert error.path == str(path) and str(path) in message
    assert error.field == field, message
    assert f": {field}: " in message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_a_directory_path_raises_nam_file_error_naming_it(tmp_path):
    with pytest.raises(nam_dsp.NamFileError) as info:
        nam_dsp.load(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_a_missing_file_raises_nam_file_error_naming_it(tmp_path):
    path = tmp_path / "no such model.nam"
    with pytest.raises(nam_dsp.NamFileError) as info:
        nam_dsp.load(path)
    assert str(path) in str(info.value)
    assert "No such file" in str(info.value)


def test_errors_from_a_dict_say_so():
    d = _base()
    del d["weights"]
    with pytest.raises(nam_dsp.NamFileError) as info:
        nam_file.from_dict(d)
    assert str(info.value).startswith("<dict>: weights:")


def test_saved_files_get_the_usual_permissions_not_private_ones(tmp_path):
    path = tmp_path / "model.nam"
    nam_dsp.save_spec(nam_dsp.preset("a1-nano"), path)
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)
