"""Reproduce ``nam_dsp/data/default.nam``: the embedded default model.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 bench/train_default.py --cpu-minutes 20

A slimmable-paper student (1 array, 8 ch, K=6, dilations [1,4,16,64,256]x3, widths 1..8) trained
with ``nam_dsp.training`` to imitate the teacher ``../shared/data/models/examples/wavenet_a1_standard.nam``
(NAM Core's A1 standard example model, MIT) rendered by our engine over the shared guitar/bass DI
recordings ``../shared/data/audio/di/``. Training audio: every DI except ``lunar_guitar.wav``, with
0.5 s of silence between files; validation: ``lunar_guitar.wav``. NAM's defaults otherwise (Adam,
lr 0.004, decay 0.994/epoch, batch 16 x 8192, MSE + 2e-4 MRSTFT, one uniform width per step).
The audio is not redistributed: only the weights it produced are.
"""

import argparse
import glob
import os
import sys

import numpy as np

import nam_dsp
from nam_dsp.training.data import Pair, read_audio
from nam_dsp.training.trainer import TrainConfig, Trainer, esr_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SHARED = os.path.join(ROOT, "..", "shared", "data")
TEACHER = os.path.join(SHARED, "models", "examples", "wavenet_a1_standard.nam")
DI = os.path.join(SHARED, "audio", "di")
VALIDATION = "lunar_guitar.wav"
RATE = 48000


def build_pair():
    files = sorted(f for f in glob.glob(os.path.join(DI, "*.wav")) if os.path.basename(f) != VALIDATION)
    gap = np.zeros(RATE // 2)
    parts, names = [], []
    for f in files:
        x, rate = read_audio(f)
        assert rate == RATE, f
        parts += [x, gap]
        names.append(os.path.basename(f))
    train_end = sum(p.size for p in parts)
    val, _ = read_audio(os.path.join(DI, VALIDATION))
    dry = np.concatenate(parts + [val])
    teacher = nam_dsp.load(TEACHER)
    wet = nam_dsp.render(teacher, dry.astype(np.float32)).astype(np.float64)
    info = {"teacher": "NeuralAmpModelerCore example_models/wavenet_a1_standard.nam (MIT), rendered by nam_dsp",
            "train_audio": names, "validation_audio": [VALIDATION],
            "source": "../shared/data/audio/di (NeuralAmpModelerCore PR #265 inputs; NeuralAmpModelerPlugin Guitar DI)",
            "sample_rate": RATE, "latency": 0, "train": [0, train_end], "validation": [train_end, dry.size]}
    return Pair(dry=dry, wet=wet, rate=RATE, latency=0, latency_method="none (teacher render)",
                train=(0, train_end), validation=(train_end, dry.size), info=info)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=None, help="wall-clock budget")
    ap.add_argument("--cpu-minutes", type=float, default=20.0, help="CPU-time budget (default)")
    ap.add_argument("--out", default=os.path.join(ROOT, "nam_dsp", "data", "default.nam"))
    ap.add_argument("--checkpoint", default="/tmp/nam_dsp_default.ckpt.npz")
    ap.add_argument("--resume", default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if not os.path.isfile(TEACHER):
        sys.exit(f"{TEACHER} is missing: the shared data folder is needed to train the default model")
    pair = build_pair()
    cfg = TrainConfig(arch="slimmable-paper", seed=a.seed,
                      budget_seconds=None if a.minutes is None else 60.0 * a.minutes,
                      budget_cpu_seconds=None if a.minutes is not None else 60.0 * a.cpu_minutes,
                      validate_every=100, checkpoint_seconds=120.0)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    trainer = Trainer(pair, cfg, a.out, checkpoint_path=a.checkpoint)
    trainer.net.spec.metadata = {
        "name": "nam_dsp default: slimmable student of the A1-standard example",
        "modeled_by": "nam_dsp.training (bench/train_default.py)",
        "reproduce": "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 bench/train_default.py "
                     + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    if a.resume:
        trainer.load_checkpoint(a.resume)
    summary = trainer.run()
    print(esr_table(summary["validation_esr"]))
    print(f"wrote {summary['path']} ({os.path.getsize(summary['path'])} bytes)")


if __name__ == "__main__":
    main()
