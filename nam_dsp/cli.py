"""The ``nam-dsp`` command line: inspect, render, benchmark and demo NAM models.

Subcommands::

    nam-dsp info MODEL [--json]
    nam-dsp render MODEL IN... OUT [--block-size N] [--width C | --slim V] [--jobs N | --scheduler ADDR]
    nam-dsp bench (MODEL | --arch NAME) [--block-size N] [--seconds S]
                  [--width C ... | --all-widths] [--threads T] [--json]
    nam-dsp demo [--out-dir DIR] [--seconds S] [--block-size N]
    nam-dsp train ...   (delegated to nam_dsp.training.cli)
    nam-dsp play ...    (delegated to nam_dsp.realtime.cli)
    nam-dsp slim ...    (delegated to nam_dsp.training.slim_cli)

Every subcommand is a thin layer over the library (:mod:`nam_dsp.engine`,
:mod:`nam_dsp.benchmark`, :mod:`nam_dsp.demo`). Errors the library raises on purpose
(:class:`~nam_dsp.errors.NamDspError`) and audio-file errors end in a one-line message on stderr
and exit code 2; bad arguments end in argparse's usage message (also exit code 2).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import sys
import tempfile
import time
from typing import List, Optional, Sequence

import numpy as np
import soundfile as sf

from . import DEFAULT_MODEL_NAME, __version__, default_model_path
from ._kernels import available_isas, isa as isa_in_use
from .arg_types import positive_float, positive_int
from .benchmark import bench_spec
from .cli_errors import options_at_fault
from .demo import plucked_phrase, run_widths
from .engine import ContainerModel, WaveNetModel, load, render
from .errors import NamDspError, WidthError
from .nam_file import load_spec
from .output_paths import check_output_path, write_wav_atomic
from .presets import PRESETS, preset, preset_name
from .spec import ContainerSpec, LSTMSpec, WaveNetSpec

#: Samples per ``process`` call for ``render`` (large blocks: offline work).
RENDER_BLOCK_SIZE = 4096
#: Samples per ``process`` call for ``bench`` and ``demo`` (a typical live buffer).
LIVE_BLOCK_SIZE = 64
#: Subcommands implemented elsewhere: name -> (module, one-line help). See :func:`build_parser`.
DELEGATED = {
    "train": ("nam_dsp.training.cli", "train a model from a DI and a reamp (autograd-free trainer)"),
    "play": ("nam_dsp.realtime.cli", "play a model live on the audio interface"),
    "slim": ("nam_dsp.training.slim_cli", "distil any capture into a slimmable model (no amp, no reamp needed)"),
}


# -------------------------------------------------------------------------------------------------
# Small helpers
# -------------------------------------------------------------------------------------------------

def _notice(message: str) -> None:
    print(f"nam-dsp: {message}", file=sys.stderr)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Right-aligned plain-text columns."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    return "\n".join("  ".join(str(cell).rjust(w) for cell, w in zip(line, widths))
                     for line in [header, *rows])


def _describe_model(model) -> str:
    """What runs, e.g. ``WaveNet at width 3 of 1..8`` or ``SlimmableContainer, submodel 1 (LSTM)``."""
    if isinstance(model, ContainerModel):
        return f"SlimmableContainer, submodel {model.active_index} ({model.active.spec.architecture})"
    if isinstance(model, WaveNetModel) and model.slimmable:
        widths = model.allowed_widths
        return f"WaveNet at width {model.width} of {widths[0]}..{widths[-1]}"
    return model.spec.architecture


# -------------------------------------------------------------------------------------------------
# info
# -------------------------------------------------------------------------------------------------

def describe(spec) -> dict:
    """Everything ``nam-dsp info`` reports about a model, as a JSON-ready dict.

    Keys: ``architecture``, ``version``, ``sample_rate``, ``receptive_field``, ``num_weights``,
    ``slimmable``, ``allowed_widths`` (None unless a slimmable WaveNet), ``widths`` (a list of
    ``{"width", "macs_per_sample"}``, one per allowed width, else one entry), ``metadata``;
    WaveNets add ``channels`` (per layer array); containers add ``submodels``, each
    ``{"max_value", ...}`` plus these same keys.
    """
    info = {
        "architecture": spec.architecture,
        "preset": preset_name(spec) if isinstance(spec, WaveNetSpec) else None,
        "version": spec.version,
        "sample_rate": spec.sample_rate,
        "receptive_field": spec.receptive_field,
        "num_weights": spec.num_weights,
        "slimmable": bool(spec.slimmable),
        "allowed_widths": list(spec.allowed_widths) if spec.allowed_widths else None,
    }
    if isinstance(spec, LSTMSpec):
        info["lstm"] = {"layers": spec.num_layers, "hidden_size": spec.hidden_size,
                        "input_size": spec.input_size}
    if isinstance(spec, WaveNetSpec):
        info["channels"] = [arr.channels for arr in spec.arrays]
        widths = spec.allowed_widths or (spec.full_width,)
        info["widths"] = [{"width": w, "macs_per_sample": spec.macs_per_sample(w)} for w in widths]
    else:
        info["widths"] = [{"width": None, "macs_per_sample": spec.macs_per_sample()}]
    if isinstance(spec, ContainerSpec):
        info["submodels"] = [{"max_value": mv, **describe(sub)}
                             for mv, sub in zip(spec.max_values, spec.submodels)]
    info["metadata"] = spec.metadata
    return info


def _is_date(value) -> bool:
    return isinstance(value, dict) and {"year", "month", "day"} <= value.keys()


def _format_value(value) -> str:
    if _is_date(value):
        date = f"{value['year']:04d}-{value['month']:02d}-{value['day']:02d}"
        if {"hour", "minute", "second"} <= value.keys():
            date += f" {value['hour']:02d}:{value['minute']:02d}:{value['second']:02d}"
        return date
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def _format_metadata(metadata: dict, indent: str = "  ") -> List[str]:
    """``key: value`` lines, nested objects indented below their key; null values left out."""
    lines = []
    for key, value in metadata.items():
        if isinstance(value, dict) and value and not _is_date(value):
            lines.append(f"{indent}{key}:")
            lines += _format_metadata(value, indent + "  ")
        elif value is not None:
            lines.append(f"{indent}{key}: {_format_value(value)}")
    return lines


def format_info(path: str, info: dict) -> str:
    """The human-readable form of :func:`describe`'s dict."""
    rate = info["sample_rate"]
    lines = [f"model: {path}", f"architecture: {info['architecture']}"
             + (f" (channels per layer array: {info['channels']})" if "channels" in info else "")
             + (f", the shape of preset {info['preset']}" if info.get("preset") else ""),
             f"version: {info['version']}",
             f"sample rate: {rate:g} Hz"]
    if "lstm" in info:
        lstm = info["lstm"]
        lines.append(f"layers: {lstm['layers']} LSTM layer{'s' if lstm['layers'] != 1 else ''} of "
                     f"hidden size {lstm['hidden_size']} (a recurrent state, not a receptive field)")
    else:
        lines.append(f"receptive field: {info['receptive_field']} sample"
                     f"{'s' if info['receptive_field'] != 1 else ''} "
                     f"({info['receptive_field'] / rate * 1e3:.1f} ms)")
    lines.append(f"weights: {info['num_weights']}")
    if info["allowed_widths"]:
        lines.append("allowed widths: " + ", ".join(map(str, info["allowed_widths"])))
    full = info["widths"][-1]["macs_per_sample"]
    if len(info["widths"]) == 1:
        largest = " (largest submodel)" if "submodels" in info else ""
        lines.append(f"MACs per sample: {full}{largest}")
    else:
        lines.append("MACs per sample:")
        lines.append(_table(["width", "MACs/sample", "vs full"],
                            [[row["width"], row["macs_per_sample"], f"{row['macs_per_sample'] / full:.3f}"]
                             for row in info["widths"]]))
    if "submodels" in info:
        lines.append("submodels (the first whose max_value exceeds the slimming ratio runs):")
        lines.append(_table(
            ["#", "max_value", "architecture", "receptive field", "weights", "MACs/sample"],
            [[i, f"{sub['max_value']:g}", sub["architecture"], sub["receptive_field"],
              sub["num_weights"], sub["widths"][-1]["macs_per_sample"]]
             for i, sub in enumerate(info["submodels"])]))
    metadata = _format_metadata(info["metadata"] or {})
    lines.append("metadata:" + ("" if metadata else " none"))
    lines += metadata
    return "\n".join(lines)


