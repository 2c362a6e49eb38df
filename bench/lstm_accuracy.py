"""How exact each shared LSTM is, and how fast: NAM Core's render and the engine against float64.

For every shared LSTM with a NAM Core reference render (the container's LSTM submodel included),
the relative RMS error against ``nam_dsp.reference.lstm_forward`` (float64, prewarm included) of

* NAM Core's render (``../shared/data/reference``),
* the engine's render (64-sample blocks),
* optionally a baseline build of the kernels (``--baseline SO``: another commit's built
  ``nam_dsp/_kernels*.so``, e.g. the float32 kernel's), rendered and timed the same way,

over the first 4 s and over the whole 10 s DI; then x real time (64-sample blocks of fixed-seed
noise at -20 dBFS), the engine and the baseline timed in alternating rounds in one process (each
keeps its best round), so their ratio holds on a busy machine. Run timing alone
(``flock -x /tmp/cpu.lock``).

    python bench/lstm_accuracy.py [--baseline /tmp/old/nam_dsp/_kernels.cpython-311-x86_64-linux-gnu.so] [--seconds 4]

A baseline: build another commit (e.g. 1a83283, the float32 kernel) in a worktree with
``python setup.py build_ext --inplace`` and pass its extension.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from other_build import load_kernels  # bench/other_build.py, beside this script

import numpy as np
import soundfile

import nam_dsp
from nam_dsp import reference
from nam_dsp.benchmark import bench_signal, cpu_model, cut_blocks
from nam_dsp.engine import LSTMModel

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ROUNDS = 15
ROUND_SECONDS = 0.5
BLOCK = 64


def rel_rms(y, ref) -> float:
    y, ref = np.asarray(y, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return float(np.sqrt(np.mean((y - ref) ** 2) / np.mean(ref ** 2)))


def shared_lstms(data: Path = DATA) -> list:
    """(reference render stem, LSTMSpec) for every reference render made by an LSTM; slim
    settings that select the same container submodel are listed once."""
    models = {p.stem: p for p in sorted(data.glob("models/*/*.nam"))}
    found, seen = [], set()
    for ref in sorted((data / "reference").glob("*.wav")):
        stem, slim = re.fullmatch(r"(.+?)(?:__slim([0-9.]+))?", ref.stem).groups()
        model = nam_dsp.load(models[stem], slim=None if slim is None else float(slim))
        active = model.active if isinstance(model, nam_dsp.ContainerModel) else model
        key = (stem, getattr(model, "active_index", None))
        if isinstance(active, LSTMModel) and key not in seen:
            seen.add(key)
            found.append((ref.stem, active.spec))
    return found


def baseline_model(kernels, spec) -> LSTMModel:
    """An LSTMModel running another build's LSTMKernel."""
    model = LSTMModel(spec)
    model._kernel = kernels.LSTMKernel(spec)
    model.process = model._kernel.process
    model.reset()
    return model


def best_seconds_per_block(models: dict, spec) -> dict:
    """{name: seconds per 64-sample block}, alternating rounds, each model's best."""
    signal = bench_signal(ROUND_SECONDS, spec.sample_rate, BLOCK)
    blocks = cut_blocks(signal, np.empty_like(signal), BLOCK)
    best = {name: float("inf") for name in models}
    for round_index in range(ROUNDS + 1):  # round 0 warms up
        for name, model in models.items():
            process = model.process
            t0 = time.perf_counter_ns()
            for block, out in blocks:
                process(block, out)
            if round_index:
                best[name] = min(best[name], (time.perf_counter_ns() - t0) * 1e-9 / len(blocks))
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, metavar="SO",
                        help="another commit's built nam_dsp/_kernels*.so to compare")
    parser.add_argument("--seconds", type=float, default=4.0, help="the shorter error window")
    parser.add_argument("--no-timing", action="store_true", help="errors only")
    parser.add_argument("--no-errors", action="store_true",
                        help="timing only (no float64 oracle: it takes ~1 minute per model)")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"shared data not found at {DATA}", file=sys.stderr)
        return 2
    old = None
    if args.baseline:
        old = load_kernels(args.baseline)
    x, rate = soundfile.read(str(DATA / "audio/di/guitar_di_10s.wav"), dtype="float32")
    n = int(args.seconds * rate)
    print(f"{cpu_model()}; error = relative RMS against float64 (first {args.seconds:g} s / "
          f"whole {x.shape[0] / rate:g} s)")
    for name, spec in shared_lstms():
        print(f"{name} ({spec.num_layers}x{spec.hidden_size})", flush=True)
        if not args.no_errors:
            oracle = reference.lstm_forward(spec, x)
            nam_core, _ = soundfile.read(str(DATA / "reference" / f"{name}.wav"), dtype="float32")
            renders = {"NAM Core": nam_core,
                       "engine": nam_dsp.render(nam_dsp.from_spec(spec), x, block_size=BLOCK)}
            if old is not None:
                renders["baseline"] = nam_dsp.render(baseline_model(old, spec), x, block_size=BLOCK)
            for who, y in renders.items():
                print(f"    error: {who} {rel_rms(y[:n], oracle[:n]):.3g} / {rel_rms(y, oracle):.3g}")
        if not args.no_timing:
            models = {"engine": nam_dsp.from_spec(spec)}
            if old is not None:
                models["baseline"] = baseline_model(old, spec)
            best = best_seconds_per_block(models, spec)
            xrt = {who: BLOCK / spec.sample_rate / s for who, s in best.items()}
            line = ", ".join(f"{who} {v:.0f}x" for who, v in xrt.items())
            if old is not None:
                line += f"; engine / baseline {xrt['engine'] / xrt['baseline']:.2f}"
            print(f"    x real time: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
