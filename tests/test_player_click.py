"""A width switch adds no click: high-passed (> 8 kHz) energy around the switch vs no switch.

Runs the player's switcher offline on the trained slimmable paper model from ``../shared/data``
(every ordered pair of its 8 widths), on a steady sine at two levels and on a steady stretch of
real guitar. For each switch, every 20 ms window whose centre lies within the crossfade is compared
with the same window of the two renders without a switch (old width all along, new width all
along): the switched output's > 8 kHz energy must stay within 3 dB of theirs (not above the louder
by more than 3 dB, not below the quieter by more than 3 dB). The sine at -34 dBFS is the hardest
case found (little distortion, so little masking high-frequency content): see switcher.py for the
sweep that chose the 10 ms window. A hard cut between the same two renders is checked to fail the
same test, so the test can see a click.
"""

from __future__ import annotations

import numpy as np
import pytest

import nam_dsp
from nam_dsp.realtime.switcher import render_with_switches

MODEL = "models/slimmable/nam_trainer_paper_crunch_30min.nam"
RATE = 48000
BLOCK = 64
SWITCH_BLOCK = 150
WINDOW = int(0.020 * RATE)


@pytest.fixture(scope="module")
def spec(shared_data):
    path = shared_data / MODEL
    if not path.is_file():
        pytest.skip(f"{path} is missing from the shared test data")
    return nam_dsp.load_spec(path)


def _highpass(y):
    from scipy import signal
    sos = signal.butter(8, 8000, "highpass", fs=RATE, output="sos")
    return signal.sosfilt(sos, y.astype(np.float64))


def _signals(guitar_di):
    t = np.arange(int(0.4 * RATE)) / RATE
    return {
        "sine 110 Hz -34 dBFS": (0.02 * np.sin(2 * np.pi * 110 * t)).astype(np.float32),
        "sine 220 Hz -12 dBFS": (0.25 * np.sin(2 * np.pi * 220 * t)).astype(np.float32),
        "guitar DI 1.0-1.4 s": np.ascontiguousarray(guitar_di[RATE:RATE + t.size]),
    }


def _window_energies(yh, start, stop):
    c = np.cumsum(np.concatenate([[0.0], yh ** 2]))
    centres = np.arange(start, stop + 1, 24)
    return c[centres + WINDOW // 2] - c[centres - WINDOW // 2]


def _deviation_db(y, ref_old, ref_new, fade_start, fade_stop):
    """Worst excess (dB) of the switched window energy over [quieter - 3 dB, louder + 3 dB] = 0."""
    e = _window_energies(_highpass(y), fade_start, fade_stop)
    ea = _window_energies(ref_old, fade_start, fade_stop)
    eb = _window_energies(ref_new, fade_start, fade_stop)
    above = 10 * np.log10(e / np.maximum(ea, eb))
    below = 10 * np.log10(np.minimum(ea, eb) / e)
    return float(np.max(above)), float(np.max(below))


def test_width_switches_add_no_click_at_any_pair_of_widths(spec, guitar_di):
    widths = spec.allowed_widths
    report = []
    for name, x in _signals(guitar_di).items():
        refs = {w: _highpass(nam_dsp.render(spec, x, width=w)) for w in widths}
        worst_above = worst_below = -np.inf
        for old in widths:
            for new in widths:
                if old == new:
                    continue
                y, sw = render_with_switches(nam_dsp.from_spec(spec, width=old), x, BLOCK,
                                             [(SWITCH_BLOCK, new)])
                (start, _, _), = sw.switch_events()
                s = start * BLOCK
                above, below = _deviation_db(y, refs[old][:y.size], refs[new][:y.size], s, s + sw.fade)
                assert above <= 3.0 and below <= 3.0, (
                    f"{name}: switch {old} -> {new} changes the >8 kHz energy by +{above:.2f} / "
                    f"-{below:.2f} dB")
                worst_above, worst_below = max(worst_above, above), max(worst_below, below)
        report.append(f"{name}: worst {worst_above:+.2f} dB against the louder, "
                      f"{worst_below:.2f} dB below the quieter no-switch render")
    print("\n" + "\n".join(report))


def test_the_measure_detects_a_hard_cut(spec):
    t = np.arange(int(0.4 * RATE)) / RATE
    x = (0.02 * np.sin(2 * np.pi * 110 * t)).astype(np.float32)
    a = nam_dsp.render(spec, x, width=8)
    b = nam_dsp.render(spec, x, width=1)
    s = SWITCH_BLOCK * BLOCK
    cut = np.concatenate([a[:s], b[s:]])
    above, _ = _deviation_db(cut, _highpass(a), _highpass(b), s - 240, s + 240)
    assert above > 10.0, f"a hard cut only raised the >8 kHz energy by {above:.1f} dB"
