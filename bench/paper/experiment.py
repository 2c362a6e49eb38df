"""Train, cache, measure and report: the pipeline behind ``python -m bench.paper``.

Stages, for each tone:

1. **train** every model that has no finished run in the cache (``--jobs`` at a time, each in its
   own process with one BLAS thread and the trainer's CPU-time budget); an interrupted run resumes
   from its checkpoint;
2. **measure** every cached ``.nam`` that has no measurement yet: validation ESR computed by the
   engine on the validation audio (every width of the slimmable model) and x real time with
   :func:`nam_dsp.benchmark.bench_spec` (64-sample blocks, one thread);
3. **report**: ``<tone>.json``, ``<tone>.png`` and ``README.md`` in ``--out``.

``--plots-only`` runs stage 3 alone, from the cache.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Optional

import numpy as np

import nam_dsp
from bench.machine_speed import trainer_samples_per_cpu_second
from nam_dsp.benchmark import bench_signal, machine_info, time_blocks
from nam_dsp.presets import architecture, preset
from nam_dsp.spec import WaveNetSpec
from nam_dsp.training import losses
from nam_dsp.training.data import load_pair
from nam_dsp.training.trainer import TRAINER_VERSION, TrainConfig, Trainer, resolve_init

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "..", "shared", "data", "tones")
RESULTS = os.path.join(ROOT, "bench", "results", "paper")
TONES = ("clean", "crunch", "lead", "rhythm")
CAPTURES = {  # what each wet file was rendered through (../shared/data/README.md)
    "clean": "Fender Deluxe (A1 standard capture)",
    "crunch": "Marshall JCM (A1 standard capture)",
    "lead": "EVH 5153 (A1 standard capture)",
    "rhythm": "Peavey 5150 Block Letter (A1 standard capture)",
}


@dataclasses.dataclass(frozen=True)
class ModelDef:
    key: str
    label: str
    arch: str  # a nam_dsp.presets name
    role: str  # "slimmable" | "full" | "baseline" | "dedicated"

    def spec(self, seed: int) -> WaveNetSpec:
        return preset(self.arch, seed)


MODELS = {m.key: m for m in [
    ModelDef("slimmable-paper", "new (slimmable)", "slimmable-paper", "slimmable"),
    ModelDef("paper-full", "new (full)", "paper-full", "full"),
    ModelDef("a1-standard", "A1 standard", "a1-standard", "baseline"),
    ModelDef("a1-nano-paper", "A1 nano (dil. 1..512)", "a1-nano-paper", "baseline"),
    ModelDef("paper-w2", "dedicated w2", "paper-w2", "dedicated"),
    ModelDef("paper-w4", "dedicated w4", "paper-w4", "dedicated"),
]}


# ---------------------------------------------------------------------------------------------
# settings and cache keys
# ---------------------------------------------------------------------------------------------

#: TrainConfig fields added after the first cached runs, at the values that train as before.
NEUTRAL_TRAIN_FIELDS = {"distill": 0.0, "lr_schedule": "exponential", "lr_final": 0.05,
                        "average": 0.0, "threads": 1, "width_weights": "uniform", "boosting": False,
                        "init": "drawn"}


#: Steps per CPU-second of each model at the reference speed (the session that trained clean's
#: 30-minute slimmable and full-width models), and how they were measured: a budget of M
#: CPU-minutes is ``round(60 M x rate)`` steps of that model (docs/paper.md, "budgets are now
#: counted in steps").
STEP_RATES = os.path.join(RESULTS, "step_rates.json")


def load_step_rates(path: str = STEP_RATES) -> dict:
    """``{model key: steps per CPU-second at the reference speed}`` from ``path``."""
    try:
        with open(path) as fh:
            rates = json.load(fh)["steps_per_cpu_second"]
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"{path}: no usable 'steps_per_cpu_second' table ({exc}); use --cpu-time-budget") from None
    missing = [m for m in MODELS if not isinstance(rates.get(m), (int, float)) or rates[m] <= 0]
    if missing:
        raise SystemExit(f"{path}: 'steps_per_cpu_second' has no positive rate for {', '.join(missing)}")
    return {m: float(rates[m]) for m in MODELS}


@dataclasses.dataclass
class Settings:
    """Everything a run depends on. ``hash`` covers all of it but the tone, model, budget and seed
    (which are spelled out in the cache key).

    The budget is CPU-minutes. With ``step_rates`` (the default of ``python -m bench.paper``) it
    is counted in steps, so that it is the same work on a fast day and a slow one: a shared VM's
    speed per CPU-second drifts 2x between sessions here. Without, it is the training process's
    CPU time as it comes."""

    data_dir: str
    budget_cpu_minutes: float
    step_rates: Optional[dict] = None
    seed: int = 0
    validate_every: int = 100
    validation_seconds: Optional[float] = None  # None: the whole validation range of split.json
    train_overrides: dict = dataclasses.field(default_factory=dict)  # extra TrainConfig fields

    def budget_steps(self, model: ModelDef) -> Optional[int]:
        if self.step_rates is None:
            return None
        return max(1, round(60.0 * self.budget_cpu_minutes * self.step_rates[model.key]))

    def train_config(self, model: ModelDef) -> TrainConfig:
        steps = self.budget_steps(model)
        cfg = TrainConfig(arch=model.arch, seed=self.seed, steps=steps,
                          budget_cpu_seconds=60.0 * self.budget_cpu_minutes if steps is None else None,
                          validate_every=self.validate_every, checkpoint_seconds=60.0)
        for k, v in self.train_overrides.items():
            setattr(cfg, k, v)
        return cfg

    def hashed(self, model: ModelDef) -> dict:
        cfg = dataclasses.asdict(self.train_config(model))
        for k in ("seed", "budget_cpu_seconds", "checkpoint_seconds", "arch"):
            cfg.pop(k)
        # The budget is spelled in the cache key. "steps" stays in the hash as it was before step
        # budgets (None), so that the runs trained then are found (tests/test_paper_experiment.py).
        cfg["steps"] = None
        spec = model.spec(0)
        cfg["init"] = resolve_init(cfg["init"], spec)  # what the trainer will use
        for k, neutral in NEUTRAL_TRAIN_FIELDS.items():  # so caches from before they existed stay valid
            if cfg.get(k) == neutral:
                cfg.pop(k)
        return {"train_config": cfg, "arch": architecture(spec),
                "validation_seconds": self.validation_seconds, "trainer_version": TRAINER_VERSION,
                "split": _file_digest(os.path.join(self.data_dir, "split.json"))}

    def settings_hash(self, model: ModelDef) -> str:
        blob = json.dumps(self.hashed(model), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:10]

    def cache_key(self, tone: str, model: ModelDef) -> str:
        return (f"{tone}__{model.key}__cpu{self.budget_cpu_minutes:g}m__seed{self.seed}"
                f"__{self.settings_hash(model)}")


def _file_digest(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()[:16]
    except OSError:
        return None


class Cache:
    """``<root>/<tone>/<key>.nam`` (the model), ``.json`` (training metrics: present = finished),
    ``.measure.json`` (engine ESR and speed), ``.ckpt.npz`` while training (committed, so that another
    session resumes; removed when the run finishes) and ``.log`` (not committed)."""

    def __init__(self, root: str):
        self.root = root

    def base(self, tone: str, key: str) -> str:
        return os.path.join(self.root, tone, key)

    def finished(self, tone: str, key: str) -> Optional[dict]:
        return _read_json(self.base(tone, key) + ".json")

    def measurement(self, tone: str, key: str, bench_key: str) -> Optional[dict]:
        m = _read_json(self.base(tone, key) + ".measure.json")
        return m if m and m.get("bench_key") == bench_key else None


def _read_json(path: str) -> Optional[dict]:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _write_json(path: str, obj) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, path)


def git_commit() -> str:
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# ---------------------------------------------------------------------------------------------
# stage 1: training
# ---------------------------------------------------------------------------------------------

def load_tone(settings: Settings, tone: str):
    d = settings.data_dir
    pair = load_pair(os.path.join(d, "dry.flac"), os.path.join(d, f"wet_{tone}.flac"), latency=0,
                     split_file=os.path.join(d, "split.json"))
    if settings.validation_seconds is not None:
        v0, v1 = pair.validation
        pair.validation = (v0, min(v1, v0 + int(round(settings.validation_seconds * pair.rate))))
        pair.info["validation"] = list(pair.validation)
    return pair


def train_one(settings: Settings, cache_root: str, tone: str, model_key: str) -> dict:
    """Train one model (resuming its checkpoint if there is one) and cache it. Runs in a worker."""
    model = MODELS[model_key]
    cache = Cache(cache_root)
    key = settings.cache_key(tone, model)
    base = cache.base(tone, key)
    os.makedirs(os.path.dirname(base), exist_ok=True)
    pair = load_tone(settings, tone)
    cfg = settings.train_config(model)
    t0, started = time.time(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    speed_before = trainer_samples_per_cpu_second()  # outside the budget: a CPU-minute's worth drifts
    with open(base + ".log", "a") as log:
        trainer = Trainer(pair, cfg, base + ".nam", checkpoint_path=base + ".ckpt.npz",
                          spec=model.spec(settings.seed), log=log)
        resumed = os.path.exists(base + ".ckpt.npz")
        if resumed:
            trainer.load_checkpoint(base + ".ckpt.npz")
            log.write(f"resumed at step {trainer.step}, {trainer.cpu:.1f} CPU-s\n")
        summary = trainer.run()
    speed = [round(speed_before), round(trainer_samples_per_cpu_second())]
    with open(base + ".nam", "rb") as fh:
        nam_sha = hashlib.sha256(fh.read()).hexdigest()
    metrics = {
        "tone": tone, "model": model.key, "label": model.label, "arch": model.arch, "role": model.role,
        "cache_key": key, "settings_hash": settings.settings_hash(model), "settings": settings.hashed(model),
        "budget_cpu_minutes": settings.budget_cpu_minutes, "seed": settings.seed,
        "validation_esr": summary["validation_esr"], "steps": int(summary["steps"]),
        "epochs": int(summary["epochs"]), "train_seconds": summary["seconds"],
        "train_cpu_seconds": summary["cpu_seconds"], "validations": len(trainer.val_history),
        "budget_steps": cfg.steps,  # None: the budget was CPU time as it came
        # [step, train seconds, {width: ESR}] per validation: the curves behind the final figures
        "validation_history": trainer.val_history,
        "resumed_from_checkpoint": resumed, "started_utc": started,
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_seconds_this_session": round(time.time() - t0, 1),
        "data": pair.info, "commit": git_commit(), "machine": machine_info(),
        # bench/machine_speed.py before and after this session's training (a resumed run only
        # has the last session's): what a CPU-minute of this run was worth
        "trainer_samples_per_cpu_second": speed,
        "nam": os.path.basename(base) + ".nam", "nam_sha256": nam_sha,
        "macs_per_sample": trainer.net.to_spec().macs_per_sample(),
    }
    _write_json(base + ".json", metrics)  # written last: its presence marks a finished run
    try:
        os.remove(base + ".ckpt.npz")  # only resuming needs it, and the run is finished
    except FileNotFoundError:
        pass
    return metrics


def train_missing(settings: Settings, cache: Cache, tone: str, models, jobs: int, say) -> int:
    todo = [m for m in models if cache.finished(tone, settings.cache_key(tone, MODELS[m])) is None]
    if not todo:
        return 0
    at = " (counted in steps at the reference speed)" if settings.step_rates else ""
    say(f"[{tone}] training {len(todo)} model(s) at {settings.budget_cpu_minutes:g} CPU-minutes{at} each, "
        f"{jobs} at a time: {', '.join(todo)}")

    def done(m):
        say(f"[{tone}] {m['model']}: {m['steps']} steps, {m['epochs']} epochs, {m['train_cpu_seconds']:.0f} CPU-s, "
            f"validation ESR " + ", ".join(f"w{w} {v:.4f}" for w, v in m["validation_esr"].items()))

    if jobs <= 1:
        for m in todo:
            done(train_one(settings, cache.root, tone, m))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(train_one, settings, cache.root, tone, m) for m in todo]
            for fut in futures:
                done(fut.result())
    return len(todo)


# ---------------------------------------------------------------------------------------------
# stage 2: measurement
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class BenchSettings:
    block_size: int = 64
    seconds: float = 5.0
    repeats: int = 15

    @property
    def key(self) -> str:
        # "turns": every model of a tone timed in turns (measure_tone); earlier measurements timed
        # one model after another, and are measured again
        return f"block{self.block_size}_s{self.seconds:g}_r{self.repeats}_turns"


@functools.lru_cache(maxsize=None)
def eval_skip() -> int:
    """Samples dropped at the start of the validation range before ESR is measured: the largest
    receptive field of all the models less one, so every model is scored on the same samples and
    no output sees the (prewarm) silence before the validation audio."""
    return max(m.spec(0).receptive_field for m in MODELS.values()) - 1


def measured_widths(spec) -> list:
    """The widths of ``spec`` the figure shows (None: the model as built)."""
    return list(spec.allowed_widths) if spec.slimmable else [None]


def validation_esr(spec, dry_val: np.ndarray, wet_val: np.ndarray) -> dict:
    """Engine validation ESR at each width of ``spec`` (width None: the model as built)."""
    skip = eval_skip()
    target = wet_val[skip:]
    esr = {}
    for w in measured_widths(spec):
        y = nam_dsp.render(nam_dsp.from_spec(spec, width=w), dry_val.astype(np.float32))
        esr[w] = losses.esr_value(np.asarray(y, np.float64)[skip:], target)
    return esr


def measure_tone(specs: dict, dry_val: np.ndarray, wet_val: np.ndarray, bench: BenchSettings) -> dict:
    """``{model: points}``: engine ESR and x real time at each width of every model in ``specs``.

    The report divides one model's speed by another's, so every (model, width) is timed in turns,
    repeat after repeat, and keeps its best repeat (as ``timeit`` does): a slow spell of the
    machine falls on all of them alike and is not kept. The same kernels (the slimmable model at
    width 2 and the dedicated width-2 model) came out 1.56x apart timed one model after another,
    0.65-1.27x on four tones with the median of 3 in turns, and 0.98-1.05x with the best of 15
    in turns."""
    cases = [(m, w) for m, spec in specs.items() for w in measured_widths(spec)]
    runs = {case: [] for case in cases}
    # bench_spec's harness, with its input built once per sample rate rather than per case
    signals = {}
    for spec in specs.values():
        if spec.sample_rate not in signals:
            signals[spec.sample_rate] = bench_signal(bench.seconds, spec.sample_rate, bench.block_size)
    for _ in range(bench.repeats):
        for m, w in cases:
            model = nam_dsp.from_spec(specs[m], width=w)
            runs[(m, w)].append(time_blocks(model, signals[specs[m].sample_rate],
                                            bench.block_size).as_dict())
    points = {}
    for m, spec in specs.items():
        esr = validation_esr(spec, dry_val, wet_val)
        points[m] = []
        for w in measured_widths(spec):
            rows = runs[(m, w)]
            points[m].append({
                "width": w if w is not None else spec.full_width,
                "esr": esr[w],
                "xrt_cpu": float(max(r["xrt_cpu"] for r in rows)),
                "xrt": float(max(r["xrt"] for r in rows)),
                "xrt_cpu_runs": [r["xrt_cpu"] for r in rows],
                "p99_us": float(np.median([r["p99_us"] for r in rows])),
                "p99_deadline_pct": float(np.median([r["p99_deadline_pct"] for r in rows])),
                "macs_per_sample": rows[0]["macs_per_sample"],
            })
    return points


def measure_missing(settings: Settings, cache: Cache, tone: str, models, bench: BenchSettings, say) -> int:
    """Measure the tone's finished models when one of them has no measurement yet: all of them again,
    in turns (:func:`measure_tone`), since the machine's speed drifts and the report's speed-ups
    compare them."""
    finished = [(m, settings.cache_key(tone, MODELS[m])) for m in models]
    finished = [(m, key) for m, key in finished if cache.finished(tone, key)]
    if all(cache.measurement(tone, key, bench.key) for _, key in finished):
        return 0
    pair = load_tone(settings, tone)
    v0, v1 = pair.validation
    dry_val, wet_val = pair.dry[v0:v1], np.asarray(pair.wet[v0:v1], np.float64)
    t0 = time.time()
    specs = {m: nam_dsp.load_spec(cache.base(tone, key) + ".nam") for m, key in finished}
    points = measure_tone(specs, dry_val, wet_val, bench)
    measured_utc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    machine = machine_info()
    for m, key in finished:
        _write_json(cache.base(tone, key) + ".measure.json", {
            "bench_key": bench.key, "bench": dataclasses.asdict(bench), "threads": 1,
            "timed_with": [other for other, _ in finished],
            "eval_skip_samples": eval_skip(), "validation": [v0, v1], "points": points[m],
            "measured_utc": measured_utc, "commit": git_commit(), "machine": machine})
        say(f"[{tone}] measured {m}: " + ", ".join(
            f"w{p['width']} ESR {p['esr']:.4f} {p['xrt_cpu']:.0f}x" for p in points[m]))
    say(f"[{tone}] measured {len(finished)} model(s) in turns in {time.time() - t0:.0f} s")
    return len(finished)


# ---------------------------------------------------------------------------------------------
# stage 3: report
# ---------------------------------------------------------------------------------------------

def pareto_front(points: list) -> list:
    """Indices of the points no other point beats on both axes (higher x real time, lower ESR)."""
    front = []
    for i, p in enumerate(points):
        dominated = any(q["xrt_cpu"] >= p["xrt_cpu"] and q["esr"] <= p["esr"]
                        and (q["xrt_cpu"] > p["xrt_cpu"] or q["esr"] < p["esr"])
                        for j, q in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return front


def tone_result(settings: Settings, cache: Cache, tone: str, models, bench: BenchSettings, command: str,
                out: str) -> dict:
    """The result of one tone, written to ``<out>/<tone>.json``; paths in it are relative to ``out``."""
    out_models, missing = {}, []
    for m in models:
        model = MODELS[m]
        key = settings.cache_key(tone, model)
        metrics = cache.finished(tone, key)
        meas = cache.measurement(tone, key, bench.key) if metrics else None
        if not meas:
            missing.append(m)
            continue
        trainer_esr = metrics["validation_esr"]
        points = [dict(p, esr_trainer=trainer_esr.get(str(p["width"]))) for p in meas["points"]]
        out_models[m] = {
            "label": model.label, "arch": model.arch, "role": model.role, "cache_key": key,
            "nam": os.path.relpath(cache.base(tone, key) + ".nam", out),
            "training": {k: metrics[k] for k in ("steps", "epochs", "train_seconds", "train_cpu_seconds",
                                                 "validations", "budget_cpu_minutes", "seed", "settings_hash",
                                                 "commit", "started_utc", "finished_utc")},
            "training_machine": metrics["machine"], "measurement_machine": meas["machine"],
            "measurement_commit": meas["commit"], "points": points,
            "validation_history": metrics.get("validation_history"),  # None in runs that predate it
            "trainer_samples_per_cpu_second": metrics.get("trainer_samples_per_cpu_second"),  # likewise
            "budget_steps": settings.budget_steps(model),  # what this budget is in steps (None: CPU time)
        }
    flat = [dict(p, model=m) for m, d in out_models.items() for p in d["points"]]
    front = [{"model": flat[i]["model"], "width": flat[i]["width"]} for i in pareto_front(flat)]
    front.sort(key=lambda r: -next(p["xrt_cpu"] for p in flat if p["model"] == r["model"] and p["width"] == r["width"]))
    any_meas = next((cache.measurement(tone, settings.cache_key(tone, MODELS[m]), bench.key) for m in out_models), None)
    return {
        "tone": tone, "capture": CAPTURES.get(tone),
        "command": reproduce_command(settings, bench, tone, models), "generated_by": command,
        "commit": git_commit(), "generated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        # where the speeds were measured (all models in turns, so one machine), not where this
        # report was written: a report rebuilt from the cache on another CPU must not relabel them
        "machine": machine_info() if any_meas is None else any_meas["machine"],
        "budget": {"kind": ("CPU time of the training process (nam_dsp.training TrainConfig.budget_cpu_seconds)"
                            if not settings.step_rates else
                            "steps: the CPU-minutes at each model's steps per CPU-second at the reference "
                            "speed (bench/results/paper/step_rates.json)"),
                   "cpu_minutes_per_model": settings.budget_cpu_minutes, "seed": settings.seed,
                   "steps_per_cpu_second": settings.step_rates,
                   "validate_every_steps": settings.validate_every, "blas_threads": 1},
        "data": {"dir": os.path.relpath(settings.data_dir, ROOT), "dry": "dry.flac", "wet": f"wet_{tone}.flac",
                 "split": "split.json", "validation_seconds_limit": settings.validation_seconds,
                 "esr_window": None if any_meas is None else {
                     "validation": any_meas["validation"], "skipped_samples": any_meas["eval_skip_samples"]}},
        "esr": "validation ESR sum((y-t)^2)/sum(t^2) of the exported .nam run by the engine on the validation "
               "range (first skipped_samples dropped, same samples for every model); esr_trainer is the "
               "trainer's own figure on its best checkpoint (its window starts at the model's receptive field)",
        "speed": {"benchmark": "nam_dsp.benchmark.bench_spec", "block_size": bench.block_size, "threads": 1,
                  "seconds_of_audio": bench.seconds, "repeats": bench.repeats,
                  "figure": "xrt_cpu: audio seconds per second of the thread's CPU time (best of repeats in turns); "
                            "xrt: the same per wall-clock second"},
        "models": out_models, "missing": missing, "pareto_front": front,
    }


def reproduce_command(settings: Settings, bench: BenchSettings, tone: str, models) -> str:
    """The command that trains (or resumes) and measures exactly this tone's results."""
    parts = ["python -m bench.paper", "--tones", tone, "--budget-minutes", f"{settings.budget_cpu_minutes:g}"]
    if list(models) != list(MODELS):
        parts += ["--models", *models]
    if settings.step_rates is None:
        parts += ["--cpu-time-budget"]
    if settings.seed != 0:
        parts += ["--seed", str(settings.seed)]
    if settings.validate_every != 100:
        parts += ["--validate-every", str(settings.validate_every)]
    if settings.validation_seconds is not None:
        parts += ["--validation-seconds", f"{settings.validation_seconds:g}"]
    if settings.train_overrides:
        parts += ["--train-overrides", shlex.quote(json.dumps(settings.train_overrides))]
    if bench.seconds != BenchSettings.seconds or bench.repeats != BenchSettings.repeats:
        parts += ["--bench-seconds", f"{bench.seconds:g}", "--bench-repeats", str(bench.repeats)]
    return " ".join(parts)


