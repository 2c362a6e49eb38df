"""Training throughput: output samples per second of forward + backward + Adam step.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 bench/train_throughput.py [--json OUT]

The paper's slimmable architecture (8 ch, K=6, 15 layers, receptive field 5,116), batch 16 x 8,192
output samples, NAM's loss (MSE + 2e-4 MRSTFT), float32. Reported at full width (8) and for the
slimmable protocol (a width drawn uniformly from 1..8 per step, what training actually runs), and
as a ratio to NAM's PyTorch trainer on this machine (~285,000 samples/s with 2 threads).
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
try:
    import nam_dsp.training  # noqa: F401
except ImportError:  # source tree without pip install -e
    sys.path.insert(0, ROOT)
    import nam_dsp
    nam_dsp.__path__.append(ROOT)

import numpy as np  # noqa: E402

from nam_dsp.spec import preset  # noqa: E402
from nam_dsp.training import losses  # noqa: E402
from nam_dsp.training.optim import Adam, clip_grad_norm  # noqa: E402
from nam_dsp.training.wavenet_grad import GradNet  # noqa: E402

NAM_PYTORCH_SAMPLES_PER_SECOND = 285_000


class Stepper:
    """One training step (forward, loss, backward, clip, Adam) on a fixed random batch."""

    def __init__(self, batch=16, segment=8192, arch="slimmable-paper", seed=0):
        self.net = GradNet(preset(arch, seed), np.float32)
        rng = np.random.default_rng(seed)
        rf = self.net.receptive_field
        self.x = (0.1 * rng.standard_normal((batch, rf - 1 + segment))).astype(np.float32)
        self.y = (0.1 * rng.standard_normal((batch, segment))).astype(np.float32)
        self.theta = self.net.theta.astype(np.float64)
        self.adam = Adam(self.net.size, mask=self.net.trainable_mask())
        self.samples = batch * segment

    def step(self, width):
        pred, cache = self.net.forward(self.x, width, self.theta.astype(np.float32))
        _, dpred = losses.nam_loss(pred, self.y)
        g = self.net.backward(cache, dpred).astype(np.float64)
        g, _ = clip_grad_norm(g, 1.0)
        self.adam.step(self.theta, g, 1e-4)


def measure(stepper, widths, repeats):
    """``(samples/s wall, median wall s/step, samples per CPU second)``.

    On a shared machine the wall figure drops with other people's load; the CPU-time figure
    (``time.process_time``, one thread) is what a core would give to this process alone.
    """
    stepper.step(widths[0])  # warm-up (allocations, page faults)
    times, cpu = [], []
    for i in range(repeats):
        w = widths[i % len(widths)]
        t0, c0 = time.perf_counter(), time.process_time()
        stepper.step(w)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    n = stepper.samples * len(times)
    return n / sum(times), float(np.median(times)), n / sum(cpu)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    s = Stepper()
    full, full_med, full_cpu = measure(s, [8], a.repeats)
    slim, _, slim_cpu = measure(s, list(range(1, 9)), max(a.repeats, 8))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    res = {
        "arch": "slimmable-paper", "batch": 16, "segment": 8192, "dtype": "float32",
        "threads": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
        "samples_per_second_width8": round(full), "seconds_per_step_width8": round(full_med, 4),
        "samples_per_second_uniform_widths": round(slim),
        "samples_per_cpu_second_width8": round(full_cpu),
        "samples_per_cpu_second_uniform_widths": round(slim_cpu),
        "load_average_1min": load,
        "nam_pytorch_samples_per_second": NAM_PYTORCH_SAMPLES_PER_SECOND,
        "ratio_width8": round(full / NAM_PYTORCH_SAMPLES_PER_SECOND, 3),
        "ratio_uniform_widths": round(slim / NAM_PYTORCH_SAMPLES_PER_SECOND, 3),
        "ratio_width8_cpu": round(full_cpu / NAM_PYTORCH_SAMPLES_PER_SECOND, 3),
    }
    for k, v in res.items():
        print(f"{k:36s} {v}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=1)
    return res


if __name__ == "__main__":
    main()
