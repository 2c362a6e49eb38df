"""``nam-dsp train``: fit a slimmable WaveNet to a reamp pair and export a ``.nam`` file.

The ``nam-dsp`` CLI dispatches its ``train`` subcommand to :func:`add_arguments` and :func:`run`;
``python -m nam_dsp.training.cli`` runs it standalone.

Example::

    nam-dsp train dry.flac wet.flac -o amp.nam --split split.json --budget-minutes 30
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from nam_dsp.arg_types import (nonnegative_float, nonnegative_int, positive_float, positive_int,
                               unit_interval)

__all__ = ["add_arguments", "run", "main"]


def available_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dry", help="dry (DI) recording: WAV/FLAC")
    parser.add_argument("wet", help="wet (reamped) recording of the same take")
    parser.add_argument("-o", "--output", required=True,
                        help="the .nam file to write (its folder must exist; never one of the inputs)")
    parser.add_argument("--arch", default="slimmable-paper",
                        help="architecture: a preset name (default %(default)s; `nam-dsp bench --help` lists them)")
    parser.add_argument("--widths", default=None,
                        help="training widths, e.g. 1-8 or 1,2,4,8 (default: every allowed width)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--budget-minutes", type=positive_float, default=None, metavar="M",
                        help="wall-clock training budget in minutes")
    budget.add_argument("--budget-cpu-minutes", type=positive_float, default=None, metavar="M",
                        help="budget in CPU minutes of this process (fair when the machine is shared)")
    budget.add_argument("--epochs", type=positive_float, default=None,
                        help="passes over the training data (default 100 when no budget is given)")
    budget.add_argument("--steps", type=positive_int, default=None, help="number of optimizer steps")
    parser.add_argument("--optimizer", choices=["adam", "lbfgs"], default="adam",
                        help="optimizer (default %(default)s)")
    from .trainer import WIDTH_SCHEDULES
    parser.add_argument("--schedule", choices=WIDTH_SCHEDULES, default="uniform",
                        help="widths per step: one drawn uniformly (the paper); smallest + largest + one "
                        "random; or progressive shrinking: the full width alone for the first fifth of "
                        "the budget, narrower widths joining until half-way (default %(default)s)")
    parser.add_argument("--width-weights", default="uniform", metavar="W",
                        help="how often each width is drawn (uniform schedule): 'uniform' (the paper), "
                        "'linear' (in proportion to the width, so the last channels, which only learn "
                        "at the widest widths, learn more often) or one weight per width, e.g. "
                        "1,1,1,1,1,1,1,4 (default %(default)s)")
    from .trainer import DEFAULT_SLIMMABLE_INIT, INITS
    parser.add_argument("--boosting", action="store_true",
                        help="a step at width w trains only the weights that w adds to the next narrower "
                        "training width (NAM 0.13's boosting: wider widths learn increments on the "
                        "narrower slice); off by default")
    parser.add_argument("--init", choices=INITS, default=None,
                        help="initial weights: as drawn for the architecture, or channel-causal (no channel "
                        "reads a wider channel at first, so every width starts as the full width's first "
                        f"channels) (default: {DEFAULT_SLIMMABLE_INIT} for slimmable architectures, "
                        "drawn for the others)")
    parser.add_argument("--distill", type=unit_interval, default=0.0, metavar="D",
                        help="in-place distillation: narrower widths fit (1-D) x the wet signal + D x the "
                        "full width's output in the same step (which then also trains the full width); "
                        "0: off (default %(default)s)")
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--split", default=None,
                       help="split.json with 'train' and 'validation' sample ranges (default: the last "
                       "10 s validate)")
    split.add_argument("--validation-seconds", type=positive_float, default=None, metavar="S",
                       help="use the last S seconds for validation (default 10 when no --split)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    parser.add_argument("--resume", default=None, metavar="CKPT", help="continue from this checkpoint")
    parser.add_argument("--checkpoint", default=None,
                        help="checkpoint path (default OUTPUT.ckpt.npz)")
    parser.add_argument("--checkpoint-minutes", type=positive_float, default=3.0, metavar="M",
                        help="minutes between checkpoints (default %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=16,
                        help="examples per step (default %(default)s)")
    parser.add_argument("--segment", type=positive_int, default=8192,
                        help="output samples per example (default %(default)s)")
    parser.add_argument("--lr", type=positive_float, default=0.004,
                        help="learning rate (default %(default)s)")
    parser.add_argument("--lr-gamma", type=positive_float, default=0.994,
                        help="learning-rate decay per epoch, exponential schedule (default %(default)s)")
    parser.add_argument("--lr-schedule", choices=["exponential", "cosine"], default="exponential",
                        help="exponential: lr x gamma^epoch (NAM's trainer); cosine: from lr down to "
                        "lr x --lr-final over the budget, so the run ends with small steps "
                        "(default %(default)s)")
    parser.add_argument("--lr-final", type=positive_float, default=0.05,
                        help="cosine schedule: the last learning rate as a fraction of --lr "
                        "(default %(default)s)")
    parser.add_argument("--average", type=unit_interval, default=0.0, metavar="DECAY",
                        help="validate and export an exponential moving average of the weights with "
                        "this decay per step, e.g. 0.998; 0: off (default %(default)s)")
    parser.add_argument("--threads", type=positive_int, default=available_cores(),
                        help="threads sharing each batch; the CPU-minutes budget counts all of them "
                        "(default: the cores this process may use, %(default)s)")
    parser.add_argument("--grad-clip", type=nonnegative_float, default=1.0,
                        help="gradient-norm clip, 0: off (default %(default)s)")
    parser.add_argument("--loss", default="nam", choices=["nam", "mse", "esr", "pre-emph", "mrstft"],
                        help="training loss; nam = MSE + MRSTFT as NAM's trainer (default %(default)s)")
    parser.add_argument("--mrstft-weight", type=nonnegative_float, default=2e-4,
                        help="weight of the multi-resolution STFT term (default %(default)s)")
    parser.add_argument("--pre-emph-weight", type=nonnegative_float, default=0.0,
                        help="weight of the pre-emphasised ESR term (default %(default)s)")
    parser.add_argument("--validate-every", type=nonnegative_int, default=0, metavar="STEPS",
                        help="steps between validations, 0: once per epoch (default %(default)s)")
    parser.add_argument("--channel", type=nonnegative_int, default=None,
                        help="channel of multi-channel files, 0-based (default: the only channel)")
    parser.add_argument("--latency", type=int, default=None,
                        help="known wet latency in samples (default: measured)")
    parser.add_argument("--plot", default=None, help="PNG path (default OUTPUT.png; needs matplotlib)")
    parser.add_argument("--summary-json", default=None, help="also write the summary as JSON here")


def check_arguments(args) -> None:
    """Everything that can be checked before the data is read or a step is taken.

    Raises
    ------
    NamDspError
        naming the argument and what is wrong.
    """
    from nam_dsp.errors import AudioFileError, NamDspError
    from nam_dsp.output_paths import check_output_path
    from .trainer import make_arch, parse_widths

    for flag, path in (("dry", args.dry), ("wet", args.wet), ("--split", args.split),
                       ("--resume", args.resume)):
        if path is not None and not os.path.isfile(path):
            raise AudioFileError(f"{flag} {path}: No such file")
    inputs = [args.dry, args.wet, args.split, args.resume]
    outputs = [("-o", args.output), ("--checkpoint", args.checkpoint), ("--plot", args.plot),
               ("--summary-json", args.summary_json)]
    for flag, path in outputs:
        if path is not None:
            try:
                check_output_path(path, inputs=inputs)
            except NamDspError as exc:
                raise NamDspError(f"{flag} {path}: {exc.problem}") from None
    try:
        spec = make_arch(args.arch, args.seed)
    except (KeyError, ValueError) as exc:
        raise NamDspError(f"--arch: {exc.args[0] if exc.args else exc}") from None
    try:
        parse_widths(args.widths, spec)
    except ValueError as exc:
        raise NamDspError(f"--widths: {exc}") from None


def run(args) -> int:
    from nam_dsp.cli_errors import options_at_fault
    from nam_dsp.errors import NamDspError
    from .data import load_pair
    from .trainer import TrainConfig, Trainer, esr_table

    try:
        check_arguments(args)
        pair = load_pair(args.dry, args.wet, channel=args.channel, latency=args.latency,
                         split_file=args.split, validation_seconds=args.validation_seconds)
    except NamDspError as exc:
        print(f"nam-dsp train: {options_at_fault(exc, args)}{exc}", file=sys.stderr)
        return 2
    print(f"data: {pair.rate} Hz, latency {pair.latency} samples ({pair.latency_method}), "
          f"train {pair.train}, validation {pair.validation}", file=sys.stderr)
    cfg = TrainConfig(
        arch=args.arch, widths=args.widths, optimizer=args.optimizer, schedule=args.schedule,
        distill=args.distill, width_weights=args.width_weights, boosting=args.boosting, init=args.init, lr_schedule=args.lr_schedule, lr_final=args.lr_final,
        average=args.average, threads=args.threads, seed=args.seed,
        batch_size=args.batch_size, segment=args.segment, lr=args.lr, lr_gamma=args.lr_gamma,
        grad_clip=args.grad_clip, loss=args.loss, mrstft_weight=args.mrstft_weight,
        pre_emph_weight=args.pre_emph_weight,
        budget_seconds=None if args.budget_minutes is None else 60.0 * args.budget_minutes,
        budget_cpu_seconds=None if args.budget_cpu_minutes is None else 60.0 * args.budget_cpu_minutes,
        epochs=args.epochs, steps=args.steps, checkpoint_seconds=60.0 * args.checkpoint_minutes,
        validate_every=args.validate_every)
    if cfg.budget_seconds is None and cfg.budget_cpu_seconds is None and cfg.epochs is None and cfg.steps is None:
        cfg.epochs = 100.0
    try:
        trainer = Trainer(pair, cfg, args.output, checkpoint_path=args.checkpoint)
        if args.resume:
            trainer.load_checkpoint(args.resume)
            print(f"resumed from {args.resume} at step {trainer.step}", file=sys.stderr)
    except (NamDspError, OSError) as exc:
        print(f"nam-dsp train: {options_at_fault(exc, args)}{exc}", file=sys.stderr)
        return 2
    summary = trainer.run()
    print(f"wrote {summary['path']} ({summary['steps']} steps, {summary['seconds']:.0f} s)", file=sys.stderr)
    best_step = best_checkpoint_step(trainer.val_history, Trainer.score)
    print(f"validation ESR of the best checkpoint (step {best_step} of {summary['steps']}: the lowest "
          "mean log ESR over widths), which is what the .nam holds:")
    print(esr_table(summary["validation_esr"]))
    plot_path = args.plot or (os.path.splitext(args.output)[0] + ".png")
    write_plot(trainer, plot_path, run_title(args, summary))
    if args.summary_json:
        from nam_dsp.output_paths import write_text_atomic
        write_text_atomic(args.summary_json, json.dumps(summary, indent=1))
    return 0


def best_checkpoint_step(val_history, score) -> int:
    """The step of the validation the export was chosen from (``score``: lower is better)."""
    if not val_history:
        return 0
    return int(min(val_history, key=lambda entry: score(entry[2]))[0])


def run_title(args, summary) -> str:
    """What the figure shows, in words: the output model, the architecture and the budget."""
    if args.budget_minutes:
        budget = f"{args.budget_minutes:g} min"
    elif args.budget_cpu_minutes:
        budget = f"{args.budget_cpu_minutes:g} CPU-min"
    else:
        budget = f"{summary['steps']} steps"
    return f"{os.path.basename(args.output)}: {args.arch}, {budget}, trained on {os.path.basename(args.wet)}"


def write_plot(trainer, path, title: str = "") -> bool:
    """ESR vs width, the loss curve and validation ESR per width over steps, as a PNG; skipped
    with a notice when matplotlib is not installed."""
    return plot_history(trainer.best_esr, trainer.history, trainer.val_history, path, title)


def plot_checkpoint(ckpt_path, png_path, title: str = "") -> bool:
    """The same plot from a checkpoint file."""
    import numpy as np
    with np.load(ckpt_path) as z:
        best = {int(k): v for k, v in json.loads(str(z["best_esr"])).items()}
        history = [tuple(r) for r in z["history"].tolist()]
        val_history = json.loads(str(z["val_history"]))
    return plot_history(best, history, val_history, png_path, title)


def _thresholds(ax) -> None:
    from .trainer import NAM_THRESHOLDS
    for value, words in NAM_THRESHOLDS:
        ax.axhline(value, color="0.5", lw=0.8, ls="--")
        ax.annotate(words, (1.0, value), xycoords=("axes fraction", "data"), ha="right",
                    va="bottom", fontsize=7, color="0.35")


def _smoothed(values, span: int):
    """An exponential moving average: the trend of a per-step loss that jumps with each batch."""
    import numpy as np
    out, level, alpha = np.empty(len(values)), values[0], 2.0 / (span + 1)
    for i, v in enumerate(values):
        level = alpha * v + (1 - alpha) * level
        out[i] = level
    return out


def plot_history(esr, hist, vh, path, title: str = "") -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot written (pip install matplotlib)", file=sys.stderr)
        return False
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, 4.4))
    ws = sorted(esr)
    a.semilogy(ws, [esr[w] for w in ws], "o-")
    a.set_xticks(ws)
    a.set_xlabel("width (channels kept)")
    a.set_ylabel("validation ESR of the exported model")
    a.grid(True, which="both", alpha=0.3)
    _thresholds(a)
    if hist:
        steps = [h[0] for h in hist]
        loss = [max(h[2], 1e-12) for h in hist]
        b.semilogy(steps, loss, lw=0.3, alpha=0.25, color="C0", label="per step")
        b.semilogy(steps, _smoothed(loss, max(10, len(loss) // 50)), lw=1.5, color="C0",
                   label="smoothed")
        b.legend(fontsize=7)
    b.set_xlabel("step")
    b.set_ylabel("training loss (one random width per step)")
    for w in ws:
        c.semilogy([v[0] for v in vh], [v[2][str(w)] for v in vh], label=f"width {w}")
    c.set_xlabel("step")
    c.set_ylabel("validation ESR")
    _thresholds(c)
    c.legend(fontsize=7, ncol=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    from nam_dsp.output_paths import atomic_output
    with atomic_output(path, suffix=".png") as fh:
        fig.savefig(fh, format="png", dpi=80)
    plt.close(fig)
    print(f"wrote {path}", file=sys.stderr)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="nam-dsp train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
