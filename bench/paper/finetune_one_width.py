"""Why the slimmable model misses the dedicated ones: continue its training at one width.

Starts from a tone's finished slimmable model of the paper run and trains on, with the paper run's
trainer settings, in "arms": at one width only (``2``: every step at width 2), or uniform over all
widths as before (``all``: the control, the same number of extra steps). Every ``--every`` steps
it records the ESR at every width (the trainer's valid-mode figure on the validation audio).

What it tells apart: if width 2 alone falls towards the dedicated width-2 model while the others
hold, the uniform draw merely starves width 2 of steps; if width 2 falls only as the wider widths
rise, the shared channels cannot serve both, and more budget would not close the gap.

A third kind of arm, ``private:GROUP+GROUP``, trains uniformly too, but gives every width its own
copy of the named parameter groups (``conv_b``, ``l1x1_b``, ``head_w``, ``head_b``, ``mixin``,
``rechannel``, ``l1x1_w``, ``conv_w``: the last part of :attr:`GradNet.names`), started from the
shared values, as slimmable networks give each width its own normalisation. If a few hundred
private parameters per width (the biases and gains) close the gap, the widths disagree in offsets
and gains; if not, in the weights, and private 1x1 weights ask which ones.

    python -m bench.paper.finetune_one_width --tone clean --arms 2 8 all --steps 1500 --every 500

writes ``bench/results/paper/diagnostics/<tone>_finetune.json`` (refuses to replace it without
``--force``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time

import numpy as np

import nam_dsp
from nam_dsp.benchmark import machine_info
from nam_dsp.training import losses
from nam_dsp.training.optim import Adam, clip_grad_norm
from nam_dsp.training.trainer import Trainer, valid_predict

from .experiment import DATA, MODELS, RESULTS, Cache, Settings, _write_json, git_commit, load_step_rates, load_tone


#: The parameter groups a ``private:`` arm may give each width (see the module's docstring).
PRIVATE_GROUPS = ("conv_b", "l1x1_b", "head_w", "head_b", "mixin", "rechannel", "l1x1_w", "conv_w")


class PrivateParamsTrainer(Trainer):
    """The uniform draw, with each width's own copy of some parameter groups (a diagnosis only:
    the ``.nam`` format has no place for them, so its export and checkpoint hold the shared ones)."""

    def __init__(self, *args, private_groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.private_mask = np.zeros(self.net.size, dtype=bool)
        for name, where in self.net.group_slices().items():
            if name.rsplit(".", 1)[-1] in private_groups:
                self.private_mask[where] = True
        self.private_mask &= self.mask
        self.private = {w: self.theta.copy() for w in self.widths}
        self.private_adam = {w: Adam(self.net.size, mask=self.private_mask) for w in self.widths}
        self.adam = Adam(self.net.size, mask=self.mask & ~self.private_mask)

    def weights_at(self, width: int) -> np.ndarray:
        theta = self.theta.copy()
        theta[self.private_mask] = self.private[width][self.private_mask]
        return theta

    def _adam_step(self) -> float:
        x, y = self._next_batch()
        (w,) = self._step_widths()
        value, grad, _ = self._loss_grad(self.weights_at(w).astype(self.net.dtype), x, y, w)
        grad, _ = clip_grad_norm(grad.astype(np.float64), self.cfg.grad_clip)
        lr = self._lr()
        self.adam.step(self.theta, grad, lr)            # the shared weights
        self.private_adam[w].step(self.private[w], grad, lr)  # this width's own
        return value

    def validate(self, theta=None) -> dict:
        return {w: losses.esr_value(valid_predict(self.net, self.val_x, w,
                                                  self.weights_at(w).astype(self.net.dtype)), self.val_y)
                for w in self.widths}


def esr_all_widths(trainer: Trainer, widths) -> dict:
    """ESR of the current weights at every width; the widths the trainer has just validated (at
    the end of each ``run()``, on the same weights) are taken from its history, not run again."""
    done = trainer.val_history[-1][2] if trainer.val_history and trainer.val_history[-1][0] == trainer.step else {}

    def weights(w):
        theta = trainer.weights_at(w) if isinstance(trainer, PrivateParamsTrainer) else trainer.theta
        return theta.astype(trainer.net.dtype)

    return {w: round(done[str(w)] if str(w) in done else
                     losses.esr_value(valid_predict(trainer.net, trainer.val_x, w, weights(w)), trainer.val_y), 6)
            for w in widths}


def private_groups(arm: str) -> list:
    """The groups of a ``private:A+B`` arm ([] for the other arms)."""
    return arm.split(":", 1)[1].split("+") if arm.startswith("private:") else []


def run_arm(settings: Settings, pair, spec, arm: str, steps: int, every: int, lr: float, log) -> dict:
    """Train the model in ``spec`` on for ``steps`` steps at width ``arm`` (or all widths)."""
    cfg = settings.train_config(MODELS["slimmable-paper"])
    private = private_groups(arm)
    cfg.widths = None if arm == "all" or private else arm
    cfg.init = "drawn"  # the weights as trained: nothing is zeroed
    # validated at the end of each run() call, every ``every`` steps
    cfg.lr, cfg.steps, cfg.validate_every, cfg.checkpoint_seconds = lr, 0, 10 ** 9, 1e9
    widths = list(spec.allowed_widths)
    with tempfile.TemporaryDirectory() as tmp:
        out_path = os.path.join(tmp, "arm.nam")
        trainer = (PrivateParamsTrainer(pair, cfg, out_path, spec=spec, log=log, private_groups=private)
                   if private else Trainer(pair, cfg, out_path, spec=spec, log=log))
        curve = [(0, esr_all_widths(trainer, widths))]
        t0 = time.process_time()
        while trainer.step < steps:
            trainer.cfg.steps = min(steps, trainer.step + every)
            trainer.run()
            curve.append((trainer.step, esr_all_widths(trainer, widths)))
            print(f"[{arm}] step {trainer.step}: " + " ".join(f"{v:.4f}" for v in curve[-1][1].values()),
                  flush=True)
    return {"arm": arm, "trained_widths": widths if arm == "all" or private else [int(arm)], "lr": lr,
            "private_parameters_per_width": int(trainer.private_mask.sum()) if private else 0,
            "cpu_seconds": round(time.process_time() - t0, 1),
            "curve": [{"step": s, "esr": {str(w): v for w, v in e.items()}} for s, e in curve]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.paper.finetune_one_width",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--tone", default="clean")
    ap.add_argument("--budget-minutes", type=float, default=30.0, help="which paper run's model to start from")
    ap.add_argument("--arms", nargs="+", default=["2", "8", "all"],
                    help="widths to train alone, 'all', or 'private:GROUP+GROUP' (all widths, each "
                         f"with its own copy of those groups: {', '.join(PRIVATE_GROUPS)})")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--lr", type=float, default=1e-3,
                    help="about where the paper run's exponential schedule ended (0.004 x 0.994^epoch)")
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--validation-seconds", type=float, default=None,
                    help="only the first S seconds of the validation range (quick tests)")
    ap.add_argument("--out", default=None, help="default: bench/results/paper/diagnostics/<tone>_finetune.json")
    ap.add_argument("--force", action="store_true", help="replace an existing result")
    a = ap.parse_args(argv)
    out = a.out or os.path.join(RESULTS, "diagnostics", f"{a.tone}_finetune.json")
    if os.path.exists(out) and not a.force:
        print(f"{out} exists; --force replaces it", file=sys.stderr)
        return 2
    widths = MODELS["slimmable-paper"].spec(0).allowed_widths
    for arm in a.arms:
        unknown = [g for g in private_groups(arm) if g not in PRIVATE_GROUPS]
        if arm.startswith("private:") and (unknown or not private_groups(arm)[0]):
            print(f"--arms: {arm!r}: the private groups are {'+'.join(PRIVATE_GROUPS)}, "
                  f"not {unknown or 'none'}", file=sys.stderr)
            return 2
        if arm != "all" and not arm.startswith("private:") and not (arm.isdigit() and int(arm) in widths):
            print(f"--arms: {arm!r} is not one of the widths {list(widths)}, 'all' or 'private:...'",
                  file=sys.stderr)
            return 2
    settings = Settings(data_dir=os.path.abspath(a.data), budget_cpu_minutes=a.budget_minutes,
                        step_rates=load_step_rates())
    # the cache key is the paper run's; the validation range is this run's own
    pair = load_tone(dataclasses.replace(settings, validation_seconds=a.validation_seconds), a.tone)
    model = MODELS["slimmable-paper"]
    key = settings.cache_key(a.tone, model)
    cache = Cache(os.path.join(RESULTS, "cache"))
    finished = cache.finished(a.tone, key)
    if finished is None:
        print(f"{cache.base(a.tone, key)}.json: no finished slimmable run of {a.tone} at "
              f"{a.budget_minutes:g} CPU-minutes to start from", file=sys.stderr)
        return 2
    arms = [run_arm(settings, pair, nam_dsp.load_spec(cache.base(a.tone, key) + ".nam"), arm, a.steps,
                    a.every, a.lr, sys.stderr) for arm in a.arms]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    _write_json(out, {
        "tone": a.tone, "start": {"model": key + ".nam", "steps": finished["steps"],
                                  "validation_esr": finished["validation_esr"]},
        "command": "python -m bench.paper.finetune_one_width " + " ".join(sys.argv[1:] if argv is None else argv),
        "esr": "trainer's validation ESR (valid mode) of the current weights, at every width",
        "arms": arms, "commit": git_commit(), "machine": machine_info(),
        "generated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
