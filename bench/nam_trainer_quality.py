"""NAM's own trainer on a shared tone, scored by nam_dsp's validation: the reference to compare with.

    /tmp/nam_dsp_peer_venv/bin/python bench/nam_trainer_quality.py lead --cpu-minutes 60 --threads 2

(``python3 bench/nam_trainer_quality.py lead ...`` re-executes itself in that venv, and creates it first
when it is missing or holds other versions: :data:`PEER_PACKAGES`, pinned, in ``/tmp/nam_dsp_peer_venv``;
``--install-peer`` only installs.) Trains the paper's
slimmable WaveNet with ``neural-amp-modeler`` 0.13.0 (``nam.train.full.main``: NAM's LightningModule,
its slimmable training - a random width per forward pass - its checkpointing, best checkpoint by
validation loss, its export) on a source of ``bench/training_sources.py`` (a tone:
``../shared/data/tones/dry.flac`` -> ``wet_<tone>.flac``, or the ``ampprofiling`` pair):

* the architecture of ``models/slimmable/nam_trainer_paper_crunch_30min.nam`` (1 array, 8 channels,
  K=6, dilations [1,4,16,64,256] x 3, Tanh, layer 1x1, head 1x1 conv with bias, head_scale 0.01,
  ``slimmable`` slice_channels_uniform over widths 1..8); the exported config is checked against it;
* data: the source's ranges (tones: ``split.json``, train = [0, 4875459), validation = the rest;
  ampprofiling: the last 5 s validate), delay 0 (the wet files are aligned), ny 8192 for training, the whole validation range as one datum (NAM's default);
  NAM reads WAV only, so the FLACs are copied losslessly to 24-bit WAVs under /tmp first, named by
  the FLAC's content hash (a changed file with the same name gets a new copy, never a stale one);
* batch 16 (shuffle, drop_last), Adam lr 0.004, ExponentialLR gamma 0.994 per epoch, loss MSE +
  2e-4 MRSTFT, validation loss MSE (at full width, eval mode) once per epoch, CPU,
  ``torch.set_num_threads(threads)``, seeds 0;
* budget: a Lightning callback stops training when this process's CPU time (``time.process_time()``,
  all threads, counted from process start) reaches ``--cpu-minutes``, so other jobs on a shared
  machine do not shorten the run; Lightning then runs a last validation. The budget can be lowered
  while running by writing CPU minutes into ``--budget-file`` (default
  ``/tmp/nam_trainer_quality_<tone>.budget``); the JSON records the budget actually used.

The exported model goes to ``/tmp/nam_trainer_<tone>_cpu<N>.nam`` (not the repo). It is then scored
by nam_dsp (system ``python3``, ``--evaluate``): each width 1..8 rendered with ``nam_dsp.render``
(reset = prewarm, then the validation audio from its first sample) and the first receptive-field - 1
outputs dropped, which is exactly the valid-mode output nam_dsp's trainer validates
(``Trainer.validate``: output sample t sees input v0 .. t only); ESR = ``losses.esr_value`` against
the aligned wet (also recorded: ``validation_esr_full_segment``, all outputs kept, the convention of
the README's figures; the two differ by at most ~0.1%). ``--check-reference`` scores the two NAM-trained models in ``models/slimmable`` and
compares with the README's figures. Writes ``bench/results/training/nam_<tone>_cpu<N>.json``.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench.training_sources import SHARED, require, source

VENV_DIR = "/tmp/nam_dsp_peer_venv"
VENV_PYTHON = VENV_DIR + "/bin/python"
#: The peer, pinned: NAM's trainer and the PyTorch CPU build it was measured with.
PEER_PACKAGES = ("torch==2.13.0", "neural-amp-modeler==0.13.0")
PEER_STAMP = os.path.join(VENV_DIR, "nam_dsp_peer.json")  # what the venv was made with
WAV_CACHE = "/tmp/nam_trainer_quality_wav"
REFERENCE_MODEL = os.path.join(SHARED, "models", "slimmable", "nam_trainer_paper_crunch_30min.nam")
README_FIGURES = {  # ../shared/data/README.md, validation ESR per width 1..8
    "crunch": ("nam_trainer_paper_crunch_30min.nam", [0.141, 0.063, 0.029, 0.024, 0.017, 0.015, 0.014, 0.0129]),
    "clean": ("nam_trainer_paper_clean_20min.nam", [0.177, 0.083, 0.048, 0.031, 0.026, 0.023, 0.019, 0.0178]),
}
WIDTHS = list(range(1, 9))


# ---------------------------------------------------------------- evaluation (system python3, nam_dsp)
def evaluate(path, tone):
    """Validation ESR per width of a .nam file, as nam_dsp's trainer validates (valid mode)."""
    import numpy as np
    from nam_dsp.training.data import load_pair
    from nam_dsp.training.losses import esr_value

    import nam_dsp
    src = source(tone)
    pair = load_pair(src.dry, src.wet, latency=0, split_file=src.split_file,
                     validation_seconds=src.validation_seconds)
    assert tuple(pair.validation) == tuple(src.ranges()[1]), "both trainers must validate on the same range"
    v0, v1 = pair.validation
    model = nam_dsp.load(path)
    rf = model.receptive_field
    x = np.asarray(pair.dry[v0:v1], dtype=np.float32)
    y = np.asarray(pair.wet[v0:v1], dtype=np.float64)[rf - 1:]  # as Trainer.val_y
    y_all = np.asarray(pair.wet[v0:v1], dtype=np.float64)
    out, full_segment = {}, {}
    for w in WIDTHS:
        pred = nam_dsp.render(model, x, width=w)  # reset (prewarm) at width w, then the segment
        out[str(w)] = esr_value(pred[rf - 1:], y)  # the valid-mode outputs, as valid_predict
        full_segment[str(w)] = esr_value(pred, y_all)  # all of it from the prewarm (README's figures)
    return {"valid": out, "full_segment": full_segment}


