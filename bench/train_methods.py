"""Width-training methods compared at equal CPU time, on the shared tones, several seeds.

    python bench/train_methods.py --cpu-minutes 5 --tones clean crunch --seeds 0 1 --jobs 2

Each run is ``nam-dsp train`` on ``tones/dry.flac`` -> ``wet_<tone>.flac`` with ``split.json``,
one thread, stopped after the same CPU time; its result goes to
``bench/results/training/methods_cpu<M>/<tone>_<method>_seed<S>.json`` (or ``--out``) as it
finishes (a rerun skips finished runs), with the machine's speed before and after it
(``bench/machine_speed.py``), and the table of validation ESR per width (geometric mean over
seeds) to ``README.md`` there. Models and checkpoints go to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TONES = ROOT.parent / "shared" / "data" / "tones"
RESULTS = ROOT / "bench" / "results" / "training"

#: The methods without "channel-causal" in their name start from the weights as drawn, as they
#: were compared (the default init of slimmable architectures until 2026-12-07).
DRAWN = ["--init", "drawn"]

#: method name -> extra ``nam-dsp train`` arguments (the rest of the settings are the defaults).
METHODS = {
    "uniform": DRAWN,
    "uniform+distill": [*DRAWN, "--distill", "0.5"],
    "linear-weights": [*DRAWN, "--width-weights", "linear"],
    "sandwich+distill": [*DRAWN, "--schedule", "sandwich", "--distill", "0.5"],
    "progressive": [*DRAWN, "--schedule", "progressive"],
    "uniform+cosine+average": [*DRAWN, "--lr-schedule", "cosine", "--average", "0.998"],
    "boosting": [*DRAWN, "--boosting"],
    "channel-causal": ["--init", "channel-causal"],
    "boosting+channel-causal": ["--boosting", "--init", "channel-causal"],
}


def machine_speed(env):
    """``bench/machine_speed.py`` in a child with the runs' environment (one BLAS thread), or None
    with a warning if it fails: a probe must not cost a finished run its result."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "machine_speed.py")], env=env,
                          capture_output=True, text=True)
    try:
        return round(float(done.stdout.split()[0]))
    except (IndexError, ValueError):
        print(f"machine speed probe failed: {done.stderr[-500:]}", file=sys.stderr)
        return None


def run_one(tone: str, method: str, seed: int, cpu_minutes: float, out_dir: Path) -> dict:
    """Train one model in its own process (one thread) and record its validation ESR."""
    result_path = out_dir / f"{tone}_{method}_seed{seed}.json"
    if result_path.is_file():
        return json.loads(result_path.read_text())
    with tempfile.TemporaryDirectory(prefix="nam-dsp-methods-") as tmp:
        model = os.path.join(tmp, "m.nam")
        argv = [sys.executable, "-m", "nam_dsp", "train", str(TONES / "dry.flac"),
                str(TONES / f"wet_{tone}.flac"), "-o", model, "--split", str(TONES / "split.json"),
                "--budget-cpu-minutes", str(cpu_minutes), "--latency", "0", "--validate-every", "100",
                "--seed", str(seed), "--threads", "1", *METHODS[method]]
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        speed_before = machine_speed(env)
        t0 = time.time()
        load_before = os.getloadavg()[0]
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        load_after = os.getloadavg()[0]
        wall = time.time() - t0
        speed_after = machine_speed(env)
        if done.returncode:
            raise RuntimeError(f"{tone} {method} seed {seed}: {done.stderr[-2000:]}")
        training = json.loads(Path(model).read_text())["metadata"]["training"]
    result = {"tone": tone, "method": method, "seed": seed, "extra_args": METHODS[method],
              "budget_cpu_minutes": cpu_minutes, "steps": training["steps"],
              "cpu_seconds": training["cpu_seconds"], "wall_seconds": round(wall, 1),
              "steps_per_cpu_second": round(training["steps"] / training["cpu_seconds"], 3),
              "load_1min_before_after": [round(load_before, 2), round(load_after, 2)],
              # what a CPU-minute was worth around this run (the machine's speed drifts between days)
              "trainer_samples_per_cpu_second": [speed_before, speed_after],
              "validation_esr": training["validation_esr"]}
    tmp_path = result_path.with_suffix(".tmp")
    tmp_path.write_text(json.dumps(result, indent=1) + "\n")
    os.replace(tmp_path, result_path)
    print(f"{tone} {method} seed {seed}: {result['steps']} steps, val ESR "
          + " ".join(f"{v:.4f}" for _, v in sorted(result["validation_esr"].items(), key=lambda kv: int(kv[0]))),
          flush=True)
    return result


def table(results: list) -> str:
    """Markdown: per tone and method, the geometric mean over seeds of each width's ESR."""
    lines = []
    for tone in sorted({r["tone"] for r in results}):
        rows = [r for r in results if r["tone"] == tone]
        widths = sorted(rows[0]["validation_esr"], key=int)
        lines += [f"### {tone}", "",
                  "| method | seeds | steps | steps/CPU-s | " + " | ".join(f"w{w}" for w in widths)
                  + " | mean log10 |", "|---|---|---|---|" + "---|" * len(widths) + "---|"]
        for method in METHODS:
            runs = [r for r in rows if r["method"] == method]
            if not runs:
                continue
            esr = {w: float(np.exp(np.mean([np.log(r["validation_esr"][w]) for r in runs]))) for w in widths}
            mean_log = float(np.mean([np.log10(v) for v in esr.values()]))
            by_seed = sorted(runs, key=lambda r: r["seed"])
            steps = "/".join(str(r["steps"]) for r in by_seed)
            rates = "/".join(f"{r['steps_per_cpu_second']:.2f}" for r in by_seed)
            lines.append(f"| {method} | {len(runs)} | {steps} | {rates} | "
                         + " | ".join(f"{esr[w]:.4f}" for w in widths) + f" | {mean_log:.3f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-minutes", type=float, default=5.0)
    parser.add_argument("--tones", nargs="+", default=["clean", "crunch"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default bench/results/training/methods_cpu<M>); a batch "
                             "compared in one session goes to its own folder, since the machine's "
                             "speed per CPU-second drifts between days")
    args = parser.parse_args(argv)
    if not TONES.is_dir():
        print(f"shared tones not found at {TONES}", file=sys.stderr)
        return 2
    out_dir = args.out or RESULTS / f"methods_cpu{args.cpu_minutes:g}"
    out_dir.mkdir(parents=True, exist_ok=True)
    tasks = [(tone, method, seed) for seed in args.seeds for tone in args.tones for method in args.methods]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda t: run_one(*t, args.cpu_minutes, out_dir), tasks))
    text = (f"# Width-training methods at {args.cpu_minutes:g} CPU-minutes per model (one thread)\n\n"
            f"Command: `python {shlex.join(['bench/train_methods.py', *(sys.argv[1:] if argv is None else argv)])}`. "
            "Validation ESR per "
            "width, geometric mean over seeds; per-run JSON beside this file.\n\n" + table(results))
    (out_dir / "README.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
