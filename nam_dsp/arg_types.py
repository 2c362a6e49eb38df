"""argparse value types shared by every ``nam-dsp`` subcommand: a bad number is refused with
argparse's usage message (exit 2) before any file is read."""

from __future__ import annotations

import argparse
import math
from typing import Callable


def _number(convert: Callable, accept: Callable, expected: str) -> Callable:
    """An argparse type: ``convert(text)`` that ``accept`` allows, else "expected ..."."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    parse.__name__ = expected  # argparse names the type in some messages
    return parse


def _finite(test: Callable) -> Callable:
    return lambda v: math.isfinite(v) and test(v)


#: An integer >= 1.
positive_int = _number(int, lambda v: v >= 1, "an integer >= 1")
#: An integer >= 0.
nonnegative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
#: A finite number > 0.
positive_float = _number(float, _finite(lambda v: v > 0), "a number > 0")
#: A finite number >= 0.
nonnegative_float = _number(float, _finite(lambda v: v >= 0), "a number >= 0")
#: A number in [0, 1).
unit_interval = _number(float, _finite(lambda v: 0 <= v < 1), "a number from 0 up to (not including) 1")
