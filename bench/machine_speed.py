"""How fast this machine trains right now, per CPU-second: a probe recorded beside CPU budgets.

A CPU-second is not a fixed amount of work on a shared VM: on the project's 2-core AMD EPYC
machine the paper model's engine ran at 87x real time per CPU-second on 2026-11-25 and at
27-43x on 2026-12-06/07, and the trainer's steps per CPU-second halved with it. The probe is the
trainer's own work (the paper's slimmable model at full width, forward and backward with NAM's
loss on a fixed batch of 4 x 4096 samples, in the calling thread) and reports training samples
per CPU-second (higher is faster). The paper experiment and ``bench/train_methods.py`` record it
before and after every run; run it with one BLAS thread (``OMP_NUM_THREADS=1
OPENBLAS_NUM_THREADS=1``) to compare with their records.

It is a record, not a yardstick: on 2026-12-07 it read 142-215k within one run while the run's
own speed was steady, and it did not slow down as much as the small A1-nano model did, which is
why the paper experiment's budgets are counted in steps (``bench/paper/experiment.py``).
"""

from __future__ import annotations

import time

import numpy as np

#: Examples and output samples per probe step (small: the probe should cost about a second).
PROBE_BATCH, PROBE_SAMPLES = 4, 4096


def trainer_samples_per_cpu_second(seconds: float = 1.0) -> float:
    """Training samples (forward + backward, paper model, width 8) per CPU-second of this thread."""
    from nam_dsp.training import losses
    from nam_dsp.training.trainer import make_arch
    from nam_dsp.training.wavenet_grad import GradNet

    spec = make_arch("slimmable-paper", 0)
    net = GradNet(spec, np.dtype("float32"))
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((PROBE_BATCH, net.receptive_field - 1 + PROBE_SAMPLES))).astype(np.float32)
    y = 0.1 * rng.standard_normal((PROBE_BATCH, PROBE_SAMPLES))
    theta = net.theta.astype(np.float32)
    loss = losses.make_loss("nam", 2e-4, 0.0)

    def step():
        pred, cache = net.forward(x, None, theta)
        _, dpred = loss(pred, y)
        net.backward(cache, dpred)

    step()  # warm-up: first-touch page faults and imports are not the machine's speed
    steps, t0 = 0, time.thread_time()
    while True:
        step()
        steps += 1
        used = time.thread_time() - t0
        if used >= seconds:
            return steps * PROBE_BATCH * PROBE_SAMPLES / used


if __name__ == "__main__":
    print(f"{trainer_samples_per_cpu_second():.0f} training samples per CPU-second")
