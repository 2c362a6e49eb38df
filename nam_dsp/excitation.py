"""Built-in excitation: synthetic guitar DI made in code, to render through a teacher model.

``nam-dsp slim`` needs input audio that exercises a capture the way a guitarist does, without a
download and without the user's recordings. :func:`excitation` strings together sections of:

* **notes**: single-note lines over the guitar's range (E2..E6), each note a Karplus-Strong
  string with a random pick position, brightness, sustain and release;
* **chords**: strummed open and barre shapes (4-6 strings 4-30 ms apart, down and up strokes);
* **riffs**: palm-muted eighths and sixteenths on the low strings, power chords;
* short **noise** bursts (white and pink), a logarithmic **sine sweep** and **silence**, like
  NAM's standard reamp input.

Levels are those of real DIs (the shared guitar DIs peak at 0.16-0.6 with an RMS of 0.01-0.07):
each section peaks at a level drawn log-uniformly from -22 to -4 dBFS, notes vary by up to 12 dB
inside it. Everything is drawn from the ``numpy.random.Generator`` passed in, so one seed gives one
signal. Synthetic playing is not real playing: evaluation should use real DI when there is some.
"""

from __future__ import annotations

import math
from typing import Callable, Dict

import numpy as np

__all__ = ["excitation", "SECTION_WEIGHTS", "STRINGS_HZ", "PEAK_RANGE"]

#: Open strings of a guitar in standard tuning (E2 A2 D3 G3 B3 E4), Hz.
STRINGS_HZ = (82.41, 110.0, 146.83, 196.0, 246.94, 329.63)
#: Highest fret played.
TOP_FRET = 20
#: Section peak levels, linear (-22 dBFS .. -4 dBFS).
PEAK_RANGE = (10 ** (-22 / 20), 10 ** (-4 / 20))
#: Share of the signal each kind of section gets (on average).
SECTION_WEIGHTS = {"notes": 0.32, "chords": 0.28, "riffs": 0.22, "noise": 0.06, "sweep": 0.06,
                   "silence": 0.06}
#: Seconds per section (uniform in this range; silence is shorter).
SECTION_SECONDS = (2.0, 6.0)


def _string(frequency: float, n: int, rate: float, rng: np.random.Generator, decay: float,
            brightness: float, pick_position: float) -> np.ndarray:
    """One plucked string (Karplus-Strong), vectorised one period at a time.

    The loop ``y[t] = e[t] + decay * (y[t-P] + y[t-P-1]) / 2`` only reads the previous period,
    so each period is one array operation.
    """
    period = max(2, int(round(rate / frequency)))
    burst = rng.uniform(-1.0, 1.0, size=period)
    # brightness: a one-pole low-pass on the pluck (a pick versus a thumb)
    from scipy.signal import lfilter  # imported here: scipy.signal adds ~0.7 s to start-up
    burst = lfilter([brightness], [1.0, -(1.0 - brightness)], burst)
    # pick position: the comb of plucking at a fraction of the string's length
    shift = max(1, int(pick_position * period))
    burst = burst - np.concatenate([np.zeros(shift), burst[:-shift]])
    burst -= burst.mean()
    off = period + 1
    y = np.zeros(off + n)
    y[off:off + min(period, n)] = burst[:min(period, n)]
    h = 0.5 * decay
    for a in range(off, off + n, period):
        b = min(a + period, off + n)
        y[a:b] += h * (y[a - period:b - period] + y[a - period - 1:b - period - 1])
    out = y[off:]
    return out / max(float(np.max(np.abs(out))), 1e-12)


def _note(out: np.ndarray, start: int, frequency: float, length: int, level: float, rate: float,
          rng: np.random.Generator, muted: bool = False) -> None:
    """Add one note to ``out`` at ``start``: a string, then the player's release."""
    length = min(length, out.size - start)
    if length <= 8:
        return
    if muted:
        decay, brightness = rng.uniform(0.93, 0.975), rng.uniform(0.25, 0.5)
    else:
        # low strings ring longer; a little randomness per note
        decay = 1.0 - rng.uniform(0.0008, 0.004) * (frequency / 82.41) ** 0.5
        brightness = rng.uniform(0.45, 0.95)
    s = _string(frequency, length, rate, rng, decay, brightness, rng.uniform(0.08, 0.3))
    release = min(length, int(rng.uniform(0.01, 0.08) * rate))
    s[length - release:] *= np.linspace(1.0, 0.0, release)
    out[start:start + length] += level * s


def _fretted(rng: np.random.Generator, strings=range(6), frets=(0, TOP_FRET)) -> float:
    string = int(rng.choice(list(strings)))
    fret = int(rng.integers(frets[0], frets[1] + 1))
    return STRINGS_HZ[string] * 2 ** (fret / 12)