def check_reference():
    ok = True
    for tone, (name, ref) in README_FIGURES.items():
        both = evaluate(os.path.join(SHARED, "models", "slimmable", name), tone)
        print(f"{tone:7s} README       " + " ".join(f"{r:8.4f}" for r in ref))
        for kind, esr in both.items():
            got = [esr[str(w)] for w in WIDTHS]
            # the README rounds to 3 decimals (4 for width 8)
            match = all(round(g, len(repr(r).split(".")[1])) == r for g, r in zip(got, ref))
            ok &= match or kind == "valid"
            print(f"{tone:7s} {kind:13s}" + " ".join(f"{g:8.6f}" for g in got) + ("  OK" if match else "  MISMATCH"))
    print("valid = nam_dsp trainer's validation (first receptive_field-1 outputs dropped); full_segment = "
          "the whole validation segment rendered from the prewarm, which reproduces all 16 README figures")
    return ok


# ---------------------------------------------------------------- training (venv python, torch + nam)
LAYER = {
    "input_size": 1, "condition_size": 1, "channels": 8, "kernel_size": 6,
    "dilations": [1, 4, 16, 64, 256] * 3, "activation": "Tanh",
    "head": {"out_channels": 1, "kernel_size": 1, "bias": True},
    "slimmable": {"method": "slice_channels_uniform", "kwargs": {"allowed_channels": WIDTHS}},
}


