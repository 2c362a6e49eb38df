"""The ``nam-dsp`` command line, run in-process through ``main([...])`` (and once as a process)."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

import nam_dsp
from nam_dsp.cli import main

from conftest import SHARED_DATA

REPO = Path(__file__).resolve().parents[1]
DATA = SHARED_DATA
SLIMMABLE = DATA / "models" / "slimmable" / "nam_trainer_paper_crunch_30min.nam"
A1_CAPTURE = DATA / "models" / "captures" / "marshall_jcm_standard.nam"
CONTAINER = DATA / "models" / "examples" / "slimmable_container.nam"
LSTM = DATA / "models" / "examples" / "lstm.nam"
GUITAR_DI = DATA / "audio" / "di" / "guitar_di_10s.wav"

needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared test data not found at {DATA}")

BENCH_KEYS = {"width", "macs_per_sample", "xrt", "p50_us", "p99_us", "block_size"}


@pytest.fixture(scope="module")
def guitar_1s(tmp_path_factory) -> Path:
    """The first second of the shared guitar DI, as a 24-bit WAV in a temp dir."""
    if not DATA.is_dir():
        pytest.skip(f"shared test data not found at {DATA}")
    x, rate = sf.read(GUITAR_DI, frames=48000, dtype="float32")
    path = tmp_path_factory.mktemp("audio") / "guitar_1s.wav"
    sf.write(path, x, rate, subtype="PCM_24")
    return path


def read_float32(path) -> np.ndarray:
    return sf.read(path, dtype="float32")[0]


# -- info -----------------------------------------------------------------------------------------

@needs_data
def test_info_json_lists_every_width_with_its_macs(capsys):
    assert main(["info", str(SLIMMABLE), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    spec = nam_dsp.load_spec(SLIMMABLE)
    assert info["architecture"] == "WaveNet"
    assert info["sample_rate"] == 48000
    assert info["receptive_field"] == spec.receptive_field
    assert info["num_weights"] == spec.num_weights
    assert info["allowed_widths"] == list(range(1, 9))
    assert [row["width"] for row in info["widths"]] == list(range(1, 9))
    assert [row["macs_per_sample"] for row in info["widths"]] == [spec.macs_per_sample(w) for w in range(1, 9)]
    assert info["metadata"]["gain"] == spec.metadata["gain"]


@needs_data
def test_info_num_weights_matches_the_file_for_every_architecture(capsys):
    for path in (SLIMMABLE, A1_CAPTURE, LSTM, DATA / "models" / "identity" / "linear_10.nam"):
        assert main(["info", str(path), "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["num_weights"] == len(json.loads(path.read_text())["weights"]), path


@needs_data
def test_info_lists_each_submodel_of_a_container(capsys):
    assert main(["info", str(CONTAINER), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["architecture"] == "SlimmableContainer"
    assert [sub["max_value"] for sub in info["submodels"]] == [0.33, 0.66, 1.0]
    assert [sub["architecture"] for sub in info["submodels"]] == ["LSTM", "WaveNet", "WaveNet"]
    subs = nam_dsp.load_spec(CONTAINER).submodels
    assert [sub["receptive_field"] for sub in info["submodels"]] == [s.receptive_field for s in subs]
    assert [sub["widths"][-1]["macs_per_sample"] for sub in info["submodels"]] == [
        s.macs_per_sample() for s in subs]

    assert main(["info", str(CONTAINER)]) == 0
    text = capsys.readouterr().out
    assert "submodels" in text and "0.33" in text and "LSTM" in text


@needs_data
def test_info_text_shows_rate_receptive_field_and_macs_per_width(capsys):
    assert main(["info", str(SLIMMABLE)]) == 0
    text = capsys.readouterr().out
    assert "48000 Hz" in text
    assert "receptive field: 5116 samples" in text
    assert "6856" in text and "122" in text
    assert "gain" in text


def test_info_text_indents_nested_metadata_and_drops_nulls(tmp_path, capsys):
    spec = nam_dsp.preset("a1-nano")
    spec.metadata = {"name": "nano", "gear_make": None,
                     "date": {"year": 2026, "month": 1, "day": 2, "hour": 3, "minute": 4, "second": 5},
                     "training": {"validation_esr": {"8": 0.0125}}}
    model = tmp_path / "nano.nam"
    nam_dsp.save_spec(spec, model)
    assert main(["info", str(model)]) == 0
    lines = capsys.readouterr().out.splitlines()
    metadata = lines[lines.index("metadata:") + 1:]
    assert metadata == ["  name: nano", "  date: 2026-01-02 03:04:05", "  training:",
                        "    validation_esr:", "      8: 0.0125"]


# -- render ---------------------------------------------------------------------------------------

@needs_data
@pytest.mark.parametrize("extra, kwargs", [([], {}), (["--width", "3"], {"width": 3}),
                                           (["--slim", "0.5", "--block-size", "64"], {"slim": 0.5})])
def test_render_equals_library_render_bit_for_bit(guitar_1s, tmp_path, capsys, extra, kwargs):
    out = tmp_path / "out.wav"
    assert main(["render", str(SLIMMABLE), str(guitar_1s), str(out), *extra]) == 0
    assert "x real time" in capsys.readouterr().out
    x = read_float32(guitar_1s)
    expected = nam_dsp.render(str(SLIMMABLE), x, **kwargs)
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (48000, 1, x.size, "FLOAT")
    np.testing.assert_array_equal(read_float32(out), expected)


@needs_data
def test_render_uses_channel_0_of_a_stereo_file_and_says_so(guitar_1s, tmp_path, capsys):
    x = read_float32(guitar_1s)
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.stack([x, -0.5 * x], axis=1), 48000, subtype="FLOAT")
    out = tmp_path / "out.wav"
    assert main(["render", str(A1_CAPTURE), str(stereo), str(out)]) == 0
    assert "channel 0" in capsys.readouterr().err
    np.testing.assert_array_equal(read_float32(out), nam_dsp.render(str(A1_CAPTURE), x))


@needs_data
def test_render_resamples_a_44k1_file_and_keeps_its_length_and_rate(guitar_1s, tmp_path, capsys):
    x48 = read_float32(guitar_1s)
    x44 = resample_poly(x48.astype(np.float64), 147, 160).astype(np.float32)
    path44 = tmp_path / "guitar_44k1.wav"
    sf.write(path44, x44, 44100, subtype="FLOAT")
    out = tmp_path / "out.wav"
    assert main(["render", str(A1_CAPTURE), str(path44), str(out)]) == 0
    assert "converted to 48000 Hz for the model and back to 44100 Hz" in capsys.readouterr().err
    y44, rate = sf.read(out, dtype="float32")
    assert rate == 44100 and y44.shape == x44.shape
    # The same amp at 48 kHz, brought to 44.1 kHz by SciPy's zero-phase filter, is close to the
    # render through the player's converter.
    reference = resample_poly(nam_dsp.render(str(A1_CAPTURE), x48).astype(np.float64), 147, 160)
    core = slice(2000, -2000)  # away from the resampling filters' edges
    error = np.sum((y44[core] - reference[core]) ** 2) / np.sum(reference[core] ** 2)
    assert error < 1e-2


# -- bench ----------------------------------------------------------------------------------------

def test_bench_json_has_one_row_per_width_with_the_documented_keys(capsys):
    assert main(["bench", "--arch", "slimmable-paper", "--width", "1", "8", "--seconds", "0.1",
                 "--block-size", "128", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["width"] for row in rows] == [1, 8]
    spec = nam_dsp.preset("slimmable-paper")
    for row in rows:
        assert BENCH_KEYS <= row.keys()
        assert row["block_size"] == 128
        assert row["macs_per_sample"] == spec.macs_per_sample(row["width"])
        assert row["xrt"] > 0 and row["xrt_cpu"] > 0 and 0 < row["p50_us"] <= row["p99_us"]


def test_bench_all_widths_and_threads_report_aggregate_and_scaling(capsys):
    assert main(["bench", "--arch", "slimmable-paper", "--all-widths", "--seconds", "0.05",
                 "--threads", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["width"] for row in rows] == list(range(1, 9))
    for row in rows:
        assert row["threads"] == 2 and row["xrt_threads"] > 0
        assert row["thread_scaling"] == pytest.approx(row["xrt_threads"] / row["xrt_one_thread"])


def test_bench_text_table_names_the_model_and_the_deadline(capsys):
    assert main(["bench", "--arch", "a1-nano", "--seconds", "0.05"]) == 0
    text = capsys.readouterr().out
    assert "a1-nano" in text and "deadline" in text and "x real time" in text


@needs_data
def test_bench_of_a_model_file_without_widths_reports_one_row(capsys):
    assert main(["bench", str(LSTM), "--seconds", "0.05", "--all-widths", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["width"] is None and BENCH_KEYS <= row.keys()


# -- demo -----------------------------------------------------------------------------------------

def test_demo_writes_one_wav_per_width_and_prints_the_table(tmp_path, capsys):
    assert main(["demo", "--out-dir", str(tmp_path), "--seconds", "0.5"]) == 0
    captured = capsys.readouterr()
    model = nam_dsp.load_default() if _has_default_model() else nam_dsp.from_spec(nam_dsp.preset("slimmable-paper"))
    widths = list(model.allowed_widths)
    for width in widths:
        info = sf.info(tmp_path / f"width_{width}.wav")
        assert info.frames == 24000 and info.subtype == "FLOAT"
    assert "ESR vs full width" in captured.out and str(tmp_path) in captured.out
    if not _has_default_model():
        assert "UNTRAINED" in captured.err
    full = read_float32(tmp_path / f"width_{widths[-1]}.wav")
    np.testing.assert_array_equal(full, nam_dsp.render(model, read_float32(tmp_path / "input.wav"),
                                                       width=widths[-1]))


@pytest.mark.parametrize("stored, shown", [
    ([0.5, 0.25, 0.125, 0.0625], ["0.5000", "0.2500", "0.1250", "0.0625"]),  # one per width
    ({"2": 0.25, "8": 0.0625}, ["-", "0.2500", "-", "0.0625"]),             # some widths
    (0.0625, ["-", "-", "-", "0.0625"]),                                   # NAM's: full width
])
def test_demo_shows_the_validation_esr_stored_by_the_trainer(monkeypatch, tmp_path, capsys, stored, shown):
    spec = nam_dsp.preset("slimmable-paper")
    spec.arrays[0].allowed_widths = (1, 2, 4, 8)
    spec.metadata["training"] = {"validation_esr": stored}
    monkeypatch.setattr("nam_dsp.load_default", lambda **kw: nam_dsp.from_spec(spec, **kw))
    assert main(["demo", "--out-dir", str(tmp_path), "--seconds", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "validation ESR" in out
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["1"], ["2"], ["4"], ["8"])]
    assert [row[0] for row in rows] == ["1", "2", "4", "8"]
    assert [row[-1] for row in rows] == shown


def _has_default_model() -> bool:
    try:
        nam_dsp.load_default()
    except nam_dsp.NamDspError:
        return False
    return True


# -- errors ---------------------------------------------------------------------------------------

def test_missing_model_file_exits_2_naming_the_file(tmp_path, capsys):
    missing = tmp_path / "no_such_model.nam"
    assert main(["info", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and len(err.strip().splitlines()) == 1


def test_non_json_model_file_exits_2_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "not_json.nam"
    bad.write_text("this is not JSON")
    for argv in (["info", str(bad)], ["bench", str(bad), "--seconds", "0.05"],
                 ["render", str(bad), str(tmp_path / "in.wav"), str(tmp_path / "out.wav")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert str(bad) in err and "JSON" in err and "Traceback" not in err


def test_unknown_arch_exits_2_listing_the_known_ones(capsys):
    assert main(["bench", "--arch", "no-such-arch"]) == 2
    err = capsys.readouterr().err
    assert "no-such-arch" in err and "slimmable-paper" in err


@needs_data
def test_unreadable_audio_file_exits_2_naming_it(tmp_path, capsys):
    not_audio = tmp_path / "not_audio.wav"
    not_audio.write_text("plain text")
    assert main(["render", str(A1_CAPTURE), str(not_audio), str(tmp_path / "out.wav")]) == 2
    err = capsys.readouterr().err
    assert str(not_audio) in err and len(err.strip().splitlines()) == 1


@needs_data
def test_width_on_a_model_without_widths_exits_2(guitar_1s, tmp_path, capsys):
    assert main(["render", str(A1_CAPTURE), str(guitar_1s), str(tmp_path / "o.wav"), "--width", "3"]) == 2
    assert "slimmable" in capsys.readouterr().err
    assert main(["bench", "--arch", "slimmable-paper", "--width", "9", "--seconds", "0.05"]) == 2
    assert "allowed widths" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["info"], ["render", "m.nam", "in.wav"],
                                  ["bench", "m.nam", "--arch", "a1-nano"], ["bench", "--block-size", "0"],
                                  ["render", "m", "i", "o", "--width", "2", "--slim", "0.5"],
                                  ["info", "m.nam", "--no-such-option"]])
def test_bad_arguments_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


# -- delegated subcommands ----------------------------------------------------------------------

def test_train_and_play_without_their_modules_print_a_clear_message(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "nam_dsp.training.cli", None)
    monkeypatch.setitem(sys.modules, "nam_dsp.realtime.cli", None)
    assert main(["train", "--epochs", "3", "data.wav"]) == 2
    assert "nam_dsp.training.cli" in capsys.readouterr().err
    assert main(["play"]) == 2
    assert "nam_dsp.realtime.cli" in capsys.readouterr().err


def test_train_is_delegated_to_its_module(monkeypatch):
    received = []
    fake = types.ModuleType("nam_dsp.training.cli")

    def add_arguments(parser):
        parser.add_argument("--epochs", type=int, required=True)

    def run(args):
        received.append(args.epochs)
        return 0

    fake.add_arguments, fake.run = add_arguments, run
    monkeypatch.setitem(sys.modules, "nam_dsp.training.cli", fake)
    assert main(["train", "--epochs", "7"]) == 0
    assert received == [7]


# -- as a process -------------------------------------------------------------------------------

def test_info_imports_neither_the_trainer_nor_the_player(tmp_path):
    model = tmp_path / "nano.nam"
    nam_dsp.save_spec(nam_dsp.preset("a1-nano"), model)
    script = ("import sys\nfrom nam_dsp.cli import main\ncode = main(['info', sys.argv[1]])\n"
              "print(sorted(m for m in sys.modules if m.startswith(('nam_dsp.training', 'nam_dsp.realtime'))))\n"
              "sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", script, str(model)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_python_m_nam_dsp_runs_the_cli(tmp_path):
    model = tmp_path / "nano.nam"
    nam_dsp.save_spec(nam_dsp.preset("a1-nano"), model)
    result = subprocess.run([sys.executable, "-m", "nam_dsp", "info", str(model), "--json"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["architecture"] == "WaveNet"

    result = subprocess.run([sys.executable, "-m", "nam_dsp.cli", "info", str(tmp_path / "nope.nam")],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "nope.nam" in result.stderr and "Traceback" not in result.stderr


def test_a_slimming_ratio_on_a_fixed_width_model_names_the_flag_only_in_the_cli(tmp_path, capsys):
    spec = nam_dsp.preset("a1-nano")
    with pytest.raises(nam_dsp.WidthError) as info:
        nam_dsp.from_spec(spec, slim=0.5)
    assert "--" not in str(info.value)
    nam_dsp.save_spec(spec, tmp_path / "m.nam")
    sf.write(str(tmp_path / "in.wav"), np.zeros(480, dtype=np.float32), 48000, subtype="FLOAT")
    assert main(["render", str(tmp_path / "m.nam"), str(tmp_path / "in.wav"), str(tmp_path / "o.wav"),
                 "--slim", "0.5"]) == 2
    assert f"--slim 0.5: {info.value}" in capsys.readouterr().err
