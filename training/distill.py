"""Distil any model the engine runs (the *teacher*) into a slimmable WaveNet (the *student*).

The teacher can render unlimited training data, so there is no reamp to record and no latency to
calibrate: each epoch is fresh built-in excitation (:mod:`nam_dsp.excitation`, seeded by the run's
seed and the epoch number), followed by the user's own DIs when given, rendered through the teacher
in one stream. :class:`TeacherExamples` is the trainer's example source for that; the training
loop is :class:`~nam_dsp.training.trainer.Trainer`'s own (:class:`DistillTrainer` only swaps the
examples at each epoch boundary), so progress, checkpoints, ``--resume``, atomic writes and export
are those of ``nam-dsp train``.

Three disjoint audio sources, so the reported figure is honest:

* training: the excitation of each epoch (stream 0 of the seed) and the user's ``--di``;
* checkpoint selection (the trainer's validation): held-out excitation (stream 1);
* evaluation: the user's real DI (``--eval-di``) or, without it, more held-out excitation
  (stream 2), rendered through the exported model by the engine at every width and compared with
  the teacher by ESR. That ESR is the ``validation_esr`` the ``.nam`` carries; ``training.data``
  says where it came from.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np

from nam_dsp.engine import from_spec, load, render
from nam_dsp.errors import AudioFileError, ConfigError
from nam_dsp.excitation import excitation
from nam_dsp.nam_file import load_spec
from nam_dsp.parallel_render import input_files as audio_files  # one rule for files and folders

from . import losses
from .data import Examples, Pair
from .trainer import TrainConfig, Trainer, make_arch, parse_widths

__all__ = ["TeacherExamples", "DistillTrainer", "SlimJob", "distil", "DEFAULT_STUDENT", "read_di",
           "teacher_cost", "file_sha256", "EVAL_SYNTHETIC_NOTE"]

#: Seed streams of the excitation: training epochs, checkpoint selection, evaluation.
TRAIN_STREAM, SELECTION_STREAM, EVAL_STREAM = 0, 1, 2
#: Samples per engine call when rendering through the teacher (the output does not depend on it).
RENDER_BLOCK = 8192
#: The student when none is chosen, for every teacher: the paper's 8-channel model. The student of
#: A1 standard's cost (``slimmable-a1``, 16 channels) was the default for A1-cost teachers until it
#: lost on both measured at the default 30 CPU-minutes: 1.4-2.7x the paper student's ESR at full
#: width on real DI (marshall_jcm_standard, mesa_rectifier_a2; docs/slim.md), in half the steps.
DEFAULT_STUDENT = "slimmable-paper"
#: What the report says when no real DI was given for evaluation.
EVAL_SYNTHETIC_NOTE = ("synthetic: held-out built-in excitation (no --eval-di given); synthetic playing "
                       "is not real playing, expect a higher ESR on a real DI")
#: Teacher metadata the student keeps: what the capture is and its calibrated levels.
KEPT_METADATA = ("name", "modeled_by", "gear_make", "gear_model", "gear_type", "tone_type",
                 "input_level_dbu", "output_level_dbu")


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def teacher_cost(spec) -> int:
    """MACs per sample of the teacher as it runs at full size."""
    return int(spec.macs_per_sample())


def read_di(path, rate: Optional[float], notices: Optional[list] = None) -> np.ndarray:
    """A DI recording as float32 mono at ``rate``: channel 0 of a multi-channel file, resampled
    (with a notice) when recorded at another rate (``rate=None``: at the file's own rate);
    refused when unreadable, non-finite or silent."""
    import soundfile as sf
    from .data import SILENT_PEAK
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise AudioFileError(f"{path}: No such file")
    try:
        data, file_rate = sf.read(path, dtype="float64", always_2d=True)
    except Exception as exc:  # soundfile raises several kinds (LibsndfileError, RuntimeError...)
        raise AudioFileError(f"{path}: cannot read the audio file: {exc}") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{path}: the file has no samples")
    x = data[:, 0]
    if not np.all(np.isfinite(x)):
        raise AudioFileError(f"{path}: holds NaN or infinite samples")
    peak = float(np.max(np.abs(x)))
    if peak < SILENT_PEAK:
        raise AudioFileError(f"{path}: the DI is silent (peak {peak:.3g}, below -100 dBFS)")
    if notices is not None and data.shape[1] > 1:
        notices.append(f"{path} has {data.shape[1]} channels: using channel 0")
    if rate is not None and int(file_rate) != int(round(rate)):
        from scipy.signal import resample_poly
        from fractions import Fraction
        ratio = (Fraction(int(round(rate))) / Fraction(int(file_rate))).limit_denominator(10_000)
        if notices is not None:
            notices.append(f"{path} is at {file_rate} Hz, the teacher at {rate:g} Hz: resampled to "
                           f"{rate:g} Hz")
        x = resample_poly(x, ratio.numerator, ratio.denominator)
    return np.ascontiguousarray(x, dtype=np.float32)


def teacher_render(teacher, x: np.ndarray) -> np.ndarray:
    """The teacher's output for ``x`` as one stream from silence (float32)."""
    return render(teacher, x, block_size=RENDER_BLOCK)


def excitation_rng(seed: int, stream: int, epoch: int = 0) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(stream), int(epoch)])