def model_file(arg: str) -> str:
    """The model file a command was given: ``default`` (when no such file exists here) is the
    bundled model; an audio file is refused with a hint about the argument order."""
    if arg == DEFAULT_MODEL_NAME and not os.path.exists(arg):
        return default_model_path()
    if not os.path.isfile(arg):
        raise NamDspError(f"{arg}: No such model file (or give 'default' for the bundled model)")
    with open(arg, "rb") as fh:
        magic = fh.read(4)
    if magic in AUDIO_MAGIC:
        raise NamDspError(f"{arg}: this is an audio file ({AUDIO_MAGIC[magic]}), not a .nam model; "
                          "the model comes first: nam-dsp render MODEL IN.wav OUT.wav")
    return arg


#: First bytes of the audio files people pass by mistake where a .nam model is expected.
AUDIO_MAGIC = {b"RIFF": "WAV", b"fLaC": "FLAC", b"OggS": "Ogg", b"FORM": "AIFF", b"ID3\x03": "MP3"}


def cmd_info(args) -> int:
    args.model = model_file(args.model)
    info = describe(load_spec(args.model))
    isa = isa_in_use()   # the kernels' instruction-set variant (IsaError when NAM_DSP_ISA is unusable)
    if args.json:
        print(json.dumps({"path": args.model, **info, "isa": isa}, indent=2))
    else:
        print(f"kernels: {isa} (this CPU runs {', '.join(available_isas())}; NAM_DSP_ISA chooses)")
        print(format_info(args.model, info))
    return 0


