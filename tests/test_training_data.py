"""Reamp-pair checks, latency calibration, splits and examples (nam_dsp.training.data)."""

import json
import os

import numpy as np
import pytest
import soundfile as sf

from nam_dsp.errors import AudioFileError
from nam_dsp.training import data

from conftest import SHARED_DATA

EGFX = str(SHARED_DATA / "audio" / "pairs" / "egfx_a")
TONES = str(SHARED_DATA / "tones")
RATE = 48000


def _signal(n, seed=0):
    rng = np.random.default_rng(seed)
    return 0.1 * rng.standard_normal(n)


def _write(path, x, rate=RATE):
    sf.write(str(path), x, rate, subtype="FLOAT")
    return str(path)


@pytest.fixture
def good_pair(tmp_path):
    x = _signal(3 * RATE)
    return _write(tmp_path / "dry.wav", x), _write(tmp_path / "wet.wav", np.tanh(2 * x) * 0.5)


def test_a_good_pair_loads_and_splits(good_pair):
    pair = data.load_pair(*good_pair, validation_seconds=1)
    assert pair.rate == RATE and pair.latency == 0
    assert pair.train == (0, 2 * RATE) and pair.validation == (2 * RATE, 3 * RATE)


def test_rate_mismatch_names_the_wet_file(tmp_path):
    dry = _write(tmp_path / "dry.wav", _signal(RATE))
    wet = _write(tmp_path / "wet44.wav", _signal(RATE), rate=44100)
    with pytest.raises(AudioFileError, match=r"wet44\.wav.*sample rate 44100 Hz differs"):
        data.load_pair(dry, wet, validation_seconds=0.5)


def test_silent_wet_is_refused(tmp_path):
    dry = _write(tmp_path / "dry.wav", _signal(RATE))
    wet = _write(tmp_path / "quiet.wav", np.zeros(RATE))
    with pytest.raises(AudioFileError, match=r"quiet\.wav.*silent"):
        data.load_pair(dry, wet, validation_seconds=0.5)


def test_length_mismatch_over_one_second_is_refused(tmp_path):
    dry = _write(tmp_path / "dry.wav", _signal(3 * RATE))
    wet = _write(tmp_path / "short.wav", _signal(int(1.5 * RATE), 1))
    with pytest.raises(AudioFileError, match=r"short\.wav.*lengths differ by 1\.50 s"):
        data.load_pair(dry, wet, validation_seconds=0.5)


def test_length_mismatch_under_one_second_is_trimmed(tmp_path):
    dry = _write(tmp_path / "dry.wav", _signal(2 * RATE))
    wet = _write(tmp_path / "wet.wav", _signal(2 * RATE - 1000, 1))
    pair = data.load_pair(dry, wet, validation_seconds=0.5, latency=0)
    assert pair.dry.size == pair.wet.size == 2 * RATE - 1000


def test_stereo_wet_with_mono_dry_is_refused_unless_a_channel_is_chosen(tmp_path):
    dry = _write(tmp_path / "dry.wav", _signal(RATE))
    wet = _write(tmp_path / "stereo.wav", np.stack([_signal(RATE, 1), _signal(RATE, 2)], axis=1))
    with pytest.raises(AudioFileError, match=r"stereo\.wav.*2 channels.*mono"):
        data.load_pair(dry, wet, validation_seconds=0.5)
    with pytest.raises(AudioFileError, match=r"stereo\.wav.*channel 3 does not exist"):
        data.load_pair(dry, wet, validation_seconds=0.5, wet_channel=3, channel=0)
    pair = data.load_pair(dry, wet, validation_seconds=0.5, channel=0, latency=0)
    assert pair.wet.size == RATE


def test_nan_samples_are_refused(tmp_path):
    x = _signal(RATE)
    x[1234] = np.nan
    dry = _write(tmp_path / "nan_dry.wav", x)
    wet = _write(tmp_path / "wet.wav", _signal(RATE))
    with pytest.raises(AudioFileError, match=r"nan_dry\.wav.*NaN.*sample 1234"):
        data.load_pair(dry, wet, validation_seconds=0.5)


def test_unreadable_file_is_refused(tmp_path):
    bad = tmp_path / "garbage.wav"
    bad.write_bytes(b"not audio at all")
    wet = _write(tmp_path / "wet.wav", _signal(RATE))
    with pytest.raises(AudioFileError, match=r"garbage\.wav.*cannot read"):
        data.load_pair(str(bad), wet)


