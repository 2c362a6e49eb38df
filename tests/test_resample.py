"""The stream-rate converter (nam_dsp.resample): exact against a float64 oracle, any block partition
gives the same samples, never runs short, flat passband, no aliases, no allocation per block."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import nam_dsp
from nam_dsp import resample
from nam_dsp.resample import RateConverter, RateError, plan, render_at_rate

RATES = [(44100, 48000), (48000, 44100), (96000, 48000), (88200, 48000)]


def identity(xm, ym):
    ym[:] = xm


def tones(rate, seconds=0.5, freqs=(220.0, 1000.0, 7000.0, 13000.0)):
    t = np.arange(int(rate * seconds)) / rate
    return sum(0.2 * np.sin(2 * np.pi * f * t + k) for k, f in enumerate(freqs)).astype(np.float32)


def oracle_resample(x: np.ndarray, table: np.ndarray, li: int, lo: int, count: int) -> np.ndarray:
    """y[j] = sum_m table[p][m] x[t_hi - m], in float64, from the definition (zeros before 0)."""
    x = np.concatenate([np.zeros(table.shape[1]), x.astype(np.float64)])
    y = np.empty(count)
    for j in range(count):
        t_hi, p = divmod(j * lo, li)
        idx = table.shape[1] + t_hi - np.arange(table.shape[1])
        y[j] = table[p].astype(np.float64) @ x[idx]
    return y


def run(conv, x, sizes):
    out, i = [], 0
    for n in sizes:
        y = np.empty(n, np.float32)
        conv.process(x[i:i + n], y)
        out.append(y)
        i += n
    return np.concatenate(out)


def partition(total, most, rng):
    sizes = []
    while sum(sizes) < total:
        sizes.append(int(min(rng.integers(1, most + 1), total - sum(sizes))))
    return sizes


@pytest.mark.parametrize("device_rate,model_rate", RATES)
def test_the_chain_equals_the_float64_oracle_of_both_filters(device_rate, model_rate):
    p = plan(device_rate, model_rate, 256)
    x = tones(device_rate, 0.1)
    y = run(RateConverter(identity, model_rate, device_rate, 256), x, [256] * (x.size // 256))
    l_dev, l_mod = p.up_table.shape[0], p.down_table.shape[0]
    m_count = -(-(y.size * l_dev) // l_mod)
    xm = oracle_resample(x, p.up_table, l_dev, l_mod, m_count)
    blocks = m_count // p.model_block * p.model_block
    back = oracle_resample(xm[:blocks], p.down_table, l_mod, l_dev, y.size - p.prefill)
    expected = np.concatenate([np.zeros(p.prefill), back])
    err = np.sqrt(np.mean((y - expected) ** 2) / np.mean(expected ** 2))
    assert err < 1e-6, err


@pytest.mark.parametrize("device_rate,model_rate", RATES)
def test_any_block_partition_gives_the_same_samples_and_no_pull_runs_short(device_rate, model_rate):
    x = tones(device_rate, 0.2)
    whole = run(RateConverter(identity, model_rate, device_rate, 512), x, [512] * (x.size // 512))
    rng = np.random.default_rng(device_rate)
    for most in (1, 37, 512):
        conv = RateConverter(identity, model_rate, device_rate, 512)
        sizes = partition(whole.size, most, rng)
        np.testing.assert_array_equal(run(conv, x, sizes), whole)
        assert conv.bridge.short_pulls == 0


@pytest.mark.parametrize("device_rate,model_rate", RATES)
def test_a_round_trip_is_the_input_delayed_by_the_stated_latency(device_rate, model_rate):
    conv = RateConverter(identity, model_rate, device_rate, 128)
    x = tones(device_rate)
    y = run(conv, x, [128] * (x.size // 128))
    lat = conv.latency_samples
    settle = 1000
    err = y[lat + settle:] - x[settle:y.size - lat]
    assert 20 * np.log10(np.std(err) / np.std(x)) < -85
    assert abs(conv.latency_ms - 1e3 * lat / device_rate) < 1e-9
    assert conv.latency_ms < 2.5   # about 1-2 ms at these rates, on top of the interface's


@pytest.mark.parametrize("device_rate,model_rate", [(44100, 48000), (48000, 44100)])
def test_passband_is_flat_and_what_the_lower_rate_cannot_hold_is_removed(device_rate, model_rate):
    low = min(device_rate, model_rate)
    for f in (100.0, 5000.0, 0.77 * low / 2):
        x = tones(device_rate, 0.5, (f,))
        y = render_at_rate(lambda xm: xm, model_rate, x, device_rate)
        seg = slice(2000, x.size - 2000)
        gain_db = 20 * np.log10(np.std(y[seg]) / np.std(x[seg]))
        assert abs(gain_db) < 0.05, (f, gain_db)
    # a model that puts out a tone just under its own Nyquist (above the device's): not heard
    if model_rate > device_rate:
        f = 0.49 * model_rate
        y = render_at_rate(lambda xm: 0.5 * np.sin(2 * np.pi * f * np.arange(xm.size) / model_rate),
                           model_rate, np.zeros(device_rate // 2, np.float32), device_rate)
        assert 20 * np.log10(np.std(y[2000:]) / (0.5 / np.sqrt(2))) < -85


def test_a_block_of_the_chain_allocates_nothing():
    model = nam_dsp.from_spec(nam_dsp.preset("slimmable-paper"))
    conv = RateConverter(lambda xm, ym: model.process(xm, ym, release_gil=False), 48000, 44100, 256)
    x = tones(44100, 0.2)
    y = np.empty(256, np.float32)
    blocks = [x[i:i + 256] for i in range(0, x.size - 256, 256)]
    for b in blocks[:4]:
        conv.process(b, y)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for b in blocks[4:]:
            conv.process(b, y)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = [s for s in after.compare_to(before, "filename") if s.size_diff > 0
             and "tracemalloc" not in s.traceback[0].filename]
    assert not grown, grown[:3]


@pytest.mark.parametrize("device_block", [64, 256, 1000])
def test_a_live_stream_equals_the_offline_render_shifted_by_the_latency(device_block):
    """What the player records (RateConverter per device block) is render_at_rate's output, bit
    for bit, delayed by latency_samples; for any device block size."""
    spec = nam_dsp.preset("a1-nano")
    x = tones(44100, 0.3)
    live_model = nam_dsp.from_spec(spec)
    conv = RateConverter(live_model.process, 48000, 44100, device_block)
    live = run(conv, x, partition(x.size, device_block, np.random.default_rng(device_block)))
    offline = render_at_rate(lambda xm: nam_dsp.render(nam_dsp.from_spec(spec), xm), 48000, x, 44100)
    lat = conv.latency_samples
    assert offline.shape == x.shape
    np.testing.assert_array_equal(live[lat:], offline[:x.size - lat])
    assert not live[:conv.plan.prefill].any()


def test_render_at_rate_is_aligned_with_the_model_at_its_own_rate():
    spec = nam_dsp.preset("a1-nano")
    low = (220.0, 1000.0)   # the model's harmonics of these stay well under the 17 kHz passband edge
    a = render_at_rate(lambda xm: nam_dsp.render(nam_dsp.from_spec(spec), xm), 48000,
                       tones(44100, 0.3, low), 44100)
    direct = nam_dsp.render(nam_dsp.from_spec(spec), tones(48000, 0.3, low))
    # compare where the two grids meet (every 147th sample at 44.1 kHz is every 160th at 48 kHz)
    i44 = np.arange(2000, 12000)
    keep = (i44 * 48000) % 44100 == 0
    ref = direct[(i44[keep] * 48000) // 44100]
    err = np.sqrt(np.mean((a[i44[keep]] - ref) ** 2) / np.mean(ref ** 2))
    assert err < 1e-3, err


@pytest.mark.parametrize("args,match", [
    ((48000, 48000, 256), "both run at 48000"),
    ((0, 48000, 256), "positive"),
    ((44100.5, 48000, 256), "whole number"),
    ((44101, 48000, 256), "no small common multiple"),
    ((44100, 48000, 0), "block sizes"),
])
def test_rates_that_cannot_be_bridged_are_refused_with_the_reason(args, match):
    with pytest.raises(RateError, match=match):
        plan(*args)


def test_an_offline_conversion_between_rates_without_a_small_common_multiple_is_refused():
    # without the check it would design a filter millions of taps long
    with pytest.raises(RateError, match="no small common multiple"):
        resample.convert_rate(np.zeros(100, np.float32), 44101, 48000)


def test_the_prefill_is_the_fewest_zeros_that_never_run_short():
    p = plan(44100, 48000, 256)
    assert p.prefill == resample._prefill(p.model_block, p.up_table.shape[0], p.down_table.shape[0])
    short = resample.RateConverter(identity, 48000, 44100, 256)
    short.bridge = nam_dsp._kernels.RateBridge(p.up_table, 160, 147, p.down_table, 147, 160, 256,
                                               p.model_block, p.prefill - 1)
    x = tones(44100, 0.5)
    run(short, x, partition(x.size, 1, np.random.default_rng(0)))
    assert short.bridge.short_pulls > 0


@pytest.mark.parametrize("rate,new_rate", [(48000, 44100), (44100, 48000), (48000, 96000)])
def test_convert_rate_gives_the_same_tone_at_the_new_rate_aligned(rate, new_rate):
    """What the player does to an input file at another rate than the device's."""
    x = tones(rate, 0.3, (440.0, 3000.0))
    y = resample.convert_rate(x, rate, new_rate)
    expected = tones(new_rate, 0.3, (440.0, 3000.0))
    assert y.size == expected.size
    seg = slice(1000, -1000)
    assert 20 * np.log10(np.std(y[seg] - expected[seg]) / np.std(expected[seg])) < -60