# -------------------------------------------------------------------------------------------------
# render
# -------------------------------------------------------------------------------------------------

def cmd_render(args) -> int:
    from .parallel_render import input_files, render_at_file_rate, render_chunked, split_refusal

    args.model = model_file(args.model)
    model = load(args.model, width=args.width, slim=args.slim)
    files = input_files(args.inputs)
    if len(args.inputs) > 1 or os.path.isdir(args.inputs[0]) or os.path.isdir(args.output):
        return _render_many(args, files)
    args.input = files[0]
    check_output_path(args.output, inputs=[args.input, args.model])
    parallel = args.jobs > 1 or args.scheduler
    if parallel and split_refusal(model):
        raise NamDspError(f"--jobs {args.jobs}: {args.model}: {split_refusal(model)}")
    data, file_rate = sf.read(args.input, dtype="float32", always_2d=True)
    if data.shape[1] > 1:
        _notice(f"{args.input} has {data.shape[1]} channels: rendering channel 0 only")
    x = np.ascontiguousarray(data[:, 0])
    counts = {}

    def run_model(xm):
        if parallel:
            ym, counts["in"], counts["out"] = render_chunked(
                args.model, model, xm, jobs=args.jobs, scheduler=args.scheduler, width=args.width,
                slim=args.slim, block_size=args.block_size)
        else:
            ym = render(model, xm, block_size=args.block_size)
            counts["in"], counts["out"] = model.nonfinite_count, model.nonfinite_output_count
        return ym

    t0 = time.perf_counter()
    y, bad_input, converted = render_at_file_rate(run_model, model.sample_rate, x, file_rate)
    compute = time.perf_counter() - t0
    if converted:
        _notice(f"{args.input} is at {file_rate} Hz and the model at {model.sample_rate:g} Hz: "
                f"converted to {model.sample_rate:g} Hz for the model and back to {file_rate} Hz, "
                "as nam-dsp play converts (its latency taken off)")
    nonfinite, nonfinite_output = counts["in"] + bad_input, counts["out"]
    write_wav_atomic(args.output, y, file_rate)
    seconds = data.shape[0] / file_rate
    speed = f"{seconds / compute:.1f}x real time" if compute > 0 else "instant"
    split = f" in {args.jobs} chunks" if parallel else ""
    print(f"rendered {args.input} ({seconds:.2f} s at {file_rate} Hz) through {args.model} "
          f"({_describe_model(model)}) in {args.block_size}-sample blocks{split} -> {args.output} "
          f"(32-bit float WAV, {data.shape[0]} samples): {speed}")
    if nonfinite:
        _notice(f"{nonfinite} non-finite input samples were treated as 0")
    if nonfinite_output:
        _notice(f"{nonfinite_output} output samples overflowed float32 inside the model "
                "and were written as 0 (the model's state was restored to silence each time)")
    return 0


