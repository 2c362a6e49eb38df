"""The ``nam-dsp demo``: a synthesised guitar phrase through one model at every width.

The input is made in code (Karplus-Strong plucked strings, fixed seed), so the demo needs no audio
file; each width's output is compared with the full-width output by ESR, NAM's accuracy figure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from .benchmark import process_blocks
from .engine import Model, WaveNetModel
from .spec import validation_esr

#: (start in seconds, frequency in Hz, peak level) of each plucked note: an E-minor arpeggio, a
#: strummed chord and a low E.
PHRASE = (
    (0.00, 82.41, 0.5), (0.35, 123.47, 0.4), (0.70, 164.81, 0.4), (1.05, 196.00, 0.35),
    (1.40, 246.94, 0.35), (1.75, 329.63, 0.3),
    (2.50, 82.41, 0.45), (2.52, 123.47, 0.4), (2.54, 164.81, 0.4), (2.56, 196.00, 0.35),
    (2.58, 246.94, 0.3), (2.60, 329.63, 0.3),
    (4.00, 82.41, 0.6),
)
#: Peak level of the whole phrase: -6 dBFS, a hot guitar DI.
PEAK = 0.5


def pluck(frequency: float, n_samples: int, sample_rate: float, rng: np.random.Generator,
          decay: float = 0.996) -> np.ndarray:
    """One Karplus-Strong plucked string.

    A burst of noise one period long circulates in a delay line whose loop averages adjacent
    samples (a low-pass) and loses ``1 - decay`` of its energy per pass.

    Parameters
    ----------
    frequency : float
        Pitch in Hz.
    n_samples : int
        Length of the note.
    sample_rate : float
    rng : numpy.random.Generator
        Source of the excitation noise.
    decay : float, optional
        Gain of one trip round the loop.

    Returns
    -------
    ndarray of float64, peak-normalised to 1.
    """
    from scipy.signal import lfilter  # imported here: scipy.signal adds ~0.7 s to start-up

    period = max(2, int(round(sample_rate / frequency)))
    excitation = np.zeros(n_samples)
    burst = rng.uniform(-1.0, 1.0, size=min(period, n_samples))
    excitation[:burst.size] = burst - burst.mean()
    feedback = np.zeros(period + 2)
    feedback[0] = 1.0
    feedback[period] = feedback[period + 1] = -0.5 * decay
    note = lfilter([1.0], feedback, excitation)
    return note / max(np.max(np.abs(note)), 1e-12)


def plucked_phrase(seconds: float, sample_rate: float, seed: int = 0) -> np.ndarray:
    """The demo input: :data:`PHRASE` played on Karplus-Strong strings, peak :data:`PEAK`.

    Notes that start after ``seconds`` are left out.

    Returns
    -------
    ndarray of float32, ``round(seconds * sample_rate)`` samples.
    """
    n = int(round(seconds * sample_rate))
    rng = np.random.default_rng(seed)
    signal = np.zeros(n)
    for start_s, frequency, level in PHRASE:
        start = int(round(start_s * sample_rate))
        if start < n:
            signal[start:] += level * pluck(frequency, n - start, sample_rate, rng)
    peak = np.max(np.abs(signal))
    if peak > 0:
        signal *= PEAK / peak
    return signal.astype(np.float32)


def esr(output: np.ndarray, target: np.ndarray) -> float:
    """Error-to-signal ratio ``sum((output - target)^2) / sum(target^2)``, no pre-emphasis."""
    output = np.asarray(output, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    energy = float(np.sum(target ** 2))
    error = float(np.sum((output - target) ** 2))
    return error / energy if energy > 0 else (0.0 if error == 0 else float("inf"))


@dataclass
class WidthRun:
    """The demo's result at one width."""

    width: Optional[int]
    macs_per_sample: int
    xrt: float
    esr_vs_full: float
    validation_esr: Optional[float]
    output: np.ndarray


def widths_of(model: Model) -> List[Optional[int]]:
    """Every width a model can run at, ascending (``[None]`` for models without a width)."""
    if isinstance(model, WaveNetModel) and model.slimmable:
        return list(model.allowed_widths)
    return [None]


def run_widths(model: Model, signal: np.ndarray, block_size: int) -> List[WidthRun]:
    """Render ``signal`` through ``model`` at each of its widths, in ``block_size`` blocks.

    Each width starts from a reset model; ESR is measured against the widest run.
    """
    widths = widths_of(model)
    outputs, speeds = {}, {}
    for width in widths:
        if width is not None:
            model.set_width(width)
        model.reset()
        out = np.empty_like(signal)
        t0 = time.perf_counter()
        process_blocks(model, signal, out, block_size)
        speeds[width] = signal.shape[0] / model.sample_rate / (time.perf_counter() - t0)
        outputs[width] = out
    full = outputs[widths[-1]]
    return [WidthRun(width=w, macs_per_sample=model.macs_per_sample(w), xrt=speeds[w],
                     esr_vs_full=esr(outputs[w], full),
                     validation_esr=validation_esr(model.spec, w),
                     output=outputs[w])
            for w in widths]
