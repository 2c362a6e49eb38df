"""The player's audio engine offline: exact output between switches, no allocation per block."""

from __future__ import annotations

import tracemalloc
import types

import numpy as np
import pytest

import nam_dsp
from nam_dsp.realtime.meters import BlockRing, CallbackStats
from nam_dsp.realtime.switcher import IDLE, WidthSwitcher, fade_ramp, render_with_switches


@pytest.fixture(scope="module")
def paper_spec():
    return nam_dsp.preset("slimmable-paper")


@pytest.fixture(scope="module")
def noise():
    return (np.random.default_rng(1).standard_normal(48000) * 0.2).astype(np.float32)


def segments(sw, n, total_blocks, first_width):
    """(start, stop, width) sample ranges heard at one width, crossfades left out."""
    out, start, width = [], 0, first_width
    for fade_start, old, new in sw.switch_events():
        assert old == width
        out.append((start, fade_start * n, width))
        start, width = (fade_start + sw.fade_blocks) * n, new
    out.append((start, total_blocks * n, width))
    return out


@pytest.mark.parametrize("block_size", [32, 64, 128, 333])
def test_output_equals_the_render_at_each_width_outside_the_crossfades(paper_spec, noise, block_size):
    n = block_size
    nb = noise.shape[0] // n
    switches = [(nb // 6, 3), (2 * nb // 6, 8), (3 * nb // 6, 1), (4 * nb // 6, 6)]
    y, sw = render_with_switches(nam_dsp.from_spec(paper_spec), noise, n, switches)
    assert int(sw.switch_count) == 4
    for start, stop, width in segments(sw, n, nb, 8):
        ref = nam_dsp.render(paper_spec, noise[:nb * n], width=width)
        np.testing.assert_array_equal(y[start:stop], ref[start:stop],
                                      err_msg=f"width {width}, samples {start}:{stop}")


def test_crossfade_is_a_raised_cosine_between_the_two_widths(paper_spec, noise):
    n = 64
    y, sw = render_with_switches(nam_dsp.from_spec(paper_spec), noise, n, [(100, 2)], fade=480)
    assert sw.fade == 512 and sw.fade_blocks == 8
    (start, old, new), = sw.switch_events()
    a = nam_dsp.render(paper_spec, noise[:y.shape[0]], width=old)
    b = nam_dsp.render(paper_spec, noise[:y.shape[0]], width=new)
    s = slice(start * n, start * n + sw.fade)
    g = fade_ramp(sw.fade)
    np.testing.assert_allclose(y[s], a[s] + g * (b[s] - a[s]), atol=1e-6)
    assert np.all(np.diff(g) > 0) and 0 < g[0] < 0.01 and 0.99 < g[-1] < 1


def test_a_request_during_a_switch_waits_for_it_and_the_last_request_wins(paper_spec, noise):
    n = 64
    y, sw = render_with_switches(nam_dsp.from_spec(paper_spec), noise, n,
                                 [(10, 2), (12, 5), (13, 4)])
    assert [(o, w) for _, o, w in sw.switch_events()] == [(8, 2), (2, 4)]
    assert sw.width == 4


def test_a_request_back_to_the_current_width_cancels_the_catch_up(paper_spec, noise):
    sw = WidthSwitcher(nam_dsp.from_spec(paper_spec), 64)
    out = np.zeros(64, np.float32)
    sw.request_width(3)
    sw.process(noise[:64], out)
    assert sw.transitioning
    sw.request_width(8)
    sw.process(noise[64:128], out)
    assert sw.state == IDLE and sw.width == 8 and sw.switch_count == 0


def test_requests_are_validated_in_the_calling_thread(paper_spec):
    sw = WidthSwitcher(nam_dsp.from_spec(paper_spec), 64)
    with pytest.raises(nam_dsp.WidthError, match="allowed widths"):
        sw.request_width(9)
    sw.request_slim(0.0)
    assert sw.target_width == 1
    assert sw.step_width(+1) == 2 and sw.step_width(-5) == 1 and sw.step_width(100) == 8


def test_a_fixed_width_model_plays_unchanged_and_refuses_width_changes(noise):
    model = nam_dsp.from_spec(nam_dsp.preset("a1-nano"))
    y, sw = render_with_switches(model, noise, 64)
    np.testing.assert_array_equal(y, nam_dsp.render(nam_dsp.preset("a1-nano"), noise[:y.shape[0]]))
    with pytest.raises(nam_dsp.WidthError, match="is not slimmable: its width cannot change"):
        sw.request_width(2)


def test_bypass_fades_to_the_dry_input_and_back(paper_spec, noise):
    n = 64
    sw = WidthSwitcher(nam_dsp.from_spec(paper_spec), n)
    y = np.zeros_like(noise)
    for b in range(noise.shape[0] // n):
        if b == 100:
            sw.bypass = True
        if b == 300:
            sw.bypass = False
        sw.process(noise[b * n:(b + 1) * n], y[b * n:(b + 1) * n])
    wet = nam_dsp.render(paper_spec, noise)
    dry_from = (100 + sw.fade_blocks) * n
    np.testing.assert_array_equal(y[dry_from:300 * n], noise[dry_from:300 * n])
    wet_from = (300 + sw.fade_blocks) * n
    np.testing.assert_array_equal(y[wet_from:], wet[wet_from:y.shape[0]])  # model kept running
    np.testing.assert_array_equal(y[:100 * n], wet[:100 * n])


def _exercise(sw, blocks, out, widths=(3, 8, 1, 5, 2, 8)):
    for i, b in enumerate(blocks):
        if i % 50 == 0:
            sw.request_width(widths[(i // 50) % len(widths)])
        if i % 300 == 7:
            sw.bypass = not sw.bypass
        sw.process(b, out)


def _worst_block(calls) -> int:
    """The most bytes any one call held at once (tracemalloc's peak, reset before each call)."""
    worst = 0
    tracemalloc.start()
    try:
        for call in calls:
            before, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            call()
            worst = max(worst, tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    return worst


@pytest.mark.parametrize("n", [64, 256])
def test_switching_blocks_allocate_nothing(paper_spec, noise, n):
    sw = WidthSwitcher(nam_dsp.from_spec(paper_spec), n)
    blocks = [noise[i:i + n] for i in range(0, noise.shape[0] - n + 1, n)]
    out = np.zeros(n, np.float32)
    warm = len(blocks) // 3
    _exercise(sw, blocks[:warm], out)  # warm every path once (NumPy caches its ufunc loops)
    widths = (3, 8, 1, 5, 2, 8)
    calls = []
    every = 50 if n == 64 else 15
    for i, b in enumerate(blocks[warm:]):
        def call(i=i, b=b):
            if i % every == 0:
                sw._request = widths[(i // every) % 6]  # the attribute request_width sets
            if i % 90 == 7:
                sw._bypass_req = not sw._bypass_req
            sw.process(b, out)
        calls.append(call)
    worst = _worst_block(calls)
    assert sw.switch_count >= 6
    assert worst == 0, f"a block allocated {worst} B"


@pytest.mark.parametrize("device_rate", [None, 44100])
def test_the_player_callback_allocates_nothing(paper_spec, noise, device_rate):
    """At the model's rate, and at 44.1 kHz (the rate converter and its model blocks in the loop)."""
    from nam_dsp.realtime.player import Player
    n = 64
    # The catch-up per callback comes from a timing calibration: on a busy machine it falls to 2
    # blocks and a switch outlasts the 40 callbacks between requests. Ask for the most (16) so
    # the number of switches below does not depend on the machine's speed.
    p = Player(nam_dsp.from_spec(paper_spec), block_size=n, rt_priority=None, catchup_share=1e3,
               device_rate=device_rate)
    assert (p.converter is None) == (device_rate is None)
    assert set(p.engine.catchup_blocks.values()) == {16}
    p._pyaudio = types.SimpleNamespace(paContinue=0, paAbort=2)
    p._prepare_buffers(2, duplex=True)  # stereo duplex: the heaviest copying path
    frames = [np.repeat(noise[i:i + n], 2).astype(np.float32).tobytes()
              for i in range(0, 48000 - n + 1, n)]
    for i, f in enumerate(frames[:300]):
        if i % 40 == 0:
            p.engine.request_width((2, 8, 5)[(i // 40) % 3])
        assert p._callback(f, n, None, 0)[0] is p._out2
    assert p.engine.switch_count >= 5 and p.stats.count == 300
    calls = []
    for i, f in enumerate(frames[300:]):
        def call(i=i, f=f):
            if i % 40 == 0:
                p.engine._request = (2, 8, 5)[(i // 40) % 3]
            p._callback(f, n, None, 0)
        calls.append(call)
    worst = _worst_block(calls)
    assert worst == 0, f"the callback allocated {worst} B"
    np.testing.assert_array_equal(p._out2[:, 0], p._out2[:, 1])
    assert p.error is None and p.stats.count == len(frames) and p.engine.switch_count >= 10
    in_switch = p.stats.recent().size - p.stats.recent(outside_switches=True).size
    assert 0 < in_switch < p.stats.count  # the callback marks the blocks spent in a switch


@pytest.mark.parametrize("preset", ["slimmable-paper", "a1-nano"])
def test_every_engine_call_of_the_switcher_keeps_the_gil(preset, noise):
    """In the audio callback, letting the GIL go means waiting for it to come back (see the
    switcher's module notes): idle blocks, catch-up and crossfade all pass release_gil=False."""
    sw = WidthSwitcher(nam_dsp.from_spec(nam_dsp.preset(preset)), 64)
    asked = []
    for m in ((sw._active_model, sw._spare_model) if sw.switchable else [sw.model]):
        def spy(x, out=None, release_gil=True, real=m.process):
            asked.append(release_gil)
            return real(x, out, release_gil)
        m.process = spy
    y = np.empty(64, np.float32)
    for b in range(300):
        if sw.switchable and b % 60 == 10:
            sw.request_width((3, 8, 1, 6)[b // 60 % 4])
        sw.process(noise[b * 64:(b + 1) * 64], y)
    assert len(asked) >= 300 and not any(asked)
    assert not sw.switchable or sw.switch_count >= 4


def test_rings_and_stats_wrap_and_report_what_was_written():
    ring = BlockRing(4, 3)
    for k in range(5):
        ring.write(np.full(4, k, np.float32))
    data, first = ring.since(0)
    # the oldest slot is the one the callback overwrites next: readers skip it
    assert first == 3 and data.tolist() == [3.0] * 4 + [4.0] * 4
    st = CallbackStats(deadline=1.0, size=4)
    for t, in_switch in ((0.1, False), (0.2, False), (0.3, True), (0.4, False), (0.5, False)):
        st.record(t, in_switch)
    assert st.recent().tolist() == [0.2, 0.3, 0.4, 0.5]
    assert st.recent(outside_switches=True).tolist() == [0.2, 0.4, 0.5]  # what auto-width measures
    assert st.recent(since=3, outside_switches=True).tolist() == [0.4, 0.5]
    s = st.summary()
    assert s["callbacks"] == 5 and s["measured"] == 4 and abs(s["mean"] - 0.35) < 1e-12
    st.status(2 | 4)
    st.status(16)
    assert st.xruns == 1 and st.flag_counts[16] == 1


def test_setting_the_model_up_again_at_another_stream_rate_reuses_the_timing_calibration(
        paper_spec, monkeypatch):
    # a stream that opens at another rate than guessed sets the model up again; with the same
    # model blocks (converting at both rates) the calibration is not measured twice
    from nam_dsp.realtime import player as player_module
    calls = []
    real = player_module.calibrate
    monkeypatch.setattr(player_module, "calibrate", lambda m, b, **kw: calls.append(b) or real(m, b, **kw))
    p = player_module.Player(nam_dsp.from_spec(paper_spec), block_size=64, rt_priority=None,
                             device_rate=44100)
    p._configure_stream(96000)
    p._setup_model(p.model, False)
    assert p.converter is not None and p.converter.plan.device_rate == 96000
    assert calls == [32]
    p._configure_stream(48000)   # the model's own rate: 64-frame blocks, measured anew
    p._setup_model(p.model, False)
    assert p.converter is None and calls == [32, 64]