def ensure_peer_env():
    """Create (or recreate) the peer venv with :data:`PEER_PACKAGES` unless it already holds them."""
    try:
        with open(PEER_STAMP) as fh:
            if json.load(fh).get("packages") == list(PEER_PACKAGES):
                return
    except (OSError, ValueError):
        pass
    import shutil
    print(f"installing the peer trainer ({', '.join(PEER_PACKAGES)}) into {VENV_DIR} ...", flush=True)
    shutil.rmtree(VENV_DIR, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", VENV_DIR], check=True)
    subprocess.run([VENV_PYTHON, "-m", "pip", "install", "-q", *PEER_PACKAGES, "soundfile"], check=True)
    tmp = PEER_STAMP + ".tmp"
    with open(tmp, "w") as fh:
        json.dump({"packages": list(PEER_PACKAGES)}, fh)
    os.replace(tmp, PEER_STAMP)


def content_hash(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def wav_copy(src):
    """The 24-bit WAV copy of ``src`` in :data:`WAV_CACHE`, named by ``src``'s content."""
    stem = os.path.splitext(os.path.basename(src))[0]
    return flac_to_wav(src, os.path.join(WAV_CACHE, f"{stem}.{content_hash(src)}.wav"))


def flac_to_wav(src, dst):
    """Lossless copy of a 24-bit FLAC into a 24-bit PCM WAV (NAM's reader, wavio, takes WAV only)."""
    import soundfile as sf
    if os.path.exists(dst):
        return dst
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    data, rate = sf.read(src, dtype="int32")  # 24-bit samples, left-justified in int32
    info = sf.info(src)
    if info.subtype != "PCM_24":
        raise SystemExit(f"{src}: expected 24-bit PCM FLAC, got {info.subtype}")
    tmp = dst + ".part"
    sf.write(tmp, data, rate, subtype="PCM_24", format="WAV")
    os.replace(tmp, dst)
    return dst


def train(a):
    import random
    import shutil

    import numpy as np
    import pytorch_lightning as pl
    import torch
    from nam.train import full

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    random.seed(0)  # NAM's slimmable width per forward pass comes from `random`
    np.random.seed(0)
    budget_file = a.budget_file or f"/tmp/nam_trainer_quality_{a.tone}.budget"
    tag = a.tag or (f"_wall{a.wall_minutes:g}" if a.wall_minutes else f"_cpu{a.cpu_minutes:g}")
    work = f"/tmp/nam_trainer_quality_{a.tone}{tag}"
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    src = source(a.tone)
    require(src)
    x_path, y_path = (wav_copy(p) if p.endswith(".flac") else p for p in (src.dry, src.wet))
    (t0, t1), (v0, v1) = src.ranges()
    data_config = {
        "common": {"x_path": x_path, "y_path": y_path, "delay": 0},
        "train": {"start_samples": t0, "stop_samples": t1, "ny": a.ny},
        "validation": {"start_samples": v0, "stop_samples": v1, "ny": None},
    }
    if not src.split_file:
        # the ampprofiling validation starts mid-playing (as in ours); NAM refuses that unless told
        data_config["validation"]["require_input_pre_silence"] = None
    model_config = {
        "net": {"name": "WaveNet", "config": {"layers_configs": [LAYER], "head_scale": 0.01}},
        "loss": {"mrstft_weight": 2e-4},  # MSE (weight 1) + 2e-4 MRSTFT; val_loss MSE (NAM's default)
        "optimizer": {"lr": a.lr},
        "lr_scheduler": {"class": "ExponentialLR", "kwargs": {"gamma": a.gamma}},
    }
    learning_config = {
        "train_dataloader": {"batch_size": a.batch_size, "shuffle": True, "pin_memory": False,
                             "drop_last": True, "num_workers": 0},
        "val_dataloader": {},
        "trainer": {"accelerator": "cpu", "devices": 1, "max_epochs": 1_000_000,
                    "enable_progress_bar": False},
    }

    class CpuBudget(pl.Callback):
        """Stop when the process's CPU time reaches the budget (re-read from budget_file)."""

        def __init__(self):
            self.budget_min = a.cpu_minutes
            self.val_history = []  # [epoch, step, cpu s, wall s, val_loss, ESR]
            self.loads = []
            self.t_start = time.time()
            self.stopped_at = None

        def _budget(self):
            try:
                with open(budget_file) as fh:
                    v = float(fh.read().strip())
                if 0 < v < self.budget_min:
                    print(f"[budget] lowered to {v} CPU minutes (from {budget_file})", flush=True)
                    self.budget_min = v
            except (OSError, ValueError):
                pass
            return self.budget_min * 60.0

        def on_train_start(self, trainer, pl_module):
            self.train_start = time.time()  # the wall budget counts training, not data loading

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            step = trainer.global_step
            if step % 10 == 0:
                self.loads.append(os.getloadavg()[0])
            out_of_wall = a.wall_minutes and time.time() - self.train_start >= 60.0 * a.wall_minutes
            if (out_of_wall or time.process_time() >= self._budget()) and not trainer.should_stop:
                trainer.should_stop = True
                self.stopped_at = (trainer.current_epoch, step)
                print(f"[budget] {'wall' if out_of_wall else 'CPU'} budget reached at epoch "
                      f"{trainer.current_epoch} step {step} (CPU {time.process_time():.0f} s)", flush=True)

        def on_validation_end(self, trainer, pl_module):
            if trainer.sanity_checking:
                return
            m = trainer.callback_metrics
            row = [trainer.current_epoch, trainer.global_step, round(time.process_time(), 1),
                   round(time.time() - self.t_start, 1), float(m.get("val_loss", float("nan"))),
                   float(m.get("ESR", float("nan")))]
            self.val_history.append(row)
            print(f"[val] epoch {row[0]} step {row[1]} cpu {row[2]} s wall {row[3]} s "
                  f"val MSE {row[4]:.3e} ESR(w8) {row[5]:.4f} lr "
                  f"{trainer.optimizers[0].param_groups[0]['lr']:.5f}", flush=True)

    budget_cb = CpuBudget()
    holder = {}
    original = full._create_callbacks

    def create_callbacks(learning_config, packed=False):
        cbs = original(learning_config, packed=packed)
        holder["best"] = cbs[0]  # NAM's ModelCheckpoint(monitor="val_loss", save_top_k=3)
        return cbs + [budget_cb]

    full._create_callbacks = create_callbacks
    w0, load0 = time.time(), os.getloadavg()[0]
    full.main(data_config, model_config, learning_config, __import__("pathlib").Path(work),
              no_show=True, make_plots=False)
    wall, cpu = time.time() - w0, time.process_time()
    exported = os.path.join(work, "model.nam")
    out = f"/tmp/nam_trainer_{a.tone}{tag}.nam"
    shutil.copyfile(exported, out)
    with open(exported) as fh:
        got_cfg = json.load(fh)["config"]
    with open(REFERENCE_MODEL) as fh:
        ref_cfg = json.load(fh)["config"]
    if got_cfg != ref_cfg:
        print("WARNING: exported config differs from the crunch reference model's", flush=True)
    best_path = holder["best"].best_model_path
    best_ckpt = torch.load(best_path, map_location="cpu", weights_only=False) if best_path else {}
    best_epoch, best_step = best_ckpt.get("epoch"), best_ckpt.get("global_step")
    last = budget_cb.val_history[-1] if budget_cb.val_history else [None, None]

    # Score with nam_dsp in the system python (no venv on PATH).
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH")}
    env["PATH"] = ":".join(p for p in env.get("PATH", "").split(":") if "nam_dsp_peer_venv" not in p)
    res = subprocess.run([a.system_python, os.path.abspath(__file__), a.tone, "--evaluate", out],
                         env=env, capture_output=True, text=True, check=True)
    both = json.loads(res.stdout.strip().splitlines()[-1])
    esr = both["valid"]
    import nam as _nam
    ncpu = os.cpu_count()
    result = {
        "tone": a.tone,
        "trainer": f"neural-amp-modeler {getattr(_nam, '__version__', '?')}, torch {torch.__version__}, "
                   f"{a.threads} threads",
        "command": f"{VENV_PYTHON} bench/nam_trainer_quality.py " + " ".join(sys.argv[1:]),
        "budget_wall_minutes": a.wall_minutes,
        "steps_per_cpu_second": round(last[1] / cpu, 3) if last[1] else None,
        "budget_cpu_minutes": budget_cb.budget_min,
        "budget_cpu_minutes_requested": a.cpu_minutes,
        "budget_note": "process CPU time (time.process_time(), all threads, from process start); "
                       f"{budget_cb.budget_min:g} CPU minutes = {budget_cb.budget_min / a.threads:g} minutes of "
                       f"{a.threads} busy threads",
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "epochs": last[0] + 1 if last[0] is not None else None,  # epochs begun (last one may be partial)
        "steps": last[1],
        "stopped_at": {"epoch": budget_cb.stopped_at[0], "step": budget_cb.stopped_at[1]}
        if budget_cb.stopped_at else None,
        "best_epoch": best_epoch, "best_step": best_step,
        "best_checkpoint": os.path.basename(best_path) if best_path else None,
        "best_val_mse": float(holder["best"].best_model_score) if best_path else None,
        "selection": "NAM's ModelCheckpoint: lowest validation loss (MSE, full width, once per epoch)",
        "validation_esr": esr,
        "validation_esr_full_segment": both["full_segment"],
        "evaluator": "nam_dsp (system python3): nam_dsp.render per width (reset/prewarm, whole validation "
                     "segment); validation_esr drops the first receptive_field-1 outputs = nam_dsp trainer's "
                     "valid-mode validation; validation_esr_full_segment keeps them (the convention that "
                     "reproduces all 16 README figures of the crunch/clean NAM models; valid mode gives "
                     "clean w6 0.022494 vs README 0.023); ESR = nam_dsp.training.losses.esr_value",
        "settings": {"data": data_config, "model": model_config, "learning": learning_config,
                     "seed": 0, "threads": a.threads,
                     "wav_note": "FLACs copied losslessly to 24-bit WAV (NAM reads WAV only)"},
        "exported_config_matches_crunch_reference": got_cfg == ref_cfg,
        "model_path": out,
        "load_average": {"start_1min": round(load0, 2), "end_1min": round(os.getloadavg()[0], 2),
                         "mean_1min_during_training": round(sum(budget_cb.loads) / len(budget_cb.loads), 2)
                         if budget_cb.loads else None, "cpus": ncpu},
        "validation_history": {"columns": ["epoch", "step", "cpu_s", "wall_s", "val_mse", "esr_w8_nam"],
                               "rows": budget_cb.val_history},
    }
    os.makedirs(a.results, exist_ok=True)
    path = os.path.join(a.results, f"nam_{a.tone}{tag}.json")
    with open(path, "w") as fh:
        json.dump(result, fh, indent=1)
    print(json.dumps(both))
    print(f"wrote {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tone", nargs="?")
    ap.add_argument("--cpu-minutes", type=float, default=60.0)
    ap.add_argument("--wall-minutes", type=float, default=None,
                    help="also stop after this many wall minutes of training (the fair comparison: both "
                         "trainers alone on the same cores for the same wall time)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--ny", type=int, default=8192)
    ap.add_argument("--lr", type=float, default=0.004)
    ap.add_argument("--gamma", type=float, default=0.994)
    ap.add_argument("--tag", default="", help="file-name suffix (default _cpu<minutes>)")
    ap.add_argument("--budget-file", default=None)
    ap.add_argument("--results", default=os.path.join(ROOT, "bench", "results", "training"))
    ap.add_argument("--system-python", default=None,
                    help="the python with nam_dsp, for scoring (default: the one that started this script)")
    ap.add_argument("--evaluate", metavar="PATH", help="print validation ESR per width of PATH for TONE (system python3)")
    ap.add_argument("--install-peer", action="store_true",
                    help=f"create {VENV_DIR} with {' '.join(PEER_PACKAGES)} and stop")
    ap.add_argument("--check-reference", action="store_true",
                    help="score the two NAM-trained models in models/slimmable against the README")
    a = ap.parse_args()
    if a.evaluate:
        if not a.tone:
            ap.error("--evaluate needs the tone")
        print(json.dumps(evaluate(a.evaluate, a.tone)))
        return
    if a.check_reference:
        sys.exit(0 if check_reference() else 1)
    in_peer = os.path.realpath(sys.prefix) == os.path.realpath(VENV_DIR)
    if a.install_peer or not in_peer:
        ensure_peer_env()
    if a.install_peer:
        return
    if not a.tone:
        ap.error("tone is required")
    if not in_peer:
        scorer = [] if a.system_python else ["--system-python", sys.executable]
        os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(__file__)] + sys.argv[1:] + scorer)
    a.system_python = a.system_python or "python3"
    train(a)


if __name__ == "__main__":
    main()
