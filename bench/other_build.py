"""Another commit's built ``_kernels`` extension, loaded beside this one for same-run comparisons.

    kernels = load_kernels(Path("/tmp/prev/nam_dsp/_kernels.cpython-311-x86_64-linux-gnu.so"))

The module is imported from its file under a name of its own (``nam_dsp_other._kernels``), so
this build's ``nam_dsp`` stays the one every other import sees; nothing is added to sys.path.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path

PACKAGE = "nam_dsp_other"


def load_kernels(path: Path):
    """The extension at ``path`` (a ``_kernels*.so`` built from another commit) as a module."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such extension (build the other commit with "
                                f"`python setup.py build_ext --inplace` and pass its nam_dsp/_kernels*.so)")
    if PACKAGE not in sys.modules:  # the extension's qualified name needs a parent package
        package = types.ModuleType(PACKAGE)
        package.__path__ = []
        sys.modules[PACKAGE] = package
    name = f"{PACKAGE}._kernels"
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(name, str(path), loader=loader))
    loader.exec_module(module)
    return module