class TeacherExamples(Examples):
    """Training examples rendered by the teacher, regenerated for every epoch.

    Epoch ``e`` is ``epoch_seconds`` of excitation drawn from ``(seed, stream 0, e)``, rendered
    through the teacher, followed by the user's DIs, each rendered once (from silence) and reused.
    Every part is followed by one student receptive field of silence, so a window that straddles
    two parts sees silence before the second one, exactly what the teacher heard before it. The
    same seed gives the same data whatever the machine, and a resumed run regenerates exactly the
    epoch it stopped in.
    """

    def __init__(self, teacher, seed: int, epoch_seconds: float, user_di: Sequence[np.ndarray],
                 receptive_field: int, segment: int, dtype=np.float32):
        self.teacher = teacher
        self.seed = int(seed)
        self.epoch_seconds = float(epoch_seconds)
        self.gap = np.zeros(int(receptive_field), dtype=np.float32)
        self.render_seconds = 0.0  # time spent making and rendering data (all epochs)
        t0 = time.perf_counter()
        self.user_parts = []
        for x in user_di:
            dry = np.concatenate([np.asarray(x, dtype=np.float32), self.gap])
            self.user_parts.append((dry, teacher_render(teacher, dry)))
        self.render_seconds += time.perf_counter() - t0
        dry, wet = self.render_epoch(0)
        super().__init__(dry, wet, (0, dry.size), receptive_field, segment, dtype)
        self.current_epoch = 0

    def render_epoch(self, epoch: int):
        t0 = time.perf_counter()
        rng = excitation_rng(self.seed, TRAIN_STREAM, epoch)
        dry = np.concatenate([excitation(self.epoch_seconds, self.teacher.sample_rate, rng), self.gap])
        parts = [(dry, teacher_render(self.teacher, dry))] + self.user_parts
        self.render_seconds += time.perf_counter() - t0
        return np.concatenate([d for d, _ in parts]), np.concatenate([w for _, w in parts])

    def use_epoch(self, epoch: int) -> None:
        """Make epoch ``epoch``'s data current (renders it unless it already is)."""
        if epoch != self.current_epoch:
            dry, wet = self.render_epoch(epoch)
            self.dry, self.wet = dry.astype(self.dry.dtype), wet.astype(self.wet.dtype)
            self.current_epoch = epoch


