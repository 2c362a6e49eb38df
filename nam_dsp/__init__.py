"""nam_dsp: run and train Neural Amp Modeler models from Python.

>>> import nam_dsp
>>> model = nam_dsp.load("amp.nam")            # doctest: +SKIP
>>> y = model.process(x_block)                 # doctest: +SKIP
"""

from .engine import (ContainerModel, LinearModel, LSTMModel, Model, WaveNetModel, from_spec, load,
                     render)
from ._kernels import isa
from .errors import AudioFileError, IsaError, NamDspError, NamFileError, UnsupportedFeatureError, WidthError
from .nam_file import load_spec
from .nam_writer import save_spec
from .presets import preset

__version__ = "0.1.0"

__all__ = [
    "load", "render", "from_spec", "load_spec", "save_spec", "preset", "load_default", "default_model_path",
    "isa",
    "Model", "WaveNetModel", "LSTMModel", "LinearModel", "ContainerModel",
    "NamDspError", "NamFileError", "UnsupportedFeatureError", "WidthError", "AudioFileError", "IsaError",
]


#: The name that stands for the bundled default model wherever a command takes a model file.
DEFAULT_MODEL_NAME = "default"


def default_model_path() -> str:
    """The path of the small slimmable model shipped with the package (``nam_dsp/data/``)."""
    import os
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "default.nam")
    if not os.path.isfile(path):
        raise NamDspError("no default model is bundled with this installation")
    return path


def load_default(**kwargs):
    """The small slimmable model shipped with the package (see ``nam_dsp/data/README.md``)."""
    return load(default_model_path(), **kwargs)
