"""Engine speed measurements shared by ``nam-dsp bench``, ``bench/`` and docs/performance.md.

Every figure is a ratio or a distribution, never a pass/fail threshold:

* **x real time** (``xrt``): seconds of audio processed per second of compute, over a fixed-seed
  noise signal at guitar DI level, fed block by block as a live host would; ``xrt`` counts
  wall-clock time of the block loop, ``xrt_cpu`` the thread's CPU time over the same loop
  (the two nearly agree on an idle machine; on a shared one ``xrt_cpu`` leaves out time the thread spent
  preempted);
* **p50 / p99 microseconds per block**, and p99 as a percentage of the block's deadline
  (``block_size / sample_rate``): how close a live host would come to a dropout;
* **thread scaling**: the aggregate x real time of ``T`` independent models running in ``T``
  Python threads at once (the kernels release the GIL), divided by the same figure for one thread.

Each measurement warms the model up first (caches, branch predictors, the CPU's clock) on the
same signal and then times a fresh pass over all of it.
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable, List, Optional, Sequence

import numpy as np

from . import _kernels
from .errors import IsaError
from .engine import Model, from_spec

#: RMS level of the benchmark signal: -20 dBFS, a typical guitar DI level.
SIGNAL_RMS = 0.1
#: Seconds of audio run through a model before timing starts.
WARMUP_SECONDS = 0.25


def bench_signal(seconds: float, sample_rate: float, block_size: int, seed: int = 0) -> np.ndarray:
    """The benchmark input: fixed-seed Gaussian noise at guitar DI level, whole blocks long.

    Parameters
    ----------
    seconds : float
        Approximate duration; rounded up to a whole number of blocks.
    sample_rate : float
        Samples per second.
    block_size : int
        Block length the signal will be cut into.
    seed : int, optional
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    ndarray of float32
        ``ceil(seconds * sample_rate / block_size) * block_size`` samples at ``SIGNAL_RMS``,
        clipped to [-1, 1].
    """
    n_blocks = max(1, int(np.ceil(seconds * sample_rate / block_size)))
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(n_blocks * block_size) * SIGNAL_RMS
    return np.clip(noise, -1.0, 1.0).astype(np.float32)


def cut_blocks(signal: np.ndarray, out: np.ndarray, block_size: int) -> list:
    """(input, output) views of each whole block, cut before timing as a live host hands over
    buffers it already has: at narrow widths a block takes ~1.5 us, and slicing would be a third
    of it."""
    return [(signal[i * block_size:(i + 1) * block_size], out[i * block_size:(i + 1) * block_size])
            for i in range(signal.shape[0] // block_size)]


def process_blocks(model: Model, signal: np.ndarray, out: np.ndarray, block_size: int) -> None:
    """Stream ``signal`` through ``model`` in ``block_size`` blocks, writing into ``out``.

    The model's state carries on from previous calls (no reset), as in a live host.
    """
    for start in range(0, signal.shape[0], block_size):
        model.process(signal[start:start + block_size], out=out[start:start + block_size])


@dataclass
class BlockTiming:
    """One model at one width and block size: how fast, and how steady.

    Attributes
    ----------
    width : int or None
        Channels in use (None for models without a width: LSTM, Linear, containers).
    macs_per_sample : int
        Multiply-accumulates per output sample at that width.
    xrt : float
        Audio seconds per compute second (sum of the per-block wall-clock times).
    p50_us, p99_us : float
        Median and 99th-percentile time of one block, in microseconds.
    block_size : int
    sample_rate : float
    audio_seconds : float
        Duration of the timed signal.
    xrt_cpu : float
        Audio seconds per second of the thread's CPU time over the timed loop.
    isa : str
        The kernels' instruction-set variant (``nam_dsp.isa()``: baseline, avx2, avx512, neon).
    """

    width: Optional[int]
    macs_per_sample: int
    xrt: float
    p50_us: float
    p99_us: float
    block_size: int
    sample_rate: float
    audio_seconds: float
    xrt_cpu: float
    isa: str

    @property
    def deadline_us(self) -> float:
        """The time one block lasts at the model's rate: what a live host allows per block."""
        return self.block_size / self.sample_rate * 1e6

    @property
    def p99_deadline_pct(self) -> float:
        """p99 block time as a percentage of the block deadline."""
        return 100.0 * self.p99_us / self.deadline_us

    def as_dict(self) -> dict:
        """A JSON-ready dict of every field plus ``deadline_us`` and ``p99_deadline_pct``."""
        d = asdict(self)
        d["deadline_us"] = self.deadline_us
        d["p99_deadline_pct"] = self.p99_deadline_pct
        return d


