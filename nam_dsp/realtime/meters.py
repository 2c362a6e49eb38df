"""Lock-free, allocation-free recorders the audio callback writes and the meters read.

The callback writes; a meter (GUI, terminal, auto-width) reads a few dozen times a second. Readers
may see a block that is being written: fine for a meter, and the recorder only reads blocks the
callback has finished (it trails by the block counter).

Why floats and prebuilt index lists: CPython caches the integers -5..256 and keeps a free list of
floats, so ``count += 1.0`` and ``i = next_index[i]`` create no object that needs the allocator,
while ``i = (i + 1) % 4096`` would, once ``i`` passes 256.
"""

from __future__ import annotations

import array
import math
from typing import Optional

import numpy as np

# PortAudio callback status flags (portaudio.h)
INPUT_UNDERFLOW, INPUT_OVERFLOW, OUTPUT_UNDERFLOW, OUTPUT_OVERFLOW, PRIMING_OUTPUT = 1, 2, 4, 8, 16
XRUN_FLAGS = INPUT_UNDERFLOW | INPUT_OVERFLOW | OUTPUT_UNDERFLOW | OUTPUT_OVERFLOW


def _cycle(size: int) -> list:
    """``next_index[i]`` = (i + 1) % size, as a list of existing int objects."""
    return list(range(1, size)) + [0]


class BlockRing:
    """The last ``blocks`` audio blocks, written by the callback, read by meters and the recorder."""

    def __init__(self, block_size: int, blocks: int):
        self.block_size = block_size
        self.blocks = blocks
        self.data = np.zeros((blocks, block_size), np.float32)
        self._views = list(self.data)
        self._next = _cycle(blocks)
        self._i = 0
        self.count = 0.0  # blocks written since start (a float: see the module notes)

    def write(self, block: np.ndarray) -> None:
        i = self._i
        np.copyto(self._views[i], block)
        self._i = self._next[i]
        self.count += 1.0

    def since(self, start: int, stop: Optional[int] = None) -> tuple:
        """Samples of blocks ``start`` .. ``stop`` (block counts); returns (samples, first block).

        Blocks already overwritten are skipped (the returned first block says where it starts).
        """
        stop = int(self.count) if stop is None else stop
        start = max(start, stop - self.blocks + 1, 0)
        if stop <= start:
            return np.zeros(0, np.float32), start
        idx = np.arange(start, stop) % self.blocks
        return self.data[idx].reshape(-1), start

    def last_samples(self, samples: int) -> np.ndarray:
        k = max(1, -(-samples // self.block_size))
        return self.since(int(self.count) - k)[0]


def level_dbfs(x: np.ndarray) -> tuple:
    """(peak, rms) in dBFS, -120 for silence."""
    if x.size == 0:
        return -120.0, -120.0
    peak = float(np.max(np.abs(x)))
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return (20 * math.log10(peak) if peak > 1e-6 else -120.0,
            20 * math.log10(rms) if rms > 1e-6 else -120.0)


class CallbackStats:
    """Callback durations and PortAudio status flags.

    Durations go to a ring of ``size`` entries, each marked when the block was spent in a width
    transition (so the auto-width controller can leave its own switches out of its measurements).
    """

    def __init__(self, deadline: float, size: int = 1 << 15):
        self.deadline = deadline
        self.size = size
        self.times = array.array("d", bytes(8 * size))
        self.in_switch = array.array("B", bytes(size))  # 1: that block was in a width transition
        self._next = _cycle(size)
        self._i = 0
        self.count = 0.0
        self.status_callbacks = 0.0   # callbacks with any xrun flag
        self.xrun_at = array.array("d", bytes(8 * 4096))  # callback numbers of the first 4096
        self._xrun_next = _cycle(4096)
        self._xrun_i = 0
        self.flag_counts = {f: 0.0 for f in (INPUT_UNDERFLOW, INPUT_OVERFLOW, OUTPUT_UNDERFLOW,
                                             OUTPUT_OVERFLOW, PRIMING_OUTPUT)}

    def record(self, seconds: float, in_switch: bool) -> None:
        """One callback's duration; ``in_switch``: it ran during a width transition."""
        i = self._i
        self.times[i] = seconds
        self.in_switch[i] = in_switch
        self._i = self._next[i]
        self.count += 1.0

    def status(self, flags: int) -> None:
        if flags & XRUN_FLAGS:
            if self.status_callbacks < 4096.0:
                i = self._xrun_i
                self.xrun_at[i] = self.count
                self._xrun_i = self._xrun_next[i]
            self.status_callbacks += 1.0
        for f in self.flag_counts:
            if flags & f:
                self.flag_counts[f] += 1.0

    @property
    def xruns(self) -> int:
        """Callbacks that PortAudio flagged with an under- or overflow."""
        return int(self.status_callbacks)

    def xruns_after(self, seconds: float) -> int:
        """Xruns flagged after the first ``seconds`` of the stream (start-up excluded)."""
        k = min(int(self.status_callbacks), 4096)
        first = seconds / self.deadline
        return sum(1 for v in self.xrun_at[:k] if v >= first) + max(0, self.xruns - 4096)

    def recent(self, last: Optional[int] = None, since: Optional[int] = None,
               outside_switches: bool = False) -> np.ndarray:
        """Durations of the last ``last`` callbacks, or of those after callback ``since``; with
        ``outside_switches``, only those that did not run during a width transition."""
        count = int(self.count)
        k = count if last is None else min(last, count)
        if since is not None:
            k = min(k, count - since)
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0)
        t = np.frombuffer(self.times, dtype=np.float64)
        idx = (np.arange(count - k, count)) % self.size
        if outside_switches:
            idx = idx[np.frombuffer(self.in_switch, dtype=np.uint8)[idx] == 0]
        return t[idx].copy()

    def summary(self, last: Optional[int] = None) -> dict:
        """Callback time as a share of the deadline (mean, p50, p99, max) and in microseconds."""
        t = self.recent(last)
        if t.size == 0:
            return dict(callbacks=int(self.count), mean=0.0, p50=0.0, p99=0.0, max=0.0,
                        p50_us=0.0, p99_us=0.0, xruns=self.xruns)
        p50, p99 = np.percentile(t, [50, 99])
        return dict(callbacks=int(self.count), measured=int(t.size),
                    mean=float(t.mean() / self.deadline), p50=float(p50 / self.deadline),
                    p99=float(p99 / self.deadline), max=float(t.max() / self.deadline),
                    p50_us=float(p50 * 1e6), p99_us=float(p99 * 1e6), xruns=self.xruns)
