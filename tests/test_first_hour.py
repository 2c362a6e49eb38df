"""What a new user hit in their first hour, one test per case: a checklist.

1. Data loss: no command overwrites its own input, and training checks where it will write
   before it trains.
2. Arguments are checked up front, with the argument named.
3. Messages a person understands.
5. The bundled model by name.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from nam_dsp.cli import main as nam_dsp_main
from nam_dsp.training import cli as train_cli

from conftest import write_training_pair

RATE = 48000


def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def di(tmp_path):
    """A 1 s guitar-like DI (plucked tones) in a temporary folder."""
    t = np.arange(RATE) / RATE
    x = 0.3 * np.sin(2 * np.pi * 110 * t) * np.exp(-3 * t)
    path = tmp_path / "di.wav"
    sf.write(str(path), x, RATE, subtype="PCM_24")
    return path


@pytest.fixture
def pair(tmp_path):
    """A 2 s dry / wet pair (shorter than the default 10 s of validation)."""
    return write_training_pair(tmp_path, seed=0)


TRAIN_QUICK = ["--arch", "tiny-slimmable", "--steps", "1", "--batch-size", "2", "--segment", "256",
               "--validation-seconds", "0.5", "--latency", "0"]


# -- 1. data loss --------------------------------------------------------------------------------

@pytest.mark.parametrize("link", ["same path", "hard link", "symlink"])
def test_render_onto_its_own_input_is_refused_and_the_input_is_untouched(di, tmp_path, capsys, link):
    target = {"same path": di, "hard link": tmp_path / "hard.wav", "symlink": tmp_path / "sym.wav"}[link]
    if link == "hard link":
        os.link(di, target)
    elif link == "symlink":
        os.symlink(di, target)
    before = _digest(di)
    assert nam_dsp_main(["render", "default", str(di), str(target)]) == 2
    err = capsys.readouterr().err
    assert "is the input" in err and len(err.strip().splitlines()) == 1
    assert _digest(di) == before


def test_render_into_a_missing_folder_is_refused_before_rendering(di, tmp_path, capsys):
    assert nam_dsp_main(["render", "default", str(di), str(tmp_path / "no" / "out.wav")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_render_writes_a_normal_readable_file_atomically(di, tmp_path):
    out = tmp_path / "out.wav"
    assert nam_dsp_main(["render", "default", str(di), str(out)]) == 0
    y, rate = sf.read(str(out), dtype="float32")
    assert rate == RATE and y.shape == (RATE,) and np.abs(y).max() > 0
    assert os.stat(out).st_mode & 0o044 == os.stat(di).st_mode & 0o044  # not a private temp file
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


@pytest.mark.parametrize("onto", ["dry", "wet"])
def test_train_output_onto_the_dry_or_wet_file_is_refused(pair, capsys, onto):
    dry, wet = pair
    target = dry if onto == "dry" else wet
    before = _digest(target)
    assert train_cli.main([str(dry), str(wet), "-o", str(target)] + TRAIN_QUICK) == 2
    assert "is the input" in capsys.readouterr().err
    assert _digest(target) == before


def test_train_into_a_missing_folder_fails_before_loading_data(pair, tmp_path, capsys, monkeypatch):
    dry, wet = pair
    import nam_dsp.training.data as data

    def must_not_load(*args, **kwargs):
        raise AssertionError("the data was loaded before the output folder was checked")

    monkeypatch.setattr(data, "load_pair", must_not_load)
    assert train_cli.main([str(dry), str(wet), "-o", str(tmp_path / "missing" / "dir" / "m.nam")]
                          + TRAIN_QUICK) == 2
    err = capsys.readouterr().err
    assert "-o" in err and "does not exist" in err


def test_record_onto_the_input_file_is_refused(di, capsys):
    from nam_dsp.realtime import cli as play_cli
    before = _digest(di)
    assert play_cli.main(["--input-file", str(di), "--record", str(di), "--seconds", "1"]) == 2
    assert "is the input" in capsys.readouterr().err
    assert _digest(di) == before


# -- 2. arguments checked up front ----------------------------------------------------------------

def test_train_unknown_arch_is_reported_before_loading_data(pair, capsys, monkeypatch):
    dry, wet = pair
    import nam_dsp.training.data as data
    monkeypatch.setattr(data, "load_pair", lambda *a, **k: pytest.fail("data loaded first"))
    argv = [str(dry), str(wet), "-o", str(dry.parent / "m.nam"), "--arch", "bogus"]
    assert train_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "--arch" in err and "bogus" in err and "slimmable-paper" in err


@pytest.mark.parametrize("option", [["--steps", "0"], ["--budget-minutes", "-1"], ["--epochs", "0"],
                                    ["--batch-size", "0"], ["--lr", "nan"]])
def test_train_numbers_that_would_do_nothing_useful_are_usage_errors(pair, capsys, option):
    dry, wet = pair
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main([str(dry), str(wet), "-o", str(dry.parent / "m.nam")] + option)
    assert exit_info.value.code == 2
    assert option[0] in capsys.readouterr().err


def test_a_split_from_another_recording_says_so(pair, tmp_path, capsys):
    dry, wet = pair
    split = tmp_path / "split.json"
    split.write_text('{"train": [0, 4875459], "validation": [4875459, 5781459]}')
    argv = [str(dry), str(wet), "-o", str(tmp_path / "m.nam"), "--split", str(split),
            "--arch", "tiny-slimmable", "--steps", "1", "--latency", "0"]
    assert train_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "another recording" in err and "validation range" in err


def test_a_short_pair_without_a_split_does_not_blame_an_option_never_given(pair, capsys):
    dry, wet = pair  # 2 s: shorter than the default 10 s of validation
    argv = [str(dry), str(wet), "-o", str(dry.parent / "m.nam"), "--arch", "tiny-slimmable",
            "--steps", "1", "--latency", "0"]
    assert train_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "--validation-seconds" not in err.split("usage")[0] and "default 10 s" in err


# -- 3. messages a person understands -------------------------------------------------------------

def test_a_missing_input_wav_says_no_such_file(tmp_path, capsys):
    assert nam_dsp_main(["render", "default", str(tmp_path / "nope.wav"), str(tmp_path / "o.wav")]) == 2
    err = capsys.readouterr().err
    assert "No such file" in err and "System error" not in err


def test_a_wav_given_as_the_model_says_it_is_audio_and_shows_the_order(di, tmp_path, capsys):
    assert nam_dsp_main(["render", str(di), "default", str(tmp_path / "o.wav")]) == 2
    err = capsys.readouterr().err
    assert "audio file" in err and "not a .nam" in err and "MODEL IN.wav OUT.wav" in err
    assert "UTF-8" not in err


def test_info_into_a_closed_pipe_exits_quietly():
    command = f"{sys.executable} -m nam_dsp info default | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and "Broken pipe" not in done.stderr
    assert done.stderr == ""


# -- 5. the bundled model by name -----------------------------------------------------------------

def test_info_and_render_take_default_as_the_bundled_model(di, tmp_path, capsys):
    assert nam_dsp_main(["info", "default"]) == 0
    assert "default.nam" in capsys.readouterr().out
    out = tmp_path / "out.wav"
    assert nam_dsp_main(["render", "default", str(di), str(out)]) == 0
    import nam_dsp
    expected = nam_dsp.render(nam_dsp.load_default(), sf.read(str(di), dtype="float32")[0],
                              block_size=4096)
    assert np.array_equal(sf.read(str(out), dtype="float32")[0], expected)


def test_info_of_an_lstm_shows_its_layers_and_hidden_size_not_a_receptive_field(shared_data, capsys):
    assert nam_dsp_main(["info", str(shared_data / "models/examples/lstm.nam")]) == 0
    out = capsys.readouterr().out
    assert "1 LSTM layer of hidden size 3" in out and "receptive field:" not in out


def test_a_model_that_is_not_slimmable_is_not_shown_with_a_width(shared_data, capsys):
    capture = shared_data / "models/captures/marshall_jcm_standard.nam"
    assert nam_dsp_main(["bench", str(capture), "--seconds", "0.05"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1].split()
    assert row[0] == "-" and row[1] == "13320"


def test_info_names_the_preset_a_model_has_the_shape_of(shared_data, capsys):
    assert nam_dsp_main(["info", str(shared_data / "models/captures/marshall_jcm_standard.nam")]) == 0
    assert "the shape of preset a1-standard" in capsys.readouterr().out
    assert nam_dsp_main(["info", "--json", str(shared_data / "models/examples/lstm.nam")]) == 0
    import json
    assert json.loads(capsys.readouterr().out)["preset"] is None