def time_blocks(model: Model, signal: np.ndarray, block_size: int) -> BlockTiming:
    """Time every block of ``signal`` through ``model`` (after a warm-up), one thread.

    Parameters
    ----------
    model : Model
        A ready model at the width to measure; its stream continues (no reset).
    signal : ndarray of float32
        Whole blocks of input (see :func:`bench_signal`).
    block_size : int
        Samples per ``process`` call.

    Returns
    -------
    BlockTiming
    """
    out = np.empty_like(signal)
    warmup = signal[:block_size * max(1, int(WARMUP_SECONDS * model.sample_rate) // block_size)]
    process_blocks(model, warmup, out[:warmup.shape[0]], block_size)
    blocks = cut_blocks(signal, out, block_size)
    n_blocks = len(blocks)
    process = model.process
    # Pass 1, throughput: the loop alone, timed as a whole (wall and this thread's CPU time).
    wall_start, cpu_start = time.perf_counter_ns(), time.thread_time_ns()
    for block, block_out in blocks:
        process(block, block_out)
    wall_ns = time.perf_counter_ns() - wall_start
    cpu_ns = time.thread_time_ns() - cpu_start
    # Pass 2, latency: each block timed on its own (p50 / p99).
    times_ns = np.empty(n_blocks, dtype=np.int64)
    clock = time.perf_counter_ns
    for index, (block, block_out) in enumerate(blocks):
        t0 = clock()
        process(block, block_out)
        times_ns[index] = clock() - t0
    audio_seconds = n_blocks * block_size / model.sample_rate
    p50_ns, p99_ns = np.percentile(times_ns, [50, 99])
    return BlockTiming(width=model.width, macs_per_sample=model.macs_per_sample(model.width),
                       xrt=audio_seconds / (wall_ns * 1e-9), p50_us=p50_ns * 1e-3,
                       p99_us=p99_ns * 1e-3, block_size=block_size,
                       sample_rate=model.sample_rate, audio_seconds=audio_seconds,
                       xrt_cpu=audio_seconds / (cpu_ns * 1e-9), isa=_kernels.isa())


#: Rounds of :func:`interleaved_block_times`: each width's best of this many.
INTERLEAVED_ROUNDS = 40
#: Audio per round and width in :func:`interleaved_block_times`.
INTERLEAVED_SECONDS = 0.05


def interleaved_block_times(spec, widths: Sequence[Optional[int]], block_size: int, *,
                            rounds: int = INTERLEAVED_ROUNDS, seconds: float = INTERLEAVED_SECONDS,
                            seed: int = 0) -> dict:
    """Seconds per block at each width, for speed-up ratios between widths.

    One model per width streams the same short signal in turn, round after round, so a slow
    spell of the machine falls on every width alike; each width keeps its fastest round (as
    ``timeit`` does). On a shared virtual machine the same code, timed in two back-to-back
    passes of a few seconds, can differ by 5% or more, and between processes by more than that,
    so ratios of separately timed passes can be off by as much; interleaved rounds are not.

    A width of None runs the model as built (see :func:`bench_spec`).

    Returns
    -------
    dict
        width -> seconds per ``block_size``-sample block (best round).
    """
    models = {width: from_spec(spec, width=width) for width in widths}
    return best_round_block_times(models, bench_signal(seconds, spec.sample_rate, block_size, seed),
                                  block_size, rounds)


def best_round_block_times(models: dict, signal: np.ndarray, block_size: int,
                           rounds: int = INTERLEAVED_ROUNDS) -> dict:
    """Seconds per block of each of ``models`` (key -> anything with ``process(x, out)``),
    streaming ``signal`` in turn, round after round; each keeps its best round (round 0 warms
    every model up). The core of :func:`interleaved_block_times`."""
    blocks = cut_blocks(signal, np.empty_like(signal), block_size)
    n_blocks = len(blocks)
    best = {key: float("inf") for key in models}
    clock = time.perf_counter_ns
    for round_index in range(rounds + 1):
        for key, model in models.items():
            process = model.process
            t0 = clock()
            for block, block_out in blocks:
                process(block, block_out)
            elapsed = (clock() - t0) * 1e-9 / n_blocks
            if round_index:
                best[key] = min(best[key], elapsed)
    return best


def interleaved_isa_block_times(cases: dict, isas: Sequence[str], block_size: int, *,
                                rounds: int = INTERLEAVED_ROUNDS,
                                seconds: float = INTERLEAVED_SECONDS, seed: int = 0,
                                extra: Optional[dict] = None) -> dict:
    """Seconds per block of every case under every instruction-set variant, all interleaved.

    ``cases`` maps a name to ``(spec, width)``; one model per (variant, case) is built with
    that variant (``nam_dsp._kernels.use_isa``) and all of them take turns as in
    :func:`interleaved_block_times`, so the variants' ratios come from one run. ``extra``:
    more models (key -> anything with ``process(x, out)``) to time in the same rounds.

    Returns
    -------
    dict
        (isa, case name) -> seconds per ``block_size``-sample block (best round).
    """
    previous = _kernels.isa()
    models = {}
    try:
        for isa in isas:
            _kernels.use_isa(isa)
            for name, (spec, width) in cases.items():
                models[(isa, name)] = from_spec(spec, width=width)
    finally:
        _kernels.use_isa(previous)
    models.update(extra or {})
    rates = {spec.sample_rate for spec, _ in cases.values()}
    return best_round_block_times(models, bench_signal(seconds, max(rates), block_size, seed),
                                  block_size, rounds)


#: Alternating one-thread / T-thread runs in :func:`bench_spec`; each keeps its best. Each run
#: lasts ~0.1 s, and on a shared VM one-thread speed alone has varied 20-38x real time between
#: such runs.
THREAD_REPEATS = 15


def threaded_xrt(make_model: Callable[[], Model], signal: np.ndarray, block_size: int,
                 threads: int) -> float:
    """Aggregate x real time of ``threads`` independent models streaming at once.

    Each thread owns one model from ``make_model()`` and streams all of ``signal`` through it in
    ``block_size`` blocks; the models are warmed up first, then released together.

    Returns
    -------
    float
        ``threads * signal duration / wall-clock time`` until the last thread finishes.
    """
    models = [make_model() for _ in range(threads)]
    outputs = [np.empty_like(signal) for _ in range(threads)]
    warmup = signal[:block_size * max(1, int(WARMUP_SECONDS * models[0].sample_rate) // block_size)]
    for model, out in zip(models, outputs):
        process_blocks(model, warmup, out[:warmup.shape[0]], block_size)
    start_line = threading.Barrier(threads + 1)

    def stream(model: Model, out: np.ndarray) -> None:
        blocks = cut_blocks(signal, out, block_size)  # the timed loop is process() calls only
        process = model.process
        start_line.wait()
        for block, block_out in blocks:
            process(block, block_out)

    workers = [threading.Thread(target=stream, args=pair) for pair in zip(models, outputs)]
    for worker in workers:
        worker.start()
    start_line.wait()
    t0 = time.perf_counter()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - t0
    return threads * (signal.shape[0] / models[0].sample_rate) / wall


def bench_spec(spec, widths: Sequence[Optional[int]], *, block_size: int = 64, seconds: float = 5.0,
               threads: int = 1, seed: int = 0) -> List[dict]:
    """Measure a model description at each width: the rows ``nam-dsp bench`` prints.

    Parameters
    ----------
    spec : model spec
        From :func:`nam_dsp.load_spec` or :func:`nam_dsp.preset`.
    widths : sequence of int or None
        Widths to measure; ``None`` runs the model as built (full width, or its only width).
    block_size : int, optional
        Samples per ``process`` call (default 64, a typical live buffer).
    seconds : float, optional
        Audio per measurement (default 5).
    threads : int, optional
        With ``threads > 1``, also measure ``threads`` model copies in as many threads.
    seed : int, optional
        Seed of the input signal.

    Returns
    -------
    list of dict
        One :meth:`BlockTiming.as_dict` per width; with ``threads > 1`` each also has
        ``threads``, ``xrt_threads`` (aggregate of all threads), ``xrt_one_thread`` (the same
        harness with one thread) and ``thread_scaling`` (their ratio).
    """
    signal = bench_signal(seconds, spec.sample_rate, block_size, seed)
    rows = []
    for width in widths:
        def make_model(width=width) -> Model:
            return from_spec(spec, width=width)

        row = time_blocks(make_model(), signal, block_size).as_dict()
        if threads > 1:
            # Best of alternating runs: each lasts only ~0.1 s, so a single one mostly
            # measures what else the machine ran at that moment.
            one = many = 0.0
            for _ in range(THREAD_REPEATS):
                one = max(one, threaded_xrt(make_model, signal, block_size, 1))
                many = max(many, threaded_xrt(make_model, signal, block_size, threads))
            row.update(threads=threads, xrt_threads=many, xrt_one_thread=one,
                       thread_scaling=many / one)
        rows.append(row)
    return rows


def cpuinfo_field(name: str) -> Optional[str]:
    """The first ``name`` field of ``/proc/cpuinfo`` (e.g. ``model name``, ``vendor_id``), or None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere)."""
    return cpuinfo_field("model name") or platform.processor() or platform.machine()


def _isa_or_none() -> Optional[str]:
    try:
        return _kernels.isa()
    except IsaError:  # NAM_DSP_ISA names a variant this CPU cannot run: a record still gets written
        return None


def machine_info() -> dict:
    """What a benchmark ran on: CPU model, cores, the kernels' instruction-set variant, OS, Python
    and NumPy versions, how busy the machine was (1-minute load average) and the benchmark's
    scheduling priority (niceness), where the OS reports them. The variant is recorded because
    the project's VM has had AVX-512 on some days and not on others, and the engine runs A1
    standard 1.5x faster with it (docs/performance.md)."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "isa": _isa_or_none(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "niceness": os.nice(0) if hasattr(os, "nice") else None,
    }
