"""Playing and rendering a model at another sample rate than its own, in a stream.

Most interfaces run at 44.1 kHz, many at 88.2 or 96 kHz, and most models at 48 kHz. A
:class:`RateConverter` takes device-rate blocks to the model's rate, runs the model on fixed
blocks, and brings the output back, with a constant latency it states (``latency_ms``): the
player uses it in its audio callback, ``nam-dsp render`` of a file at another rate uses the very
same chain, so a recording of the player equals the offline render shifted by that latency.

Why not python-soxr's ``ResampleStream``: measured here (44.1 <-> 48 kHz, 256-frame blocks), its
HQ/MQ/VHQ modes return audio in bursts of ~890 samples every 3-4 calls (a 20 ms FIFO to play
steadily, and the model's work arriving in lumps), and every call releases the GIL (p99 5.3 ms per
call with one busy Python thread: the hand-off that made the player's callbacks miss deadlines)
and allocates its output. Its LQ mode is steady and accurate, but the last two rule it out of an
audio callback. The filter here is a plain polyphase FIR, a few dozen taps per output sample.

Filter: a Kaiser-windowed sinc at the common rate, flat (within 0.01 dB) to 77% of the lower
Nyquist frequency (17 kHz between 44.1 and 48 kHz), 90 dB down from that Nyquist on, linear
phase; its length is chosen so the two directions together delay by a whole number of device
samples. :func:`plan` gives the tables and the figures without building anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import ceil, gcd

import numpy as np

from . import _kernels
from .errors import NamDspError

#: Passband edge as a share of the lower rate's Nyquist frequency; the stopband starts at it.
PASSBAND_SHARE = 0.77
#: Stopband attenuation (dB) the Kaiser window is designed for.
STOPBAND_DB = 90.0
#: Largest up- or downsampling factor through the common rate (44.1k <-> 48k needs 160 and 147);
#: rates that need more have no filter of sensible length.
MAX_FACTOR = 4096
#: Model block while resampling: one block of model input is the FIFO's latency.
DEFAULT_MODEL_BLOCK = 32


class RateError(NamDspError, ValueError):
    """Sample rates that cannot be bridged (not positive, or no small common multiple)."""


@dataclass(frozen=True)
class Plan:
    """What a :class:`RateConverter` for these rates and blocks does, before building it."""
    device_rate: int
    model_rate: int
    device_block: int
    model_block: int
    common_rate: int         # R: both rates divide it
    taps: int                # filter length at R (each direction)
    filter_delay: int        # device samples, both directions together
    prefill: int             # device samples of zeros the output FIFO starts with
    up_table: np.ndarray     # (R / device_rate, taps per phase)
    down_table: np.ndarray   # (R / model_rate, taps per phase)

    @property
    def latency_samples(self) -> int:
        """Device samples from a sample in to its effect out, on top of the audio system's."""
        return self.filter_delay + self.prefill

    @property
    def latency_ms(self) -> float:
        return 1e3 * self.latency_samples / self.device_rate


def _rate(value, what) -> int:
    r = Fraction(value)
    if r.denominator != 1 or r <= 0:
        raise RateError(f"{what} must be a positive whole number of Hz, got {value}")
    return int(r)


def _design(common: int, step: int, low_rate: int) -> np.ndarray:
    """The lowpass at the common rate, of length K * step + 1 (K whole: the delays it gives are
    whole samples; see the module notes)."""
    nyquist = low_rate / 2
    transition = nyquist * (1 - PASSBAND_SHARE)
    omega = 2 * np.pi * transition / common
    length = (STOPBAND_DB - 7.95) / (2.285 * omega) + 1         # Kaiser's estimate
    k = max(2, ceil((length - 1) / step))
    n = k * step + 1
    beta = 0.1102 * (STOPBAND_DB - 8.7)
    cutoff = nyquist * (1 + PASSBAND_SHARE) / 2 / common        # cycles per sample at R
    t = np.arange(n) - (n - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * t) * np.kaiser(n, beta)
    return h / h.sum()