def _render_many(args, files: List[str]) -> int:
    """Several inputs (files or folders) into the folder ``args.output``, one task per file."""
    from .executor import Task, run_tasks
    from .parallel_render import render_file

    if not os.path.isdir(args.output):
        raise NamDspError(f"{args.output}: no such folder (with several inputs OUT names an existing folder)")
    outputs = {}
    for path in files:
        out = os.path.join(args.output, os.path.splitext(os.path.basename(path))[0] + ".wav")
        if out in outputs:
            raise NamDspError(f"{path} and {outputs[out]} would both be written to {out}: rename one")
        check_output_path(out, inputs=[*files, args.model])
        outputs[out] = path
    tasks = [Task(str(i), render_file, (args.model, args.width, args.slim, path, out, args.block_size))
             for i, (out, path) in enumerate(outputs.items())]

    def report(outcome):
        if outcome.ok:
            r = outcome.result
            print(f"rendered {r['input']} ({r['seconds']:.2f} s) -> {r['output']}")
        else:
            print(f"nam-dsp render: {files[int(outcome.key)]}: {outcome.error}", file=sys.stderr)

    t0 = time.perf_counter()
    outcomes = run_tasks(tasks, jobs=args.jobs, scheduler=args.scheduler, on_outcome=report)
    failed = sum(not o.ok for o in outcomes.values())
    print(f"{len(files) - failed} of {len(files)} file(s) rendered through {args.model} into {args.output} "
          f"in {time.perf_counter() - t0:.1f} s ({args.jobs if not args.scheduler else args.scheduler} "
          f"{'jobs' if not args.scheduler else ''})".rstrip())
    return 1 if failed else 0


# -------------------------------------------------------------------------------------------------
# bench
# -------------------------------------------------------------------------------------------------

def bench_widths(spec, widths: Optional[List[int]], all_widths: bool) -> List[Optional[int]]:
    """The widths ``bench`` measures: the ones asked for, all allowed ones, or the model as built.

    Raises
    ------
    WidthError
        ``--width`` on a model that is not a slimmable WaveNet, or a width it does not allow.
    """
    slimmable_wavenet = isinstance(spec, WaveNetSpec) and spec.slimmable
    if widths:
        if not slimmable_wavenet:
            raise WidthError(f"this {spec.architecture} is not a slimmable WaveNet: --width does not apply")
        return [spec.check_width(w) for w in widths]
    if all_widths and slimmable_wavenet:
        return list(spec.allowed_widths)
    return [None]


def format_bench(title: str, rows: List[dict], slimmable: bool = True) -> str:
    """The human-readable table of :func:`nam_dsp.benchmark.bench_spec`'s rows (a model that
    is not slimmable shows no width: it has only the one it was built with)."""
    first = rows[0]
    header = ["width", "MACs/sample", "x real time", "xRT (CPU time)", "p50 us", "p99 us", "p99 % deadline"]
    threaded = "threads" in first
    if threaded:
        header += [f"xRT {first['threads']} threads", "vs 1 thread"]
    lines = []
    for row in rows:
        line = ["-" if row["width"] is None or not slimmable else row["width"], row["macs_per_sample"],
                f"{row['xrt']:.1f}", f"{row['xrt_cpu']:.1f}", f"{row['p50_us']:.1f}", f"{row['p99_us']:.1f}",
                f"{row['p99_deadline_pct']:.1f}"]
        if threaded:
            line += [f"{row['xrt_threads']:.1f}", f"{row['thread_scaling']:.2f}"]
        lines.append(line)
    return "\n".join([
        title,
        f"{first['block_size']}-sample blocks at {first['sample_rate']:g} Hz (deadline "
        f"{first['deadline_us']:.0f} us per block), {first['audio_seconds']:.2f} s of noise per width, "
        f"{first['isa']} kernels",
        _table(header, lines)])


