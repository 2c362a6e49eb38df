"""Shared fixtures and helpers: where the real test material lives, the DI recording most tests
play, test signals, the error measure, training pairs and the JACK server.

The material (real captures, DI recordings, NAM Core's reference renders) is never copied into
the repository: it is read from ``../shared/data`` relative to the repository root, read-only.
Tests that need it take the ``shared_data`` fixture (or :func:`shared_files`) and are skipped,
with the reason, when it is absent.

Test modules import the helpers with ``from conftest import rel_rms`` (pytest puts ``tests/`` on
``sys.path`` for its own conftest).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GUITAR_DI = "audio/di/guitar_di_10s.wav"


# --- helpers -------------------------------------------------------------------------------------

def rel_rms(y, ref) -> float:
    """RMS of ``y - ref`` relative to the RMS of ``ref``, in float64."""
    y = np.asarray(y, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    return float(np.sqrt(np.mean((y - ref) ** 2) / np.mean(ref ** 2)))


def noise(n: int, seed: int, scale: float = 0.5, silence: slice | None = None) -> np.ndarray:
    """``scale`` x white noise of ``n`` samples (seeded), ``silence`` zeroed, clipped to [-1, 1], float32."""
    x = scale * np.random.default_rng(seed).standard_normal(n)
    if silence is not None:
        x[silence] = 0.0
    return x.clip(-1, 1).astype(np.float32)


def write_training_pair(folder: Path, seed: int, taps=None, seconds: float = 2.0) -> tuple:
    """A dry / wet pair of float WAVs (48 kHz) in ``folder``: 0.2 x noise, and a soft clipper
    ``0.5 tanh(3 x)`` (after the FIR ``taps`` when given) standing in for an amp. Returns their Paths."""
    import soundfile as sf
    n = int(seconds * 48000)
    x = 0.2 * np.random.default_rng(seed).standard_normal(n)
    shaped = x if taps is None else np.convolve(x, taps)[:n]
    dry, wet = Path(folder) / "dry.wav", Path(folder) / "wet.wav"
    sf.write(str(dry), x, 48000, subtype="FLOAT")
    sf.write(str(wet), 0.5 * np.tanh(3 * shaped), 48000, subtype="FLOAT")
    return dry, wet


def shared_files(shared_data: Path, *names: str) -> list:
    """The paths of ``names`` in the shared data; skips the test when any is missing."""
    paths = [shared_data / name for name in names]
    for path in paths:
        if not path.is_file():
            pytest.skip(f"{path} is missing from the shared test data")
    return paths


# --- fixtures ------------------------------------------------------------------------------------

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
    (path,) = shared_files(shared_data, GUITAR_DI)
    x, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    assert rate == 48000 and x.ndim == 1
    x.setflags(write=False)
    return x


@pytest.fixture(scope="session")
def guitar_excerpt(guitar_di) -> np.ndarray:
    """A quarter of a second of real guitar (from 1 s in, where the playing has started)."""
    return guitar_di[48000:48000 + 12000]


@pytest.fixture(scope="module")
def jack():
    """A JACK dummy-driver server at 128 frames for the module's tests; skips when there is none."""
    from nam_dsp.realtime import testing
    try:
        with testing.jack_server(128) as proc:
            yield proc
    except testing.Unavailable as exc:
        pytest.skip(str(exc))


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


@pytest.fixture(scope="session")
def saturator_pair():
    """One second of noise through a soft-clipping two-tap filter, in memory: the trainer's tests
    of its methods and budgets (train 40000 samples, validate the rest)."""
    from nam_dsp.training.data import Pair
    rate = 48000
    rng = np.random.default_rng(0)
    x = (0.2 * rng.standard_normal(rate)).astype(np.float32)
    y = np.tanh(3 * np.convolve(x, [0.6, 0.4])[:rate]).astype(np.float32)
    return Pair(dry=x, wet=y, rate=rate, latency=0, latency_method="given", train=(0, 40000),
                validation=(40000, rate))
