"""What converting the stream's rate costs the player's callback, as ratios measured in one run.

    python bench/rate_conversion_cost.py [--blocks 64 256] [--rounds 30]

For each device block size, the paper model (48 kHz) is timed per callback three ways, in
alternating rounds: at 48 kHz through the width switcher (no conversion), at 44.1 kHz through the
player's RateConverter (the same switcher on 32-sample model blocks), and the converter around a
model that only copies (the filters and FIFOs alone). Writes bench/results/rate_conversion.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

import nam_dsp
from nam_dsp.output_paths import write_text_atomic
from nam_dsp.realtime.switcher import WidthSwitcher
from nam_dsp.resample import DEFAULT_MODEL_BLOCK, RateConverter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT = os.path.join(ROOT, "bench", "results", "rate_conversion.json")


def per_callback(run, blocks, rounds: int) -> float:
    """Best over ``rounds`` of the mean seconds per callback over ``blocks``."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for b in blocks:
            run(b)
        best = min(best, (time.perf_counter() - t0) / len(blocks))
    return best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--blocks", nargs="+", type=int, default=[64, 256])
    p.add_argument("--rounds", type=int, default=30)
    a = p.parse_args(argv)
    spec = nam_dsp.preset("slimmable-paper")
    rng = np.random.default_rng(0)
    rows = []
    for n in a.blocks:
        x48 = (rng.standard_normal(48000 // 4) * 0.1).astype(np.float32)
        x44 = (rng.standard_normal(44100 // 4) * 0.1).astype(np.float32)
        y = np.empty(n, np.float32)
        native = WidthSwitcher(nam_dsp.from_spec(spec), n)
        slow = WidthSwitcher(nam_dsp.from_spec(spec), DEFAULT_MODEL_BLOCK)
        conv = RateConverter(slow.process, 48000, 44100, n)
        copy = RateConverter(lambda xm, ym: np.copyto(ym, xm), 48000, 44100, n)
        b48 = [x48[i:i + n] for i in range(0, x48.size - n + 1, n)]
        b44 = [x44[i:i + n] for i in range(0, x44.size - n + 1, n)]
        runs = {"48k native": (lambda b: native.process(b, y), b48),
                "44.1k converted": (lambda b: conv.process(b, y), b44),
                "converter alone": (lambda b: copy.process(b, y), b44)}
        best = {k: float("inf") for k in runs}
        for _ in range(a.rounds):   # alternate: drifting machine speed falls on all alike
            for k, (run, blocks) in runs.items():
                best[k] = min(best[k], per_callback(run, blocks, 1))
        deadline44, deadline48 = n / 44100, n / 48000
        row = {"block": n, "us_per_callback": {k: round(v * 1e6, 2) for k, v in best.items()},
               "share_of_deadline": {"48k native": round(best["48k native"] / deadline48, 4),
                                     "44.1k converted": round(best["44.1k converted"] / deadline44, 4)},
               "converted_over_native_per_callback": round(best["44.1k converted"] / best["48k native"], 3),
               "latency_ms": round(conv.latency_ms, 3)}
        rows.append(row)
        print(json.dumps(row))
    out = {"command": "python bench/rate_conversion_cost.py " + " ".join(argv or sys.argv[1:]),
           "machine": platform.processor() or platform.machine(), "isa": nam_dsp.isa(),
           "model": "slimmable-paper (random weights), width 8", "rows": rows}
    write_text_atomic(RESULT, json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
