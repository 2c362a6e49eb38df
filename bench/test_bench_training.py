"""Training-step throughput (pytest-benchmark). Reports ratios to NAM's PyTorch trainer; asserts no
absolute time. Full numbers: ``python3 bench/train_throughput.py``."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

pytest.importorskip("pytest_benchmark")

from train_throughput import NAM_PYTORCH_SAMPLES_PER_SECOND, Stepper  # noqa: E402


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
