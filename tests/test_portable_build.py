"""The portable build (NAM_DSP_PORTABLE=1: no -march=native, so no AVX-512 / FMA paths) compiles
and computes what the native build computes, to float32 rounding.

The native build's AVX-512 branches (tanh, the narrow layers' fused pass) have portable twins
that no other test runs on a machine with AVX-512; this builds them in a temporary copy of the
source tree and renders the same signals through both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nam_dsp
from nam_dsp import _kernels

ROOT = Path(__file__).resolve().parents[1]
CASES = [("slimmable-paper", 1), ("slimmable-paper", 3), ("slimmable-paper", 4), ("slimmable-paper", 8),
         ("a1-nano", None), ("a1-standard", None), ("a2-lite", None)]
BLOCK = 100

RENDER = """
import sys, numpy as np, nam_dsp
from nam_dsp import _kernels
assert _kernels.__file__.startswith(sys.argv[1]), _kernels.__file__
x = np.load(sys.argv[2])
for i, (name, width) in enumerate({cases!r}):
    model = nam_dsp.from_spec(nam_dsp.preset(name), width=width)
    y = np.concatenate([model.process(x[s:s + {block}]) for s in range(0, len(x), {block})])
    np.save(sys.argv[3] + f"/{{i}}.npy", y)
"""


def _signal() -> np.ndarray:
    rng = np.random.default_rng(7)
    return (0.3 * rng.standard_normal(6000)).astype(np.float32)


@pytest.fixture(scope="module")
def portable_renders(tmp_path_factory):
    if shutil.which(os.environ.get("CC", "gcc")) is None:
        pytest.skip("no C compiler")
    pytest.importorskip("Cython", reason="building the extension needs Cython (the test extra has it)")
    src = tmp_path_factory.mktemp("portable_src")
    shutil.copy(ROOT / "setup.py", src)
    shutil.copytree(ROOT / "nam_dsp", src / "nam_dsp",
                    ignore=shutil.ignore_patterns("*.so", "*.c", "*.html", "__pycache__"))
    shutil.copytree(ROOT / "training", src / "training", ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, NAM_DSP_PORTABLE="1", PYTHONPATH=str(src))
    build = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=src, env=env,
                           capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stderr[-3000:]
    out = tmp_path_factory.mktemp("portable_out")
    np.save(out / "x.npy", _signal())
    run = subprocess.run([sys.executable, "-c", RENDER.format(cases=CASES, block=BLOCK), str(src),
                          str(out / "x.npy"), str(out)], cwd=src, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return [np.load(out / f"{i}.npy") for i in range(len(CASES))]


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{n}-w{w}" for n, w in CASES])
def test_portable_build_matches_the_native_one(portable_renders, index):
    name, width = CASES[index]
    x = _signal()
    model = nam_dsp.from_spec(nam_dsp.preset(name), width=width)
    native = np.concatenate([model.process(x[s:s + BLOCK]) for s in range(0, len(x), BLOCK)])
    portable = portable_renders[index]
    assert portable.dtype == np.float32 and portable.shape == native.shape
    error = np.sqrt(np.mean((portable.astype(np.float64) - native) ** 2) / np.mean(native.astype(np.float64) ** 2))
    # Different tanh forms and no FMA contraction: float32 rounding apart, nothing more.
    assert error <= 1e-5, f"{name} width {width}: portable vs native relative RMS {error:.3g}"
    if _kernels.tanh_short_array(np.zeros(1, np.float32)) is None:
        assert np.array_equal(portable, native)  # this build is portable itself
