"""Acceptance runs of ``nam-dsp slim`` (issue 11): distil real captures, evaluate on real DI.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 bench/slim_captures.py            # 4 x 30 CPU-min
    python3 bench/slim_captures.py --jobs 2                                             # 2 at a time
    python3 bench/slim_captures.py --scheduler tcp://HOST:8786                          # on a cluster
    python3 bench/slim_captures.py --variant with-di                                    # + user DIs
    python3 bench/slim_captures.py --captures marshall_jcm_standard --arch slimmable-paper  # a chosen student
    python3 bench/slim_captures.py --captures dumble_feather --budget-cpu-minutes 0.2 \\
        --out-dir /tmp/slim_bench                                                       # smoke test

Each capture in ``../shared/data/models/captures`` is distilled by the library behind
``nam-dsp slim`` (default student, seed 0) and evaluated against the teacher on real
DI. ``bench/results/slim/<capture>.json`` gets ``teacher``, ``arch``, ``budget_cpu_minutes``,
``eval_di``, ``esr_vs_teacher`` {width: ESR over all eval files}, and ``esr_per_file``
{file: {width: ESR}} so that runs with different eval sets can be compared on the files they share.

Variants:

* ``builtin`` (the acceptance): built-in excitation only, evaluation on every file of
  ``../shared/data/audio/di``;
* ``with-di``: the user-DI case: train on the built-in excitation plus every DI except
  ``lunar_guitar.wav`` and ``guitar_di_10s.wav``, evaluate on those two (compare with the
  ``builtin`` run's ``esr_per_file`` on the same two files). Written as ``<capture>__with_di.json``.

The distilled models go to ``--models-dir`` (default a temporary folder), not into the repository:
they derive from the captures, whose licences differ.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from nam_dsp.executor import Task, run_tasks
from nam_dsp.output_paths import write_text_atomic
from nam_dsp.training.distill import SlimJob, audio_files, distil

SHARED = os.path.join(ROOT, "..", "shared", "data")
CAPTURES = os.path.join(SHARED, "models", "captures")
DI = os.path.join(SHARED, "audio", "di")
ACCEPTANCE = ("marshall_jcm_standard", "mesa_rectifier_a2", "boss_sd1_lstm_1x16", "dumble_feather")
HELD_OUT = ("lunar_guitar.wav", "guitar_di_10s.wav")
RESULTS = os.path.join(ROOT, "bench", "results", "slim")


def variant_audio(variant: str):
    """``(training DI files, eval DI files)`` of a variant."""
    every = audio_files([DI])
    if variant == "builtin":
        return [], every
    return ([f for f in every if os.path.basename(f) not in HELD_OUT],
            [f for f in every if os.path.basename(f) in HELD_OUT])


def run_capture(capture: str, args_dict: dict) -> dict:
    a = argparse.Namespace(**args_dict)
    teacher = os.path.join(CAPTURES, capture + ".nam")
    suffix = ("" if a.variant == "builtin" else "__with_di") + (f"__{a.arch}" if a.arch else "")
    model = os.path.join(a.models_dir, capture + suffix + ".nam")
    train_di, eval_di = variant_audio(a.variant)
    job = SlimJob(teacher=teacher, output=model, budget_cpu_seconds=60.0 * a.budget_cpu_minutes,
                  arch=a.arch, di=train_di, eval_di=eval_di, seed=a.seed, threads=a.threads,
                  epoch_seconds=a.epoch_seconds, log_path=model + ".log")
    summary = distil(job)
    widths = sorted(summary["esr"])
    result = {
        "teacher": os.path.relpath(teacher, ROOT), "arch": summary["arch"],
        "budget_cpu_minutes": a.budget_cpu_minutes, "eval_di": [os.path.basename(f) for f in eval_di],
        "esr_vs_teacher": {str(w): summary["esr"][w] for w in widths},
        "esr_per_file": {name: {str(w): v for w, v in d.items()} for name, d in summary["esr_per_file"].items()},
        "train_di": [os.path.basename(f) for f in train_di], "variant": a.variant,
        "teacher_macs": summary["teacher_macs"], "steps": summary["steps"],
        "cpu_seconds": summary["cpu_seconds"], "seconds": summary["seconds"], "seed": a.seed,
        "selection_esr_synthetic": summary["selection_esr"], "model": model,
    }
    os.makedirs(a.out_dir, exist_ok=True)
    write_text_atomic(os.path.join(a.out_dir, capture + suffix + ".json"), json.dumps(result, indent=1) + "\n")
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--captures", nargs="+", default=list(ACCEPTANCE), help="capture names (default: the acceptance's)")
    p.add_argument("--budget-cpu-minutes", type=float, default=30.0)
    p.add_argument("--variant", choices=["builtin", "with-di"], default="builtin")
    p.add_argument("--out-dir", default=RESULTS, help="where the JSON results go (default bench/results/slim)")
    p.add_argument("--models-dir", default=None, help="where the distilled .nam files go (default: a temp folder)")
    p.add_argument("--arch", default=None,
                   help="student architecture (default: nam-dsp slim's, slimmable-paper); "
                        "a chosen one adds __ARCH to the result's name")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="threads per distillation (default 1)")
    p.add_argument("--epoch-seconds", type=float, default=120.0)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--scheduler", default=None)
    a = p.parse_args(argv)
    if not os.path.isdir(CAPTURES):
        print(f"shared data not found at {SHARED}", file=sys.stderr)
        return 2
    a.models_dir = a.models_dir or tempfile.mkdtemp(prefix="nam_dsp_slim_models_")
    os.makedirs(a.models_dir, exist_ok=True)
    missing = [c for c in a.captures if not os.path.isfile(os.path.join(CAPTURES, c + ".nam"))]
    if missing:
        print(f"no such capture(s) in {CAPTURES}: {', '.join(missing)}", file=sys.stderr)
        return 2
    tasks = [Task(c, run_capture, (c, vars(a))) for c in a.captures]
    outcomes = run_tasks(tasks, jobs=a.jobs, scheduler=a.scheduler)
    failed = 0
    for c, o in outcomes.items():
        if not o.ok:
            failed += 1
            print(f"{c}: FAILED: {o.error}", file=sys.stderr)
            continue
        r = o.result
        esr = " ".join(f"w{w} {v:.4f}" for w, v in r["esr_vs_teacher"].items())
        print(f"{c}: {r['arch']}, {r['steps']} steps, {r['cpu_seconds']:.0f} CPU-s; ESR vs teacher on "
              f"{len(r['eval_di'])} real DI files: {esr}")
    print(f"results in {a.out_dir}, models in {a.models_dir}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
