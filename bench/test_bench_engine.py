"""pytest-benchmark suite for the streaming engine: x real time at live block sizes.

Each benchmark streams a short fixed-seed noise signal (``SECONDS`` of audio) through a warmed-up
model in blocks, a few rounds, so a plain ``pytest`` run spends about a second here. The x real
time of the median round is stored in ``extra_info["xrt"]``; nothing is asserted about speed.
``python bench/run_engine_bench.py`` measures the same cases over longer signals (docs/performance.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from nam_dsp import from_spec, preset
from nam_dsp.benchmark import bench_signal, process_blocks

pytest.importorskip("pytest_benchmark")

#: Seconds of audio per round.
SECONDS = 0.25
ROUNDS = 3


def stream_benchmark(benchmark, spec, width, block_size):
    """Benchmark streaming ``SECONDS`` of noise through ``spec`` at ``width`` in ``block_size`` blocks."""
    model = from_spec(spec, width=width)
    signal = bench_signal(SECONDS, model.sample_rate, block_size)
    out = np.empty_like(signal)
    benchmark.pedantic(process_blocks, args=(model, signal, out, block_size), rounds=ROUNDS,
                       warmup_rounds=1, iterations=1)
    audio_seconds = signal.shape[0] / model.sample_rate
    benchmark.extra_info.update(width=model.width, block_size=block_size,
                                macs_per_sample=model.macs_per_sample(model.width),
                                audio_seconds=audio_seconds)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["xrt"] = audio_seconds / benchmark.stats.stats.median
    assert np.all(np.isfinite(out))


@pytest.mark.benchmark(group="a1-standard")
@pytest.mark.parametrize("block_size", [64, 512])
def test_a1_standard_streaming(benchmark, block_size):
    stream_benchmark(benchmark, preset("a1-standard"), None, block_size)


@pytest.mark.benchmark(group="slimmable-paper, 64-sample blocks")
@pytest.mark.parametrize("width", range(1, 9))
def test_paper_model_streaming_at_each_width(benchmark, width):
    stream_benchmark(benchmark, preset("slimmable-paper"), width, 64)
