"""Atomic file writes, shared by ``.nam`` saves, renders and training checkpoints.

Every write goes to a temporary file in the target's folder, is flushed and fsynced, then renamed
over the target (``os.replace``, atomic on POSIX and Windows). A crash or an error mid-write
leaves the old file (or none), never a truncated one, and no temporary file behind.
:func:`check_not_input` refuses, up front, an output path that names one of the run's inputs.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import BinaryIO, Iterable, Iterator

from .errors import ConfigError

__all__ = ["atomic_output", "atomic_write_bytes", "atomic_write_text", "check_not_input"]


@contextlib.contextmanager
def atomic_output(path) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content to; it replaces ``path`` only when the
    ``with`` block ends without an exception."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            # mkstemp makes the file private (0600); give it the mode a plain open() would.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def atomic_write_bytes(path, data: bytes) -> None:
    """Replace ``path``'s content with ``data`` atomically."""
    with atomic_output(path) as fh:
        fh.write(data)


def atomic_write_text(path, text: str) -> None:
    """Replace ``path``'s content with ``text`` (UTF-8) atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def check_not_input(output, inputs: Iterable, settings=()) -> None:
    """Raise :class:`~nam_dsp.errors.ConfigError` if ``output`` is the same file as one of
    ``inputs`` (existing or not, through links and relative paths): a write must never destroy
    what it was computed from. ``settings`` is passed on to the error."""
    for source in inputs:
        if source is not None and _same_file(output, source):
            raise ConfigError(f"{os.fspath(output)}: is also an input of this run ({os.fspath(source)}); "
                              "refusing to overwrite it", settings)


def _same_file(a, b) -> bool:
    a, b = os.fspath(a), os.fspath(b)
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


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
