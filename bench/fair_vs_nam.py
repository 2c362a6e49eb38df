"""The fair comparison with NAM's trainer: the same cores, the same wall minutes, each run alone.

    python3 bench/fair_vs_nam.py --wall-minutes 8 --threads 2
    python3 bench/fair_vs_nam.py --wall-minutes 8 --sources crunch ampprofiling

For each source of ``bench/training_sources.py`` (the four tones and the ampprofiling pair) this
runs, one after the other and never side by side, ``bench/train_quality.py SOURCE --minutes M
--threads N`` (ours) and ``bench/nam_trainer_quality.py SOURCE --wall-minutes M --threads N`` (NAM
0.13 in its pinned venv, which it installs on first use). Both train the paper's slimmable model
with the same data, split, loss and protocol and are scored by the same validation.

Whether a run really ran alone is measured, not assumed: the machine's busy CPU time over the run
(``/proc/stat``) minus the run's own (``getrusage`` of the child) is what everything else took,
recorded as ``other_cpu_share`` (of all cores over the run's wall time) next to each run's steps
per CPU-second and load average. Writes each run's record and ``summary_wall<M>.json`` (updated
after every source) and ``README.md`` under ``bench/results/training/fair/``.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench.training_sources import NAMES, require, source

WIDTHS = [str(w) for w in range(1, 9)]
RESULTS = os.path.join(ROOT, "bench", "results", "training", "fair")


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy since boot (every core)."""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_alone(cmd, env):
    """Run ``cmd`` and measure what the rest of the machine did meanwhile."""
    busy0, own0, t0 = busy_cpu_seconds(), children_cpu_seconds(), time.time()
    load0 = os.getloadavg()[0]
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, env=env, check=True, cwd=ROOT)
    wall = time.time() - t0
    own = children_cpu_seconds() - own0
    other = max(0.0, busy_cpu_seconds() - busy0 - own)
    return {"wall_seconds": round(wall, 1), "own_cpu_seconds": round(own, 1),
            "other_cpu_seconds": round(other, 1),
            "other_cpu_share": round(other / (wall * os.cpu_count()), 4),
            "load_1min_at_start": round(load0, 2)}


def atomic_json(path, obj):
    tmp = path + ".part"
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1)
    os.replace(tmp, path)


def compare(name, minutes, threads, results):
    src = source(name)
    require(src)
    tag = f"_wall{minutes:g}"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    work = tempfile.mkdtemp(prefix=f"fair_{name}_")
    ours_cmd = [sys.executable, "bench/train_quality.py", name, "--minutes", f"{minutes:g}", "--tag", tag,
                "--results", results, "--out", os.path.join(work, f"{name}.nam"), "--threads", str(threads)]
    # NAM's CPU budget set out of reach: the wall minutes stop it
    nam_cmd = [sys.executable, "bench/nam_trainer_quality.py", name, "--wall-minutes", f"{minutes:g}",
               "--cpu-minutes", f"{4 * minutes * threads:g}", "--threads", str(threads), "--tag", tag,
               "--results", results, "--budget-file", os.path.join(work, "nam.budget")]
    machine = {}
    machine["ours"] = run_alone(ours_cmd, env)
    machine["nam"] = run_alone(nam_cmd, dict(os.environ))  # torch sets its own threads
    ours_path = os.path.join(results, f"{name}{tag}.json")
    with open(ours_path) as fh:
        ours = json.load(fh)
    # train_quality compares with the shared NAM figures (another budget); here the comparison is
    # with the NAM run just made, so those fields would only mislead
    for stale in ("nam_trainer_budget", "nam_trainer_validation_esr", "ratio_to_nam"):
        ours.pop(stale, None)
    atomic_json(ours_path, ours)
    with open(os.path.join(results, f"nam_{name}{tag}.json")) as fh:
        nam = json.load(fh)
    o, n = ours["validation_esr"], nam["validation_esr"]
    return {
        "source": name, "wall_minutes": minutes, "threads": threads,
        "ours": {"validation_esr": o, "steps": ours["steps"], "cpu_seconds": ours["cpu_seconds"],
                 "steps_per_cpu_second": ours["steps_per_cpu_second"], "record": f"{name}{tag}.json",
                 "machine": machine["ours"]},
        "nam": {"validation_esr": n, "steps": nam["steps"], "cpu_seconds": nam["cpu_seconds"],
                "steps_per_cpu_second": nam["steps_per_cpu_second"], "record": f"nam_{name}{tag}.json",
                "trainer": nam["trainer"], "machine": machine["nam"]},
        "ratio_ours_to_nam": {w: round(o[w] / n[w], 3) for w in WIDTHS},
        "ours_full_width_worse_than_a_narrower_one": any(o["8"] > o[w] for w in WIDTHS[:-1]),
        "nam_full_width_worse_than_a_narrower_one": any(n["8"] > n[w] for w in WIDTHS[:-1]),
    }


