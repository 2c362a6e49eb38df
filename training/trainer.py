"""The training loop: slimmable minibatch Adam (or L-BFGS rounds), validation, checkpoints, export.

Protocol (the Slimmable NAM paper's): every step draws a batch of examples and one width uniformly
from the allowed widths; the loss of the subnetwork of that width is minimised. With
``schedule="sandwich"`` every step instead accumulates the gradients of the smallest, the largest
and one random width (3x the cost of a step). Validation runs at every width.

Checkpoints (``.npz``, written atomically: temp file, fsync, rename) hold everything needed to
continue bit for bit: weights, the best weights so far, Adam's moments and step count, the NumPy
generator's state, the epoch order and position, the loss history and the run's settings.
A run killed at any moment (even ``kill -9``) resumes from its last checkpoint.
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from nam_dsp.errors import CheckpointError, ConfigError, TrainingDataError
from nam_dsp.nam_writer import save_spec
from nam_dsp.output_paths import check_output_path, same_file, write_bytes_atomic
from nam_dsp.presets import PRESETS, preset
from nam_dsp.spec import WaveNetSpec

from . import losses
from .data import Examples, Pair
from .memory import keep_freed_memory
from .optim import Adam, clip_grad_norm, exponential_lr, lbfgs_round
from .wavenet_grad import GradNet

TRAINER_VERSION = "nam_dsp 0.1.0"

def make_arch(name: str, seed: int) -> WaveNetSpec:
    """The preset ``name`` (:data:`nam_dsp.presets.PRESETS`) with weights drawn from ``seed``."""
    if name not in PRESETS:
        raise ConfigError(f"unknown architecture {name!r}; known: {', '.join(PRESETS)}", ("arch",))
    return preset(name, seed)


#: Weight of a width-order inversion in :meth:`Trainer.score`, per decade of ESR by which a wider
#: width is worse than a narrower one: a 5% inversion (0.021 decades) costs as much as a 1.6x
#: worse mean, so it decides between similar checkpoints and not against much better ones.
INVERSION_PENALTY = 10.0

#: ``init`` values: the preset's weights as drawn, or with every channel's reads of wider channels
#: zeroed (NAM 0.13's "channel_causal"). NAM's "smallest_and_zeros" (all but the narrowest slice
#: zeroed) is not offered: with tanh or gated layers a zero channel has zero activation and zero
#: weights on both sides, so its gradient is exactly zero and it never trains in this trainer.
INITS = ("drawn", "channel-causal")

#: The init of slimmable architectures when none is given (others are always "drawn").
#: Channel-causal against drawn at equal CPU time, two seeds on clean and crunch: better on
#: crunch at every width and on clean at 6 of 8 (width 8 by 8-15%, widths 2-3 of clean up to 6%
#: worse) at 10 CPU-minutes (bench/results/training/methods_cpu10_2026-12-07).
DEFAULT_SLIMMABLE_INIT = "channel-causal"


def resolve_init(init: Optional[str], spec: WaveNetSpec) -> str:
    """``init``, or the default for ``spec``'s architecture when it is None."""
    if init is None:
        return DEFAULT_SLIMMABLE_INIT if spec.slimmable else "drawn"
    return init

#: ``schedule`` values: which widths a step trains.
WIDTH_SCHEDULES = ("uniform", "sandwich", "progressive")

#: NAM's verdicts on validation ESR that figures draw as lines (the bounds :func:`verdict` uses).
NAM_THRESHOLDS = ((0.01, "great"), (0.035, "not bad"), (0.1, "might be OK"))


def progressive_widths(widths: list, progress: float) -> list:
    """The widths a progressive-shrinking run trains at ``progress`` (0..1) of its budget: the
    full width alone for the first fifth, then narrower widths join one by one, widest first,
    until every width trains from half-way on (as once-for-all networks shrink)."""
    start, end = 0.2, 0.5
    if progress >= end:
        return list(widths)
    joined = int(len(widths) * max(0.0, progress - start) / (end - start))
    return list(widths[len(widths) - 1 - joined:])


