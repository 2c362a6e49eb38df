"""``nam-dsp render`` on several cores or a Dask cluster (tasks run by :mod:`nam_dsp.executor`).

Two kinds of parallel work:

* **many files**: each input file is one task that reads, renders and writes its own output
  atomically;
* **one long file, split**: a feed-forward model's output at sample ``t`` depends on the input
  samples ``t - receptive_field + 1 .. t`` only, so chunk ``[a, b)`` is rendered from
  ``a - (receptive_field - 1)`` by a freshly reset model and its first ``receptive_field - 1``
  output samples are dropped. Since the engine's output does not depend on how a stream is cut
  into blocks, the joined chunks are bit-identical to one stream (``tests/test_render_jobs.py``
  checks it). WaveNets, Linear models and containers running a WaveNet split this way.
  An LSTM's state depends on the whole past, so splitting would change its output: refused
  (render it with ``--jobs 1``; several files still render in parallel).
"""

from __future__ import annotations

import os
import time
from typing import List, Optional, Sequence

import numpy as np

from .engine import ContainerModel, LSTMModel, load, render
from .errors import AudioFileError, NamDspError
from .executor import Task, run_tasks

__all__ = ["split_refusal", "chunk_bounds", "render_chunked", "render_file", "input_files", "AUDIO_EXTENSIONS"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".aif", ".aiff", ".ogg")


def split_refusal(model) -> Optional[str]:
    """Why ``model``'s stream cannot be split into chunks, or None when it can (exactly)."""
    active = model.active if isinstance(model, ContainerModel) else model
    if isinstance(active, LSTMModel):
        return ("an LSTM carries a recurrent state through the whole file, so a split render would "
                "not equal one stream; render one file with --jobs 1 (several files still render in "
                "parallel)")
    return None


def _receptive_field(model) -> int:
    if isinstance(model, ContainerModel):
        return int(model.receptive_field_active)
    return int(model.receptive_field)


def chunk_bounds(n: int, jobs: int) -> List[tuple]:
    """``jobs`` nearly equal ``[start, stop)`` ranges covering ``0..n`` (fewer if ``n`` is small)."""
    jobs = max(1, min(int(jobs), n))
    edges = np.linspace(0, n, jobs + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def render_chunk(model_path: str, width, slim, x: np.ndarray, warm: int, block_size: int):
    """Render ``x`` (its first ``warm`` samples are history) from reset; return the output after
    the history and the model's non-finite counts."""
    model = load(model_path, width=width, slim=slim)
    y = render(model, x, block_size=block_size)
    return y[warm:], model.nonfinite_count, model.nonfinite_output_count


def render_chunked(model_path: str, model, x: np.ndarray, *, jobs: int, scheduler: Optional[str] = None,
                   width=None, slim=None, block_size: int = 4096):
    """One stream's output of ``x`` computed in ``jobs`` chunks in parallel: ``(y, nonfinite
    input count, nonfinite output count)``. ``model`` is ``model_path`` loaded (for its kind)."""
    why = split_refusal(model)
    if why:
        raise NamDspError(f"{model_path}: {why}")
    history = _receptive_field(model) - 1
    tasks = []
    for i, (a, b) in enumerate(chunk_bounds(x.shape[0], jobs)):
        warm = min(history, a)
        tasks.append(Task(f"chunk{i}", render_chunk,
                          (model_path, width, slim, np.ascontiguousarray(x[a - warm:b]), warm, block_size)))
    outcomes = run_tasks(tasks, jobs=jobs, scheduler=scheduler)
    for outcome in outcomes.values():
        if not outcome.ok:
            raise NamDspError(f"{outcome.key} of the render failed: {outcome.error}")
    parts = [o.result for o in outcomes.values()]
    y = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.float32)
    return y, sum(p[1] for p in parts), sum(p[2] for p in parts)


def input_files(paths: Sequence[str]) -> List[str]:
    """Files named, and the audio files of folders named (sorted)."""
    out = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(os.path.join(path, f) for f in os.listdir(path)
                           if f.lower().endswith(AUDIO_EXTENSIONS) and not f.startswith("."))
            if not found:
                raise AudioFileError(f"{path}: the folder holds no audio files ({', '.join(AUDIO_EXTENSIONS)})")
            out += found
        elif not os.path.isfile(path):
            raise AudioFileError(f"{path}: No such file")
        else:
            out.append(path)
    return out


def render_at_file_rate(run_model, model_rate, x: np.ndarray, rate: int) -> tuple:
    """``x`` (float32 at the file's ``rate``) through ``run_model`` (a whole-signal render at the
    model's rate), converted both ways as ``nam-dsp play`` converts when the rates differ.

    Returns ``(y, nonfinite, converted)``. Converting, non-finite input samples are zeroed and
    counted here, in the file's samples (the filters would smear one over dozens); without
    conversion the model counts them itself and ``nonfinite`` is 0."""
    if int(round(model_rate)) == rate or x.shape[0] == 0:
        return run_model(x), 0, False
    from .resample import render_at_rate
    finite = np.isfinite(x)
    bad = int(x.size - np.count_nonzero(finite))
    if bad:
        x = np.where(finite, x, np.float32(0))
    return render_at_rate(run_model, model_rate, x, rate), bad, True


def render_file(model_path: str, width, slim, input_path: str, output_path: str, block_size: int) -> dict:
    """Render one file to a 32-bit float WAV at the file's rate (resampled for the model and back
    when the rates differ), written atomically; returns what was done."""
    import soundfile as sf
    from .output_paths import write_wav_atomic
    model = load(model_path, width=width, slim=slim)
    data, rate = sf.read(input_path, dtype="float32", always_2d=True)
    x = np.ascontiguousarray(data[:, 0])
    t0 = time.perf_counter()
    y, bad_input, resampled = render_at_file_rate(lambda xm: render(model, xm, block_size=block_size),
                                                  model.sample_rate, x, rate)
    seconds = time.perf_counter() - t0
    write_wav_atomic(output_path, y, rate)
    return {"input": input_path, "output": output_path, "seconds": data.shape[0] / rate,
            "compute_seconds": seconds, "channels": data.shape[1], "resampled_from": rate if resampled else None,
            "nonfinite": model.nonfinite_count + bad_input, "nonfinite_output": model.nonfinite_output_count}