def _ask_to_plot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        return None


def main(argv=None) -> int:
    from . import report

    ap = argparse.ArgumentParser(prog="python -m bench.paper", description=__doc__.splitlines()[0])
    ap.add_argument("--tones", nargs="+", default=list(TONES))
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--budget-minutes", type=float, required=True,
                    help="training budget per model in CPU-minutes of its process (one BLAS thread), "
                         "counted in steps at the reference speed unless --cpu-time-budget")
    ap.add_argument("--cpu-time-budget", action="store_true",
                    help="count the budget in CPU time as it comes, not in steps at the reference speed "
                         "(bench/results/paper/step_rates.json)")
    ap.add_argument("--jobs", type=int, default=1, help="models trained at once (processes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plots-only", action="store_true", help="no training or measuring: report from the cache")
    ap.add_argument("--out", default=RESULTS, help="where <tone>.json, <tone>.png and README.md go")
    ap.add_argument("--cache", default=None, help="cache folder (default OUT/cache)")
    ap.add_argument("--data", default=DATA, help="the tones folder (dry.flac, wet_<tone>.flac, split.json)")
    ap.add_argument("--validate-every", type=int, default=100, help="trainer steps between validations")
    ap.add_argument("--validation-seconds", type=float, default=None,
                    help="use only the first S seconds of the validation range (quick tests)")
    ap.add_argument("--bench-seconds", type=float, default=BenchSettings.seconds,
                    help="audio per speed measurement")
    ap.add_argument("--bench-repeats", type=int, default=BenchSettings.repeats)
    ap.add_argument("--train-overrides", default="{}",
                    help="JSON object of extra TrainConfig fields (e.g. '{\"batch_size\": 4}'); part of the hash")
    a = ap.parse_args(argv)
    say = lambda s: print(s, flush=True)  # noqa: E731
    data_dir = os.path.abspath(a.data)
    for t in a.tones:
        if not a.plots_only and not os.path.isfile(os.path.join(data_dir, f"wet_{t}.flac")):
            print(f"{os.path.join(data_dir, f'wet_{t}.flac')} is missing (the shared tones are needed)", file=sys.stderr)
            return 2
    settings = Settings(data_dir=data_dir, budget_cpu_minutes=a.budget_minutes,
                        step_rates=None if a.cpu_time_budget else load_step_rates(), seed=a.seed,
                        validate_every=a.validate_every, validation_seconds=a.validation_seconds,
                        train_overrides=json.loads(a.train_overrides))
    bench = BenchSettings(block_size=64, seconds=a.bench_seconds, repeats=a.bench_repeats)
    out = os.path.abspath(a.out)
    cache = Cache(os.path.abspath(a.cache) if a.cache else os.path.join(out, "cache"))
    os.makedirs(out, exist_ok=True)
    command = "python -m bench.paper " + " ".join(shlex.quote(x) for x in (sys.argv[1:] if argv is None else argv))
    plt = _ask_to_plot()
    if plt is None:
        say("matplotlib is not installed: no figures (pip install matplotlib)")
    trained = measured = 0
    t0 = time.time()
    for tone in a.tones:
        if not a.plots_only:
            trained += train_missing(settings, cache, tone, a.models, a.jobs, say)
            measured += measure_missing(settings, cache, tone, a.models, bench, say)
        result = tone_result(settings, cache, tone, a.models, bench, command, out)
        _write_json(os.path.join(out, f"{tone}.json"), result)
        if result["missing"]:
            say(f"[{tone}] not yet trained and measured: {', '.join(result['missing'])}")
        if plt is not None and result["models"]:
            report.plot_tone(plt, result, os.path.join(out, f"{tone}.png"))
            report.plot_curves(plt, result, os.path.join(out, f"{tone}_curves.png"))
    results = [r for r in (_read_json(os.path.join(out, f"{t}.json")) for t in TONES) if r and r["models"]]
    if plt is not None and len(results) > 1:
        report.plot_all(plt, results, os.path.join(out, "all_tones.png"))
    text = report.markdown(results, settings, command)
    with open(os.path.join(out, "README.md"), "w") as fh:
        fh.write(text)
    print(text)
    say(f"trained {trained} model(s), measured {measured}, in {time.time() - t0:.0f} s; results in {out}")
    return 0
