"""Time every instruction-set variant this CPU runs in ONE run, interleaved: ``bench/results/isa.json``.

Cases at 64-sample blocks (fixed-seed noise at -20 dBFS, warmed up): the A1 "standard" preset and
the paper's slimmable model at widths 1, 2, 4, 6 and 8, one model per (variant, case), all taking
turns round after round (``nam_dsp.benchmark.interleaved_isa_block_times``; each keeps its best
round), so every ratio below comes from the same run. With ``--previous PATH`` the same cases
also run on another build's ``_kernels`` extension (e.g. the previous commit's, built in a
temporary worktree), loaded beside this one, for a same-run "no regression" ratio.

Usage::

    flock -x /tmp/cpu.lock python bench/run_isa_bench.py [--rounds 40] [--previous OLD.so]
    python bench/run_isa_bench.py --from-json bench/results/isa.json   # table only
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

from other_build import load_kernels  # bench/other_build.py, beside this script

import nam_dsp
from nam_dsp import _kernels, _packing
from nam_dsp.output_paths import write_text_atomic
from nam_dsp.benchmark import INTERLEAVED_SECONDS, interleaved_isa_block_times, machine_info

RESULTS = Path(__file__).resolve().parent / "results" / "isa.json"
BLOCK = 64
PAPER_WIDTHS = (1, 2, 4, 6, 8)
PREVIOUS = "previous build"


def _cases() -> dict:
    a1 = nam_dsp.preset("a1-standard")
    paper = nam_dsp.preset("slimmable-paper")
    cases = {"a1-standard": (a1, None)}
    cases.update({f"paper-w{w}": (paper, w) for w in PAPER_WIDTHS})
    return cases


class _PreviousModel:
    """A WaveNet on the previous build's kernel, prewarmed. Builds from before the packing moved
    to nam_dsp/_packing.py took the spec itself; later ones take its packed weights."""

    def __init__(self, kernels, spec, width):
        try:
            self._kernel = kernels.WaveNetKernel(_packing.pack_wavenet(spec), width or spec.full_width)
        except AttributeError:
            self._kernel = kernels.WaveNetKernel(spec, width or spec.full_width)
        self._kernel.clear()
        self._kernel.run_silence(spec.receptive_field)
        self.process = self._kernel.process


def measure(rounds: int, previous: Path = None) -> dict:
    cases = _cases()
    isas = _kernels.available_isas()
    previous_models = {}
    if previous is not None:
        kernels = load_kernels(previous)
        previous_models = {(PREVIOUS, name): _PreviousModel(kernels, spec, width)
                           for name, (spec, width) in cases.items()}
    best = interleaved_isa_block_times(cases, isas, BLOCK, rounds=rounds, extra=previous_models)
    rows = []
    for variant in isas + ([PREVIOUS] if previous_models else []):
        xrt = {name: BLOCK / 48000.0 / best[(variant, name)] for name in cases}
        rows.append({"isa": variant, "block_size": BLOCK, "xrt": xrt,
                     "paper_speedup_vs_w8": {f"w{w}": best[(variant, "paper-w8")] / best[(variant, f"paper-w{w}")]
                                             for w in PAPER_WIDTHS}})
    top = isas[-1]
    for row in rows:
        row["a1_vs_" + top] = row["xrt"]["a1-standard"] / rows[isas.index(top)]["xrt"]["a1-standard"]
    return {
        "command": " ".join(["python", "bench/run_isa_bench.py", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "compiled_isas": _kernels.compiled_isas(),
        "available_isas": isas,
        "rounds": rounds,
        "seconds_per_round": INTERLEAVED_SECONDS,
        "previous_build": str(previous) if previous else None,
        "rows": rows,
    }


def markdown_report(results: dict) -> str:
    top = results["available_isas"][-1]
    header = ["variant", "A1 standard, x real time", f"vs {top}", "paper w8, x real time",
              "paper w6 / w8", "paper w4 / w8", "paper w2 / w8", "paper w1 / w8"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results["rows"]:
        s = r["paper_speedup_vs_w8"]
        lines.append(f"| {r['isa']} | {r['xrt']['a1-standard']:.1f} | {r['a1_vs_' + top]:.2f} | "
                     f"{r['xrt']['paper-w8']:.1f} | {s['w6']:.2f} | {s['w4']:.2f} | {s['w2']:.2f} | {s['w1']:.2f} |")
    m = results["machine"]
    missing = [i for i in results["compiled_isas"] if i not in results["available_isas"]]
    note = f" Compiled but not runnable on this CPU: {', '.join(missing)}." if missing else ""
    return (f"{m['cpu']}, {m['cores']} cores, load average {m['load_average_1min']:.2f} at the start; "
            f"64-sample blocks, best of {results['rounds']} interleaved rounds of "
            f"{results['seconds_per_round']} s; `{results['command']}`, {results['date']}.{note}\n\n"
            + "\n".join(lines))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds (default 40)")
    parser.add_argument("--previous", type=Path, metavar="SO",
                        help="another build's nam_dsp/_kernels*.so to time beside this one")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    parser.add_argument("--from-json", type=Path, metavar="PATH", help="print an existing results file's table")
    args = parser.parse_args(argv)
    if args.from_json:
        results = json.loads(args.from_json.read_text())
    else:
        results = measure(args.rounds, args.previous)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.out, json.dumps(results, indent=2) + "\n")
    print(markdown_report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