def verdict(esr: float) -> str:
    """NAM's words for a validation ESR."""
    if esr < 0.01:
        return "Great!"
    if esr < 0.035:
        return "Not bad!"
    if esr < 0.1:
        return "...This *might* sound ok!"
    if esr < 0.3:
        return "This probably won't sound great :("
    return "Something seems to have gone wrong."


def width_probabilities(text: str, widths: list) -> Optional[np.ndarray]:
    """How often each width is drawn: None for ``"uniform"`` (the paper); ``"linear"``: in
    proportion to the width; or one weight per width (``"1,1,1,1,1,1,1,4"``), normalised.

    Why not uniform: channel k's weights only learn in steps at a width >= k, so a uniform draw
    over 1..8 trains channel 8 in an eighth of the steps and channel 1 in all of them."""
    if text in (None, "", "uniform"):
        return None
    if text == "linear":
        raw = [float(w) for w in widths]
    else:
        try:
            raw = [float(v) for v in text.split(",")]
        except ValueError:
            raw = []
        if len(raw) != len(widths):
            raise ConfigError(f"width weights {text!r}: expected 'uniform', 'linear' or {len(widths)} "
                              f"comma-separated weights, one per width {widths}", ("width_weights",))
    if not all(math.isfinite(v) and v >= 0 for v in raw) or sum(raw) <= 0:
        raise ConfigError(f"width weights {text!r}: weights must be finite, >= 0 and not all 0",
                          ("width_weights",))
    p = np.array(raw) / sum(raw)
    return p


def parse_widths(text: Optional[str], spec: WaveNetSpec) -> list:
    """``"1-8"``, ``"1,2,4,8"`` or None (all allowed widths)."""
    allowed = list(spec.allowed_widths) if spec.slimmable else [spec.full_width]
    if text is None:
        return allowed
    out = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if "-" in part:
                a, b = part.split("-", 1)
                out += list(range(int(a), int(b) + 1))
            elif part:
                out.append(int(part))
    except ValueError:
        raise ConfigError(f"widths {text!r}: expected a list such as '1-8' or '1,2,4,8'", ("widths",)) from None
    out = sorted(set(out))
    bad = [w for w in out if w not in allowed]
    if bad or not out:
        raise ConfigError(f"widths {bad or text} are not allowed for this architecture; allowed: {allowed}",
                          ("widths",))
    return out


@dataclass
class TrainConfig:
    arch: str = "slimmable-paper"
    widths: Optional[str] = None
    optimizer: str = "adam"
    schedule: str = "uniform"  # "uniform" | "sandwich" | "progressive" (see WIDTH_SCHEDULES)
    distill: float = 0.0  # narrower widths fit (1 - distill) * wet + distill * the full width's output
    width_weights: str = "uniform"  # | "linear" | "w1,w2,...": how often each width is drawn
    boosting: bool = False  # a step at width w trains only the weights w adds to the next narrower width
    init: Optional[str] = None  # "drawn" | "channel-causal" (see INITS); None: the architecture's default
    seed: int = 0
    batch_size: int = 16
    segment: int = 8192
    lr: float = 0.004
    lr_gamma: float = 0.994  # per epoch ("exponential" schedule)
    lr_schedule: str = "exponential"  # | "cosine": from lr down to lr * lr_final over the budget
    lr_final: float = 0.05
    average: float = 0.0  # decay of an exponential moving average of the weights (0: off)
    threads: int = 1  # threads sharing each batch (data-parallel gradients)
    grad_clip: float = 1.0
    loss: str = "nam"
    mrstft_weight: float = 2e-4
    pre_emph_weight: float = 0.0
    budget_seconds: Optional[float] = None
    budget_cpu_seconds: Optional[float] = None  # CPU time of this process (fair on a shared machine)
    epochs: Optional[float] = None
    steps: Optional[int] = None
    checkpoint_seconds: float = 180.0
    validate_every: int = 0  # steps; 0 = once per epoch
    dtype: str = "float32"
    lbfgs_iters: int = 20
    lbfgs_batch: int = 4