def _notes(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    t, tempo = 0, rng.uniform(0.08, 0.6)  # seconds per note
    position = int(rng.integers(0, 13))  # a hand position on the neck
    while t < n:
        length = int(tempo * rate * rng.uniform(0.8, 3.0))
        frequency = _fretted(rng, frets=(position, min(TOP_FRET, position + 5)))
        _note(out, t, frequency, length, rng.uniform(0.25, 1.0), rate, rng)
        t += int(tempo * rate * rng.choice([0.5, 1.0, 1.0, 2.0]))
    return out


#: Chord shapes as frets per string (None: not played): open E, A, D, G, C, Em, Am and a barre F.
CHORDS = ((0, 2, 2, 1, 0, 0), (None, 0, 2, 2, 2, 0), (None, None, 0, 2, 3, 2), (3, 2, 0, 0, 0, 3),
          (None, 3, 2, 0, 1, 0), (0, 2, 2, 0, 0, 0), (None, 0, 2, 2, 1, 0), (1, 3, 3, 2, 1, 1))


def _chords(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    t = 0
    while t < n:
        shape = CHORDS[int(rng.integers(len(CHORDS)))]
        capo = int(rng.integers(0, 8)) if rng.random() < 0.4 else 0
        length = int(rng.uniform(0.25, 2.5) * rate)
        stagger = rng.uniform(0.004, 0.03) * rate
        velocity = rng.uniform(0.3, 1.0)
        strings = [s for s in range(6) if shape[s] is not None]
        if rng.random() < 0.35:  # an up-stroke
            strings = strings[::-1]
        for k, s in enumerate(strings):
            frequency = STRINGS_HZ[s] * 2 ** ((shape[s] + capo) / 12)
            start = t + int(k * stagger)
            _note(out, start, frequency, length - int(k * stagger), velocity * rng.uniform(0.6, 1.0),
                  rate, rng)
        t += length if rng.random() < 0.5 else length // 2
    return out


def _riffs(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    t = 0
    beat = rng.uniform(0.09, 0.25)  # an eighth or sixteenth note
    root = _fretted(rng, strings=(0, 1), frets=(0, 7))
    while t < n:
        step = int(beat * rate)
        if rng.random() < 0.3:  # a power chord: root, fifth, octave
            for k, ratio in enumerate((1.0, 1.5, 2.0)):
                _note(out, t + k * int(0.003 * rate), root * ratio, int(step * rng.uniform(1, 4)),
                      rng.uniform(0.6, 1.0), rate, rng, muted=rng.random() < 0.3)
            t += step * int(rng.integers(1, 4))
        else:
            frequency = root * 2 ** (int(rng.choice([0, 0, 0, 3, 5, 7, 10, 12])) / 12)
            _note(out, t, frequency, step, rng.uniform(0.4, 1.0), rate, rng, muted=rng.random() < 0.8)
            t += step
    return out


def _noise(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n)
    if rng.random() < 0.5:
        return white
    # pink-ish: three one-pole low-passes summed (Paul Kellet's economy filter, coarsely)
    from scipy.signal import lfilter  # imported here: scipy.signal adds ~0.7 s to start-up
    pink = sum(lfilter([1 - p], [1, -p], white) * g for p, g in ((0.99, 3.0), (0.9, 1.0), (0.5, 0.3)))
    return pink


def _sweep(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    f0, f1 = 20.0, min(20000.0, 0.45 * rate)
    t = np.arange(n) / rate
    duration = n / rate
    k = math.log(f1 / f0)
    phase = 2 * math.pi * f0 * duration / k * (np.exp(t * k / duration) - 1)
    if rng.random() < 0.5:
        phase = phase[::-1]  # a downward sweep
    return np.sin(phase)


def _silence(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    return np.zeros(n)


_SECTIONS: Dict[str, Callable] = {"notes": _notes, "chords": _chords, "riffs": _riffs, "noise": _noise,
                                  "sweep": _sweep, "silence": _silence}


def _pickup(x: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """A pickup and cable: a resonant low-pass (2-6 kHz) and a gentle high-pass at 60 Hz."""
    from scipy.signal import butter, sosfilt
    cutoff = min(rng.uniform(2000.0, 6000.0), 0.45 * rate)
    sos = np.vstack([butter(2, cutoff, "low", fs=rate, output="sos"),
                     butter(1, 60.0, "high", fs=rate, output="sos")])
    return sosfilt(sos, x)


def excitation(seconds: float, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """``round(seconds * sample_rate)`` samples of synthetic guitar DI (float32), drawn from ``rng``.

    Sections (see the module docstring) follow each other in random order, in proportions near
    :data:`SECTION_WEIGHTS`; each is scaled to its own peak level in :data:`PEAK_RANGE`.
    """
    rate = float(sample_rate)
    n = int(round(seconds * rate))
    out = np.zeros(n)
    kinds, weights = list(_SECTIONS), np.array([SECTION_WEIGHTS[k] for k in _SECTIONS])
    # length-weighted draw: silence sections are shorter, so weight by share / mean length
    mean_len = np.array([0.25 if k == "silence" else 1.0 for k in kinds])
    p = weights / mean_len
    p /= p.sum()
    t = 0
    while t < n:
        kind = kinds[int(rng.choice(len(kinds), p=p))]
        secs = rng.uniform(*SECTION_SECONDS)
        if kind == "silence":
            secs *= 0.25
        elif kind in ("noise", "sweep"):
            secs *= 0.5
        m = min(int(secs * rate), n - t)
        section = _SECTIONS[kind](m, rate, rng)
        if kind in ("notes", "chords", "riffs"):
            section = _pickup(section, rate, rng)
        peak = float(np.max(np.abs(section))) if m else 0.0
        if peak > 0:
            level = math.exp(rng.uniform(math.log(PEAK_RANGE[0]), math.log(PEAK_RANGE[1])))
            if kind == "noise":
                level *= 0.5  # noise at the same peak is far louder than playing
            section *= level / peak
        out[t:t + m] = section
        t += m
    return out.astype(np.float32)
