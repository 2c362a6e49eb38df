"""Bad requests to ``nam-dsp play`` end with one clear message and exit code 2, never a hung stream.

Each case runs the command line in a subprocess with a timeout: a hang fails the test.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import nam_dsp

TIMEOUT = 60


def play(*args):
    proc = subprocess.run([sys.executable, "-m", "nam_dsp.realtime.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stderr


def assert_clean_error(rc, err, *needles):
    assert rc == 2, err
    lines = [line for line in err.splitlines() if line.startswith("nam-dsp play: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_a_model_file_that_fails_to_load(tmp_path):
    bad = tmp_path / "broken.nam"
    bad.write_text('{"architecture": "WaveNet", "config": ')
    assert_clean_error(*play(bad, "--seconds", "1"), "broken.nam")


def test_a_missing_model_file(tmp_path):
    assert_clean_error(*play(tmp_path / "nowhere.nam"), "nowhere.nam")


def test_an_input_file_at_another_rate(tmp_path):
    import soundfile as sf
    wav = tmp_path / "cd.wav"
    sf.write(str(wav), np.zeros(4410, np.float32), 44100)
    assert_clean_error(*play("--input-file", wav), "44100", "48000")


def test_a_width_the_model_does_not_have():
    assert_clean_error(*play("--width", "12"), "width 12", "allowed widths")


def test_auto_width_on_a_fixed_width_model(tmp_path):
    path = tmp_path / "nano.nam"
    nam_dsp.save_spec(nam_dsp.preset("a1-nano"), path)
    assert_clean_error(*play(path, "--auto-width"), "slimmable")


def test_a_block_size_out_of_range():
    assert_clean_error(*play("--block-size", "0"), "--block-size")


@pytest.mark.realtime
def test_an_unknown_device(jack):
    assert_clean_error(*play("--output-device", "7", "--seconds", "1"), "unknown output device 7",
                       "--list-devices")
    assert_clean_error(*play("--input-device", "-1", "--seconds", "1"), "unknown input device -1")


@pytest.mark.realtime
def test_a_model_rate_the_device_does_not_run_at(jack, tmp_path):
    spec = nam_dsp.preset("slimmable-paper")
    spec.sample_rate = 44100.0
    path = tmp_path / "model_44k.nam"
    nam_dsp.save_spec(spec, path)
    assert_clean_error(*play(path, "--seconds", "1"), "44100 Hz", "48000 Hz", "does not resample")


@pytest.mark.realtime
def test_the_player_api_refuses_a_rate_mismatch_and_leaves_no_stream(jack):
    from nam_dsp.realtime.player import AudioError, Player
    spec = nam_dsp.preset("slimmable-paper")
    spec.sample_rate = 44100.0
    player = Player(nam_dsp.from_spec(spec), block_size=128)
    with pytest.raises(AudioError, match="does not resample"):
        player.start()
    assert player._stream is None and not player.running
    player.stop()  # harmless twice


@pytest.mark.realtime
def test_a_good_run_lists_devices_and_plays(jack):
    proc = subprocess.run([sys.executable, "-m", "nam_dsp.realtime.cli", "--list-devices"],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0 and "JACK" in proc.stdout, proc.stdout + proc.stderr
    proc = subprocess.run([sys.executable, "-m", "nam_dsp.cli", "play", "--seconds", "1", "--width",
                           "3"], capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)  # through the nam-dsp command's dispatch
    rc, err = proc.returncode, proc.stderr
    assert rc == 0, err
    assert "blocks of 128 frames at 48000 Hz" in err and "width switches 0" in err


def test_gui_without_a_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    assert_clean_error(*play("--gui", "--seconds", "1"), "--gui cannot open a window")
