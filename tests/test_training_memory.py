"""training.memory.keep_freed_memory: a step's big temporaries stop page-faulting in every step."""

from __future__ import annotations

import subprocess
import sys

import pytest

WORKLOAD = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from nam_dsp.training.memory import keep_freed_memory
    assert keep_freed_memory()
a = np.ones(1 << 20)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):            # like a training step: big temporaries made, used and freed
    t = np.empty((64, 1 << 17))  # 64 MB
    t[:] = 1.0
    u = t * 2.0
    del t, u
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", WORKLOAD, mode], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt (Linux)")
def test_kept_memory_cuts_the_page_faults_of_repeated_big_temporaries():
    plain, kept = faults("plain"), faults("keep")
    # every step maps its temporaries afresh; kept, only the first step does (here: 21.8 k vs 1.1 k)
    assert kept * 10 < plain, (kept, plain)
