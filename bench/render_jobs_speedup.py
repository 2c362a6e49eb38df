"""`nam-dsp render --jobs 2` against one stream on this machine's cores, as a same-run ratio.

    python bench/render_jobs_speedup.py [--capture marshall_jcm_standard] [--rounds 3]

Renders every real DI of ../shared/data/audio/di, end to end (about 150 s of audio), through a
capture with ``--jobs 1`` and ``--jobs 2`` in alternating rounds (best of each, wall time, worker
start-up included), checks that the two outputs are bit-identical, and writes
bench/results/render_jobs.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

from nam_dsp.cli import main as nam_dsp_main
from nam_dsp.output_paths import write_text_atomic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")
RESULT = os.path.join(ROOT, "bench", "results", "render_jobs.json")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--capture", default="marshall_jcm_standard")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args(argv)
    model = os.path.join(SHARED, "models", "captures", a.capture + ".nam")
    files = sorted(glob.glob(os.path.join(SHARED, "audio", "di", "*.wav")))
    if not os.path.isfile(model) or not files:
        print(f"shared data not found at {SHARED}", file=sys.stderr)
        return 2
    x = np.concatenate([sf.read(f, dtype="float32", always_2d=True)[0][:, 0] for f in files])
    with tempfile.TemporaryDirectory(prefix="nam_dsp_render_jobs_") as tmp:
        wav = os.path.join(tmp, "all_di.wav")
        sf.write(wav, x, 48000, subtype="FLOAT")
        best = {1: float("inf"), 2: float("inf")}
        for _ in range(a.rounds):
            for jobs in (1, 2):
                out = os.path.join(tmp, f"out{jobs}.wav")
                t0 = time.perf_counter()
                assert nam_dsp_main(["render", model, wav, out, "--jobs", str(jobs)]) == 0
                best[jobs] = min(best[jobs], time.perf_counter() - t0)
        same = np.array_equal(sf.read(os.path.join(tmp, "out1.wav"), dtype="float32")[0],
                              sf.read(os.path.join(tmp, "out2.wav"), dtype="float32")[0])
    seconds = x.size / 48000
    result = {"command": "python bench/render_jobs_speedup.py " + " ".join(argv or sys.argv[1:]),
              "machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
              "capture": a.capture, "audio_seconds": round(seconds, 1),
              "wall_seconds": {str(k): round(v, 3) for k, v in best.items()},
              "x_real_time": {str(k): round(seconds / v, 1) for k, v in best.items()},
              "speed_up_jobs2": round(best[1] / best[2], 3), "bit_identical": bool(same)}
    print(json.dumps(result, indent=1))
    write_text_atomic(RESULT, json.dumps(result, indent=1) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
