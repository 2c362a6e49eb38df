"""Training throughput: output samples per second of forward + backward + Adam step.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 bench/train_throughput.py [--json OUT]
        [--vs-pytorch [--peer-venv DIR]]

The paper's slimmable architecture (8 ch, K=6, 15 layers, receptive field 5,116), batch 16 x 8,192
output samples, NAM's loss (MSE + 2e-4 MRSTFT), float32. Reported at full width (8) and for the
slimmable protocol (a width drawn uniformly from 1..8 per step, what training actually runs), and
as a ratio to the figure quoted in the issue for NAM's PyTorch trainer (~285,000 samples/s with 2
threads; quoted, not measured here).

``--vs-pytorch`` measures the peer in the same run: it creates (or reuses) a venv (``--peer-venv``,
default ``<tempdir>/nam_dsp_peer_venv``), installs ``torch==2.13.0`` into it and tries
``neural-amp-modeler==0.13.0`` (never dependencies of this package), then runs
``bench/train_throughput_peer.py`` there at 2 threads and at 1 thread: NAM's own WaveNet and loss
when neural-amp-modeler installed, else a plain PyTorch re-implementation of the same network and
loss (see that script); with NAM also its slimmable WaveNet over widths 1..8. The JSON gets the
peer's samples/s and the measured ratios (ours always at one thread).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from nam_dsp.presets import preset
from nam_dsp.training import losses
from nam_dsp.training.optim import Adam, clip_grad_norm
from nam_dsp.training.wavenet_grad import GradNet

NAM_PYTORCH_SAMPLES_PER_SECOND = 285_000  # quoted in the issue, not measured here
TORCH_SPEC = "torch==2.13.0"
NAM_SPEC = "neural-amp-modeler==0.13.0"
PEER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train_throughput_peer.py")


class Stepper:
    """One training step (forward, loss, backward, clip, Adam) on a fixed random batch."""

    def __init__(self, batch=16, segment=8192, arch="slimmable-paper", seed=0):
        self.net = GradNet(preset(arch, seed), np.float32)
        rng = np.random.default_rng(seed)
        rf = self.net.receptive_field
        self.x = (0.1 * rng.standard_normal((batch, rf - 1 + segment))).astype(np.float32)
        self.y = (0.1 * rng.standard_normal((batch, segment))).astype(np.float32)
        self.theta = self.net.theta.astype(np.float64)
        self.adam = Adam(self.net.size, mask=self.net.trainable_mask())
        self.samples = batch * segment

    def step(self, width):
        pred, cache = self.net.forward(self.x, width, self.theta.astype(np.float32))
        _, dpred = losses.nam_loss(pred, self.y)
        g = self.net.backward(cache, dpred).astype(np.float64)
        g, _ = clip_grad_norm(g, 1.0)
        self.adam.step(self.theta, g, 1e-4)


def measure(stepper, widths, repeats):
    """``(samples/s wall, median wall s/step, samples per CPU second)``.

    On a shared machine the wall figure drops with other people's load; the CPU-time figure
    (``time.process_time``, one thread) is what a core would give to this process alone.
    """
    stepper.step(widths[0])  # warm-up (allocations, page faults)
    times, cpu = [], []
    for i in range(repeats):
        w = widths[i % len(widths)]
        t0, c0 = time.perf_counter(), time.process_time()
        stepper.step(w)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    n = stepper.samples * len(times)
    return n / sum(times), float(np.median(times)), n / sum(cpu)


def _run(cmd, timeout, env=None):
    """``(ok, output tail)`` of a command; never raises."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout, env=env)
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"{type(e).__name__}: {e}"
    return p.returncode == 0, p.stdout.strip()[-2000:]


def _venv_python(venv):
    sub = "Scripts" if os.name == "nt" else "bin"
    return os.path.join(venv, sub, "python.exe" if os.name == "nt" else "python")


def prepare_peer_venv(venv, log=print):
    """Create or reuse ``venv`` with torch (and neural-amp-modeler if pip can get it).

    ``(python or None, info)``: ``info`` says what was installed or why not.
    """
    info = {"peer_venv": venv}
    py = _venv_python(venv)
    if not os.path.exists(py):
        log(f"creating venv {venv}")
        ok, out = _run([sys.executable, "-m", "venv", venv], 600)
        if not ok or not os.path.exists(py):
            info["peer_error"] = f"python -m venv {venv} failed: {out}"
            return None, info
    ok, out = _run([py, "-c", "import torch; print(torch.__version__)"], 300)
    if ok and out.splitlines()[-1].split("+")[0] == TORCH_SPEC.split("==")[1]:
        info["peer_torch_install"] = f"reused {out.splitlines()[-1]}"
    else:
        log(f"pip install {TORCH_SPEC} into {venv} (may take a few minutes)")
        ok, out = _run([py, "-m", "pip", "install", "--no-input", TORCH_SPEC], 1800)
        if not ok:
            info["peer_error"] = f"pip install {TORCH_SPEC} failed: {out[-800:]}"
            return None, info
        info["peer_torch_install"] = "installed"
    ok, _ = _run([py, "-c", "import nam"], 300)
    if ok:
        info["peer_nam_install"] = "reused"  # a venv made by an earlier run
    else:
        log(f"pip install {NAM_SPEC} (optional)")
        ok, out = _run([py, "-m", "pip", "install", "--no-input", NAM_SPEC], 1800)
        last = out.splitlines()[-1] if out else ""
        info["peer_nam_install"] = "installed" if ok else f"failed: {last}"
    return py, info


