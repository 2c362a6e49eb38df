"""Every ```python block of README.md runs, as written, in a fresh temporary folder.

The files a block names are put there first, so a user's example works without a user's files:
every ``*.nam`` it names is the bundled default model, every ``*.wav`` / ``*.flac`` two seconds of
a plucked A string (mono, 48 kHz). A block containing ``doctest: +SKIP`` is skipped (for
examples that need an audio device or hours); one naming ``shared/data`` is skipped when the
shared test material is absent, and one needing an optional extra that is not installed
(matplotlib, pyaudio) is skipped with the reason.
"""

from __future__ import annotations

import re
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(?:python|py|python3)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
NAMED_FILE = re.compile(r"""["']([\w./-]+\.(nam|wav|flac))["']""")
OPTIONAL = ("matplotlib", "pyaudio", "tkinter")


def python_blocks(text: str) -> list:
    """(first line number, code) of every fenced python block."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in FENCE.finditer(text)]


BLOCKS = python_blocks(README.read_text(encoding="utf-8")) if README.is_file() else []


def test_the_readme_has_a_python_example():
    assert BLOCKS, f"no ```python block found in {README}"


def test_blocks_are_found_with_their_line_numbers():
    text = "intro\n```python\nx = 1\n```\n\n```sh\nls\n```\n```py\ny = 2\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (10, "y = 2\n")]


def plucked_string(seconds: float, rate: int = 48000) -> np.ndarray:
    """Decaying harmonics of 110 Hz, peak about 0.5: a DI-like signal, quick to make."""
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * 110.0 * k * t) * np.exp(-t * (1.5 + k)) / k for k in range(1, 9))
    return (0.5 * tone / np.abs(tone).max()).astype(np.float32)


def _provide_named_files(code: str, folder: Path) -> None:
    import soundfile as sf

    default = resources.files("nam_dsp").joinpath("data/default.nam")
    for name, ext in {m.groups() for m in NAMED_FILE.finditer(code)}:
        target = folder / name
        if name.startswith("/") or ".." in Path(name).parts or "shared/data" in name:
            continue  # not a user's file in the current folder
        target.parent.mkdir(parents=True, exist_ok=True)
        if ext == "nam":
            if not default.is_file():
                pytest.skip("the default model is not bundled with this installation")
            with resources.as_file(default) as path:
                shutil.copyfile(path, target)
        else:
            sf.write(str(target), plucked_string(2.0), 48000, subtype="FLOAT")


@pytest.mark.parametrize("line,code", BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_readme_example_runs(line, code, tmp_path, monkeypatch, request):
    if "doctest: +SKIP" in code:
        pytest.skip(f"README.md:{line} is marked doctest: +SKIP")
    if "shared/data" in code:
        request.getfixturevalue("shared_data")  # skips when it is absent
    _provide_named_files(code, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # a plotting example draws off screen
    try:
        exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__readme__"})
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in OPTIONAL:
            pytest.skip(f"README.md:{line} needs {exc.name}, which is not installed")
        raise


def test_ci_runs_the_readmes_test_command_verbatim():
    """.ci/run is the README's second set-up command, so what CI proves is what a user runs."""
    commands = re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
    assert len(commands) >= 2
    test_command = commands[1].strip()
    assert "pytest" in test_command
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()
