"""nam_dsp.output_paths at the library level: atomic writes keep the old file on any failure and
leave no temporary behind (failed syncs and renames: test_nam_file.py; the commands' refusals:
test_first_hour.py)."""

import os
import stat

import pytest

from nam_dsp.output_paths import atomic_output, write_bytes_atomic


def test_a_write_replaces_the_content_with_a_plain_files_mode(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    write_bytes_atomic(target, b"new")
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["out.bin"]


def test_an_error_inside_the_block_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="mid-write"):
        with atomic_output(target) as fh:
            fh.write(b"half of the new")
            raise RuntimeError("mid-write")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]

