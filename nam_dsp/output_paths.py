"""Where commands write: checks made before any work starts, and atomic writes.

A render, recording or training run that ends by overwriting its own input loses the user's
recording; one that ends by failing to write loses the run: both are refused up front. A write
that is interrupted leaves the old file, never half a new one: every file the package writes
(``.nam`` saves, training checkpoints, renders, summaries, figures) goes through
:func:`atomic_output`.
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
    temporary file in the same folder, synced, then renamed over ``path`` (``os.replace``, atomic
    on POSIX and Windows). An exception in the ``with`` block, or a failed sync or rename, leaves
    the old file (or none) and no temporary file."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, mode) as fh:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private; the result is a normal file
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def write_bytes_atomic(path, data: bytes) -> None:
    """Write bytes atomically (see :func:`atomic_output`)."""
    with atomic_output(path) as fh:
        fh.write(data)


def write_wav_atomic(path, samples, rate: int) -> None:
    """Write a 32-bit float WAV atomically (see :func:`atomic_output`)."""
    import soundfile

    with atomic_output(path, "wb", suffix=".wav") as fh:
        soundfile.write(fh, samples, rate, format="WAV", subtype="FLOAT")


def write_text_atomic(path, text: str) -> None:
    """Write a UTF-8 text file atomically (see :func:`atomic_output`)."""
    write_bytes_atomic(path, text.encode("utf-8"))
