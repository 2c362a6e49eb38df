"""--input-file and --record on JACK's dummy driver: what was played equals the offline render.

The recording taps the callback's output, and --input-file feeds the file from the same callback,
so the stream's own latency (PortAudio/JACK buffering between the callback and the "speaker")
is not in the recorded signal: the expected offset is 0 samples. The tests measure it by
cross-correlation rather than assume it.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import nam_dsp

from conftest import shared_files

pytestmark = pytest.mark.realtime

MODEL = "models/slimmable/nam_trainer_paper_crunch_30min.nam"
DI = "audio/di/guitar_di_10s.wav"


@pytest.fixture(scope="module")
def files(shared_data):
    return shared_files(shared_data, MODEL, DI)


def best_offset(y, ref, span=2000):
    """The lag (samples) that best aligns ``y`` with ``ref`` (positive: y is late)."""
    n = min(y.size, ref.size) - 2 * span
    seg = ref[span:span + n].astype(np.float64)
    scores = [np.dot(y[span + k:span + k + n], seg) for k in range(-span, span + 1)]
    return int(np.argmax(scores)) - span


def test_cli_record_of_an_input_file_equals_the_offline_render(files, jack, tmp_path):
    import soundfile as sf
    model, di = files
    out = tmp_path / "played.wav"
    proc = subprocess.run([sys.executable, "-m", "nam_dsp.realtime.cli", str(model), "--width", "4",
                           "--block-size", "128", "--input-file", str(di), "--record", str(out)],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    y, rate = sf.read(str(out), dtype="float32")
    x, _ = sf.read(str(di), dtype="float32")
    ref = nam_dsp.render(model, x, width=4)
    assert rate == 48000 and y.size >= x.size
    assert best_offset(y, ref) == 0
    np.testing.assert_array_equal(y[:x.size], ref)
    print(f"\n{proc.stderr.strip().splitlines()[-2]}\noffset 0 samples, {x.size} samples identical")


def test_recording_with_width_switches_equals_the_render_outside_the_crossfades(files, jack, tmp_path):
    import soundfile as sf
    from nam_dsp.realtime.player import Player
    model_path, di = files
    out = tmp_path / "switched.wav"
    player = Player(nam_dsp.load(model_path), block_size=128, input_file=di, record=out)
    plan = [(1.5, 3), (3.0, 8), (4.5, 1), (6.0, 6), (7.5, 2)]
    player.start()
    try:
        for at, width in plan:  # paced by the audio clock: the callback's block count
            while player.blocks * player.deadline < at and not player.finished.wait(0.05):
                pass
            player.request_width(width)
        player.wait(timeout=30)
    finally:
        player.stop()
    assert player.error is None
    events = player.engine.switch_events()
    assert [w for _, _, w in events] == [w for _, w in plan]
    y, _ = sf.read(str(out), dtype="float32")
    x, _ = sf.read(str(di), dtype="float32")
    n, fade = 128, player.engine.fade
    spec = nam_dsp.load_spec(model_path)
    renders = {w: nam_dsp.render(spec, x, width=w) for w in {8} | {w for _, w in plan}}
    assert best_offset(y, renders[8]) == 0
    start, width, compared = 0, 8, 0
    for fade_start, old, new in events + [(None, None, None)]:
        stop = x.size if fade_start is None else min(fade_start * n, x.size)
        np.testing.assert_array_equal(y[start:stop], renders[width][start:stop],
                                      err_msg=f"width {width} between samples {start} and {stop}")
        compared += stop - start
        if fade_start is not None:
            start, width = (fade_start * n) + fade, new
    excluded = x.size - compared
    assert excluded == len(events) * fade
    print(f"\n{len(events)} switches; offset 0; {compared} of {x.size} samples identical to the "
          f"render at their width, {excluded} inside {fade}-sample crossfades")