def cmd_bench(args) -> int:
    if args.arch is not None:
        if args.arch not in PRESETS:
            raise NamDspError(f"unknown architecture {args.arch!r} for --arch; known: {', '.join(PRESETS)}")
        spec = preset(args.arch, args.seed)
        title = f"{args.arch} (preset, random weights from seed {args.seed})"
    else:
        spec = load_spec(args.model)
        title = f"{args.model} ({spec.architecture})"
    widths = bench_widths(spec, args.width, args.all_widths)
    rows = bench_spec(spec, widths, block_size=args.block_size, seconds=args.seconds,
                      threads=args.threads, seed=args.seed)
    slimmable = isinstance(spec, WaveNetSpec) and spec.slimmable
    print(json.dumps(rows, indent=2) if args.json else format_bench(title, rows, slimmable))
    return 0


# -------------------------------------------------------------------------------------------------
# demo
# -------------------------------------------------------------------------------------------------

def _demo_model():
    """The bundled default model, or an untrained stand-in (with a notice) when there is none."""
    from .realtime.models import load_model
    model = load_model(notice=_notice)
    return model, "the bundled default model" if model.source == "default" else model.source


def cmd_demo(args) -> int:
    model, name = _demo_model()
    out_dir = args.out_dir or tempfile.mkdtemp(prefix="nam-dsp-demo-")
    os.makedirs(out_dir, exist_ok=True)
    rate = int(round(model.sample_rate))
    signal = plucked_phrase(args.seconds, model.sample_rate)
    write_wav_atomic(os.path.join(out_dir, "input.wav"), signal, rate)
    runs = run_widths(model, signal, args.block_size)
    with_validation = any(run.validation_esr is not None for run in runs)
    header = ["width", "MACs/sample", "x real time", "ESR vs full width"]
    header += ["validation ESR"] if with_validation else []
    rows = []
    for run in runs:
        label = "full" if run.width is None else str(run.width)
        write_wav_atomic(os.path.join(out_dir, f"width_{label}.wav"), run.output, rate)
        row = [label, run.macs_per_sample, f"{run.xrt:.1f}", f"{run.esr_vs_full:.4f}"]
        if with_validation:
            row.append("-" if run.validation_esr is None else f"{run.validation_esr:.4f}")
        rows.append(row)
    print(f"{args.seconds:g} s of synthesised plucked guitar through {name}, "
          f"{args.block_size}-sample blocks at {model.sample_rate:g} Hz:")
    print(_table(header, rows))
    print(f"wrote input.wav and one width_<width>.wav per width to {out_dir}")
    return 0


# -------------------------------------------------------------------------------------------------
# train / play: delegated
# -------------------------------------------------------------------------------------------------

def _unavailable(name: str, module_name: str, reason: ImportError, args) -> int:
    print(f"nam-dsp {name} is not available in this installation: cannot import {module_name} "
          f"({reason})", file=sys.stderr)
    return 2