class DistillTrainer(Trainer):
    """:class:`Trainer` on :class:`TeacherExamples`: fresh teacher-rendered data every epoch."""

    def __init__(self, source: TeacherExamples, selection: tuple, info: dict, config: TrainConfig,
                 out_path, checkpoint_path=None, spec=None, log=sys.stderr):
        sel_dry, sel_wet = selection
        n0 = source.dry.size
        pair = Pair(dry=np.concatenate([source.dry, sel_dry]), wet=np.concatenate([source.wet, sel_wet]),
                    rate=int(round(source.teacher.sample_rate)), latency=0,
                    latency_method="none (rendered by the teacher)", train=(0, n0),
                    validation=(n0, n0 + sel_dry.size), info=info)
        super().__init__(pair, config, out_path, checkpoint_path=checkpoint_path, spec=spec, log=log)
        self.examples = source

    def _next_batch(self):
        starting = self.pos + self.cfg.batch_size > self.order.size
        # the epoch the next batch is drawn from (the base class advances it when one ends)
        self.examples.use_epoch(self.epoch + 1 if starting and self.order.size else self.epoch)
        return super()._next_batch()

    def evaluate(self, takes: Sequence[tuple]) -> tuple:
        """ESR against the teacher at every training width of the best weights as the engine runs
        them (the exported model), on ``takes``: ``(name, dry, teacher's output)``, each streamed
        from silence. Returns ``({width: ESR over all takes}, {name: {width: ESR}})``; the first is
        the total squared error over the total target energy, so long takes weigh more."""
        spec = self.net.to_spec(self.best_theta, metadata=dict(self.net.spec.metadata))
        overall, per_take = {}, {name: {} for name, _, _ in takes}
        for w in self.widths:
            model = from_spec(spec, width=w if spec.slimmable else None)
            error = energy = 0.0
            for name, dry, target in takes:
                y = render(model, dry, block_size=RENDER_BLOCK).astype(np.float64)
                t = np.asarray(target, np.float64)
                per_take[name][w] = losses.esr_value(y, t)
                error += float(np.sum((y - t) ** 2))
                energy += float(np.sum(t * t))
            overall[w] = error / max(energy, 1e-30)
        return overall, per_take


@dataclass
class SlimJob:
    """Everything one distillation needs (picklable: batch tasks run it in other processes)."""

    teacher: str
    output: str
    arch: Optional[str] = None
    widths: Optional[str] = None
    budget_seconds: Optional[float] = None
    budget_cpu_seconds: Optional[float] = None
    steps: Optional[int] = None
    di: List[str] = field(default_factory=list)
    eval_di: List[str] = field(default_factory=list)
    seed: int = 0
    resume: Optional[str] = None
    checkpoint: Optional[str] = None
    threads: int = 1
    epoch_seconds: float = 120.0
    selection_seconds: float = 10.0
    eval_seconds: float = 60.0  # held-out excitation, when no eval DI is given
    batch_size: int = 16
    segment: int = 8192
    lr: float = 0.004
    checkpoint_seconds: float = 180.0
    work_output: Optional[str] = None  # where checkpoints export to while training (default: output)
    log_path: Optional[str] = None  # progress goes here instead of stderr (batch tasks)


def make_student(job: SlimJob, teacher_spec):
    arch = job.arch or DEFAULT_STUDENT
    spec = make_arch(arch, job.seed)
    if not spec.slimmable:
        raise ConfigError(f"architecture {arch!r} is not slimmable; the student must be a slimmable WaveNet "
                          f"(e.g. slimmable-paper, slimmable-a1)", ("arch",))
    meta = {k: teacher_spec.metadata.get(k) for k in KEPT_METADATA if teacher_spec.metadata.get(k) is not None}
    meta["name"] = f"{meta.get('name') or os.path.splitext(os.path.basename(job.teacher))[0]} (slimmable)"
    meta["architecture_name"] = arch
    spec.metadata = meta
    return arch, spec


def distil(job: SlimJob, log=None) -> dict:
    """Run one distillation to ``job.output``; return its summary (see the keys at the end)."""
    t_start = time.perf_counter()
    own_log = None
    if log is None:
        if job.log_path:
            own_log = log = open(job.log_path, "a", buffering=1)
        else:
            log = sys.stderr
    try:
        return _distil(job, log, t_start)
    finally:
        if own_log is not None:
            own_log.close()


