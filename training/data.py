"""Reamp pairs: read, check, align, split and cut into training examples.

A *pair* is a dry (DI) recording and the wet recording of the same take through the device to
model. :func:`load_pair` reads both with soundfile and refuses anything a model cannot be trained
on, with an :class:`~nam_dsp.errors.AudioFileError` naming the file and the problem (a
:class:`~nam_dsp.errors.TrainingDataError` when the audio is usable but does not fit the settings):

* unreadable files, NaN or infinite samples;
* different sample rates;
* multi-channel files when no channel is chosen (or a channel that does not exist);
* lengths differing by more than one second (a different take, not a reamp);
* a silent wet file (peak below -100 dBFS).

A clipped wet file (peak at full scale) only warns: it may be on purpose.

The wet recording usually lags the dry one (converter and device latency). :func:`find_latency`
measures it like NAM's trainer when the dry file starts with impulses ("blips": isolated single
samples, as in NAM's reamp input file): the first sample of the wet response that rises above the
background noise; otherwise as the peak of the cross-correlation (computed with FFTs). The wet is
then shifted by that integer delay.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from nam_dsp.errors import AudioFileError, TrainingDataError

__all__ = ["read_audio", "load_pair", "find_latency", "xcorr_latency", "blip_latency", "find_blips", "Pair",
           "split_ranges", "Examples"]

SILENT_PEAK = 1e-5  # -100 dBFS
CLIP_PEAK = 0.999
MAX_LATENCY_SECONDS = 0.1


def read_audio(path, channel: Optional[int] = None):
    """Read an audio file as float64 mono.

    Parameters
    ----------
    path : str or path
    channel : int, optional
        Which channel of a multi-channel file to use (0-based). Required for multi-channel files.

    Returns
    -------
    (samples, sample_rate)
    """
    import soundfile as sf
    path = os.fspath(path)
    try:
        data, rate = sf.read(path, dtype="float64", always_2d=True)
    except Exception as exc:  # soundfile raises several kinds (LibsndfileError, RuntimeError...)
        raise AudioFileError(f"{path}: cannot read the audio file: {exc}") from None
    n_ch = data.shape[1]
    if channel is None:
        if n_ch != 1:
            raise TrainingDataError(f"{path}: has {n_ch} channels; the trainer needs mono "
                                    "(choose one of them: channel, 0-based)", ("channel",))
        x = data[:, 0]
    else:
        if not 0 <= int(channel) < n_ch:
            raise TrainingDataError(f"{path}: channel {channel} does not exist (the file has {n_ch} "
                                    f"channel{'s' if n_ch != 1 else ''})", ("channel",))
        x = data[:, int(channel)]
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise AudioFileError(f"{path}: {bad.size} NaN or infinite sample(s), the first at sample "
                             f"{int(bad[0])}")
    if x.size == 0:
        raise AudioFileError(f"{path}: the file has no samples")
    return np.ascontiguousarray(x), int(rate)


def xcorr_latency(dry: np.ndarray, wet: np.ndarray, max_lag: int) -> int:
    """The lag in ``[-max_lag, max_lag]`` maximising the cross-correlation ``sum a[t] b[t + lag]``
    of the first differences ``a``, ``b`` of dry and wet.

    Differencing whitens the spectrum a little: a held guitar note is nearly periodic and its raw
    cross-correlation has many peaks of almost equal height one period apart (on the egfx_a RAT
    pair the raw peak is at 803 samples, the true lag is 27). The peak is taken in magnitude: a
    device that inverts polarity (the ampprofiling pair does) correlates negatively at its true
    lag.
    """
    n = min(dry.size, wet.size)
    a, b = np.diff(dry[:n]), np.diff(wet[:n])
    n = a.size
    size = 1 << int(np.ceil(np.log2(2 * n)))
    corr = np.fft.irfft(np.conj(np.fft.rfft(a, size)) * np.fft.rfft(b, size), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = np.concatenate([corr[:max_lag + 1], corr[size - max_lag:]])
    return int(lags[int(np.argmax(np.abs(values)))])


def find_blips(dry: np.ndarray, rate: int, max_blips: int = 8) -> np.ndarray:
    """Indices of isolated impulses in ``dry``: one sample above half the file's peak with
    everything else within +-10 ms below 1% of it."""
    peak = np.max(np.abs(dry))
    if peak <= 0:
        return np.zeros(0, dtype=int)
    half = int(0.01 * rate)
    cand = np.flatnonzero(np.abs(dry) > 0.5 * peak)
    out = []
    for i in cand[:1000]:
        lo, hi = max(0, i - half), min(dry.size, i + half + 1)
        win = np.abs(dry[lo:hi]).copy()
        win[i - lo] = 0
        if np.max(win) < 0.01 * peak:
            out.append(int(i))
            if len(out) >= max_blips:
                break
    return np.array(out, dtype=int)


def blip_latency(dry: np.ndarray, wet: np.ndarray, blips: np.ndarray, rate: int,
                 max_lag: int) -> Optional[int]:
    """NAM-style calibration: for each blip, the first wet sample that rises above the
    background noise (measured just before the blip); the median over blips."""
    delays = []
    pre = int(0.005 * rate)
    for i in blips:
        if i - pre < 0 or i + max_lag >= wet.size:
            continue
        background = np.max(np.abs(wet[i - pre:i - 1])) if pre > 1 else 0.0
        resp = np.abs(wet[i - 1 - max_lag // 4:i + max_lag])
        threshold = background + max(3e-4, 0.05 * (np.max(resp) - background))
        above = np.flatnonzero(resp > threshold)
        if above.size:
            delays.append(int(above[0]) - (1 + max_lag // 4))
    if not delays:
        return None
    return int(np.median(delays))


def find_latency(dry: np.ndarray, wet: np.ndarray, rate: int, method: str = "auto",
                 max_seconds: float = MAX_LATENCY_SECONDS):
    """``(delay, method used)``: how many samples the wet lags the dry."""
    max_lag = max(1, int(max_seconds * rate))
    if method in ("auto", "blip"):
        blips = find_blips(dry, rate)
        if blips.size:
            delay = blip_latency(dry, wet, blips, rate, max_lag)
            if delay is not None:
                return delay, "blip"
        if method == "blip":
            raise AudioFileError("<dry>: no usable impulses (blips) found for latency calibration")
    return xcorr_latency(dry, wet, max_lag), "xcorr"


def split_ranges(n: int, rate: int, split_file=None, validation_seconds: Optional[float] = None):
    """``(train_range, validation_range)`` as half-open sample ranges of the aligned pair."""
    if split_file is not None:
        split_file = os.fspath(split_file)
        try:
            with open(split_file) as fh:
                d = json.load(fh)
            tr = [int(v) for v in d["train"]]
            va = [int(v) for v in d["validation"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AudioFileError(f"{split_file}: not a usable split file (needs 'train' and "
                                 f"'validation' sample ranges): {exc}") from None
        if "sample_rate" in d and int(d["sample_rate"]) != rate:
            raise AudioFileError(f"{split_file}: written for {d['sample_rate']} Hz, the audio is {rate} Hz")
        for name, (start, stop) in (("train", tr), ("validation", va)):
            # a range may end a little past the aligned pair (the files' lengths may differ by
            # up to 1 s); one that starts outside it belongs to another recording
            if not 0 <= start < min(stop, n):
                raise AudioFileError(
                    f"{split_file}: the {name} range [{start}, {stop}) is outside the recording's "
                    f"{n} samples ({n / rate:.2f} s): was this split written for another recording?")
        tr, va = (tr[0], min(n, tr[1])), (va[0], min(n, va[1]))
    else:
        given = validation_seconds is not None
        secs = float(validation_seconds) if given else 10.0
        nv = int(round(secs * rate))
        if not 0 < nv < n:
            what = f"a validation length of {secs:g} s" if given else "the default 10 s of validation"
            raise TrainingDataError(f"the pair is {n / rate:.2f} s long: too short for {what} plus "
                                    "training audio; give a split file or a shorter validation length",
                                    ("validation_seconds",) if given else ())
        tr, va = (0, n - nv), (n - nv, n)
    return tr, va


@dataclass
class Pair:
    """An aligned dry/wet pair and its split."""

    dry: np.ndarray
    wet: np.ndarray
    rate: int
    latency: int
    latency_method: str
    train: tuple
    validation: tuple
    info: dict = field(default_factory=dict)


def load_pair(dry_path, wet_path, *, channel: Optional[int] = None, wet_channel: Optional[int] = None,
              latency: Optional[int] = None, split_file=None, validation_seconds=None) -> Pair:
    """Read, check and align a reamp pair (see the module docstring for the checks).

    ``latency``: a known delay in samples (skips calibration). Split ranges (from ``split_file``
    or the last ``validation_seconds``) index the dry file's timeline.
    """
    dry, rate_d = read_audio(dry_path, channel)
    wet, rate_w = read_audio(wet_path, channel if wet_channel is None else wet_channel)
    dry_path, wet_path = os.fspath(dry_path), os.fspath(wet_path)
    if rate_d != rate_w:
        raise AudioFileError(f"{wet_path}: sample rate {rate_w} Hz differs from the dry file's "
                             f"({dry_path}: {rate_d} Hz)")
    if abs(dry.size - wet.size) > rate_d:
        raise AudioFileError(f"{wet_path}: {wet.size} samples but the dry file {dry_path} has {dry.size}: "
                             f"lengths differ by {abs(dry.size - wet.size) / rate_d:.2f} s (> 1 s); "
                             f"not a reamp of the same take?")
    if np.max(np.abs(dry)) < SILENT_PEAK:
        raise AudioFileError(f"{dry_path}: the dry file is silent (peak below -100 dBFS)")
    wet_peak = float(np.max(np.abs(wet)))
    if wet_peak < SILENT_PEAK:
        raise AudioFileError(f"{wet_path}: the wet file is silent (peak {wet_peak:.3g}, below -100 dBFS)")
    if wet_peak >= CLIP_PEAK:
        warnings.warn(f"{wet_path}: peak {wet_peak:.4f}: the wet recording may be clipped", stacklevel=2)
    n = min(dry.size, wet.size)
    dry, wet = dry[:n], wet[:n]
    if latency is None:
        delay, method = find_latency(dry, wet, rate_d)
    else:
        delay, method = int(latency), "given"
    if delay > 0:
        wet_al = np.concatenate([wet[delay:], np.zeros(delay)])
    elif delay < 0:
        wet_al = np.concatenate([np.zeros(-delay), wet[:n + delay]])
    else:
        wet_al = wet
    train, val = split_ranges(n, rate_d, split_file, validation_seconds)
    # the last |delay| samples of the aligned wet are padding: keep them out of both ranges
    end = n - abs(delay)
    train = (train[0], min(train[1], end))
    val = (val[0], min(val[1], end))
    info = {"dry": dry_path, "wet": wet_path, "sample_rate": rate_d, "latency": delay,
            "latency_method": method, "train": list(train), "validation": list(val),
            "wet_peak": wet_peak}
    return Pair(dry=dry, wet=wet_al, rate=rate_d, latency=delay, latency_method=method,
                train=train, validation=val, info=info)


class Examples:
    """Training examples: segments of ``receptive_field - 1 + segment`` dry samples and the
    ``segment`` wet samples they predict, cut from the train range.

    Each epoch uses every non-overlapping output window once, from a random offset, in a random
    order (NAM's dataset does the same windows without the offset). Deterministic for a given
    ``numpy.random.Generator`` state.
    """

    def __init__(self, dry: np.ndarray, wet: np.ndarray, train: tuple, receptive_field: int,
                 segment: int, dtype=np.float32):
        self.dry = np.asarray(dry[train[0]:train[1]], dtype=dtype)
        self.wet = np.asarray(wet[train[0]:train[1]], dtype=dtype)
        self.rf = int(receptive_field)
        self.segment = int(segment)
        usable = self.dry.size - (self.rf - 1)
        if usable < self.segment:
            raise TrainingDataError(f"the training range ({self.dry.size} samples) is shorter than one "
                                    f"example (receptive field {self.rf} - 1 + segment {self.segment})",
                                    ("segment",))
        self.per_epoch = usable // self.segment

    def epoch_starts(self, rng: np.random.Generator) -> np.ndarray:
        usable = self.dry.size - (self.rf - 1)
        slack = usable - self.per_epoch * self.segment
        offset = int(rng.integers(0, slack + 1))
        starts = offset + self.segment * np.arange(self.per_epoch)
        return starts[rng.permutation(self.per_epoch)]

    def batch(self, starts: np.ndarray):
        """``(x (B, rf-1+segment), y (B, segment))`` for output windows starting at ``starts``
        (``starts`` index the first output sample minus ``rf - 1``)."""
        idx = np.asarray(starts)[:, None] + np.arange(self.rf - 1 + self.segment)[None, :]
        x = self.dry[idx]
        y = self.wet[idx[:, self.rf - 1:]]
        return x, y