def run_peer(py, threads, repeats, extra=()):
    """The peer's JSON at ``threads`` threads, or ``{"error": ...}``."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    ok, out = _run([py, PEER_SCRIPT, "--threads", str(threads), "--repeats", str(repeats),
                    *extra], 3600, env)
    if not ok:
        return {"error": f"peer run {' '.join(extra)} at {threads} thread(s) failed: {out[-800:]}"}
    try:
        return json.loads(out.splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": f"peer printed no JSON: {out[-800:]}"}


def vs_pytorch(venv, repeats, ours_width8, ours_uniform, ours_width8_cpu, ours_uniform_cpu,
               log=print):
    """Measure the PyTorch peer at 2 and 1 threads; the JSON fields for ``main``.

    Full width always; when the peer is NAM itself, also NAM's slimmable WaveNet over widths
    1..8 (against our uniform-widths figure). Ours runs one thread throughout.
    """
    py, res = prepare_peer_venv(venv, log)
    if py is None:
        log(f"peer not measured: {res['peer_error']}")
        return res
    runs = {}
    for t in (2, 1):
        log(f"timing the PyTorch peer at {t} thread(s)")
        runs[t] = run_peer(py, t, repeats)
        if "error" in runs[t]:
            res["peer_error"] = runs[t]["error"]
            log(res["peer_error"])
            return res
    p2, p1 = runs[2], runs[1]
    for k in ("nam_unavailable", "nam"):
        if k in p2:
            res[f"peer_{k}"] = p2[k]
    res.update({
        "peer": p2["peer"], "peer_torch": p2["torch"], "peer_parameters": p2["parameters"],
        "peer_samples_per_second_2threads": p2["samples_per_second"],
        "peer_seconds_per_step_2threads": p2["seconds_per_step"],
        "peer_samples_per_second_1thread": p1["samples_per_second"],
        "peer_seconds_per_step_1thread": p1["seconds_per_step"],
        "peer_samples_per_cpu_second_2threads": p2["samples_per_cpu_second"],
        "peer_samples_per_cpu_second_1thread": p1["samples_per_cpu_second"],
        "peer_load_average_1min_2threads_1thread": [p2.get("load_average_1min"),
                                                    p1.get("load_average_1min")],
        "peer_loss_first_last_1thread": [p1["loss_first"], p1["loss_last"]],
        "measured_ratio_width8_ours1_vs_peer2": round(ours_width8 / p2["samples_per_second"], 3),
        "measured_ratio_width8_ours1_vs_peer1": round(ours_width8 / p1["samples_per_second"], 3),
        "measured_ratio_width8_cpu_ours1_vs_peer1": round(
            ours_width8_cpu / p1["samples_per_cpu_second"], 3),
    })
    if p2["peer"] != "nam":
        return res
    for t in (2, 1):
        log(f"timing NAM's slimmable WaveNet (widths 1..8) at {t} thread(s)")
        r = run_peer(py, t, max(repeats, 8), ("--slimmable",))
        if "error" in r:
            res["peer_slimmable_error"] = r["error"]
            log(r["error"])
            return res
        suffix = "2threads" if t == 2 else "1thread"
        res[f"peer_slimmable_samples_per_second_{suffix}"] = r["samples_per_second"]
        res[f"peer_slimmable_samples_per_cpu_second_{suffix}"] = r["samples_per_cpu_second"]
        res[f"measured_ratio_uniform_widths_ours1_vs_peer{t}"] = round(
            ours_uniform / r["samples_per_second"], 3)
        if t == 1:
            res["measured_ratio_uniform_widths_cpu_ours1_vs_peer1"] = round(
                ours_uniform_cpu / r["samples_per_cpu_second"], 3)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--json", default=None)
    ap.add_argument("--vs-pytorch", action="store_true",
                    help="also measure the PyTorch peer (bench/train_throughput_peer.py) in a venv")
    ap.add_argument("--peer-venv", default=os.path.join(tempfile.gettempdir(), "nam_dsp_peer_venv"),
                    help="venv for torch (created or reused; default: %(default)s)")
    a = ap.parse_args(argv)
    s = Stepper()
    full, full_med, full_cpu = measure(s, [8], a.repeats)
    slim, _, slim_cpu = measure(s, list(range(1, 9)), max(a.repeats, 8))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    res = {
        "arch": "slimmable-paper", "batch": 16, "segment": 8192, "dtype": "float32",
        "threads": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
        "samples_per_second_width8": round(full), "seconds_per_step_width8": round(full_med, 4),
        "samples_per_second_uniform_widths": round(slim),
        "samples_per_cpu_second_width8": round(full_cpu),
        "samples_per_cpu_second_uniform_widths": round(slim_cpu),
        "load_average_1min": load,
        "nam_pytorch_samples_per_second": NAM_PYTORCH_SAMPLES_PER_SECOND,
        "nam_pytorch_samples_per_second_source": "quoted in the issue (NAM's trainer, 2 threads); "
                                                 "not measured here",
        "ratio_width8": round(full / NAM_PYTORCH_SAMPLES_PER_SECOND, 3),
        "ratio_uniform_widths": round(slim / NAM_PYTORCH_SAMPLES_PER_SECOND, 3),
        "ratio_width8_cpu": round(full_cpu / NAM_PYTORCH_SAMPLES_PER_SECOND, 3),
    }
    if a.vs_pytorch:
        res.update(vs_pytorch(a.peer_venv, a.repeats, full, slim, full_cpu, slim_cpu))
        if hasattr(os, "getloadavg"):
            res["load_average_1min_end"] = os.getloadavg()[0]
            if max(res["load_average_1min_end"], load or 0) > (os.cpu_count() or 1):
                res["load_note"] = ("load above the core count during the run: wall figures, "
                                    "the 2-thread ones most, are depressed by other processes")
    for k, v in res.items():
        print(f"{k:36s} {v}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=1)
    return res


if __name__ == "__main__":
    main()
