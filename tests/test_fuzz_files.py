"""Thousands of broken .nam files: each loads and runs, or raises NamFileError naming the file.

Seeded mutations of the shared models (mostly the small ones, so the whole run stays well under a
minute): wrong weight counts, non-finite and mistyped weights, unknown architectures and
activations, bad dilations, absurd sizes (which must fail before anything big is allocated),
a random node of the JSON tree replaced or deleted, truncations, byte flips and non-JSON.

The contract for every case: ``nam_dsp.load(path)`` either returns a model whose
``process(256 samples)`` gives finite float32 output, or raises :class:`nam_dsp.NamFileError`
whose message contains the path. Anything else fails, with the mutation printed. Each case is
also timed: more than 5 s for one file is reported as a hang (not a speed requirement).

Not covered here, on purpose: finite weights so large (say 1e18 in several places) that a
valid model overflows float32 and outputs inf: the file is legal, the overflow is the model's,
not the loader's. Replacement values therefore stay within +-1e18, apart from the non-finite
ones, integer literals beyond the float range and weights beyond the float32 range, which the
loader must refuse.
"""

from __future__ import annotations

import copy
import json
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import nam_dsp

from conftest import SHARED_DATA

DATA = SHARED_DATA

SMALL = ["examples/wavenet.nam", "examples/slimmable_wavenet.nam", "examples/lstm.nam",
         "identity/linear_10.nam", "examples/slimmable_container.nam", "captures/boss_sd1_nano.nam",
         "identity/wavenet_minimal.nam", "examples/wavenet_a2_max.nam"]
LARGE = ["examples/A2.nam", "captures/boss_sd1_lstm_2x8.nam"]  # a few cases each

HANG_SECONDS = 5.0
MEMORY_LIMIT = 50 * 2 ** 20
SIGNAL = (0.5 * np.random.default_rng(0).standard_normal(256)).clip(-1, 1).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Loading the bases and writing cases
# ---------------------------------------------------------------------------------------------

_BASES: dict = {}


def _base(relative) -> tuple:
    """(parsed JSON, raw bytes) of a shared model."""
    if relative not in _BASES:
        raw = (DATA / "models" / relative).read_bytes()
        _BASES[relative] = (json.loads(raw), raw)
    return _BASES[relative]


class Raw:
    """A number written verbatim into the JSON text (e.g. ``1e400``, which Python reads as inf)."""

    def __init__(self, text):
        self.text = text


def _dumps(tree) -> bytes:
    raws = []

    def encode(obj):
        if isinstance(obj, Raw):
            raws.append(obj.text)
            return f"@@RAW{len(raws) - 1}@@"
        raise TypeError(type(obj))

    text = json.dumps(tree, default=encode)
    for i, raw in enumerate(raws):
        text = text.replace(f'"@@RAW{i}@@"', raw)
    return text.encode("utf-8")


