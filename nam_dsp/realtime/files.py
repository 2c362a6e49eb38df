"""The player's audio files: a file played as the live input, and the recording of what was played.

Both stay off the audio callback's path: the callback takes the input file's next prebuilt block
(:class:`FileFeed`), and :class:`Recorder` drains the output ring from its own thread.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from ..errors import AudioFileError
from .meters import BlockRing


class FileFeed:
    """An audio file played as the live input, block by block, paced by the stream."""

    def __init__(self, samples: np.ndarray, block_size: int):
        n = block_size
        nb = -(-samples.shape[0] // n)
        self.data = np.zeros(nb * n, np.float32)
        self.data[:samples.shape[0]] = samples
        self.length = samples.shape[0]
        self._blocks = [self.data[i * n:(i + 1) * n] for i in range(nb)]
        self._next = list(range(1, nb + 1))
        self._zeros = np.zeros(n, np.float32)
        self._nb = nb
        self._i = 0
        self.finished = nb == 0

    def next(self) -> np.ndarray:
        i = self._i
        if i < self._nb:
            self._i = self._next[i]
            return self._blocks[i]
        self.finished = True
        return self._zeros


def read_input_file(path) -> tuple:
    """``(samples, rate)``: a mono float32 signal from an audio file (first channel if several)."""
    import soundfile as sf
    try:
        data, sr = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several kinds
        raise AudioFileError(f"{path}: cannot read audio: {exc}") from exc
    return np.ascontiguousarray(data[:, 0]), int(sr)


class Recorder(threading.Thread):
    """Writes what the callback played to a WAV file, draining the output ring ten times a second."""

    def __init__(self, ring: BlockRing, path, rate: int):
        super().__init__(name="nam-dsp-recorder", daemon=True)
        import soundfile as sf
        self.ring = ring
        self.path = os.fspath(path)
        try:
            self.file = sf.SoundFile(self.path, "w", samplerate=rate, channels=1, subtype="FLOAT")
        except Exception as exc:
            raise AudioFileError(f"{path}: cannot write the recording: {exc}") from exc
        self.done = 0
        self.lost_blocks = 0
        self._halt = threading.Event()

    def drain(self) -> None:
        count = int(self.ring.count)
        data, first = self.ring.since(self.done, count)
        if first > self.done:
            self.lost_blocks += first - self.done
        if data.size:
            self.file.write(data)
        self.done = count

    def run(self) -> None:
        while not self._halt.wait(0.1):
            self.drain()

    def close(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join()
        self.drain()
        self.file.close()
