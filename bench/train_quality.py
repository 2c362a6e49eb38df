"""Quality run: train the paper's slimmable model on a shared tone and compare with NAM's trainer.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 bench/train_quality.py crunch --minutes 30

Trains on a source of ``bench/training_sources.py`` (a tone: ``../shared/data/tones/dry.flac`` ->
``wet_<tone>.flac`` with ``split.json``; or the ``ampprofiling`` pair) and writes
``bench/results/training/<tone>.json``: validation ESR at widths 1..8 next to the figures NAM's own
trainer reached on this machine in the same budget (``../shared/data/README.md``), the exact
command, seconds and steps. The model goes to ``/tmp/nam_dsp_train_<tone>.nam`` (not the repo).
Other arguments (e.g. ``--schedule sandwich``) go to ``nam-dsp train``.
"""

import argparse
import json
import os
import sys
import time

from nam_dsp.training import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench.training_sources import require, source

NAM_REFERENCE = {  # validation ESR per width 1..8 reached by NAM's trainer (README of shared/data)
    "crunch": {"minutes": 30, "esr": [0.141, 0.063, 0.029, 0.024, 0.017, 0.015, 0.014, 0.0129]},
    "clean": {"minutes": 20, "esr": [0.177, 0.083, 0.048, 0.031, 0.026, 0.023, 0.019, 0.0178]},
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tone")
    ap.add_argument("--minutes", type=float, default=None, help="wall-clock budget (NAM's: 30 crunch, 20 clean)")
    ap.add_argument("--cpu-minutes", type=float, default=None,
                    help="budget in CPU minutes of this process instead (fair when the 2 cores are shared)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--results", default=os.path.join(ROOT, "bench", "results", "training"))
    ap.add_argument("--tag", default="")
    a, extra = ap.parse_known_args()
    a.extra = [e for e in extra if e != "--"]
    src = source(a.tone)
    require(src)
    minutes = a.minutes or NAM_REFERENCE.get(a.tone, {}).get("minutes", 20)
    out = a.out or f"/tmp/nam_dsp_train_{a.tone}{a.tag}.nam"
    argv = src.train_args() + [
        "-o", out,
        *(["--budget-cpu-minutes", str(a.cpu_minutes)] if a.cpu_minutes else ["--budget-minutes", str(minutes)]),
        "--validate-every", "100", "--checkpoint-minutes", "3"] + a.extra
    command = ("OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 bench/train_quality.py "
               + " ".join(sys.argv[1:]))
    t0, load0 = time.time(), os.getloadavg()[0]
    rc = cli.main(argv)
    if rc:
        sys.exit(rc)
    import nam_dsp
    spec = nam_dsp.load_spec(out)
    tr = spec.metadata["training"]
    ref = NAM_REFERENCE.get(a.tone)
    result = {
        "tone": a.tone, "command": command, "train_argv": ["nam-dsp", "train"] + argv,
        "budget_minutes": None if a.cpu_minutes else minutes, "budget_cpu_minutes": a.cpu_minutes,
        "nam_trainer_budget": f"{NAM_REFERENCE[a.tone]['minutes']} wall minutes, PyTorch, 2 threads"
        if a.tone in NAM_REFERENCE else None,
        "wall_seconds": round(time.time() - t0, 1),
        "steps": tr["steps"], "epochs": tr["epochs"], "train_seconds": tr["seconds"],
        "train_cpu_seconds": tr.get("cpu_seconds"),
        "validation_esr": tr["validation_esr"],
        "nam_trainer_validation_esr": None if ref is None else {str(i + 1): v for i, v in enumerate(ref["esr"])},
        "ratio_to_nam": None if ref is None else {
            str(i + 1): round(tr["validation_esr"][str(i + 1)] / v, 3)
            for i, v in enumerate(ref["esr"]) if str(i + 1) in tr["validation_esr"]},
        "threads": tr["settings"].get("threads"),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
        "cpu_seconds": round(time.process_time(), 1),  # < wall seconds when the 2 cores are shared
        "steps_per_cpu_second": round(tr["steps"] / time.process_time(), 3),
        "load_average": {"start_1min": round(load0, 2), "end_1min": round(os.getloadavg()[0], 2),
                         "cpus": os.cpu_count()},
        "settings": tr["settings"],
    }
    os.makedirs(a.results, exist_ok=True)
    path = os.path.join(a.results, f"{a.tone}{a.tag}.json")
    with open(path, "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"wrote {path}")
    cli.plot_checkpoint(out + ".ckpt.npz", os.path.join(a.results, f"{a.tone}{a.tag}.png"))


if __name__ == "__main__":
    main()