def _describe(value) -> str:
    if isinstance(value, Raw):
        return value.text
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def _paths(tree, prefix=()):
    """Every node's path; long lists (weights) contribute only their first, last and a few others."""
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(tree, list):
        indices = range(len(tree))
        if len(tree) > 12:
            indices = sorted({0, 1, len(tree) // 2, len(tree) - 2, len(tree) - 1})
        for i in indices:
            yield from _paths(tree[i], prefix + (i,))


def _get(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def _set(tree, path, value):
    if not path:
        return value
    _get(tree, path[:-1])[path[-1]] = value
    return tree


def _path_text(path) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else f".{key}"
    return out.lstrip(".") or "<root>"


def _wavenet_layer_paths(tree):
    """Paths of every WaveNet layer-array config in a tree (containers included)."""
    out = []
    for path in _paths(tree):
        node = _get(tree, path)
        if isinstance(node, dict) and node.get("architecture") == "WaveNet":
            layers = node.get("config", {}).get("layers", [])
            out += [path + ("config", "layers", i) for i in range(len(layers))]
    return out


def _model_paths(tree, arch=None):
    out = []
    for path in _paths(tree):
        node = _get(tree, path)
        if isinstance(node, dict) and "architecture" in node and (arch is None or node["architecture"] == arch):
            out.append(path)
    return out


# ---------------------------------------------------------------------------------------------
# Mutation generators: each yields (description, bytes)
# ---------------------------------------------------------------------------------------------

BAD_NUMBERS = [Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("1e309"), Raw("-1e400"), 1e39, -1e39,
               3.5e38, Raw("1" + "0" * 400), Raw("-" + "9" * 320)]
WRONG_TYPES = ["abc", "", "1.5", None, True, False, [], [1.0], {}, {"a": 1}, [[0.1]]]
POOL = [None, True, False, 0, -1, 1, 2, 1.5, -0.5, 10 ** 9, 10 ** 18, -10 ** 18, 1e18, 1e-30, "x", "",
        "Tanh", "0.5.4", [], [0], [1, 2, 3], {}, {"active": True}, {"type": "Tanh"}, Raw("NaN"),
        Raw("Infinity"), Raw("1" + "0" * 400), [[[]]], {"a": {"b": None}}]
SIZE_VALUES = [0, -1, -(10 ** 9), 10 ** 9, 10 ** 12, 10 ** 18, 2 ** 31, 2 ** 32 + 3, 2 ** 63, 513, 1025,
               4097, 10 ** 6, 10 ** 400, 1.5, "8", None, True, [8]]
SIZE_KEYS = ("channels", "head_size", "input_size", "condition_size", "kernel_size", "hidden_size",
             "num_layers", "receptive_field", "out_channels", "bottleneck", "groups", "groups_input",
             "groups_input_mixin")


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def gen_weight_count(rng, n):
    for i in range(n):
        rel = _pick(rng, SMALL)
        tree = copy.deepcopy(_base(rel)[0])
        models = [p for p in _model_paths(tree) if _get(tree, p)["architecture"] != "SlimmableContainer"]
        path = _pick(rng, models) + ("weights",)
        w = _get(tree, path)
        kind = i % 6
        k = int(rng.integers(1, 6))
        if kind == 0:
            new, what = w[:-k], f"drop last {k}"
        elif kind == 1:
            new, what = w + [0.25] * k, f"append {k}"
        elif kind == 2:
            j = int(rng.integers(len(w)))
            new, what = w[:j] + w[j + 1:], f"remove weights[{j}]"
        elif kind == 3:
            new, what = [], "empty"
        elif kind == 4:
            new, what = w + w, "doubled"
        else:
            new, what = w[: int(rng.integers(len(w)))], "random prefix"
        _set(tree, path, new)
        yield f"{rel}: {_path_text(path)} {what}", _dumps(tree)


def gen_weight_values(rng, n):
    for i in range(n):
        rel = _pick(rng, SMALL)
        tree = copy.deepcopy(_base(rel)[0])
        models = [p for p in _model_paths(tree) if _get(tree, p)["architecture"] != "SlimmableContainer"]
        path = _pick(rng, models) + ("weights",)
        w = _get(tree, path)
        j = len(w) - 1 if i % 7 == 0 else int(rng.integers(len(w)))  # the last one is head_scale
        if i % 3 == 0:  # a fine finite value: must load and run
            value = float(rng.normal(0.0, 10.0))
        else:
            value = _pick(rng, BAD_NUMBERS)
        w[j] = value
        yield f"{rel}: {_path_text(path)}[{j}] = {_describe(value)}", _dumps(tree)


def gen_weight_types(rng, n):
    for i in range(n):
        rel = _pick(rng, SMALL)
        tree = copy.deepcopy(_base(rel)[0])
        models = [p for p in _model_paths(tree) if _get(tree, p)["architecture"] != "SlimmableContainer"]
        path = _pick(rng, models) + ("weights",)
        w = _get(tree, path)
        j = int(rng.integers(len(w))) if i % 4 else 0
        value = _pick(rng, WRONG_TYPES)
        w[j] = copy.deepcopy(value)
        yield f"{rel}: {_path_text(path)}[{j}] = {_describe(value)}", _dumps(tree)


def gen_architecture(rng, n):
    names = ["ConvNet", "Transformer", "wavenet", "WAVENET", "LSTM", "Linear", "WaveNet",
             "SlimmableContainer", "", None, 5, [], {}, True, "WaveNet "]
    for i in range(n):
        rel = _pick(rng, SMALL)
        tree = copy.deepcopy(_base(rel)[0])
        path = _pick(rng, _model_paths(tree)) + ("architecture",)
        value = _pick(rng, names)
        _set(tree, path, value)
        yield f"{rel}: {_path_text(path)} = {_describe(value)}", _dumps(tree)


def gen_activation(rng, n):
    values = ["Mish", "tanh", "", "GELU", None, 3, [], {}, {"type": "Mish"}, {"negative_slope": 0.1},
              {"type": "LeakyReLU", "negative_slope": "x"}, {"type": "LeakyReLU", "negative_slope": Raw("NaN")},
              {"type": "LeakyReLU", "negative_slope": 50.0}, {"type": "LeakyHardtanh", "min_val": -2},
              {"type": "LeakyHardtanh", "min_slope": 0.1, "max_slope": 0.2}, {"type": "Softsign", "alpha": 2},
              {"type": "PReLU", "negative_slopes": [0.1] * 7}, {"type": "PReLU", "negative_slopes": "x"},
              {"type": "PReLU", "negative_slopes": []}, {"type": "LeakyHardtanh", "min_val": 2, "max_val": -2},
              {"type": "LeakyHardtanh", "min_val": Raw("NaN")}, "PReLU",
              # valid ones: must load and give finite output
              "ReLU", "Sigmoid", "Hardtanh", "Softsign", "SiLU", "Hardswish", "Identity", "Fasttanh",
              {"type": "LeakyReLU", "negative_slope": 0.2}, {"type": "LeakyHardtanh", "min_slope": 0.1},
              {"type": "LeakyHardtanh", "min_val": -0.3, "max_val": 0.6, "min_slope": 0.0, "max_slope": 0.1}]
    wavenets = [r for r in SMALL if _wavenet_layer_paths(_base(r)[0])]
    for i in range(n):
        rel = _pick(rng, wavenets)
        tree = copy.deepcopy(_base(rel)[0])
        layer = _pick(rng, _wavenet_layer_paths(tree))
        key = "secondary_activation" if i % 5 == 0 else "activation"
        value = copy.deepcopy(_pick(rng, values))
        if i % 4 == 1:  # per-layer list, possibly of the wrong length
            n_layers = len(_get(tree, layer)["dilations"])
            value = [value] * (n_layers if i % 8 == 1 else max(n_layers - 1, 0))
        if key == "secondary_activation":
            _get(tree, layer)["gated"] = bool(i % 2)
        _get(tree, layer)[key] = value
        yield f"{rel}: {_path_text(layer)}.{key} = {_describe(value)}", _dumps(tree)


def gen_dilations(rng, n):
    values = [0, -1, -(10 ** 6), 65536, 65537, 10 ** 5, 10 ** 9, 10 ** 18, 2 ** 31, 2 ** 63, 1.5, 2.0, "2",
              None, True, [], Raw("NaN"), Raw("1e309")]
    wavenets = [r for r in SMALL if _wavenet_layer_paths(_base(r)[0])]
    for i in range(n):
        rel = _pick(rng, wavenets)
        tree = copy.deepcopy(_base(rel)[0])
        layer = _pick(rng, _wavenet_layer_paths(tree))
        dil = _get(tree, layer)["dilations"]
        if i % 10 == 0:
            value = _pick(rng, [[], [1] * 600, "1,2,4", None, {"0": 1}])
            _get(tree, layer)["dilations"] = value
            yield f"{rel}: {_path_text(layer)}.dilations = {_describe(value)}", _dumps(tree)
            continue
        j = int(rng.integers(len(dil)))
        value = _pick(rng, values)
        dil[j] = value
        yield f"{rel}: {_path_text(layer)}.dilations[{j}] = {_describe(value)}", _dumps(tree)


def gen_sizes(rng, n):
    rels = SMALL + LARGE
    for i in range(n):
        rel = rels[i % len(rels)]
        tree = copy.deepcopy(_base(rel)[0])
        candidates = [p for p in _paths(tree) if p and p[-1] in SIZE_KEYS]
        candidates += [p + ("kernel_sizes", 0) for p in _wavenet_layer_paths(tree)
                       if "kernel_sizes" in _get(tree, p)]
        candidates += [p for p in _paths(tree) if len(p) > 1 and p[-2] == "allowed_channels"]
        if not candidates:
            continue
        path = _pick(rng, candidates)
        value = _pick(rng, SIZE_VALUES)
        _set(tree, path, copy.deepcopy(value))
        yield f"{rel}: {_path_text(path)} = {_describe(value)}", _dumps(tree)


def gen_tree_walk(rng, n):
    rels = SMALL * 3 + LARGE
    for i in range(n):
        rel = _pick(rng, rels)
        tree = copy.deepcopy(_base(rel)[0])
        paths = list(_paths(tree))
        path = _pick(rng, paths)
        action = i % 5
        if action == 4 and path and isinstance(_get(tree, path[:-1]), dict):
            del _get(tree, path[:-1])[path[-1]]
            yield f"{rel}: delete {_path_text(path)}", _dumps(tree)
        elif action == 3 and path:
            old = _get(tree, path)
            wrapped = _pick(rng, [[old], {"value": old}, str(old)[:50]])
            tree = _set(tree, path, wrapped)
            yield f"{rel}: wrap {_path_text(path)} -> {_describe(wrapped)}", _dumps(tree)
        else:
            value = copy.deepcopy(_pick(rng, POOL))
            tree = _set(tree, path, value)
            yield f"{rel}: {_path_text(path)} = {_describe(value)}", _dumps(tree)


def gen_truncations(rng, n):
    rels = SMALL + LARGE
    for i in range(n):
        rel = rels[i % len(rels)]
        raw = _base(rel)[1]
        cut = int(rng.integers(0, len(raw)))
        yield f"{rel}: truncated to {cut} of {len(raw)} bytes", raw[:cut]


def gen_byte_flips(rng, n):
    rels = SMALL + LARGE[:1]
    for i in range(n):
        rel = rels[i % len(rels)]
        data = bytearray(_base(rel)[1])
        flips = []
        if i % 2:  # number-ish edits that usually keep the JSON valid: digits, signs, exponents
            digits = np.flatnonzero(np.isin(np.frombuffer(bytes(data), np.uint8), list(b"0123456789")))
            for _ in range(int(rng.integers(1, 4))):
                pos = int(_pick(rng, digits))
                char = _pick(rng, b"0123456789-.e+9")
                data[pos] = char
                flips.append(f"{pos}={chr(char)}")
        else:
            for _ in range(int(rng.integers(1, 5))):
                pos = int(rng.integers(len(data)))
                mask = int(rng.integers(1, 256))
                data[pos] ^= mask
                flips.append(f"{pos}^{mask:#04x}")
        yield f"{rel}: bytes {', '.join(flips)}", bytes(data)


def gen_non_json(rng, n):
    fixed = [b"", b" ", b"\n\n", b"null", b"[]", b"{}", b"42", b'"wavenet"', b"NaN", b"true",
             b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
             b"\x00" * 64, b"\xef\xbb\xbf", b"\xff\xfe{\x00}\x00", "{}".encode("utf-16"),
             b"PK\x03\x04" + bytes(60), b"RIFF\x24\x00\x00\x00WAVEfmt ", b"{'version': '0.5.4'}",
             b'{"version": "0.5.4",}', b"\x80abc", b"{\"version\": \"\xc3\x28\"}"]
    for i in range(n):
        if i < len(fixed):
            yield f"non-JSON fixture #{i} ({fixed[i][:20]!r})", fixed[i]
        else:
            size = int(rng.integers(1, 2000))
            yield f"random bytes #{i} ({size} bytes)", rng.integers(0, 256, size, dtype=np.uint8).tobytes()


def gen_containers(rng, n):
    rel = "examples/slimmable_container.nam"
    for i in range(n):
        tree = copy.deepcopy(_base(rel)[0])
        subs = tree["config"]["submodels"]
        kind = i % 10
        if kind == 0:
            subs[0]["max_value"], subs[1]["max_value"] = subs[1]["max_value"], subs[0]["max_value"]
            what = "max_values out of order"
        elif kind == 1:
            subs[-1]["max_value"] = float(rng.uniform(0.7, 0.99))
            what = "last max_value < 1"
        elif kind == 2:
            tree["config"]["submodels"] = []
            what = "no submodels"
        elif kind == 3:
            nested = tree
            for _ in range(int(rng.integers(3, 8))):
                nested = {"version": "0.7.0", "architecture": "SlimmableContainer", "weights": [],
                          "config": {"submodels": [{"max_value": 1.0, "model": nested}]}}
            tree = nested
            what = "nested containers"
        elif kind == 4:
            subs[int(rng.integers(len(subs)))]["model"]["sample_rate"] = 44100
            what = "submodel rate differs"
        elif kind == 5:
            tree["weights"] = [0.5]
            what = "container with weights"
        elif kind == 6:
            j = int(rng.integers(len(subs)))
            subs[j] = _pick(rng, [None, [], {"max_value": 0.5}, {"model": subs[j]["model"]}, 3])
            what = f"submodels[{j}] garbage"
        elif kind == 7:
            subs[int(rng.integers(len(subs)))]["max_value"] = _pick(rng, [Raw("NaN"), "0.5", None, -1, 1e18])
            what = "bad max_value"
        elif kind == 8:
            tree["config"]["submodels"] = subs[:1] + subs[:1]
            what = "duplicate submodel"
        else:
            subs[-1]["model"] = copy.deepcopy(_base("identity/linear_10.nam")[0])
            subs[-1]["model"]["sample_rate"] = _pick(rng, [48000, 96000, None])
            what = "Linear submodel"
        yield f"{rel}: {what}", _dumps(tree)


def gen_versions(rng, n):
    values = ["0.4.0", "0.8.0", "1.0.0", "2.0.0", "0.5", "0", "", "a.b.c", "0.5.4-beta", "0.7.0.1",
              "\u0660.\u0665.\u0664", " 0.5.4", "-0.5.4", 5, 0.5, None, [], {"major": 0}]
    for i in range(n):
        rel = SMALL[i % len(SMALL)]
        tree = copy.deepcopy(_base(rel)[0])
        path = _pick(rng, _model_paths(tree)) + ("version",)
        value = _pick(rng, values)
        _set(tree, path, copy.deepcopy(value))
        yield f"{rel}: {_path_text(path)} = {_describe(value)}", _dumps(tree)


CATEGORIES = {  # name -> (generator, number of cases)
    "weight-count": (gen_weight_count, 150),
    "weight-values": (gen_weight_values, 250),
    "weight-types": (gen_weight_types, 200),
    "architecture": (gen_architecture, 60),
    "activation": (gen_activation, 120),
    "dilations": (gen_dilations, 200),
    "absurd-sizes": (gen_sizes, 200),
    "tree-walk": (gen_tree_walk, 500),
    "truncation": (gen_truncations, 200),
    "byte-flip": (gen_byte_flips, 250),
    "non-json": (gen_non_json, 50),
    "containers": (gen_containers, 80),
    "versions": (gen_versions, 40),
}


# ---------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------

def _check(path: Path, description: str, outcomes: dict, failures: list, memory: bool) -> None:
    start = time.perf_counter()
    if memory:
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
    try:
        model = nam_dsp.load(path)
    except nam_dsp.NamFileError as exc:
        outcomes["rejected"] += 1
        if str(path) not in str(exc):
            failures.append(f"{description}: NamFileError without the path: {exc}")
    except Exception as exc:  # noqa: BLE001 - any other type is the bug we look for
        failures.append(f"{description}: {type(exc).__name__}: {str(exc)[:300]}")
    else:
        outcomes["loaded"] += 1
        try:
            y = model.process(SIGNAL)
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{description}: loaded, but process() raised {type(exc).__name__}: {exc}")
        else:
            if not (isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == SIGNAL.shape):
                failures.append(f"{description}: process() returned {type(y).__name__} "
                                f"{getattr(y, 'dtype', '')} {getattr(y, 'shape', '')}")
            elif not np.isfinite(y).all():
                failures.append(f"{description}: loaded, but the output is not finite")
    if memory:
        _, peak = tracemalloc.get_traced_memory()
        if peak - baseline > MEMORY_LIMIT:
            failures.append(f"{description}: allocated {(peak - baseline) / 2 ** 20:.0f} MiB before failing")
    elapsed = time.perf_counter() - start
    if elapsed > HANG_SECONDS:
        failures.append(f"{description}: took {elapsed:.1f} s (hang guard {HANG_SECONDS} s)")


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_every_mutated_file_loads_and_runs_or_raises_nam_file_error(category, shared_data, tmp_path):
    generator, count = CATEGORIES[category]
    rng = np.random.default_rng(20261125 + list(CATEGORIES).index(category))
    outcomes = {"loaded": 0, "rejected": 0}
    failures: list = []
    memory = category == "absurd-sizes"
    if memory:
        tracemalloc.start()
    try:
        n = 0
        for i, (description, content) in enumerate(generator(rng, count)):
            path = tmp_path / f"{category}-{i:04d}.nam"
            path.write_bytes(content)
            _check(path, description, outcomes, failures, memory)
            path.unlink()
            n += 1
    finally:
        if memory:
            tracemalloc.stop()
    assert n >= count * 0.95, f"only {n} of {count} cases were generated"
    assert not failures, (f"{len(failures)} of {n} mutated files broke the contract "
                          f"(outcomes {outcomes}):\n" + "\n".join(failures[:40]))
    if category in ("weight-count", "non-json", "absurd-sizes"):
        assert outcomes["loaded"] == 0 or category == "absurd-sizes", outcomes
    assert outcomes["rejected"] > 0, outcomes


def test_corpus_has_at_least_2000_cases():
    assert sum(count for _, count in CATEGORIES.values()) >= 2000


def test_absurd_channel_count_fails_fast_without_allocating(shared_data, tmp_path):
    """channels = 10**9 (and friends) is refused from the config alone, before any allocation."""
    tree = _base("captures/boss_sd1_nano.nam")[0]
    for key, value in [("channels", 10 ** 9), ("channels", 512), ("head_size", 10 ** 9),
                       ("kernel_size", 10 ** 9), ("kernel_size", 256)]:
        mutated = copy.deepcopy(tree)
        mutated["config"]["layers"][0][key] = value
        if key == "channels":
            mutated["config"]["layers"][1]["input_size"] = value
        path = tmp_path / f"{key}-{value}.nam"
        path.write_bytes(_dumps(mutated))
        tracemalloc.start()
        try:
            start = time.perf_counter()
            with pytest.raises(nam_dsp.NamFileError) as info:
                nam_dsp.load(path)
            elapsed = time.perf_counter() - start
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert str(path) in str(info.value)
        assert peak < MEMORY_LIMIT, f"{key}={value}: peak {peak / 2 ** 20:.1f} MiB"
        assert elapsed < HANG_SECONDS
