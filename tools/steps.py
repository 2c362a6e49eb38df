"""The one way tools/ scripts run a step: print the command, run it, say how long it took, and on
failure show the end of its output and stop with the tool's name, the step and the exit code."""

from __future__ import annotations

import subprocess
import sys
import time


def step_runner(tool: str):
    """``run(cmd, what=..., check=True, **subprocess_kwargs)`` for the script named ``tool``."""

    def run(cmd, *, what: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        start = time.monotonic()
        print(f"$ {' '.join(map(str, cmd))}", flush=True)
        result = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, **kwargs)
        elapsed = time.monotonic() - start
        if check and result.returncode != 0:
            sys.stdout.write(result.stdout[-4000:])
            sys.stderr.write(result.stderr[-4000:])
            raise SystemExit(f"{tool}: {what} failed (exit {result.returncode}) after {elapsed:.0f} s")
        print(f"  [{what}: {elapsed:.0f} s]", flush=True)
        return result

    return run
