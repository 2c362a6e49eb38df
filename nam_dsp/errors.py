"""The package's one error hierarchy.

Catch :class:`NamDspError` for anything nam_dsp raises on purpose; :class:`NamFileError` is also a
``ValueError`` so code that already catches bad values keeps working.
"""

from __future__ import annotations

import os


class NamDspError(Exception):
    """Base class of every error nam_dsp raises on purpose."""


class NamFileError(NamDspError, ValueError):
    """A model file (or model description) is malformed or uses a feature we do not run.

    Parameters
    ----------
    path : str or None
        The file the problem is in (``"<dict>"`` when the model did not come from a file).
    field : str
        Where in the file, as a JSON path such as ``config.layers[1].dilations[3]``.
    problem : str
        What is wrong, with the value found and what was expected.
    """

    def __init__(self, path, field: str, problem: str):
        self.path = os.fspath(path) if path is not None else "<dict>"
        self.field = field
        self.problem = problem
        super().__init__(f"{self.path}: {field}: {problem}")


class UnsupportedFeatureError(NamFileError):
    """The file is valid NAM but uses a feature this engine does not implement."""


class WidthError(NamDspError, ValueError):
    """A width or slimming ratio was refused (not allowed, or the model is not slimmable)."""


class AudioFileError(NamDspError, ValueError):
    """An audio file cannot be used (unreadable, wrong rate, wrong channel count, ...)."""


class IsaError(NamDspError, RuntimeError):
    """The instruction-set variant asked for (``NAM_DSP_ISA``) is unknown or this CPU cannot run it."""