def _distil(job: SlimJob, log, t_start) -> dict:
    teacher_spec = load_spec(job.teacher)
    teacher = load(job.teacher)
    rate = teacher.sample_rate
    arch, spec = make_student(job, teacher_spec)
    widths = parse_widths(job.widths, spec)
    notices: list = []
    di_files, eval_files = audio_files(job.di), audio_files(job.eval_di)
    user_di = [read_di(f, rate, notices) for f in di_files]
    eval_dry = [read_di(f, rate, notices) for f in eval_files]
    for line in notices:
        log.write(f"nam-dsp slim: {line}\n")
    source = TeacherExamples(teacher, job.seed, job.epoch_seconds, user_di, spec.receptive_field,
                             job.segment)
    sel_dry = excitation(job.selection_seconds, rate, excitation_rng(job.seed, SELECTION_STREAM))
    selection = (sel_dry, teacher_render(teacher, sel_dry))
    if eval_dry:
        names = [os.path.basename(f) for f in eval_files]
        names = names if len(set(names)) == len(names) else list(eval_files)  # same names in two folders
        takes = [(name, x, teacher_render(teacher, x)) for name, x in zip(names, eval_dry)]
        eval_source = {"kind": "real DI", "files": [name for name, _, _ in takes],
                       "seconds": round(sum(x.size for x in eval_dry) / rate, 2)}
    else:
        x = excitation(job.eval_seconds, rate, excitation_rng(job.seed, EVAL_STREAM))
        takes = [("built-in excitation (held out)", x, teacher_render(teacher, x))]
        eval_source = {"kind": "synthetic", "note": EVAL_SYNTHETIC_NOTE, "seconds": job.eval_seconds}
    info = {
        "source": "distillation",
        "teacher": {"file": os.path.basename(job.teacher), "sha256": file_sha256(job.teacher),
                    "architecture": teacher_spec.architecture, "macs_per_sample": teacher_cost(teacher_spec)},
        "sample_rate": int(round(rate)),
        "excitation": {"builtin_seconds_per_epoch": job.epoch_seconds, "seed": job.seed,
                       "user_di": [os.path.basename(f) for f in di_files],
                       "user_di_seconds": round(sum(x.size for x in user_di) / rate, 2)},
        "selection": f"checkpoint chosen on {job.selection_seconds:g} s of held-out built-in excitation",
        "eval_source": eval_source,
    }
    cfg = TrainConfig(arch=arch, widths=job.widths, seed=job.seed, batch_size=job.batch_size,
                      segment=job.segment, lr=job.lr, threads=job.threads,
                      budget_seconds=job.budget_seconds, budget_cpu_seconds=job.budget_cpu_seconds,
                      steps=job.steps, checkpoint_seconds=job.checkpoint_seconds)
    if cfg.budget_seconds is None and cfg.budget_cpu_seconds is None and cfg.steps is None:
        cfg.budget_cpu_seconds = 30 * 60.0
    work = job.work_output or job.output
    trainer = DistillTrainer(source, selection, info, cfg, work,
                             checkpoint_path=job.checkpoint or (work + ".ckpt.npz"), spec=spec, log=log)
    if job.resume:
        trainer.load_checkpoint(job.resume)
        log.write(f"resumed from {job.resume} at step {trainer.step}\n")
    log.write(f"teacher {job.teacher} ({teacher_spec.architecture}, {teacher_cost(teacher_spec)} MACs/sample); "
              f"student {arch}, widths {widths[0]}..{widths[-1]}; evaluation on "
              f"{eval_source['kind']} ({eval_source['seconds']:g} s)\n")
    log.flush()
    trainer.run()
    selection_esr = {str(w): float(v) for w, v in sorted(trainer.best_esr.items())}
    esr, per_take = trainer.evaluate(takes)
    trainer.pair.info["selection_esr"] = selection_esr
    if len(takes) > 1:
        trainer.pair.info["eval_esr_per_file"] = {name: {str(w): v for w, v in d.items()}
                                                  for name, d in per_take.items()}
    chosen = trainer.best_esr
    trainer.best_esr = esr  # the export's validation_esr: the evaluation against the teacher
    try:
        summary = trainer.export(job.output)
    finally:
        trainer.best_esr = chosen
    if work != job.output:
        for stale in (work,):
            if os.path.exists(stale):
                os.unlink(stale)
    return {"capture": os.path.splitext(os.path.basename(job.teacher))[0], "teacher": job.teacher,
            "path": job.output, "arch": arch, "teacher_macs": teacher_cost(teacher_spec),
            "esr": {int(w): float(v) for w, v in esr.items()}, "eval_source": eval_source,
            "esr_per_file": {name: {int(w): float(v) for w, v in d.items()} for name, d in per_take.items()},
            "selection_esr": selection_esr, "steps": summary["steps"], "train_seconds": summary["seconds"],
            "cpu_seconds": summary["cpu_seconds"], "seconds": round(time.perf_counter() - t_start, 1),
            "checkpoint": trainer.ckpt_path, "skipped": False}

