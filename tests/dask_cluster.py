"""A Dask scheduler and two one-thread workers on localhost, started and stopped by a test module.

Used by tests/test_render_jobs.py and tests/test_slim.py as ``pytest.fixture(scope="module")``;
they skip with the reason when ``dask.distributed`` is not installed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster(workers: int = 2):
    """``(address, processes)``: a scheduler and ``workers`` nanny-supervised workers."""
    pytest.importorskip("dask.distributed", reason="dask.distributed is not installed "
                        "(pip install 'nam_dsp[cluster]')")
    from dask.distributed import Client
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ)
    # the workers import test helpers (tests/ is not a package) and nam_dsp as installed
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"
    bindir = os.path.dirname(sys.executable)
    dask = os.path.join(bindir, "dask")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)]
    for _ in range(workers):
        procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-dashboard",
                                       "--death-timeout", "60"], env=env, cwd=str(TESTS),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
    deadline = time.monotonic() + 90
    while True:
        try:
            with Client(address, timeout=5) as client:
                client.wait_for_workers(workers, timeout=max(1, deadline - time.monotonic()))
            break
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                stop_cluster(procs)
                pytest.fail("the local Dask cluster did not start within 90 s")
            time.sleep(0.5)
    return address, procs


def stop_cluster(procs) -> None:
    for p in reversed(procs):  # workers first, then the scheduler; each by its own process group
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
