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


class OutputPathError(NamDspError, ValueError):
    """An output file cannot be written where asked (it is an input, or its folder is unusable)."""

    def __init__(self, path, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class _NamesSettings:
    """Mixin: ``settings`` names the parameters at fault (e.g. ``("batch_size", "segment")``) so
    that a command line can say which of its options to change; empty when no single one is."""

    def __init__(self, message: str, settings=()):
        super().__init__(message)
        self.settings = tuple(settings)


class ConfigError(_NamesSettings, NamDspError, ValueError):
    """A setting is refused: an unknown architecture or loss, widths a model does not allow, a
    model the trainer cannot train, ... (``settings``: the parameters at fault)."""


class TrainingDataError(_NamesSettings, AudioFileError):
    """A reamp pair cannot train the model as configured: too short for the validation split, the
    receptive field or one batch, or a multi-channel file with no channel chosen (``settings``:
    the parameters at fault)."""


class CheckpointError(NamDspError, ValueError):
    """A training checkpoint cannot be resumed: unreadable, incomplete, or of another architecture."""


class AudioError(_NamesSettings, NamDspError, RuntimeError):
    """The audio system or the live player refused: no such device, a rate the device does not
    run, a stream that failed, a player setting it cannot use (``settings``: the
    :class:`~nam_dsp.realtime.player.Player` arguments at fault, e.g. ``("output_device",)``)."""


class IsaError(NamDspError, RuntimeError):
    """The instruction-set variant asked for (``NAM_DSP_ISA``) is unknown or this CPU cannot run it."""
