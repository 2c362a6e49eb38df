"""A 48 kHz model on a 44.1 kHz audio server: the player converts in the stream.

On JACK's dummy driver at 44100 Hz and 256 frames, the paper's model (48 kHz) plays 5 s of real
guitar (brought to 44.1 kHz) as the live input, with the recording compared with ``nam-dsp render``
of the same 44.1 kHz file: the same converter, so the same samples, shifted by the stated latency.
Xruns are compared with a no-work callback on the same server, as in test_player_realtime.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import nam_dsp
from conftest import GUITAR_DI, rel_rms, shared_files
from nam_dsp.cli import main as nam_dsp_main
from nam_dsp.realtime import testing

pytestmark = pytest.mark.realtime

SECONDS = 5.0
PERIOD = 256


@pytest.fixture(scope="module")
def guitar_44k1(shared_data, tmp_path_factory):
    sf = pytest.importorskip("soundfile")
    from scipy.signal import resample_poly
    (path,) = shared_files(shared_data, GUITAR_DI)
    x, rate = sf.read(str(path), dtype="float32")
    x44 = resample_poly(x[:int(rate * SECONDS)].astype(np.float64), 147, 160).astype(np.float32)
    out = tmp_path_factory.mktemp("rates") / "guitar_44k1.wav"
    sf.write(str(out), x44, 44100, subtype="FLOAT")
    return out


def play(model, wav, record, no_work=False):
    from nam_dsp.realtime.player import Player
    player = Player(model, block_size=PERIOD, input_file=wav, record=record, no_work=no_work)
    testing.play_to_end(player, timeout=SECONDS + 10)
    assert player.error is None, player.error
    return player


def test_a_48k_model_plays_on_a_44k1_server_and_records_what_render_gives(guitar_44k1, tmp_path):
    sf = pytest.importorskip("soundfile")
    spec = nam_dsp.preset("slimmable-paper")
    model_path = tmp_path / "paper.nam"
    nam_dsp.save_spec(spec, model_path)
    try:
        with testing.jack_server(PERIOD, rate=44100):
            base = play(nam_dsp.load(model_path), guitar_44k1, None, no_work=True)
            player = play(nam_dsp.load(model_path), guitar_44k1, tmp_path / "played.wav")
    except testing.Unavailable as exc:
        pytest.skip(str(exc))
    assert player.rate == 44100 and player.model_rate == 48000 and player.converter is not None
    lat = player.converter.latency_samples
    s, b = player.summary(), base.summary()
    run_xruns = s["xruns"] - s["startup_xruns"]
    base_xruns = b["xruns"] - b["startup_xruns"]
    print(f"\n44.1 kHz server, {PERIOD} frames, {SECONDS:g} s: {player.conversion_text()}; xruns after "
          f"start-up: player {run_xruns}, no-work {base_xruns}; callback p99 {s['p99_us']:.0f} us "
          f"({s['p99']:.0%} of the deadline)")
    assert player.converter.bridge.short_pulls == 0
    assert 1.0 < player.conversion_ms < 2.5
    assert run_xruns <= base_xruns + testing.xrun_margin(base_xruns), (run_xruns, base_xruns)

    assert nam_dsp_main(["render", str(model_path), str(guitar_44k1), str(tmp_path / "render.wav")]) == 0
    rendered, rate = sf.read(str(tmp_path / "render.wav"), dtype="float32")
    played, played_rate = sf.read(str(tmp_path / "played.wav"), dtype="float32")
    assert rate == played_rate == 44100
    n = min(played.size - lat, rendered.size)
    assert n > 0.9 * rendered.size
    err = rel_rms(played[lat:lat + n], rendered[:n])
    print(f"recording vs render (shifted by {lat} samples = {1e3 * lat / 44100:.2f} ms): "
          f"relative RMS {err:.2e}")
    assert err <= 1e-4


def test_an_input_file_at_the_models_rate_on_a_44k1_server_is_converted_to_the_stream(
        shared_data, tmp_path):
    sf = pytest.importorskip("soundfile")
    (path,) = shared_files(shared_data, GUITAR_DI)
    x, rate = sf.read(str(path), dtype="float32")
    wav = tmp_path / "di_48k.wav"
    sf.write(str(wav), x[:48000], rate, subtype="FLOAT")
    from nam_dsp.realtime.player import Player
    try:
        with testing.jack_server(PERIOD, rate=44100):
            player = testing.play_to_end(Player(nam_dsp.from_spec(nam_dsp.preset("a1-nano")),
                                                block_size=PERIOD, input_file=wav), timeout=10)
    except testing.Unavailable as exc:
        pytest.skip(str(exc))
    assert player.error is None and player.rate == 44100 and player.converter is not None
    assert player.notices == ["the input file is at 48000 Hz and the device at 44100 Hz: the file "
                              "is converted to 44100 Hz"]
    assert player._feed.length == 44100 and player._feed.finished   # the whole second, at 44.1 kHz
