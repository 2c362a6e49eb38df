"""Print how fast this machine trains right now (:mod:`nam_dsp.training.speed`), in training
samples per CPU-second (higher is faster). The paper experiment and ``bench/train_methods.py``
record it before and after every run; run it with one BLAS thread
(``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``) to compare with their records."""

from __future__ import annotations

from nam_dsp.training.speed import trainer_samples_per_cpu_second

__all__ = ["trainer_samples_per_cpu_second"]

if __name__ == "__main__":
    print(f"{trainer_samples_per_cpu_second():.0f} training samples per CPU-second")
