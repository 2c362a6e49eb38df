"""Where commands write: checks made before any work starts, and atomic writes.

A render, recording or training run that ends by overwriting its own input loses the user's
recording; one that ends by failing to write loses the run: both are refused up front. A write
that is interrupted leaves the old file, never half a new one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterable, Optional

from .errors import OutputPathError


def same_file(a, b) -> bool:
    """True when paths ``a`` and ``b`` name the same file (also through links or hard links)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare where they would point
        return os.path.realpath(a) == os.path.realpath(b)


def check_output_path(path, inputs: Iterable[Optional[object]] = ()) -> None:
    """Refuse an output ``path`` that is one of ``inputs``, a folder, or in a folder that is
    missing or not writable.

    Raises
    ------
    OutputPathError
        naming the path and what is wrong with it.
    """
    path = os.fspath(path)
    for source in inputs:
        if source is not None and same_file(path, source):
            raise OutputPathError(path, f"is the input {os.fspath(source)}; writing it would "
                                        "destroy the input: choose another output file")
    if os.path.isdir(path):
        raise OutputPathError(path, "is a folder; expected a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputPathError(path, f"its folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(path, f"its folder {folder} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise OutputPathError(path, "exists and is not writable")


@contextlib.contextmanager
def atomic_output(path, mode: str = "wb", suffix: str = ""):
    """A file handle whose content appears at ``path`` only once it is whole: written to a
    temporary file in the same folder, synced, then renamed over ``path``."""
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private; the result is a normal file
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_wav_atomic(path, samples, rate: int) -> None:
    """Write a 32-bit float WAV atomically (see :func:`atomic_output`)."""
    import soundfile

    with atomic_output(path, "wb", suffix=".wav") as fh:
        soundfile.write(fh, samples, rate, format="WAV", subtype="FLOAT")


def write_text_atomic(path, text: str) -> None:
    """Write a text file atomically (see :func:`atomic_output`)."""
    with atomic_output(path, "w") as fh:
        fh.write(text)
