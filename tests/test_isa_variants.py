"""Every instruction-set variant this CPU runs makes the same sound.

One build carries the kernels compiled once per instruction set (x86-64: ``baseline`` = SSE2,
``avx2`` = x86-64-v3, ``avx512`` = x86-64-v4; aarch64: ``baseline``, ``neon``) and uses the best
the CPU runs; ``NAM_DSP_ISA`` forces one. Checked here: the choice and its errors, the variants'
agreement on real captures (1e-6 relative RMS between variants with FMA, 1e-5 for the x86-64
baseline, which has none; every block partition bit-identical within a variant), and the engine's accuracy and partition tests re-run under every other variant this
CPU runs (in a subprocess with ``NAM_DSP_ISA`` set, so every model is built under it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nam_dsp
from nam_dsp import _kernels

ROOT = Path(__file__).resolve().parents[1]
AVAILABLE = _kernels.available_isas()
BEST = AVAILABLE[-1]
# Variants with fused multiply-add (every one but x86-64's SSE2 baseline) run the same
# operations in the same order: 1e-6 relative RMS (bit-identical when their tanh and blocking
# agree). The x86-64 baseline rounds every product of every sum separately, which real captures
# amplify to 1e-7..5e-6 (measured on this repository's shared captures): NAM Core's 1e-5 bar.
AGREEMENT = 1e-6
AGREEMENT_WITHOUT_FMA = 1e-5
FUSED = {"avx2", "avx512", "neon"} | ({"baseline"} if _kernels.compiled_isas()[-1] == "neon" else set())
# Real captures covering every kernel path: wide A1 layers, narrow (<= 4 channel) layers, the
# A2 extensions, a condition model; slimmable models at narrow widths.
MODELS = [("captures/boss_sd1_standard.nam", None), ("captures/boss_sd1_nano.nam", None),
          ("captures/dumble_feather.nam", None), ("captures/laney_gh100s_crunch_ch24.nam", None),
          ("captures/mesa_rectifier_a2.nam", None), ("examples/wavenet_a2_max.nam", None),
          ("examples/wavenet_condition_dsp.nam", None),
          ("slimmable/nam_trainer_paper_crunch_30min.nam", 1),
          ("slimmable/nam_trainer_paper_crunch_30min.nam", 3),
          ("slimmable/nam_trainer_paper_crunch_30min.nam", 8)]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NAM_DSP_ISA"}
    env.update(extra)
    return env


@pytest.fixture
def restore_isa():
    previous = _kernels.isa()
    yield
    _kernels.use_isa(previous)


def _render(path, width, isa, x, blocks) -> np.ndarray:
    _kernels.use_isa(isa)
    model = nam_dsp.load(path, width=width) if width else nam_dsp.load(path)
    cuts = np.cumsum(blocks)
    return np.concatenate([model.process(x[a:b]) for a, b in zip(np.r_[0, cuts[:-1]], cuts)])


def _rel_rms(a, b) -> float:
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return float(np.sqrt(np.mean((a - b) ** 2) / max(np.mean(b ** 2), 1e-30)))


def test_the_best_variant_this_cpu_runs_is_used_by_default():
    run = subprocess.run([sys.executable, "-c", "import nam_dsp; print(nam_dsp.isa())"],
                         env=_env(), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == BEST
    assert set(AVAILABLE) <= set(_kernels.compiled_isas()) <= set(_kernels.ISA_NAMES)


@pytest.mark.parametrize("isa", AVAILABLE)
def test_a_forced_variant_is_the_one_in_use(isa):
    run = subprocess.run([sys.executable, "-c", "import nam_dsp; print(nam_dsp.isa())"],
                         env=_env(NAM_DSP_ISA=isa), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == isa


@pytest.mark.parametrize("isa", [name for name in _kernels.ISA_NAMES if name not in AVAILABLE] + ["sse9"])
def test_forcing_a_variant_this_cpu_cannot_run_fails_in_one_line(isa, tmp_path, shared_data):
    model = shared_data / "models/captures/boss_sd1_nano.nam"
    out = tmp_path / "out.wav"
    run = subprocess.run([sys.executable, "-m", "nam_dsp", "render", str(model),
                          str(shared_data / "audio/di/guitar_di_10s.wav"), str(out)],
                         env=_env(NAM_DSP_ISA=isa), capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and f"NAM_DSP_ISA={isa}" in lines[0].replace("'", ""), run.stderr
    if isa in _kernels.compiled_isas():
        assert "its features:" in lines[0]   # names what the CPU has
    assert not out.exists()


def test_use_isa_refuses_what_the_cpu_cannot_run(restore_isa):
    for name in _kernels.ISA_NAMES:
        if name not in AVAILABLE:
            with pytest.raises(nam_dsp.IsaError, match=name):
                _kernels.use_isa(name)
    assert _kernels.isa() in AVAILABLE


@pytest.mark.parametrize("isa", AVAILABLE)
@pytest.mark.parametrize("model,width", MODELS, ids=[f"{Path(m).stem}-w{w}" for m, w in MODELS])
def test_every_variant_agrees_with_the_best_on_real_captures(isa, model, width, shared_data,
                                                             guitar_di, restore_isa):
    path = shared_data / "models" / model
    x = guitar_di[48000:48000 + 3 * 48000]
    best = _render(path, width, BEST, x, [4096] * (len(x) // 4096 + 1))
    y = _render(path, width, isa, x, [64] * (len(x) // 64 + 1))
    rng = np.random.default_rng(3)
    y_random = _render(path, width, isa, x, rng.integers(1, 700, size=len(x)))
    assert np.array_equal(y, y_random), "a block partition changed the output"
    error = _rel_rms(y, best)
    bar = AGREEMENT if isa in FUSED else AGREEMENT_WITHOUT_FMA
    assert error <= bar, f"{isa} vs {BEST}: relative RMS {error:.3g}"
    if isa == BEST:
        assert np.array_equal(y, best)


@pytest.mark.parametrize("isa", AVAILABLE[:-1])
def test_engine_accuracy_and_partition_tests_pass_under_every_variant(isa):
    """tests/test_reference_match.py (NAM Core's renders within 1e-5, every partition
    bit-identical), tests/test_streaming.py and the tanh / activation oracle, under ``isa``."""
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-m", "not slow", "-p", "no:cacheprovider",
                          "tests/test_reference_match.py", "tests/test_streaming.py",
                          "tests/test_kernels_oracle.py"],
                         cwd=ROOT, env=_env(NAM_DSP_ISA=isa), capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, f"under NAM_DSP_ISA={isa}:\n{run.stdout[-4000:]}"