def test_clipped_wet_only_warns(tmp_path):
    x = _signal(2 * RATE)
    dry = _write(tmp_path / "dry.wav", x)
    wet = _write(tmp_path / "hot.wav", np.clip(20 * x, -1, 1))
    with pytest.warns(UserWarning, match=r"hot\.wav.*clipped"):
        data.load_pair(dry, wet, validation_seconds=0.5)


def test_blip_calibration_finds_the_delay_of_an_impulse_response(tmp_path):
    rng = np.random.default_rng(4)
    x = np.zeros(3 * RATE)
    blips = [RATE // 2, RATE, 3 * RATE // 2]
    x[blips] = 0.5
    x[2 * RATE:] = 0.1 * rng.standard_normal(RATE)  # music after the blips
    ir = np.exp(-np.arange(200) / 20.0) * np.cos(np.arange(200) / 3.0)
    delay = 37
    y = 0.3 * np.convolve(x, ir)[:x.size]
    y = np.concatenate([np.zeros(delay), y[:-delay]]) + 1e-5 * rng.standard_normal(x.size)
    got, method = data.find_latency(x, y, RATE)
    assert method == "blip" and abs(got - delay) <= 1
    pair = data.load_pair(_write(tmp_path / "d.wav", x), _write(tmp_path / "w.wav", y), validation_seconds=0.5)
    assert pair.latency_method == "blip" and abs(pair.latency - delay) <= 1


def test_cross_correlation_finds_a_known_delay():
    x = _signal(RATE)
    y = np.concatenate([np.zeros(23), np.tanh(3 * x)[:-23]])
    assert data.find_latency(x, y, RATE) == (23, "xcorr")


@pytest.mark.skipif(not os.path.isdir(EGFX), reason="../shared/data/audio/pairs/egfx_a is absent")
@pytest.mark.parametrize("pedal", ["BluesDriver", "RAT", "TubeScreamer"])
def test_egfx_latency_matches_the_cross_correlation_peak(pedal):
    pair = data.load_pair(os.path.join(EGFX, "di.wav"), os.path.join(EGFX, pedal, "rd.wav"), validation_seconds=1)
    # an independent cross-correlation (time domain, first differences) over lags 0..200
    dx = np.diff(pair.dry)
    dy = np.diff(data.read_audio(os.path.join(EGFX, pedal, "rd.wav"))[0])
    n = min(dx.size, dy.size) - 200
    corr = [np.dot(dx[:n], dy[lag:lag + n]) for lag in range(201)]
    peak = int(np.argmax(corr))
    assert abs(pair.latency - peak) <= 2
    assert 25 <= pair.latency <= 33  # the data README: about 27-31 samples


@pytest.mark.skipif(not os.path.isfile(os.path.join(TONES, "split.json")), reason="../shared/data/tones absent")
def test_split_file_ranges_are_used():
    with open(os.path.join(TONES, "split.json")) as fh:
        d = json.load(fh)
    tr, va = data.split_ranges(d["num_samples"], RATE, os.path.join(TONES, "split.json"))
    assert tr == tuple(d["train"]) and va == tuple(d["validation"])


def test_bad_split_file_names_itself(tmp_path):
    p = tmp_path / "split.json"
    p.write_text("{}")
    with pytest.raises(AudioFileError, match=r"split\.json.*'train'"):
        data.split_ranges(1000, RATE, str(p))


def test_examples_cover_receptive_field_plus_segment():
    dry = np.arange(10000, dtype=float)
    wet = -dry
    ex = data.Examples(dry, wet, (1000, 9000), receptive_field=31, segment=256)
    assert ex.per_epoch == (8000 - 30) // 256
    starts = ex.epoch_starts(np.random.default_rng(0))
    assert sorted(np.diff(np.sort(starts))) == [256] * (ex.per_epoch - 1)
    x, y = ex.batch(starts[:3])
    assert x.shape == (3, 30 + 256) and y.shape == (3, 256)
    # the target of an example is the wet at the example's last 256 input positions
    np.testing.assert_array_equal(y, -x[:, 30:])


def test_xcorr_latency_finds_a_polarity_inverting_device():
    from nam_dsp.training.data import xcorr_latency
    rng = np.random.default_rng(3)
    dry = rng.standard_normal(20000)
    wet = -np.tanh(3 * np.concatenate([np.zeros(12), dry[:-12]]))  # inverted, 12 samples late
    assert xcorr_latency(dry, wet, max_lag=500) == 12
