"""The model to play: a ``.nam`` file, else the bundled default, else an untrained stand-in.

One home for that choice, used by ``nam-dsp play``, its window's "Open model..." and
``nam-dsp demo``. Each model gets a ``source`` attribute: the name the displays show.
"""

from __future__ import annotations

import os
from typing import Callable, Optional

import nam_dsp

from ..engine import ContainerModel, Model
from ..errors import WidthError
from ..spec import ContainerSpec

#: The preset played, with random weights, when the installation has no bundled default model.
STAND_IN_PRESET = "slimmable-paper"
STAND_IN_SOURCE = f"{STAND_IN_PRESET} (untrained, random weights)"


def load_model(path=None, *, width: Optional[int] = None, slim: Optional[float] = None,
               notice: Optional[Callable[[str], None]] = None) -> Model:
    """The model at ``path``; without one (or with ``"default"`` when no such file is here, as
    for the other commands), the bundled default model, or when this installation has none, the
    :data:`STAND_IN_PRESET` preset with random weights (said through ``notice``).

    ``width`` / ``slim`` choose the starting width, as in :func:`nam_dsp.load`; for a
    SlimmableContainer the player's widths are its submodels 1..K (smallest first), so ``width``
    is a submodel number there.
    """
    if path is not None and os.fspath(path) == nam_dsp.DEFAULT_MODEL_NAME and not os.path.exists(path):
        path = None
    if path is not None:
        spec = nam_dsp.load_spec(path)
        if isinstance(spec, ContainerSpec) and width is not None:
            model = _container_at(spec, width)
        else:
            model = nam_dsp.from_spec(spec, width=width, slim=slim)
        model.source = os.path.splitext(os.path.basename(os.fspath(path)))[0]
        return model
    try:
        model = nam_dsp.load_default(width=width, slim=slim)
        model.source = "default"
        return model
    except nam_dsp.NamDspError as exc:
        if notice is not None:
            notice(f"{exc}; using the {STAND_IN_PRESET} preset instead. It is UNTRAINED (random "
                   "weights): its output shows speed and width switching, not an amp's sound.")
    model = nam_dsp.from_spec(nam_dsp.preset(STAND_IN_PRESET), width=width, slim=slim)
    model.source = STAND_IN_SOURCE
    return model


def _container_at(spec: ContainerSpec, width: int) -> ContainerModel:
    """The container starting on submodel ``width`` (1..K), as the player counts its widths."""
    count = len(spec.submodels)
    if not 1 <= int(width) <= count:
        raise WidthError(f"this SlimmableContainer has {count} submodels, played as widths 1..{count}; "
                         f"got width {width}")
    model = ContainerModel(spec)
    model.set_submodel(int(width) - 1)
    model.reset()
    return model
