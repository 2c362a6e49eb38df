"""kill -9 during training, then --resume: training continues from the last checkpoint.

The resumed run ends with exactly the weights of an uninterrupted run with the same seed (every
bit of state - weights, Adam moments, RNG, epoch order - is in the checkpoint), and nothing the
killed run had written (checkpoint, .nam) is corrupt.
"""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import write_training_pair

# the installed package, from any directory (cwd is the test's temp folder)
RUN = "import sys\nfrom nam_dsp.training.cli import main\nsys.exit(main(sys.argv[1:]))\n"
STEPS = 400


def _train(tmp_path, name, extra=(), wait=True):
    args = [sys.executable, "-c", RUN, str(tmp_path / "dry.wav"), str(tmp_path / "wet.wav"),
            "-o", str(tmp_path / f"{name}.nam"), "--arch", "tiny-slimmable", "--steps", str(STEPS),
            "--batch-size", "4", "--segment", "512", "--validation-seconds", "0.5", "--latency", "0",
            "--checkpoint-minutes", "0.002", "--seed", "5", "--lr", "0.01", "--validate-every", "200",
            *extra]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        return out, err
    return proc


def _ckpt(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture
def pair(tmp_path):
    write_training_pair(tmp_path, seed=0)
    return tmp_path


def test_kill_9_then_resume_continues_from_the_last_checkpoint(pair):
    tmp = pair
    _train(tmp, "straight")
    straight = _ckpt(tmp / "straight.nam.ckpt.npz")
    assert int(straight["step"]) == STEPS

    proc = _train(tmp, "killed", wait=False)
    ckpt = tmp / "killed.nam.ckpt.npz"
    deadline = time.time() + 60
    while time.time() < deadline:
        if ckpt.exists():
            try:
                if int(_ckpt(ckpt)["step"]) >= 100:
                    break
            except Exception:  # pragma: no cover - a reader racing the rename sees the old file or none
                pass
        time.sleep(0.02)
    proc.kill()  # SIGKILL: no cleanup, no final checkpoint
    proc.wait()
    assert proc.returncode == -9
    state = _ckpt(ckpt)  # loads: the atomic write left a whole file
    killed_at = int(state["step"])
    assert 100 <= killed_at < STEPS, "the run finished before it could be killed"
    import nam_dsp
    nam_dsp.load_spec(tmp / "killed.nam")  # the .nam written with the checkpoint is whole too

    out, err = _train(tmp, "killed", extra=["--resume", str(ckpt)])
    assert f"resumed from {ckpt} at step {killed_at}" in err
    final = _ckpt(ckpt)
    assert int(final["step"]) == STEPS
    np.testing.assert_array_equal(final["theta"], straight["theta"])
    np.testing.assert_array_equal(final["adam_m"], straight["adam_m"])
    assert "val ESR" in out.splitlines()[0] or "width" in out  # the ESR table
