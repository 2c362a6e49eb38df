"""How the command lines (``nam-dsp``, ``nam-dsp train``, ``nam-dsp play``) report a library error.

The library says what is wrong and names the parameters at fault (``exc.settings`` of
:class:`~nam_dsp.errors.ConfigError` and :class:`~nam_dsp.errors.TrainingDataError`), never a
flag; a command line adds which of its options that was.
"""

from __future__ import annotations

from .errors import WidthError

__all__ = ["options_at_fault"]


def options_at_fault(exc: BaseException, args) -> str:
    """The options a library error is about, as ``"--batch-size 16 / --segment 512: "``, or "".

    The library names the parameters at fault (``exc.settings``), never flags; every ``dest`` of
    these parsers is the library's parameter name. A width error is about ``--width`` or ``--slim``,
    whichever was given.
    """
    if isinstance(exc, WidthError):
        names = [n for n in ("width", "slim") if getattr(args, n, None) is not None]
    else:
        names = [n for n in getattr(exc, "settings", ()) if hasattr(args, n)]
    shown = []
    for name in names:
        value = getattr(args, name)
        value = " ".join(map(str, value)) if isinstance(value, list) else value
        shown.append(f"--{name.replace('_', '-')}" + ("" if value is None else f" {value}"))
    return " / ".join(shown) + ": " if shown else ""
