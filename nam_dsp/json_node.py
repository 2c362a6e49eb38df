"""Typed reading of a parsed JSON tree that knows where it is: every error names the file and
the JSON path (``config.layers[1].dilations[3]``) of the value at fault, and what was expected.

>>> root = JsonNode({"config": {"layers": [{"dilations": [1, 2, "x"]}]}}, "amp.nam")
>>> root["config"]["layers"][0]["dilations"][2].integer()
Traceback (most recent call last):
...
nam_dsp.errors.NamFileError: amp.nam: config.layers[0].dilations[2]: expected an integer, got string 'x'
"""

from __future__ import annotations

import math
from typing import List

from .errors import NamFileError, UnsupportedFeatureError

__all__ = ["JsonNode", "describe_value"]

_MISSING = object()


class JsonNode:
    """One value of a JSON tree, with the file it came from and its JSON path.

    ``node[key]`` and ``node[i]`` give children; a child that is not there (a missing key, an
    index past the end, a key of something that is not an object) is *missing*: reading it fails
    with "required key is missing" unless :meth:`or_default` supplies a value. A JSON ``null`` is
    present; :attr:`given` is false for both.
    """

    __slots__ = ("value", "path", "field")

    def __init__(self, value, path=None, field: str = ""):
        self.value, self.path, self.field = value, path, field

    # -- navigation ---------------------------------------------------------------------------
    def __getitem__(self, key) -> "JsonNode":
        if isinstance(key, int):
            inside = isinstance(self.value, list) and 0 <= key < len(self.value)
            return JsonNode(self.value[key] if inside else _MISSING, self.path, f"{self.field}[{key}]")
        value = self.value.get(key, _MISSING) if isinstance(self.value, dict) else _MISSING
        return JsonNode(value, self.path, f"{self.field}.{key}" if self.field else key)

    @property
    def present(self) -> bool:
        """The key exists (its value may be null)."""
        return self.value is not _MISSING

    @property
    def given(self) -> bool:
        """The key exists and is not null."""
        return self.value is not _MISSING and self.value is not None

    def or_default(self, default) -> "JsonNode":
        """This node, or ``default`` read at this node's path when the key is missing."""
        return self if self.present else self.substitute(default)

    def substitute(self, value) -> "JsonNode":
        """``value`` read as if it stood at this node's path (errors then name this field)."""
        return JsonNode(value, self.path, self.field)

    # -- errors -------------------------------------------------------------------------------
    def fail(self, problem: str):
        raise NamFileError(self.path, self.field or "<top level>", problem)

    def unsupported(self, problem: str):
        raise UnsupportedFeatureError(self.path, self.field or "<top level>", problem)

    def required(self):
        """The raw value; a missing key is an error."""
        if self.value is _MISSING:
            self.fail("required key is missing")
        return self.value

    # -- typed reads --------------------------------------------------------------------------
    def object(self) -> "JsonNode":
        """This node, checked to be a JSON object."""
        if not isinstance(self.required(), dict):
            self.fail(f"expected a JSON object, got {describe_value(self.value)}")
        return self

    def array(self, length=None) -> list:
        """The raw list (of exactly ``length`` items when given)."""
        value = self.required()
        if not isinstance(value, list):
            self.fail(f"expected a list, got {describe_value(value)}")
        if length is not None and len(value) != length:
            self.fail(f"expected a list of {length} items, got {len(value)}")
        return value

    def items(self, length=None) -> List["JsonNode"]:
        """The children of a list (of exactly ``length`` items when given)."""
        return [self[i] for i in range(len(self.array(length)))]

    def integer(self, lo=None, hi=None) -> int:
        """An integer in ``[lo, hi]``; an integral float such as ``8.0`` counts."""
        value = self.required()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(f"expected an integer, got {describe_value(value)}")
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            self.fail(f"expected an integer, got {value!r}")
        value = int(value)
        if lo is not None and value < lo:
            self.fail(f"expected an integer >= {lo}, got {value}")
        if hi is not None and value > hi:
            self.fail(f"expected an integer <= {hi}, got {value}")
        return value

    def number(self) -> float:
        """A finite number (integers beyond the float range are refused, not rounded to inf)."""
        value = self.required()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(f"expected a number, got {describe_value(value)}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            self.fail(f"expected a finite number, got {describe_value(value)}")
        return number

    def boolean(self) -> bool:
        value = self.required()
        if not isinstance(value, bool):
            self.fail(f"expected true or false, got {describe_value(value)}")
        return value

    def string(self) -> str:
        value = self.required()
        if not isinstance(value, str):
            self.fail(f"expected a string, got {describe_value(value)}")
        return value


def describe_value(value) -> str:
    """A short description of a JSON value for an error message (long strings are cut)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
