"""Training-step throughput (pytest-benchmark). Reports ratios to NAM's PyTorch trainer; asserts no
absolute time. Full numbers: ``python3 bench/train_throughput.py``."""

import pytest

from bench.train_throughput import NAM_PYTORCH_SAMPLES_PER_SECOND, Stepper

pytest.importorskip("pytest_benchmark")


@pytest.fixture(scope="module")
def stepper():
    return Stepper()


@pytest.mark.parametrize("width", [8, 1])
def test_bench_training_step_paper_batch16x8192(benchmark, stepper, width):
    stepper.step(width)  # warm-up
    benchmark.pedantic(stepper.step, args=(width,), rounds=1, iterations=1)
    sps = stepper.samples / benchmark.stats.stats.min
    benchmark.extra_info["samples_per_second"] = round(sps)
    benchmark.extra_info["ratio_to_nam_pytorch"] = round(sps / NAM_PYTORCH_SAMPLES_PER_SECOND, 3)
    assert sps > 0
