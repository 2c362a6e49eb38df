"""nam_dsp: run and train Neural Amp Modeler models from Python.

>>> import nam_dsp
>>> model = nam_dsp.load("amp.nam")            # doctest: +SKIP
>>> y = model.process(x_block)                 # doctest: +SKIP
"""

from .engine import (ContainerModel, LinearModel, LSTMModel, Model, WaveNetModel, from_spec, load,
                     render)
from ._kernels import isa
from .errors import AudioFileError, IsaError, NamDspError, NamFileError, UnsupportedFeatureError, WidthError
from .nam_file import load_spec, save_spec
from .spec import preset

__version__ = "0.1.0"

__all__ = [
    "load", "render", "from_spec", "load_spec", "save_spec", "preset", "load_default", "isa",
    "Model", "WaveNetModel", "LSTMModel", "LinearModel", "ContainerModel",
    "NamDspError", "NamFileError", "UnsupportedFeatureError", "WidthError", "AudioFileError", "IsaError",
]


def load_default(**kwargs):
    """The small slimmable model shipped with the package (see ``nam_dsp/data/README``)."""
    from importlib import resources
    path = resources.files("nam_dsp").joinpath("data/default.nam")
    if not path.is_file():
        raise NamDspError("no default model is bundled with this installation")
    with resources.as_file(path) as p:
        return load(p, **kwargs)
