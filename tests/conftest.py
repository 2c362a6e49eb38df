"""Shared fixtures: where the real test material lives, and the DI recording most tests play.

The material (real captures, DI recordings, NAM Core's reference renders) is never copied into
the repository: it is read from ``../shared/data`` relative to the repository root, read-only.
Tests that need it take the ``shared_data`` fixture and are skipped, with the reason, when it is
absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nam_dsp

try:  # installed (pip install -e .): training/ is the package nam_dsp.training
    import nam_dsp.training  # noqa: F401
except ImportError:  # a source tree without an install: find it beside nam_dsp/
    nam_dsp.__path__.append(str(Path(__file__).resolve().parents[1]))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GUITAR_DI = "audio/di/guitar_di_10s.wav"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared test material folder; skips the test when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} "
                    "(expected ../shared/data next to the repository root)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def guitar_di(shared_data) -> np.ndarray:
    """The whole of ``audio/di/guitar_di_10s.wav`` (48 kHz mono) as float32."""
    soundfile = pytest.importorskip("soundfile")
    path = shared_data / GUITAR_DI
    if not path.is_file():
        pytest.skip(f"{path} is missing from the shared test data")
    x, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    assert rate == 48000 and x.ndim == 1
    x.setflags(write=False)
    return x


@pytest.fixture(scope="session")
def guitar_excerpt(guitar_di) -> np.ndarray:
    """A quarter of a second of real guitar (from 1 s in, where the playing has started)."""
    return guitar_di[48000:48000 + 12000]


@pytest.fixture(scope="session")
def dask_scheduler():
    """The address of a Dask scheduler with two workers on localhost, started for this session
    (tests/dask_cluster.py); skips the test when dask.distributed is not installed."""
    from dask_cluster import start_cluster, stop_cluster
    address, procs = start_cluster(workers=2)
    try:
        yield address
    finally:
        stop_cluster(procs)
