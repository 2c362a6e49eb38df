"""``nam-dsp slim``: distil any capture into a slimmable model, without the amp or its recordings.

One capture::

    nam-dsp slim amp.nam -o amp_slim.nam --budget-cpu-minutes 30 --eval-di my_di/

Many captures, each in its own process, or on a Dask cluster (``pip install 'nam_dsp[cluster]'``)::

    nam-dsp slim A.nam B.nam captures/ -o slim/ --jobs 2
    nam-dsp slim captures/ -o slim/ --scheduler tcp://HOST:8786

The teacher renders fresh built-in excitation every epoch (plus your ``--di`` recordings); the
student is trained by ``nam-dsp train``'s trainer, so progress, checkpoints, ``--resume``, atomic
writes and the ``.nam`` export are the same. The accuracy printed at the end (and stored as the
model's ``validation_esr``) is ESR against the teacher on ``--eval-di`` (real playing, not used for
training), or on held-out synthetic excitation when no ``--eval-di`` is given (the report says so).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List

from nam_dsp.arg_types import positive_float, positive_int

__all__ = ["add_arguments", "run", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("teachers", nargs="+", metavar="TEACHER",
                        help="the capture(s) to distil: .nam files (any model nam-dsp runs) or folders of them")
    parser.add_argument("-o", "--output", required=True,
                        help="the .nam file to write; with several captures (or an existing folder here) "
                        "the folder to write <capture>.nam files into")
    parser.add_argument("--arch", default=None,
                        help="student architecture, a slimmable preset (default: slimmable-paper, 8 channels; "
                        "slimmable-a1 costs what A1 standard costs, and needs a longer budget)")
    parser.add_argument("--widths", default=None,
                        help="training widths, e.g. 1-8 or 1,2,4,8 (default: every allowed width)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--budget-minutes", type=positive_float, default=None, metavar="M",
                        help="wall-clock budget per capture in minutes")
    budget.add_argument("--budget-cpu-minutes", type=positive_float, default=None, metavar="M",
                        help="CPU-minutes per capture (default 30 when no budget is given)")
    budget.add_argument("--steps", type=positive_int, default=None, metavar="N", help="optimizer steps per capture")
    parser.add_argument("--di", nargs="+", action="extend", default=[], metavar="FILE_OR_DIR",
                        help="your own DI recordings, mixed into every epoch's training data")
    parser.add_argument("--eval-di", nargs="+", action="extend", default=[], metavar="FILE_OR_DIR",
                        help="real DI for the final ESR against the teacher, never trained on "
                        "(default: held-out synthetic excitation, reported as such)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: same seed, same model (default 0)")
    parser.add_argument("--resume", default=None, metavar="CKPT",
                        help="continue from this checkpoint (one capture; a batch resumes by itself)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint path (one capture; default OUTPUT.ckpt.npz)")
    parser.add_argument("--checkpoint-minutes", type=positive_float, default=3.0, metavar="M",
                        help="minutes between checkpoints (default %(default)s)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="threads per distillation (default: the cores this process may use, "
                        "divided by --jobs)")
    parser.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                        help="captures distilled at once, each in its own process (default 1)")
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                        help="run the captures on this Dask scheduler instead (needs dask.distributed)")
    parser.add_argument("--epoch-seconds", type=positive_float, default=120.0, metavar="S",
                        help="seconds of fresh built-in excitation per epoch (default %(default)s)")
    parser.add_argument("--selection-seconds", type=positive_float, default=10.0, metavar="S",
                        help="held-out built-in excitation the best checkpoint is chosen on (default %(default)s)")
    parser.add_argument("--eval-seconds", type=positive_float, default=60.0, metavar="S",
                        help="held-out built-in excitation to evaluate on when no --eval-di is given "
                        "(default %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=16, help="examples per step (default 16)")
    parser.add_argument("--segment", type=positive_int, default=8192,
                        help="output samples per example (default 8192)")
    parser.add_argument("--lr", type=positive_float, default=0.004, help="learning rate (default 0.004)")
    parser.add_argument("--summary-json", default=None, help="also write the run's summary as JSON here")


# -------------------------------------------------------------------------------------------------
# Checks made before any work starts
# -------------------------------------------------------------------------------------------------

def teacher_files(paths: List[str]) -> List[str]:
    """The ``.nam`` files named or held by the folders named (sorted per folder)."""
    from nam_dsp.cli import model_file
    from nam_dsp.errors import NamDspError
    out = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(os.path.join(path, f) for f in os.listdir(path)
                           if f.endswith(".nam") and not f.startswith("."))
            if not found:
                raise NamDspError(f"{path}: the folder holds no .nam files")
            out += found
        else:
            out.append(model_file(path))
    return out


def batch_mode(args, teachers: List[str]) -> bool:
    return len(teachers) > 1 or os.path.isdir(args.output) or any(os.path.isdir(t) for t in args.teachers)


def check_arguments(args):
    """Everything that can be refused before a sample is rendered: returns ``(jobs, batch)``.

    Raises
    ------
    NamDspError
        one line naming the file or option and what is wrong.
    """
    from nam_dsp.errors import NamDspError
    from nam_dsp.nam_file import load_spec
    from nam_dsp.output_paths import check_output_path
    from .distill import SlimJob, audio_files, make_student, read_di
    from .trainer import parse_widths

    teachers = teacher_files(args.teachers)
    specs = [load_spec(t) for t in teachers]  # NamFileError: unreadable, malformed, unsupported
    batch = batch_mode(args, teachers)
    di_files = audio_files(args.di)
    eval_files = audio_files(args.eval_di)
    inputs = teachers + di_files + eval_files + ([args.resume] if args.resume else [])
    if args.resume is not None and not os.path.isfile(args.resume):
        raise NamDspError(f"--resume {args.resume}: No such file")
    if args.scheduler is not None and not args.scheduler.strip():
        raise NamDspError("--scheduler: expected an address such as tcp://HOST:8786")
    if batch:
        if args.resume or args.checkpoint:
            raise NamDspError("--resume / --checkpoint apply to one capture; a batch resumes each capture "
                              "from its own checkpoint in the output folder by itself")
        if not os.path.isdir(args.output):
            raise NamDspError(f"-o {args.output}: no such folder (with several captures -o names an existing "
                              "folder to write <capture>.nam files into)")
        if not os.access(args.output, os.W_OK | os.X_OK):
            raise NamDspError(f"-o {args.output}: the folder is not writable")
        outputs = {}
        for t in teachers:
            name = os.path.splitext(os.path.basename(t))[0]
            if name in outputs:
                raise NamDspError(f"{t} and {outputs[name]} would both be written to {name}.nam: rename one")
            outputs[name] = t
    else:
        for flag, path in (("-o", args.output), ("--checkpoint", args.checkpoint),
                           ("--summary-json", args.summary_json)):
            if path is not None:
                try:
                    check_output_path(path, inputs=inputs)
                except NamDspError as exc:
                    raise NamDspError(f"{flag} {path}: {getattr(exc, 'problem', exc)}") from None
    if batch and args.summary_json:
        check_output_path(args.summary_json, inputs=inputs)
    for teacher, spec in zip(teachers, specs):
        try:
            _, student = make_student(SlimJob(teacher=teacher, output="", arch=args.arch, seed=args.seed), spec)
            parse_widths(args.widths, student)
        except KeyError as exc:  # unknown preset
            raise NamDspError(f"--arch: {exc.args[0]}") from None
        except NamDspError as exc:
            raise NamDspError(f"{os.path.basename(teacher)}: {exc}") from None
    for f in di_files + eval_files:
        read_di(f, None)  # unreadable, non-finite or silent: refused here, not after an hour
    return teachers, batch


def make_job(args, teacher: str, output: str, threads: int, **overrides):
    from .distill import SlimJob
    job = SlimJob(
        teacher=teacher, output=output, arch=args.arch, widths=args.widths,
        budget_seconds=None if args.budget_minutes is None else 60.0 * args.budget_minutes,
        budget_cpu_seconds=None if args.budget_cpu_minutes is None else 60.0 * args.budget_cpu_minutes,
        steps=args.steps, di=list(args.di), eval_di=list(args.eval_di), seed=args.seed,
        resume=args.resume, checkpoint=args.checkpoint, threads=threads,
        epoch_seconds=args.epoch_seconds, selection_seconds=args.selection_seconds,
        eval_seconds=args.eval_seconds, batch_size=args.batch_size, segment=args.segment, lr=args.lr,
        checkpoint_seconds=60.0 * args.checkpoint_minutes)
    for k, v in overrides.items():
        setattr(job, k, v)
    return job


# -------------------------------------------------------------------------------------------------
# Running
# -------------------------------------------------------------------------------------------------

def run(args) -> int:
    from nam_dsp.cli_errors import options_at_fault
    from nam_dsp.errors import NamDspError

    try:
        teachers, batch = check_arguments(args)
    except (NamDspError, OSError) as exc:
        message = " ".join(str(exc).split())
        print(f"nam-dsp slim: {options_at_fault(exc, args)}{message}", file=sys.stderr)
        return 2
    return run_batch(args, teachers) if batch else run_one(args, teachers[0])


def run_one(args, teacher: str) -> int:
    from .distill import distil
    from .cli import available_cores
    from .trainer import esr_table
    job = make_job(args, teacher, args.output, args.threads or available_cores())
    summary = distil(job)
    print(f"wrote {summary['path']} ({summary['steps']} steps, {summary['train_seconds']:.0f} s of training)",
          file=sys.stderr)
    print(f"ESR of {summary['path']} against the teacher {os.path.basename(teacher)}, "
          f"on {describe_eval(summary['eval_source'])}:")
    print(esr_table({w: v for w, v in summary["esr"].items()}))
    if args.summary_json:
        from nam_dsp.output_paths import write_text_atomic
        write_text_atomic(args.summary_json, json.dumps(summary, indent=1))
    return 0


def describe_eval(source: dict) -> str:
    if source["kind"] == "real DI":
        return f"real DI not used for training ({', '.join(source['files'])}; {source['seconds']:g} s)"
    return f"{source['seconds']:g} s of {source['note']}"


def finished_summary(teacher: str, path: str) -> dict:
    """The summary of a model an earlier run finished (a rerun skips it)."""
    from nam_dsp.nam_file import load_spec
    from .distill import teacher_cost
    spec = load_spec(path)
    training = (spec.metadata or {}).get("training") or {}
    esr = {int(w): float(v) for w, v in (training.get("validation_esr") or {}).items()}
    data = training.get("data") or {}
    return {"capture": os.path.splitext(os.path.basename(teacher))[0], "teacher": teacher, "path": path,
            "arch": (spec.metadata or {}).get("architecture_name"),
            "teacher_macs": teacher_cost(load_spec(teacher)), "esr": esr,
            "eval_source": data.get("eval_source"), "seconds": 0.0, "skipped": True}


def batch_outputs(out_dir: str, teacher: str) -> dict:
    name = os.path.splitext(os.path.basename(teacher))[0]
    base = os.path.join(out_dir, name)
    return {"output": base + ".nam", "work_output": os.path.join(out_dir, f".{name}.partial.nam"),
            "checkpoint": base + ".ckpt.npz", "log_path": base + ".log"}


def run_batch(args, teachers: List[str]) -> int:
    from nam_dsp.executor import Task, run_tasks
    from .cli import available_cores
    from .distill import distil
    results, tasks = {}, []
    threads = args.threads or (1 if args.scheduler else max(1, available_cores() // args.jobs))
    for teacher in teachers:
        paths = batch_outputs(args.output, teacher)
        key = os.path.splitext(os.path.basename(teacher))[0]
        if os.path.exists(paths["output"]):
            results[key] = finished_summary(teacher, paths["output"])
            print(f"{key}: {paths['output']} exists (finished earlier): skipped", file=sys.stderr)
            continue
        resume = paths["checkpoint"] if os.path.isfile(paths["checkpoint"]) else None
        if resume:
            print(f"{key}: resuming from {resume}", file=sys.stderr)
        job = make_job(args, teacher, paths["output"], threads, work_output=paths["work_output"],
                       checkpoint=paths["checkpoint"], log_path=paths["log_path"], resume=resume)
        tasks.append(Task(key, distil, (job,)))
    where = f"the Dask scheduler {args.scheduler}" if args.scheduler else f"{min(args.jobs, max(1, len(tasks)))} process(es)"
    if tasks:
        print(f"distilling {len(tasks)} capture(s) on {where}; progress in {args.output}/<capture>.log",
              file=sys.stderr)

    def report(outcome):
        if outcome.ok:
            print(f"{outcome.key}: done in {outcome.result['seconds']:.0f} s -> {outcome.result['path']}",
                  file=sys.stderr)
        else:
            print(f"{outcome.key}: FAILED after {outcome.attempts} attempt(s): {outcome.error}", file=sys.stderr)

    outcomes = run_tasks(tasks, jobs=args.jobs, scheduler=args.scheduler, on_outcome=report)
    failed = []
    for key, outcome in outcomes.items():
        if outcome.ok:
            results[key] = outcome.result
        else:
            failed.append(key)
    order = [os.path.splitext(os.path.basename(t))[0] for t in teachers]
    rows = [results[k] for k in order if k in results]
    print(summary_table(rows))
    if failed:
        print(f"failed: {', '.join(failed)} (see their .log files)", file=sys.stderr)
    if args.summary_json:
        from nam_dsp.output_paths import write_text_atomic
        write_text_atomic(args.summary_json, json.dumps(rows, indent=1))
    return 1 if failed else 0


def summary_table(rows: List[dict]) -> str:
    """capture, teacher MACs, ESR against the teacher per width, time (s)."""
    widths = sorted({w for r in rows for w in r["esr"]})
    header = ["capture", "teacher MACs"] + [f"w{w}" for w in widths] + ["time s", "eval"]
    lines = []
    for r in rows:
        kind = (r.get("eval_source") or {}).get("kind", "?")
        lines.append([r["capture"], str(r["teacher_macs"])]
                     + [f"{r['esr'][w]:.4f}" if w in r["esr"] else "-" for w in widths]
                     + ["skipped" if r.get("skipped") else f"{r['seconds']:.0f}", kind])
    cols = [max(len(str(c)) for c in col) for col in zip(header, *lines)] if lines else [len(h) for h in header]
    fmt = lambda line: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                                 for i, (c, w) in enumerate(zip(line, cols)))
    return "\n".join([f"ESR against the teacher per width ({len(rows)} capture(s)):", fmt(header)]
                     + [fmt(line) for line in lines])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="nam-dsp slim", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