def _fill_delegated(parser: argparse.ArgumentParser, name: str) -> None:
    """Import the module behind a delegated subcommand and let it define its arguments.

    The module must provide ``add_arguments(parser)`` and ``run(args) -> int``. When it cannot be
    imported, the subcommand ignores its arguments and explains why it is unavailable.
    """
    module_name, _ = DELEGATED[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        parser.set_defaults(run=functools.partial(_unavailable, name, module_name, exc),
                            ignores_arguments=True)
        return
    module.add_arguments(parser)
    parser.set_defaults(run=module.run)


# -------------------------------------------------------------------------------------------------
# Entry point
# -------------------------------------------------------------------------------------------------

def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The ``nam-dsp`` argument parser.

    Parameters
    ----------
    command : str, optional
        The subcommand about to run (the first argument). Only when it is a delegated one
        (``train``, ``play``) is that module imported to fill in its arguments, so other
        subcommands never import the trainer or the audio stack.
    """
    parser = argparse.ArgumentParser(
        prog="nam-dsp", description="Run, inspect and benchmark Neural Amp Modeler (.nam) models.")
    parser.add_argument("--version", action="version", version=f"nam-dsp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("info", help="describe a model: architecture, widths, MACs, metadata",
                       description="Describe a .nam model: architecture, sample rate, receptive "
                       "field, weights, allowed widths, MACs per sample at each width, metadata.")
    p.add_argument("model", metavar="MODEL", help="a .nam file, or 'default' for the bundled model")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(run=cmd_info)

    p = sub.add_parser("render", help="process audio files through a model",
                       description="Process IN through MODEL and write OUT as a 32-bit float WAV of "
                       "the same length and rate. Multi-channel input: channel 0 is used. A file "
                       "at another rate than the model's is resampled to the model's rate and back. "
                       "Several inputs (files or folders) go into the folder OUT as <name>.wav, "
                       "--jobs at a time. One file with --jobs N is split into N chunks, each "
                       "started one receptive field early, so the output is bit-identical to one "
                       "stream (WaveNet, Linear); LSTMs are refused: their state spans the file.")
    p.add_argument("model", metavar="MODEL", help="a .nam file, or 'default' for the bundled model")
    p.add_argument("inputs", nargs="+", metavar="IN", help="input audio file(s) (WAV, FLAC, ...) or folders")
    p.add_argument("output", metavar="OUT", help="output WAV file, or a folder for several inputs")
    p.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                   help="processes: files rendered at once, or chunks of one file (default 1)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="run the same tasks on this Dask scheduler (needs dask.distributed)")
    p.add_argument("--block-size", type=positive_int, default=RENDER_BLOCK_SIZE, metavar="N",
                   help=f"samples per process() call (default {RENDER_BLOCK_SIZE}; the output "
                   "does not depend on it)")
    width = p.add_mutually_exclusive_group()
    width.add_argument("--width", type=int, metavar="C", help="run a slimmable WaveNet at width C")
    width.add_argument("--slim", type=float, metavar="V",
                       help="NAM's slimming ratio in [0, 1] (slimmable WaveNets and containers)")
    p.set_defaults(run=cmd_render)

    p = sub.add_parser("bench", help="measure speed (x real time, block-time percentiles)",
                       description="Measure x real time and per-block times of a model (or a "
                       "preset architecture with seeded random weights) on a fixed-seed noise "
                       "signal at guitar level, after a warm-up.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("model", nargs="?", metavar="MODEL", help="a .nam file")
    source.add_argument("--arch", metavar="NAME", help="a preset architecture: " + ", ".join(PRESETS))
    p.add_argument("--seed", type=int, default=0, help="seed of --arch's weights and of the signal (default 0)")
    p.add_argument("--block-size", type=positive_int, default=LIVE_BLOCK_SIZE, metavar="N",
                   help=f"samples per process() call (default {LIVE_BLOCK_SIZE})")
    p.add_argument("--seconds", type=positive_float, default=5.0, metavar="S",
                   help="seconds of audio per measurement (default 5)")
    widths = p.add_mutually_exclusive_group()
    widths.add_argument("--width", type=int, nargs="+", metavar="C", help="widths to measure")
    widths.add_argument("--all-widths", action="store_true", help="measure every allowed width")
    p.add_argument("--threads", type=positive_int, default=1, metavar="T",
                   help="also run T model copies in T threads and report the aggregate x real "
                   "time and its ratio to one thread")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list, one object per width (keys include width, "
                   "macs_per_sample, xrt, p50_us, p99_us, block_size)")
    p.set_defaults(run=cmd_bench)

    p = sub.add_parser("demo", help="hear and time the default model at every width",
                       description="Render a synthesised plucked-guitar phrase through the bundled "
                       "default model at every allowed width; print width, MACs, x real time and "
                       "ESR against full width; write one WAV per width.")
    p.add_argument("--out-dir", metavar="DIR", help="where to write the WAVs (default: a new temporary folder)")
    p.add_argument("--seconds", type=positive_float, default=5.0, metavar="S",
                   help="length of the phrase (default 5)")
    p.add_argument("--block-size", type=positive_int, default=LIVE_BLOCK_SIZE, metavar="N",
                   help=f"samples per process() call (default {LIVE_BLOCK_SIZE})")
    p.set_defaults(run=cmd_demo)

    for name, (_, help_text) in DELEGATED.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            _fill_delegated(p, name)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``nam-dsp`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    Returns
    -------
    int
        0 on success, 2 when the library or an audio file refused the request (one line on
        stderr). Argument errors exit through argparse (``SystemExit(2)``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv else None)
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "ignores_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return int(args.run(args) or 0)
    except BrokenPipeError:
        # the reader went away (`nam-dsp info M | head -1`): stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (NamDspError, sf.SoundFileError, OSError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"nam-dsp {args.command}: error: {options_at_fault(exc, args)}{message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