class Trainer:
    """Fit a WaveNet to an aligned :class:`~nam_dsp.training.data.Pair`."""

    def __init__(self, pair: Pair, config: TrainConfig, out_path: str, checkpoint_path: Optional[str] = None,
                 spec: Optional[WaveNetSpec] = None, log=sys.stderr):
        self.pair = pair
        self.cfg = config
        self.out_path = os.fspath(out_path)
        self.ckpt_path = checkpoint_path or (self.out_path + ".ckpt.npz")
        self.log = log
        spec = spec if spec is not None else make_arch(config.arch, config.seed)
        spec.sample_rate = float(pair.rate)
        self.net = GradNet(spec, np.dtype(config.dtype))
        self.widths = parse_widths(config.widths, spec)
        self.width_p = width_probabilities(config.width_weights, self.widths)
        if self.width_p is not None and config.schedule != "uniform":
            raise ConfigError(f"width weights apply to the uniform schedule's draw, not to "
                              f"{config.schedule!r}", ("width_weights", "schedule"))
        self.init = resolve_init(config.init, spec)
        if self.init not in INITS:
            raise ConfigError(f"unknown init {config.init!r}; known: {', '.join(INITS)}", ("init",))
        if (config.boosting or self.init != "drawn") and not spec.slimmable:
            raise ConfigError(f"boosting and the {self.init!r} init are for slimmable architectures; "
                              f"{config.arch!r} has one width", ("boosting", "init", "arch"))
        if config.boosting and config.optimizer != "adam":
            raise ConfigError("boosting shapes each minibatch step's gradient; it needs the adam optimizer",
                              ("boosting", "optimizer"))
        if self.init == "channel-causal":
            self.net.make_channel_causal(self.net.theta)
        # boosting: per training width, the weights its steps train (its increment on the narrower one)
        self.boost_masks = {w: self.net.increment_mask(w, self.widths[i - 1] if i else None)
                            for i, w in enumerate(self.widths)} if config.boosting else None
        self.examples = Examples(pair.dry, pair.wet, pair.train, self.net.receptive_field, config.segment,
                                 dtype=self.net.dtype)
        batch = config.lbfgs_batch if config.optimizer == "lbfgs" else config.batch_size
        if self.examples.per_epoch < batch:
            raise TrainingDataError(f"the training range holds {self.examples.per_epoch} examples of "
                                    f"{config.segment} samples, fewer than one batch of {batch}",
                                    ("batch_size", "segment"))
        for path in (self.out_path, self.ckpt_path):
            check_output_path(path, inputs=(pair.info.get("dry"), pair.info.get("wet")))
        if same_file(self.ckpt_path, self.out_path):
            raise ConfigError(f"{self.ckpt_path}: the checkpoint would overwrite the exported model",
                              ("checkpoint",))
        v0, v1 = pair.validation
        if v1 - v0 < self.net.receptive_field:
            raise TrainingDataError(f"the validation range ({v1 - v0} samples) is shorter than the receptive "
                                    f"field ({self.net.receptive_field})", ("validation_seconds", "split"))
        self.val_x = np.asarray(pair.dry[v0:v1], dtype=self.net.dtype)
        self.val_y = np.asarray(pair.wet[v0:v1], dtype=np.float64)[self.net.receptive_field - 1:]
        self.loss_fn = losses.make_loss(config.loss, config.mrstft_weight, config.pre_emph_weight)
        self.mask = self.net.trainable_mask()
        # --- state (all of it goes into checkpoints)
        self.theta = self.net.theta.astype(np.float64)
        self.best_theta = self.theta.copy()
        self.best_score = math.inf
        self.best_esr = {}
        self.avg_theta = self.theta.copy()  # the weights' moving average (config.average)
        self.adam = Adam(self.net.size, mask=self.mask)
        self.pool = ThreadPoolExecutor(config.threads) if config.threads > 1 else None
        self.rng = np.random.default_rng(config.seed)
        self.step = 0
        self.epoch = 0
        self.order = np.zeros(0, dtype=np.int64)
        self.pos = 0
        self.elapsed = 0.0
        self.cpu = 0.0  # CPU seconds used by training so far (all sessions)
        self.history = []  # (step, elapsed, train loss)
        self.val_history = []  # (step, elapsed, {width: esr})

    # -- state ----------------------------------------------------------------------------------
    def state(self) -> dict:
        d = {
            "theta": self.theta, "avg_theta": self.avg_theta, "best_theta": self.best_theta,
            "best_score": np.array(self.best_score),
            "step": np.array(self.step), "epoch": np.array(self.epoch), "order": self.order,
            "pos": np.array(self.pos), "elapsed": np.array(self.elapsed), "cpu": np.array(self.cpu),
            "rng_state": np.array(json.dumps(self.rng.bit_generator.state)),
            "history": np.array(self.history, dtype=np.float64).reshape(-1, 3),
            "val_history": np.array(json.dumps(self.val_history)),
            "best_esr": np.array(json.dumps(self.best_esr)),
            "config": np.array(json.dumps(asdict(self.cfg))),
            "data": np.array(json.dumps(self.pair.info)),
        }
        d.update(self.adam.state_dict())
        return d

    def save_checkpoint(self) -> None:
        buf = io.BytesIO()
        np.savez(buf, **self.state())
        write_bytes_atomic(self.ckpt_path, buf.getvalue())

    def load_checkpoint(self, path) -> None:
        path = os.fspath(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                d = {k: z[k] for k in z.files}
            self._restore(d)
        except CheckpointError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # unreadable, truncated, not ours
            problem = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise CheckpointError(f"{path}: not a usable checkpoint of this trainer: {problem}") from None

    def _restore(self, d: dict) -> None:
        theta = np.array(d["theta"], dtype=np.float64)
        if theta.size != self.net.size:
            raise CheckpointError(f"checkpoint holds {theta.size} weights, the architecture has {self.net.size}")
        self.theta = theta
        self.best_theta = np.array(d["best_theta"], dtype=np.float64)
        self.avg_theta = np.array(d["avg_theta"] if "avg_theta" in d else theta, dtype=np.float64)
        self.best_score = float(d["best_score"])
        self.step, self.epoch, self.pos = int(d["step"]), int(d["epoch"]), int(d["pos"])
        self.order = np.array(d["order"], dtype=np.int64)
        self.elapsed = float(d["elapsed"])
        self.cpu = float(d["cpu"]) if "cpu" in d else 0.0
        self.rng.bit_generator.state = json.loads(str(d["rng_state"]))
        self.history = [tuple(r) for r in np.array(d["history"]).tolist()]
        self.val_history = json.loads(str(d["val_history"]))
        self.best_esr = {int(k): v for k, v in json.loads(str(d["best_esr"])).items()}
        self.adam.load_state_dict(d)

    # -- evaluation -----------------------------------------------------------------------------
    def validate(self, theta: Optional[np.ndarray] = None) -> dict:
        """Validation ESR at every training width (valid-mode output on the validation audio)."""
        th = (self.theta if theta is None else theta).astype(self.net.dtype)

        def esr_at(w):
            return losses.esr_value(valid_predict(self.net, self.val_x, w, th), self.val_y)

        if self.pool is None:
            return {w: esr_at(w) for w in self.widths}
        # The widths are independent: spread them over the threads, widest (slowest) first, so
        # validation (about a tenth of a run's work) does not leave the other cores idle.
        jobs = {w: self.pool.submit(esr_at, w) for w in sorted(self.widths, reverse=True)}
        return {w: jobs[w].result() for w in self.widths}

    @staticmethod
    def score(esr: dict) -> float:
        """Model selection, lower is better: the mean of log10 ESR over widths (so width 1 does
        not dominate), plus a penalty for every width worse than a narrower one. A slider whose
        wider setting sounds worse is a defect, and at similar means a checkpoint where that
        happened by chance should lose to one where it did not."""
        logs = [math.log10(max(esr[w], 1e-12)) for w in sorted(esr, key=int)]
        inversions = sum(max(0.0, wider - narrower)
                         for i, narrower in enumerate(logs) for wider in logs[i + 1:])
        return float(np.mean(logs)) + INVERSION_PENALTY * inversions

    # -- steps ----------------------------------------------------------------------------------
    def _loss_grad_part(self, theta_c, x, y, width):
        pred, cache = self.net.forward(x, width, theta_c)
        value, dpred = self.loss_fn(pred, y)
        return value, self.net.backward(cache, dpred), pred

    def _loss_grad(self, theta_c, x, y, width):
        """(loss, gradient, prediction) of a batch at one width; with ``threads`` > 1 the batch is
        split between threads (NumPy's matrix products and ufuncs release the GIL) and the parts'
        losses and gradients are combined weighted by their share of the batch, which is the
        batch's own loss since every loss is a mean over examples."""
        if self.pool is None or x.shape[0] < 2:
            return self._loss_grad_part(theta_c, x, y, width)
        bounds = np.linspace(0, x.shape[0], min(self.cfg.threads, x.shape[0]) + 1).astype(int)
        jobs = [self.pool.submit(self._loss_grad_part, theta_c, x[a:b], y[a:b], width)
                for a, b in zip(bounds[:-1], bounds[1:])]
        parts = [job.result() for job in jobs]
        shares = np.diff(bounds) / x.shape[0]
        value = sum(share * part[0] for share, part in zip(shares, parts))
        grad = sum(share * part[1].astype(np.float64) for share, part in zip(shares, parts))
        return value, grad, np.concatenate([part[2] for part in parts])

    def _next_batch(self):
        b = self.cfg.batch_size
        if self.pos + b > self.order.size:
            if self.order.size:
                self.epoch += 1
            self.order = self.examples.epoch_starts(self.rng)
            self.pos = 0
        starts = self.order[self.pos:self.pos + b]
        self.pos += b
        return self.examples.batch(starts)

    def _step_widths(self) -> list:
        """The widths this step trains, the full width first when its output teaches the others."""
        widths, top = self.widths, self.widths[-1]
        if self.cfg.schedule == "progressive":
            widths = progressive_widths(widths, self._progress_fraction() or 0.0)
        if self.cfg.schedule == "sandwich" and len(widths) > 2:
            mid = widths[1:-1]
            return [top, widths[0], int(mid[int(self.rng.integers(len(mid)))])]
        if self.width_p is None:
            w = int(widths[int(self.rng.integers(len(widths)))])
        else:
            w = int(widths[int(self.rng.choice(len(widths), p=self.width_p))])
        return [top, w] if self.cfg.distill and w != top else [w]

    def _adam_step(self) -> float:
        x, y = self._next_batch()
        ws = self._step_widths()
        theta_c = self.theta.astype(self.net.dtype)
        total, grad = 0.0, np.zeros(self.net.size)
        d, teacher = self.cfg.distill, None
        for w in ws:
            target = y if teacher is None or w == self.widths[-1] else (1 - d) * y + d * teacher
            v, g, pred = self._loss_grad(theta_c, x, target, w)
            if d and w == self.widths[-1]:
                teacher = pred.astype(y.dtype)  # a fixed target: no gradient flows through it
            if self.boost_masks is not None:
                g *= self.boost_masks[w]  # the narrower slice counts as fixed (detached) here
            total += v / len(ws)
            grad += g.astype(np.float64) / len(ws)
        grad, _ = clip_grad_norm(grad, self.cfg.grad_clip)
        self.adam.step(self.theta, grad, self._lr())
        self._update_average()
        return total

    def _lr(self) -> float:
        c = self.cfg
        frac = self._progress_fraction()
        if c.lr_schedule == "cosine" and frac is not None:
            return c.lr * (c.lr_final + (1 - c.lr_final) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        return exponential_lr(c.lr, c.lr_gamma, self.epoch)

    def _update_average(self) -> None:
        """The moving average of the weights, which validation and export use when enabled: the
        end of a run lands on the mean of its last steps instead of the last step's noise."""
        if not self.cfg.average:
            return
        # short memory at first (as if the average had started at step 0), then the decay
        decay = min(self.cfg.average, (1 + self.step) / (10 + self.step))
        self.avg_theta *= decay
        self.avg_theta += (1 - decay) * self.theta

    def _lbfgs_step(self) -> float:
        """One L-BFGS-B round on a fixed batch and every training width (deterministic objective)."""
        b = self.cfg.lbfgs_batch
        saved, self.cfg.batch_size = self.cfg.batch_size, b
        try:
            x, y = self._next_batch()
        finally:
            self.cfg.batch_size = saved
        dt = self.net.dtype

        def fun(th):
            thc = th.astype(dt)
            total, grad = 0.0, np.zeros(self.net.size)
            for w in self.widths:
                v, g, _ = self._loss_grad(thc, x, y, w)
                total += v / len(self.widths)
                grad += g.astype(np.float64) / len(self.widths)
            return total, grad

        self.theta, res = lbfgs_round(fun, self.theta, self.mask, maxiter=self.cfg.lbfgs_iters)
        return float(res.fun)

    # -- loop -----------------------------------------------------------------------------------
    def _done(self) -> bool:
        c = self.cfg
        if c.steps is not None and self.step >= c.steps:
            return True
        if c.epochs is not None and self.epoch + self.pos / max(self.order.size, 1) >= c.epochs:
            return True
        if c.budget_seconds is not None and self.elapsed >= c.budget_seconds:
            return True
        if c.budget_cpu_seconds is not None and self.cpu >= c.budget_cpu_seconds:
            return True
        return False

    def _progress_fraction(self) -> Optional[float]:
        c = self.cfg
        fr = []
        if c.steps:
            fr.append(self.step / c.steps)
        if c.epochs:
            fr.append((self.epoch + self.pos / max(self.order.size, 1)) / c.epochs)
        if c.budget_seconds:
            fr.append(self.elapsed / c.budget_seconds)
        if c.budget_cpu_seconds:
            fr.append(self.cpu / c.budget_cpu_seconds)
        return max(fr) if fr else None

    @property
    def eval_theta(self) -> np.ndarray:
        """The weights validation sees and export writes: the moving average when enabled."""
        return self.avg_theta if self.cfg.average else self.theta

    def _validate_and_keep_best(self):
        esr = self.validate(self.eval_theta)
        self.val_history.append([self.step, self.elapsed, {str(k): v for k, v in esr.items()}])
        s = self.score(esr)
        if s < self.best_score:
            self.best_score = s
            self.best_theta = self.eval_theta.copy()
            self.best_esr = dict(esr)
        return esr

    def run(self) -> dict:
        """Train until the budget (steps / epochs / seconds) is used; return the summary."""
        keep_freed_memory()   # a step's temporaries would otherwise page-fault in anew every step
        c = self.cfg
        tty = hasattr(self.log, "isatty") and self.log.isatty()
        t_start = time.perf_counter() - self.elapsed
        cpu_start = time.process_time() - self.cpu

        def tick():  # the clocks
            self.elapsed = time.perf_counter() - t_start
            self.cpu = time.process_time() - cpu_start

        last_ckpt = last_print = time.perf_counter()
        last_val_epoch = self.epoch
        last_esr = self.val_history[-1][2] if self.val_history else {}
        recent = []
        while not self._done():
            loss = self._lbfgs_step() if c.optimizer == "lbfgs" else self._adam_step()
            self.step += 1
            tick()
            self.history.append((self.step, self.elapsed, loss))
            recent.append(loss)
            due_val = (c.validate_every and self.step % c.validate_every == 0) or \
                      (not c.validate_every and self.epoch != last_val_epoch)
            if due_val:
                last_val_epoch = self.epoch
                last_esr = {str(k): v for k, v in self._validate_and_keep_best().items()}
                tick()
            now = time.perf_counter()
            if now - last_print >= (0.5 if tty else 15.0):
                self._print_progress(recent, last_esr, tty)
                recent, last_print = [], now
            if now - last_ckpt >= c.checkpoint_seconds:
                # The .nam first, then the checkpoint: a checkpoint on disk always has its export.
                self.export()
                self.save_checkpoint()
                last_ckpt = time.perf_counter()
        if recent:
            self._print_progress(recent, last_esr, tty)
        if tty:
            self.log.write("\n")
        self._validate_and_keep_best()
        tick()
        summary = self.export()
        self.save_checkpoint()
        return summary

    def _print_progress(self, recent, last_esr, tty):
        frac = self._progress_fraction()
        eta = ""
        if frac and frac > 0:
            eta = f" ETA {max(0.0, self.elapsed * (1 - frac) / frac):6.0f} s"
        top = max(self.widths)
        val = ""
        if str(top) in last_esr:  # the latest validation; the export is the best checkpoint's
            best = self.best_esr.get(top) if self.best_esr else None
            val = f" val ESR(w{top}) latest {last_esr[str(top)]:.4f}"
            val += f" best {best:.4f}" if best is not None else ""
        line = (f"step {self.step} epoch {self.epoch} loss {np.mean(recent):.3e}{val} "
                f"lr {self._lr():.2e} "
                f"{self.elapsed:6.0f} s{eta}")
        self.log.write(("\r" + line + "   ") if tty else (line + "\n"))
        self.log.flush()

    # -- export ---------------------------------------------------------------------------------
    def export(self, path: Optional[str] = None) -> dict:
        """Write the best weights so far as a ``.nam`` 0.7.0 file with training metadata."""
        path = self.out_path if path is None else path
        esr = self.best_esr or {}
        training = {
            "trainer": "nam_dsp", "trainer_version": TRAINER_VERSION,
            "validation_esr": {str(k): float(v) for k, v in sorted(esr.items())},
            "verdict": {str(k): verdict(v) for k, v in sorted(esr.items())},
            "seconds": round(float(self.elapsed), 1), "cpu_seconds": round(float(self.cpu), 1),
            "steps": int(self.step), "epochs": int(self.epoch),
            "data": {k: v for k, v in self.pair.info.items()},
            "settings": {**{k: v for k, v in asdict(self.cfg).items() if k not in ("checkpoint_seconds",)},
                         "init": self.init},  # the one used, when the architecture's default was
        }
        meta = dict(self.net.spec.metadata)
        meta["training"] = training
        spec = self.net.to_spec(self.best_theta, metadata=meta)
        save_spec(spec, path, form="0.7")
        return {"path": path, "validation_esr": training["validation_esr"], "seconds": training["seconds"],
                "cpu_seconds": training["cpu_seconds"],
                "steps": self.step, "epochs": self.epoch}


def valid_predict(net: GradNet, x: np.ndarray, width, theta=None, chunk: int = 32768) -> np.ndarray:
    """Valid-mode output of a long input: ``x.size - receptive_field + 1`` samples, in chunks."""
    rf = net.receptive_field
    n_out = x.size - rf + 1
    if n_out <= 0:
        return np.zeros(0)
    nchunks = -(-n_out // chunk)
    pad = nchunks * chunk - n_out
    xp = np.concatenate([np.asarray(x, dtype=net.dtype), np.zeros(pad, dtype=net.dtype)])
    out = []
    group = 8  # chunks per batch (bounds memory)
    for g0 in range(0, nchunks, group):
        starts = np.arange(g0, min(nchunks, g0 + group)) * chunk
        idx = starts[:, None] + np.arange(chunk + rf - 1)[None, :]
        y, _ = net.forward(xp[idx], width, theta, keep=False)
        out.append(y.ravel())
    return np.concatenate(out)[:n_out].astype(np.float64)


#: Widths this narrow rarely reach a good verdict in a short run; the table says so.
NARROW_WIDTH = 2


def esr_table(esr: dict, reference: Optional[dict] = None) -> str:
    """The end-of-run table: width, validation ESR, NAM's verdict (and a reference column)."""
    lines = ["width  val ESR    " + ("NAM ref   " if reference else "") + "verdict"]
    poor_narrow = []
    for w in sorted(esr, key=int):
        ref = f"{reference[int(w)]:<9.4f} " if reference and int(w) in reference else ""
        lines.append(f"{int(w):>5}  {esr[w]:<9.5f}  {ref}{verdict(esr[w])}")
        if int(w) <= NARROW_WIDTH and esr[w] >= 0.1 and len(esr) > 1:
            poor_narrow.append(str(int(w)))
    if poor_narrow and any(v < 0.1 for w, v in esr.items() if int(w) > NARROW_WIDTH):
        lines.append(f"(width {', '.join(poor_narrow)}: {NARROW_WIDTH} channels or fewer learn slowly "
                     "and stay the least accurate; they need a much longer run than the wide widths, "
                     "and are there for CPU headroom)")
    return "\n".join(lines)
