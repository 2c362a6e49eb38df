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

#: Examples and output samples per probe step (small: a probe should cost about a second).
PROBE_BATCH, PROBE_SAMPLES = 4, 4096


class SpeedProbe:
    """The fixed probe workload, built once so that repeated probes cost only their measuring time."""

    def __init__(self):
        from nam_dsp.training import losses
        from nam_dsp.training.trainer import make_arch
        from nam_dsp.training.wavenet_grad import GradNet

        self.net = GradNet(make_arch("slimmable-paper", 0), np.dtype("float32"))
        rng = np.random.default_rng(0)
        n_in = self.net.receptive_field - 1 + PROBE_SAMPLES
        self.x = (0.1 * rng.standard_normal((PROBE_BATCH, n_in))).astype(np.float32)
        self.y = 0.1 * rng.standard_normal((PROBE_BATCH, PROBE_SAMPLES))
        self.theta = self.net.theta.astype(np.float32)
        self.loss = losses.make_loss("nam", 2e-4, 0.0)
        self._step()  # warm-up: first-touch page faults and imports are not the machine's speed

    def _step(self) -> None:
        pred, cache = self.net.forward(self.x, None, self.theta)
        _, dpred = self.loss(pred, self.y)
        self.net.backward(cache, dpred)

    def samples_per_cpu_second(self, seconds: float = 1.0) -> float:
        """Training samples per CPU-second of this thread, measured for about ``seconds``."""
        steps, t0 = 0, time.thread_time()
        while True:
            self._step()
            steps += 1
            used = time.thread_time() - t0
            if used >= seconds:
                return steps * PROBE_BATCH * PROBE_SAMPLES / used


def trainer_samples_per_cpu_second(seconds: float = 1.0) -> float:
    """One probe: training samples (forward + backward, paper model, width 8) per CPU-second."""
    return SpeedProbe().samples_per_cpu_second(seconds)


if __name__ == "__main__":
    print(f"{trainer_samples_per_cpu_second():.0f} training samples per CPU-second")
