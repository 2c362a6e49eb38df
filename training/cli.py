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

__all__ = ["add_arguments", "run", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dry", help="dry (DI) recording: WAV/FLAC")
    parser.add_argument("wet", help="wet (reamped) recording of the same take")
    parser.add_argument("-o", "--output", required=True, help="the .nam file to write")
    parser.add_argument("--arch", default="slimmable-paper",
                        help="architecture: a nam_dsp.presets name (default slimmable-paper)")
    parser.add_argument("--widths", default=None, help="training widths, e.g. 1-8 or 1,2,4,8 (default: all)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--budget-minutes", type=float, default=None, help="wall-clock training budget")
    budget.add_argument("--budget-cpu-minutes", type=float, default=None,
                        help="budget in CPU time of this process (fair when the machine is shared)")
    budget.add_argument("--epochs", type=float, default=None, help="number of passes over the training data")
    budget.add_argument("--steps", type=int, default=None, help="number of optimizer steps")
    parser.add_argument("--optimizer", choices=["adam", "lbfgs"], default="adam")
    parser.add_argument("--schedule", choices=["uniform", "sandwich"], default="uniform",
                        help="widths per step: one drawn uniformly (the paper), or smallest+largest+random")
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--split", default=None, help="split.json with 'train' and 'validation' sample ranges")
    split.add_argument("--validation-seconds", type=float, default=None,
                       help="use the last S seconds for validation (default 10 when no --split)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", default=None, metavar="CKPT", help="continue from a checkpoint")
    parser.add_argument("--checkpoint", default=None, help="checkpoint path (default OUTPUT.ckpt.npz)")
    parser.add_argument("--checkpoint-minutes", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--segment", type=int, default=8192, help="output samples per example")
    parser.add_argument("--lr", type=float, default=0.004)
    parser.add_argument("--lr-gamma", type=float, default=0.994, help="learning-rate decay per epoch")
    parser.add_argument("--grad-clip", type=float, default=1.0, help="gradient-norm clip (0: off)")
    parser.add_argument("--loss", default="nam", choices=["nam", "mse", "esr", "pre-emph", "mrstft"])
    parser.add_argument("--mrstft-weight", type=float, default=2e-4)
    parser.add_argument("--pre-emph-weight", type=float, default=0.0)
    parser.add_argument("--validate-every", type=int, default=0, help="steps between validations (0: each epoch)")
    parser.add_argument("--channel", type=int, default=None, help="channel of multi-channel files (0-based)")
    parser.add_argument("--latency", type=int, default=None, help="known wet latency in samples (skip calibration)")
    parser.add_argument("--plot", default=None, help="PNG path (default OUTPUT.png; needs matplotlib)")
    parser.add_argument("--summary-json", default=None, help="also write the summary as JSON here")


def run(args) -> int:
    from nam_dsp.errors import NamDspError
    from .data import load_pair
    from .trainer import TrainConfig, Trainer, esr_table, verdict  # noqa: F401

    try:
        pair = load_pair(args.dry, args.wet, channel=args.channel, latency=args.latency,
                         split_file=args.split, validation_seconds=args.validation_seconds)
    except NamDspError as exc:
        print(f"nam-dsp train: {exc}", file=sys.stderr)
        return 2
    print(f"data: {pair.rate} Hz, latency {pair.latency} samples ({pair.latency_method}), "
          f"train {pair.train}, validation {pair.validation}", file=sys.stderr)
    cfg = TrainConfig(
        arch=args.arch, widths=args.widths, optimizer=args.optimizer, schedule=args.schedule, seed=args.seed,
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
    except (ValueError, OSError) as exc:
        print(f"nam-dsp train: {exc}", file=sys.stderr)
        return 2
    summary = trainer.run()
    print(f"wrote {summary['path']} ({summary['steps']} steps, {summary['seconds']:.0f} s)", file=sys.stderr)
    print(esr_table(summary["validation_esr"]))
    plot_path = args.plot or (os.path.splitext(args.output)[0] + ".png")
    write_plot(trainer, plot_path)
    if args.summary_json:
        with open(args.summary_json, "w") as fh:
            json.dump(summary, fh, indent=1)
    return 0


def write_plot(trainer, path) -> bool:
    """ESR vs width, the loss curve and validation ESR per width over steps, as a PNG; skipped
    with a notice when matplotlib is not installed."""
    return plot_history(trainer.best_esr, trainer.history, trainer.val_history, path)


def plot_checkpoint(ckpt_path, png_path) -> bool:
    """The same plot from a checkpoint file."""
    import numpy as np
    with np.load(ckpt_path) as z:
        best = {int(k): v for k, v in json.loads(str(z["best_esr"])).items()}
        history = [tuple(r) for r in z["history"].tolist()]
        val_history = json.loads(str(z["val_history"]))
    return plot_history(best, history, val_history, png_path)


def plot_history(esr, hist, vh, path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot written (pip install matplotlib)", file=sys.stderr)
        return False
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, 4))
    ws = sorted(esr)
    a.semilogy(ws, [esr[w] for w in ws], "o-")
    a.set_xlabel("width")
    a.set_ylabel("validation ESR (best checkpoint)")
    a.grid(True, which="both", alpha=0.3)
    if hist:
        b.semilogy([h[0] for h in hist], [max(h[2], 1e-12) for h in hist], lw=0.3, alpha=0.6)
    b.set_xlabel("step")
    b.set_ylabel("training loss (one random width per step)")
    for w in ws:
        c.semilogy([v[0] for v in vh], [v[2][str(w)] for v in vh], label=f"w{w}")
    c.set_xlabel("step")
    c.set_ylabel("validation ESR")
    c.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {path}", file=sys.stderr)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="nam-dsp train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
