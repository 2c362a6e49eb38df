"""Measure the engine: write ``bench/results/engine.json`` and the tables of docs/performance.md.

Cases (the same functions as ``nam-dsp bench``, fixed-seed noise at -20 dBFS RMS, warmed up):

* the A1 "standard" architecture (preset ``a1-standard``) at 64- and 512-sample blocks;
* the paper's slimmable model (preset ``slimmable-paper``) at every width 1..8, 64- and 512-sample
  blocks, with the speed-up over width 8 from ``interleaved_block_times`` (all widths timed in
  alternating short rounds, each width's best round), which a noisy machine disturbs least;
* two A1 standard models in two Python threads against one model in one thread (best of 15
  alternating runs each).

The A1 standard rows give x real time over one 5 s pass and over the best of 40 rounds of 0.25 s:
on a shared virtual machine the first moves with whatever the neighbours run, the second is the
machine's own speed.

Usage::

    python bench/run_engine_bench.py [--seconds 5] [--out bench/results/engine.json]
    python bench/run_engine_bench.py --from-json bench/results/engine.json   # tables only
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import nam_dsp
from nam_dsp.output_paths import write_text_atomic
from nam_dsp.benchmark import bench_spec, interleaved_block_times, machine_info

RESULTS = Path(__file__).resolve().parent / "results" / "engine.json"
LIVE_BLOCK = 64
BLOCK_SIZES = (64, 512)


def measure(seconds: float) -> dict:
    """Run every case; return the results as a JSON-ready dict."""
    a1 = nam_dsp.preset("a1-standard")
    paper = nam_dsp.preset("slimmable-paper")
    a1_rows = [bench_spec(a1, [None], block_size=b, seconds=seconds)[0] for b in BLOCK_SIZES]
    for row in a1_rows:
        # The machine's own speed, apart from its slow spells: the best of 40 rounds of 0.25 s.
        best = interleaved_block_times(a1, [None], row["block_size"], seconds=0.25)[None]
        row["xrt_best_round"] = row["block_size"] / row["sample_rate"] / best
    paper_by_block = {}
    for block in BLOCK_SIZES:
        rows = bench_spec(paper, list(paper.allowed_widths), block_size=block, seconds=seconds)
        per_block = interleaved_block_times(paper, list(paper.allowed_widths), block)
        full = per_block[max(per_block)]
        for row in rows:
            row["interleaved_us_per_block"] = per_block[row["width"]] * 1e6
            row["speedup_vs_full"] = full / per_block[row["width"]]
        paper_by_block[block] = rows
    thread_rows = [bench_spec(a1, [None], block_size=b, seconds=seconds, threads=2)[0]
                   for b in BLOCK_SIZES]
    return {
        "command": " ".join(["python", "bench/run_engine_bench.py", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "nam_dsp": nam_dsp.__version__,
        "machine": machine_info(),
        "seconds_per_case": seconds,
        "a1_standard": a1_rows,
        "paper_widths": paper_by_block[LIVE_BLOCK],
        "paper_widths_512": paper_by_block[512],
        "a1_standard_two_threads": thread_rows,
    }


def _markdown(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _paper_table(results: dict) -> str:
    rows64 = results["paper_widths"]
    rows512 = results.get("paper_widths_512")
    full_macs = rows64[-1]["macs_per_sample"]
    header = ["width", "MACs/sample", "MACs ratio 8/width", "x real time, 64", "speed-up vs 8, 64",
              "p99 % of deadline, 64"]
    if rows512:
        header += ["x real time, 512", "speed-up vs 8, 512"]
    table = []
    for i, r in enumerate(rows64):
        row = [r["width"], f"{r['macs_per_sample']:,}", f"{full_macs / r['macs_per_sample']:.2f}",
               f"{r['xrt_cpu']:.1f}", f"{r['speedup_vs_full']:.2f}", f"{r['p99_deadline_pct']:.1f}"]
        if rows512:
            row += [f"{rows512[i]['xrt_cpu']:.1f}", f"{rows512[i]['speedup_vs_full']:.2f}"]
        table.append(row)
    return _markdown(header, table)


def markdown_report(results: dict) -> str:
    """The Markdown tables (and the machine they ran on) for a :func:`measure` result."""
    m = results["machine"]
    load = m.get("load_average_1min")
    busy = "" if load is None else f", 1-minute load average {load:.2f} at the start"
    busy += f", run at niceness {m['niceness']}" if m.get("niceness") else ""
    a1 = results["a1_standard"]
    sections = [
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, NumPy {m['numpy']} "
        f"({m['os']}){busy}. Command: `{results['command']}` ({results['seconds_per_case']:g} s "
        f"of audio per figure, {results['date']}).",
        f"**A1 standard** (preset `a1-standard`, {a1[0]['macs_per_sample']:,} MACs/sample), one thread:",
        _markdown(["block size", "x real time", "x real time (CPU time)", "x real time, best 0.25 s round",
                   "p50 us/block", "p99 us/block", "p99 % of deadline"],
                  [[r["block_size"], f"{r['xrt']:.1f}", f"{r['xrt_cpu']:.1f}",
                    f"{r['xrt_best_round']:.1f}" if "xrt_best_round" in r else "-", f"{r['p50_us']:.0f}",
                    f"{r['p99_us']:.0f}", f"{r['p99_deadline_pct']:.1f}"] for r in a1]),
        "**Paper model** (preset `slimmable-paper`) at every width, one thread; speed-ups from all "
        "widths timed in alternating rounds (best of 40 rounds of 0.05 s each):",
        _paper_table(results),
        "**Two A1 standard models in two Python threads** (the kernels release the GIL):",
        _markdown(["block size", "1 thread x real time", "2 threads, aggregate x real time", "ratio"],
                  [[r["block_size"], f"{r['xrt_one_thread']:.1f}", f"{r['xrt_threads']:.1f}",
                    f"{r['thread_scaling']:.2f}"] for r in results["a1_standard_two_threads"]]),
    ]
    return "\n\n".join(sections)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of audio per figure (default 5)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    parser.add_argument("--from-json", type=Path, metavar="PATH",
                        help="print the tables of an existing results file instead of measuring")
    args = parser.parse_args(argv)
    if args.from_json:
        results = json.loads(args.from_json.read_text())
    else:
        results = measure(args.seconds)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.out, json.dumps(results, indent=2) + "\n")
    print(markdown_report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
