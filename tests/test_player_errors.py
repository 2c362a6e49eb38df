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


def test_an_input_file_at_another_rate_than_the_stream_asked_for(tmp_path):
    import soundfile as sf
    wav = tmp_path / "cd.wav"
    sf.write(str(wav), np.zeros(4410, np.float32), 44100)
    assert_clean_error(*play("--input-file", wav, "--device-rate", "48000"),
                       "--input-file: ", "cd.wav", "44100 Hz", "48000 Hz")


def test_a_device_rate_that_is_not_a_rate():
    assert_clean_error(*play("--device-rate", "0"), "--device-rate must be a positive number of Hz")


def test_a_width_the_model_does_not_have():
    assert_clean_error(*play("--width", "12"), "--width 12: width 12", "allowed widths")


def test_a_container_submodel_the_model_does_not_have(shared_data):
    a2 = shared_data / "models" / "captures" / "mesa_rectifier_a2.nam"
    if not a2.is_file():
        pytest.skip(f"{a2} is missing (the shared captures are needed)")
    assert_clean_error(*play(a2, "--width", "3"), "--width 3: ", "2 submodels", "widths 1..2")


def test_auto_width_on_a_fixed_width_model(tmp_path):
    path = tmp_path / "nano.nam"
    nam_dsp.save_spec(nam_dsp.preset("a1-nano"), path)
    assert_clean_error(*play(path, "--auto-width"), "--auto-width: ", "slimmable")


def test_a_block_size_out_of_range():
    assert_clean_error(*play("--block-size", "0"), "--block-size")


@pytest.mark.parametrize("args, needles", [
    (["--seconds", "-1"], ["--seconds must be more than 0", "got -1"]),
    (["--seconds", "0"], ["--seconds must be more than 0", "got 0"]),
    (["--auto-target", "1.5"], ["--auto-target", "between 0 and 1", "got 1.5"]),
    (["--fade-ms", "nan"], ["--fade-ms", "got nan"]),
])
def test_arguments_that_cannot_work_are_refused_before_anything_loads(args, needles):
    rc, err = play(*args)
    assert_clean_error(rc, err, *needles)
    assert "note:" not in err  # refused before the model was looked for


def test_library_errors_say_what_is_wrong_and_which_argument_without_naming_a_flag():
    from nam_dsp.errors import AudioError
    from nam_dsp.realtime.player import AudioError as compatible
    from nam_dsp.realtime.player import Player
    assert compatible is AudioError
    paper, nano = (nam_dsp.from_spec(nam_dsp.preset(p)) for p in ("slimmable-paper", "a1-nano"))
    with pytest.raises(AudioError, match="more than 0 seconds, got -1") as info:
        Player(paper, seconds=-1, rt_priority=None)
    assert info.value.settings == ("seconds",) and "--" not in str(info.value)
    with pytest.raises(nam_dsp.WidthError, match="needs a slimmable model") as info:
        Player(nano, auto_width=True, rt_priority=None)
    assert "--" not in str(info.value)


class _FakeAudio:
    """Enough of a PyAudio instance for device choice: two devices, no default input."""

    def get_device_count(self):
        return 2

    def get_default_input_device_info(self):
        raise OSError("no default input")

    def get_device_info_by_index(self, i):
        return dict(index=i, name=f"dev{i}", maxInputChannels=0, maxOutputChannels=2)


@pytest.mark.parametrize("index, kind, message, options", [
    (7, "output", "unknown output device 7: devices are numbered 0..1", "--output-device 7"),
    (None, "input", "there is no default input device", "--input-device"),
    (1, "input", "device 1 (dev1) has no input channels", "--input-device 1"),
])
def test_a_device_refusal_names_the_argument_and_the_cli_names_its_flag(index, kind, message, options):
    import argparse
    from nam_dsp.errors import AudioError
    from nam_dsp.realtime import cli, devices
    with pytest.raises(AudioError) as info:
        devices.pick_device(_FakeAudio(), index, kind)
    assert str(info.value).startswith(message) and "--" not in str(info.value)
    assert info.value.settings == (f"{kind}_device",)
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args([] if index is None else [f"--{kind}-device", str(index)])
    line = cli._message(info.value, args)
    assert line.startswith(f"{options}: {message}")
    assert line.endswith("(nam-dsp play --list-devices lists them)")


@pytest.mark.realtime
def test_an_unknown_device(jack):
    assert_clean_error(*play("--output-device", "7", "--seconds", "1"),
                       "--output-device 7: unknown output device 7", "--list-devices")
    assert_clean_error(*play("--input-device", "-1", "--seconds", "1"),
                       "--input-device -1: unknown input device -1")


@pytest.mark.realtime
def test_a_model_at_another_rate_than_the_device_plays_converted_and_says_so(jack, tmp_path):
    spec = nam_dsp.preset("slimmable-paper")
    spec.sample_rate = 44100.0
    path = tmp_path / "model_44k.nam"
    nam_dsp.save_spec(spec, path)
    rc, err = play(path, "--seconds", "1")
    assert rc == 0, err
    assert "converting in the stream (48000 Hz <-> model 44100 Hz, +1.8" in err, err
    assert "; 48000 Hz <-> model 44100 Hz, +1.8" in err  # the summary line says it too


@pytest.mark.realtime
def test_the_player_api_refuses_a_device_rate_the_device_cannot_run_and_leaves_no_stream(jack):
    from nam_dsp.realtime.player import AudioError, Player
    player = Player(nam_dsp.from_spec(nam_dsp.preset("slimmable-paper")), block_size=128,
                    device_rate=22050)
    with pytest.raises(AudioError, match="refused float32 at 22050 Hz") as info:
        player.start()
    assert info.value.settings == ("device_rate",)
    assert player._stream is None and not player.running
    player.stop()  # harmless twice
    assert_clean_error(*play("--device-rate", "22050", "--seconds", "1"), "--device-rate 22050: ",
                       "22050 Hz", "converts")


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