def _polyphase(h: np.ndarray, li: int) -> np.ndarray:
    """table[p, m] = li * h[p + m * li] (zero past the end): what one output's phase p needs."""
    taps = -(-h.size // li)
    padded = np.zeros(taps * li)
    padded[:h.size] = h * li
    return np.ascontiguousarray(padded.reshape(taps, li).T, dtype=np.float32)


def _outputs(total_in, li: int, lo: int):
    """Outputs a resampler (state at the start) has given after ``total_in`` inputs."""
    return -(-(total_in * li) // lo)


def _prefill(b: int, l_dev: int, l_mod: int) -> int:
    """The fewest zeros the output FIFO needs so that no pull runs short, for any block sizes.

    After t device samples in (pushed, then the model blocks run), the counts are exact integer
    functions of t: model samples U(t) = ceil(t l_dev / l_mod), blocks floor(U / b), device
    samples back D(t) = ceil(blocks b l_mod / l_dev); pulling them all needs prefill + D(t) >= t.
    t - D(t) repeats with period l_mod * b, so that many values of t cover every case."""
    t = np.arange(1, l_mod * b + 2, dtype=np.int64)
    blocks = _outputs(t, l_dev, l_mod) // b
    back = _outputs(blocks * b, l_mod, l_dev)
    return int(max(0, np.max(t - back)))


def _common_rate(fa: int, fb: int) -> tuple:
    """``(R, R / fa, R / fb)``: the lowest rate both divide, and each one's upsampling factor;
    refused when R is too large for a filter of sensible length."""
    common = fa * fb // gcd(fa, fb)
    la, lb = common // fa, common // fb
    if max(la, lb) > MAX_FACTOR:
        raise RateError(f"{fa} Hz and {fb} Hz have no small common multiple (would need "
                        f"{common} Hz); use a standard rate")
    return common, la, lb


def plan(device_rate, model_rate, device_block: int, model_block: int = DEFAULT_MODEL_BLOCK) -> Plan:
    """Filters, prefill and latency of the bridge between ``device_rate`` and ``model_rate``."""
    fd, fm = _rate(device_rate, "the device rate"), _rate(model_rate, "the model's rate")
    if fd == fm:
        raise RateError(f"the device and the model both run at {fd} Hz: nothing to convert")
    common, l_dev, l_mod = _common_rate(fd, fm)
    if device_block < 1 or model_block < 1:
        raise RateError("block sizes must be >= 1")
    h = _design(common, l_dev, min(fd, fm))
    return Plan(device_rate=fd, model_rate=fm, device_block=int(device_block),
                model_block=int(model_block), common_rate=common, taps=h.size,
                filter_delay=(h.size - 1) // l_dev,
                prefill=_prefill(int(model_block), l_dev, l_mod),
                up_table=_polyphase(h, l_dev), down_table=_polyphase(h, l_mod))


class RateConverter:
    """A model played at ``device_rate``: ``process(x, y)`` per device block, constant latency.

    ``process_model(xm, ym)`` is called for each full model block (``model_block`` samples at the
    model's rate) in order; it is the model's (or a width switcher's) ``process``. Per device
    block the work is the model's on about ``device_block * model_rate / device_rate`` samples,
    plus two FIR passes; nothing is allocated and the GIL is never let go.
    """

    def __init__(self, process_model, model_rate, device_rate, device_block: int,
                 model_block: int = DEFAULT_MODEL_BLOCK):
        self.plan = p = plan(device_rate, model_rate, device_block, model_block)
        self._process_model = process_model
        self.bridge = _kernels.RateBridge(p.up_table, p.up_table.shape[0], p.down_table.shape[0],
                                          p.down_table, p.down_table.shape[0], p.up_table.shape[0],
                                          p.device_block, p.model_block, p.prefill)
        self._xm = np.zeros(p.model_block, np.float32)
        self._ym = np.zeros(p.model_block, np.float32)

    @property
    def latency_samples(self) -> int:
        return self.plan.latency_samples

    @property
    def latency_ms(self) -> float:
        return self.plan.latency_ms

    def process(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """One device block (float32, at most ``device_block`` samples) in, the same length out."""
        bridge, xm, ym, run = self.bridge, self._xm, self._ym, self._process_model
        bridge.push(x)
        while bridge.next_block(xm):
            run(xm, ym)
            bridge.feed(ym)
        bridge.pull(y)
        return y

    def reset(self) -> None:
        self.bridge.reset()


def render_at_rate(render_model, model_rate, x: np.ndarray, rate,
                   model_block: int = DEFAULT_MODEL_BLOCK) -> np.ndarray:
    """``x`` (float32 at ``rate``) through a model at ``model_rate``, converted as the player
    converts: ``render_model(xm)`` renders a whole model-rate signal (any way that gives one
    stream's output, e.g. :func:`nam_dsp.render`). The output is aligned with the input (the
    converter's latency taken off) and as long as it.

    Its samples equal a live recording's through a :class:`RateConverter` with the same
    ``model_block``, shifted by ``latency_samples``: both are the same filters over the same
    stream, and the prefill zeros cover exactly the model blocks not yet complete live."""
    p = plan(rate, model_rate, 1, model_block)
    l_dev, l_mod = p.up_table.shape[0], p.down_table.shape[0]
    lat = p.latency_samples
    padded = np.concatenate([np.asarray(x, np.float32).reshape(-1), np.zeros(lat, np.float32)])
    xm = _kernels.resample_once(p.up_table, l_dev, l_mod, padded)
    ym = np.ascontiguousarray(render_model(xm), dtype=np.float32)
    y = _kernels.resample_once(p.down_table, l_mod, l_dev, ym)
    out = np.concatenate([np.zeros(p.prefill, np.float32), y])[lat:lat + padded.size - lat]
    if out.size < padded.size - lat:   # cannot happen with the prefill's bound; never short anyway
        out = np.pad(out, (0, padded.size - lat - out.size))
    return out


def convert_rate(x: np.ndarray, rate, new_rate) -> np.ndarray:
    """``x`` at ``rate`` as a signal at ``new_rate``, aligned and as long (offline, one direction:
    the converter's filter, made a whole number of output samples long in delay, which is taken
    off). The player uses it for an input file at another rate than the device's."""
    fa, fb = _rate(rate, "the rate"), _rate(new_rate, "the new rate")
    if fa == fb:
        return np.ascontiguousarray(x, dtype=np.float32)
    common, li, lo = _common_rate(fa, fb)
    h = _design(common, 2 * lo, min(fa, fb))
    delay = (h.size - 1) // (2 * lo)                   # output samples, exactly
    x = np.asarray(x, np.float32).reshape(-1)
    count = -(-(x.size * li) // lo)
    padded = np.concatenate([x, np.zeros(-(-(delay + 1) * lo // li) + 1, np.float32)])
    y = _kernels.resample_once(_polyphase(h, li), li, lo, padded)
    return np.ascontiguousarray(y[delay:delay + count])
