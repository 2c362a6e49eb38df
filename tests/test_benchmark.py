"""The benchmark helpers: what they return, not how fast anything is."""

from __future__ import annotations

import math

import nam_dsp
from nam_dsp.benchmark import interleaved_block_times


def test_interleaved_block_times_gives_every_width_a_time_per_block():
    spec = nam_dsp.preset("slimmable-paper")
    times = interleaved_block_times(spec, [1, 4, 8], 64, rounds=3, seconds=0.02)
    assert sorted(times) == [1, 4, 8]
    assert all(math.isfinite(t) and t > 0 for t in times.values())
    # 56x the multiply-accumulates cannot take less time, whatever the machine is doing.
    assert times[8] > times[1]
