"""The paper experiment's budgets in steps: ``bench/results/paper/step_rates.json``.

    python -m bench.paper.step_rates --minutes 2

A CPU-minute is not a fixed amount of work on the project's shared VM (its speed per CPU-second
halved between 2026-12-02 and 2026-12-06), so the experiment counts a budget of M CPU-minutes as
``60 M x rate`` steps of each model, with ``rate`` its steps per CPU-second at the *reference
speed*: that of the 2026-12-02 session, which trained clean's 30-minute slimmable and full-width
models and part of its A1-nano and width-4 models (:data:`REFERENCE_RUNS`).

This trains all six models on ``clean`` for ``--minutes`` CPU-minutes each, two at a time as the
experiment does, in a temporary folder, and measures each one's steps per CPU-second now. A model
with a reference-day run keeps that run's rate; the others get today's rate times the geometric
mean of reference / today over the models that have both. Their spread is how far the machine's
slow-down differs between architectures, and the JSON records it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

from bench.paper.experiment import MODELS, RESULTS, ROOT, STEP_RATES, _write_json

#: Steps and CPU-seconds of the 2026-12-02 runs (two at a time, one BLAS thread), from the cache as
#: committed in 3193809: finished runs' .json, unfinished runs' .ckpt.npz ("step", "cpu").
REFERENCE_RUNS = {
    "slimmable-paper": {"steps": 7098, "cpu_seconds": 1802.2,
                        "source": "cache/clean/clean__slimmable-paper__cpu30m__seed0__2c9602fecc.json"},
    "paper-full": {"steps": 5398, "cpu_seconds": 1800.8,
                   "source": "cache/clean/clean__paper-full__cpu30m__seed0__2317052d0f.json"},
    "a1-nano-paper": {"steps": 12073, "cpu_seconds": 1488.1,
                      "source": "cache/clean/clean__a1-nano-paper__cpu30m__seed0__037dea35ac.ckpt.npz"},
    "paper-w4": {"steps": 3746, "cpu_seconds": 593.8,
                 "source": "cache/clean/clean__paper-w4__cpu30m__seed0__373a0beff4.ckpt.npz"},
}


def measure_today(minutes: float) -> dict:
    """``{model: {"steps", "cpu_seconds"}}`` of a fresh ``minutes``-CPU-minute run of each model."""
    with tempfile.TemporaryDirectory(prefix="nam-dsp-step-rates-") as tmp:
        argv = [sys.executable, "-m", "bench.paper", "--tones", "clean", "--cpu-time-budget",
                "--budget-minutes", f"{minutes:g}", "--jobs", "2", "--out", tmp, "--cache", os.path.join(tmp, "cache"),
                "--bench-seconds", "0.2", "--bench-repeats", "1"]
        subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(tmp, "clean.json")) as fh:
            result = json.load(fh)
    return {m: {"steps": d["training"]["steps"], "cpu_seconds": d["training"]["train_cpu_seconds"]}
            for m, d in result["models"].items()}


def step_rates(today: dict) -> dict:
    """The table and its evidence from today's runs and :data:`REFERENCE_RUNS`."""
    rate = {m: r["steps"] / r["cpu_seconds"] for m, r in today.items()}
    ref_rate = {m: r["steps"] / r["cpu_seconds"] for m, r in REFERENCE_RUNS.items()}
    slowdown = {m: rate[m] / ref_rate[m] for m in REFERENCE_RUNS}  # today's speed / the reference's
    mean = math.exp(sum(math.log(v) for v in slowdown.values()) / len(slowdown))
    table = {m: round(ref_rate[m] if m in ref_rate else rate[m] / mean, 3) for m in MODELS}
    return {
        "steps_per_cpu_second": table,
        "how": {m: "its reference-day run" if m in ref_rate else "today's rate / the mean slow-down" for m in MODELS},
        "reference_runs": REFERENCE_RUNS,
        "today": {m: dict(today[m], steps_per_cpu_second=round(rate[m], 3)) for m in MODELS},
        "slowdown_today_over_reference": {m: round(v, 3) for m, v in slowdown.items()},
        "mean_slowdown": round(mean, 3),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=2.0, help="CPU-minutes of each measuring run")
    ap.add_argument("--out", default=STEP_RATES)
    ap.add_argument("--force", action="store_true",
                    help="overwrite an existing table (it sets the budget of every run not yet finished)")
    a = ap.parse_args(argv)
    if os.path.exists(a.out) and not a.force:
        # finished runs keep their cache keys, so a new table would give the runs still to come
        # other budgets than the finished ones had
        ap.error(f"{a.out} exists and sets the budgets of the runs still to come; "
                 "--out elsewhere to compare, or --force to replace it")
    t0 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    table = step_rates(measure_today(a.minutes))
    table.update({"measured_utc": t0, "command": f"python -m bench.paper.step_rates --minutes {a.minutes:g}",
                  "results_dir": os.path.relpath(RESULTS, ROOT)})
    _write_json(a.out, table)
    print(json.dumps({k: table[k] for k in ("steps_per_cpu_second", "slowdown_today_over_reference",
                                             "mean_slowdown")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