def readme(summary):
    rows = ["| source | trainer | " + " | ".join(WIDTHS) + " | steps | steps/CPU-s | other CPU |",
            "|---|---|" + "---|" * (len(WIDTHS) + 3)]
    for c in summary["comparisons"]:
        for who, label in (("ours", "nam_dsp"), ("nam", "NAM 0.13")):
            r = c[who]
            rows.append(f"| {c['source']} | {label} | " + " | ".join(f"{r['validation_esr'][w]:.4f}" for w in WIDTHS)
                        + f" | {r['steps']} | {r['steps_per_cpu_second']:.2f} | "
                        f"{100 * r['machine']['other_cpu_share']:.1f}% |")
        rows.append(f"| {c['source']} | ratio (< 1: ours better) | "
                    + " | ".join(f"{c['ratio_ours_to_nam'][w]:.2f}" for w in WIDTHS) + " | | | |")
    m = summary["wall_minutes"]
    return "\n".join([
        f"# Against NAM's trainer: {m:g} wall minutes each, {summary['threads']} threads, each run alone",
        "",
        f"Command: `{summary['command']}` ({summary['machine']}). Validation ESR per width 1..8 of the",
        "paper's slimmable model; both trainers' models are scored by the same validation (nam_dsp's",
        "render of the exported .nam, valid mode). \"other CPU\" is what the rest of the machine used",
        "during the run, as a share of all cores over its wall time (/proc/stat minus the run's own",
        "CPU time): near 0 means the run had the machine to itself.",
        "",
        *rows, ""])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wall-minutes", type=float, default=8.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sources", nargs="+", default=list(NAMES), choices=NAMES)
    ap.add_argument("--results", default=RESULTS)
    a = ap.parse_args()
    for name in a.sources:
        require(source(name))  # before any long work
    os.makedirs(a.results, exist_ok=True)
    path = os.path.join(a.results, f"summary_wall{a.wall_minutes:g}.json")
    summary = {"command": "python3 bench/fair_vs_nam.py " + " ".join(sys.argv[1:]),
               "wall_minutes": a.wall_minutes, "threads": a.threads, "comparisons": []}
    if os.path.exists(path):  # another invocation's sources stay; a source run again is replaced
        with open(path) as fh:
            summary["comparisons"] = [c for c in json.load(fh)["comparisons"] if c["source"] not in a.sources]
    with open("/proc/cpuinfo") as fh:
        model = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "?")
    summary["machine"] = f"{model}, {os.cpu_count()} CPUs"
    for name in a.sources:
        summary["comparisons"].append(compare(name, a.wall_minutes, a.threads, a.results))
        summary["comparisons"].sort(key=lambda c: NAMES.index(c["source"]))
        atomic_json(path, summary)
        with open(os.path.join(a.results, "README.md"), "w") as fh:
            fh.write(readme(summary))
        print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    main()
