"""Stateful models: the objects users hold to stream audio through NAM models.

The streaming convention, once for the whole package: a model keeps its own state; each call to
:meth:`Model.process` continues the stream where the previous call ended, so the output of any
partition of a signal into blocks is bit-identical to processing it in one call. :meth:`Model.reset`
starts a new stream from silence ("prewarm", as NAM Core does).

Non-finite input samples (NaN, +-inf) are treated as 0.0 and counted in
:attr:`Model.nonfinite_count`; they never reach the model's state. A non-finite *output* sample
(the model's own arithmetic overflowing float32) is replaced by 0.0 and counted in
:attr:`Model.nonfinite_output_count`, and the state is restored to silence.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from . import _kernels, _packing
from .errors import NamDspError, WidthError
from .nam_file import load_spec
from .nam_writer import save_spec
from .spec import ContainerSpec, LinearSpec, LSTMSpec, WaveNetSpec

class Model:
    """Base class: the streaming API shared by every architecture.

    Attributes
    ----------
    spec : the validated model description (see :mod:`nam_dsp.spec`).
    sample_rate : float
        The rate the model was trained at (48000 when the file does not say).
    receptive_field : int
        Samples of input history that influence one output sample.
    """

    def __init__(self, spec):
        self.spec = spec
        self.sample_rate = float(spec.sample_rate)
        self.receptive_field = int(spec.receptive_field)

    # -- streaming ------------------------------------------------------------------------------
    def process(self, x, out: Optional[np.ndarray] = None, release_gil: bool = True) -> np.ndarray:
        """Process the next block of the stream.

        Parameters
        ----------
        x : array_like, 1-D
            Input samples (any length, 0 included). float32 C-contiguous input is used as is;
            anything else is converted.
        out : ndarray, optional
            A float32 array of the same length to write into. With a float32 ``x`` and ``out``
            given, a warmed model allocates nothing.
        release_gil : bool, default True
            Run the block without the GIL (other threads and models run meanwhile). An audio
            callback with short blocks may pass False, so it never waits to get the GIL back.

        Returns
        -------
        ndarray of float32, the same length as ``x`` (``out`` when given).

        Notes
        -----
        Each concrete model binds this name to its compiled kernel's ``process`` at construction,
        so a call is one compiled function: checks, any pending width change, then the whole
        block through the whole model without the GIL.
        """
        return self._kernel.process(x, out, release_gil)

    def __call__(self, x, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Alias of :meth:`process`."""
        return self.process(x, out)

    def reset(self) -> None:
        """Clear the state and prewarm: the model behaves as if it had heard silence forever."""
        raise NotImplementedError

    def _apply_pending(self) -> None:
        pass

    @property
    def nonfinite_count(self) -> int:
        """How many non-finite input samples were replaced by 0 since the last reset."""
        return int(self._kernel.nonfinite_count)

    @property
    def nonfinite_output_count(self) -> int:
        """How many output samples came out non-finite and were replaced by 0 since the last reset.

        Only the model's own float32 arithmetic can produce them (inputs are sanitised): a file
        with absurd weights, or an absurdly loud input through an unbounded activation. When it
        happens the state is restored to silence at the end of that block, so the overflow does
        not live on in the histories: the silence recorded by the last :meth:`reset` (for a
        slimmed WaveNet, each channel's full-width silence value, as a width change uses).
        """
        return int(self._kernel.nonfinite_output_count)

    # -- width ----------------------------------------------------------------------------------
    @property
    def slimmable(self) -> bool:
        return False

    @property
    def allowed_widths(self):
        return None

    @property
    def width(self):
        return None

    def set_width(self, width: int) -> None:
        raise WidthError(f"{type(self).__name__} models are not slimmable: width cannot change")

    def set_slim(self, ratio: float) -> None:
        raise WidthError(f"{type(self).__name__} models are not slimmable: a slimming ratio needs a slimmable model")

    def macs_per_sample(self, width: Optional[int] = None) -> int:
        return int(self.spec.macs_per_sample(width))

    def save(self, path, form: str = "auto") -> None:
        """Write the model to a ``.nam`` file atomically."""
        save_spec(self.spec, path, form)


class WaveNetModel(Model):
    """A streaming WaveNet. Slimmable models change width between any two blocks.

    Width changes (:meth:`set_width`, :meth:`set_slim`) may come from any thread; they are
    applied at the start of the next :meth:`process` call, with no reallocation and the existing
    history kept. Channels that become active start from their *silence* values (the state they
    hold after prewarm), so a widening switch behaves as if those channels had heard silence and
    converges to the exact wider model within one receptive field. Channels that become inactive
    are frozen and not computed.

    Such an in-place switch is instant but not click-free: the output jumps from one width's
    sound to the other's within a sample. For live playing, :class:`nam_dsp.realtime.switcher.
    WidthSwitcher` warms a second copy at the new width and crossfades.

    A model that uses NAM's A2 extensions (FiLM, grouped convs, head1x1, a bottleneck different
    from the channels, PReLU or ranged LeakyHardtanh; ``spec.is_extended``) runs at full width
    only: asking for any other width raises :class:`~nam_dsp.errors.WidthError`, even when its
    file declares ``slimmable``.
    """

    def __init__(self, spec: WaveNetSpec, width: Optional[int] = None):
        super().__init__(spec)
        initial = spec.full_width if width is None else spec.check_width(width)
        self._kernel = _kernels.WaveNetKernel(_packing.pack_wavenet(spec), initial)
        # The per-block entry point is the kernel's own method: argument checks, the pending
        # width and the GIL-free run happen in one compiled call, with no Python frame.
        self.process = self._kernel.process
        self.reset()

    @property
    def slimmable(self) -> bool:
        return self.spec.slimmable

    @property
    def allowed_widths(self):
        return self.spec.allowed_widths

    @property
    def width(self) -> int:
        """The width in use (a requested change counts as soon as it is requested)."""
        return self._kernel.pending_width or self._kernel.width

    def set_width(self, width: int) -> None:
        """Run the first ``width`` channels from the next block on (one of ``allowed_widths``)."""
        self._kernel.pending_width = self.spec.check_width(width)

    def set_slim(self, ratio: float) -> None:
        """NAM's slimming ratio in [0, 1]: ``allowed[min(floor(ratio * n), n - 1)]``."""
        self._kernel.pending_width = self.spec.width_for_ratio(ratio)

    def _apply_pending(self) -> None:
        self._kernel.apply_pending_width()

    def reset(self) -> None:
        """Zero the histories and prewarm (one receptive field of zeros), as NAM Core does.

        The prewarm runs at full width first (so every channel has a silence value to start
        from when it becomes active), then at the current width.
        """
        k = self._kernel
        k.apply_pending_width()
        width = k.width
        k.clear()
        k.width = self.spec.full_width
        k.run_silence(self.receptive_field)
        k.snapshot_silence()
        if width != self.spec.full_width:
            k.width = width
            k.run_silence(self.receptive_field)
        k.nonfinite_count = 0
        k.nonfinite_output_count = 0

    def state(self) -> list:
        """A copy of the visible history of every layer (for tests and debugging)."""
        return self._kernel.state()


class LSTMModel(Model):
    """A streaming LSTM. Reset restores the file's initial state, then prewarms like NAM Core
    (0.5 s of zeros at the model's rate, one 64-sample block when the rate is unknown)."""

    def __init__(self, spec: LSTMSpec):
        super().__init__(spec)
        self._kernel = _kernels.LSTMKernel(spec)
        self.process = self._kernel.process
        self.reset()

    def reset(self) -> None:
        self._kernel.load_initial_state()
        self._kernel.run_silence(self.spec.prewarm_samples_rounded)
        self._kernel.snapshot_silence()
        self._kernel.nonfinite_count = 0
        self._kernel.nonfinite_output_count = 0

    def state(self) -> list:
        return self._kernel.state()


class LinearModel(Model):
    """A streaming FIR filter (NAM's ``Linear``); reset zeroes the history."""

    def __init__(self, spec: LinearSpec):
        super().__init__(spec)
        self._kernel = _kernels.LinearKernel(*_packing.pack_linear(spec))
        self.process = self._kernel.process
        self.reset()

    def reset(self) -> None:
        self._kernel.clear()
        self._kernel.nonfinite_count = 0
        self._kernel.nonfinite_output_count = 0

    def state(self) -> list:
        """The input history window (for tests and debugging)."""
        return self._kernel.state()


class ContainerModel(Model):
    """NAM's SlimmableContainer: one submodel runs, chosen by a slimming ratio.

    Keeping every submodel running would cost their sum, so only the active one runs. The
    container keeps a window of the most recent input (the largest submodel receptive field, at
    least 0.5 s for LSTMs); on a switch the incoming submodel is reset and then fed that window, so
    a WaveNet submodel takes over in exactly the state it would have had if it had been running
    all along (its state depends only on the last receptive field of input), and an LSTM in
    nearly so. The catch-up costs one window of processing, in the block where the switch lands.
    """

    def __init__(self, spec: ContainerSpec, ratio: float = 1.0):
        super().__init__(spec)
        self.submodels = [from_spec(s) for s in spec.submodels]
        window = max(s.receptive_field for s in spec.submodels)
        if any(isinstance(s, LSTMSpec) for s in spec.submodels):
            window = max(window, int(0.5 * spec.sample_rate))
        self._history = np.zeros(window, dtype=np.float32)
        self._scratch = np.zeros(window, dtype=np.float32)
        self._active = spec.index_for_ratio(ratio)
        self._pending = None
        # Non-finite samples counted by submodels before they were reset on a switch.
        self._nonfinite_before = 0

    @property
    def slimmable(self) -> bool:
        return True

    @property
    def active_index(self) -> int:
        return self._active if self._pending is None else self._pending

    @property
    def active(self) -> Model:
        return self.submodels[self._active]

    @property
    def switch_window(self) -> int:
        """Samples of recent input an incoming submodel is fed on a switch (see the class notes)."""
        return int(self._history.shape[0])

    @property
    def _kernel(self):
        return self.submodels[self._active]._kernel

    def set_slim(self, ratio: float) -> None:
        """Choose the first submodel with ``ratio < max_value`` (else the last), from the next block."""
        self._pending = self.spec.index_for_ratio(ratio)

    def set_submodel(self, index: int) -> None:
        """Choose submodel ``index`` (0 = the smallest) from the next block."""
        if not 0 <= int(index) < len(self.submodels):
            raise WidthError(f"this container has submodels 0..{len(self.submodels) - 1}, not {index}")
        self._pending = int(index)

    def _apply_pending(self) -> None:
        pending = self._pending
        if pending is not None:
            self._pending = None
            if pending != self._active:
                model = self.submodels[pending]
                self._nonfinite_before += model.nonfinite_count
                model.reset()
                model.process(self._history, out=self._scratch)
                # The re-fed history was counted when it first arrived.
                model._kernel.nonfinite_count = 0
                self._active = pending

    def process(self, x, out: Optional[np.ndarray] = None, release_gil: bool = True) -> np.ndarray:
        x = _kernels.input_block(x)
        out = _kernels.output_block(out, x.shape[0])
        self._apply_pending()
        # Record the input before processing: ``out`` may be ``x`` itself.
        _kernels.shift_in(self._history, x)
        self.active.process(x, out, release_gil)
        return out

    def reset(self) -> None:
        """Silence history; the active submodel is reset and prewarmed, the counters zeroed."""
        self._apply_pending()
        self._history[:] = 0.0
        self.active.reset()
        for model in self.submodels:
            model._kernel.nonfinite_count = 0
            model._kernel.nonfinite_output_count = 0
        self._nonfinite_before = 0

    @property
    def nonfinite_count(self) -> int:
        return self._nonfinite_before + sum(m.nonfinite_count for m in self.submodels)

    @property
    def nonfinite_output_count(self) -> int:
        return sum(m.nonfinite_output_count for m in self.submodels)

    def state(self) -> list:
        """The active submodel's index and state, and the container's input window."""
        return [np.array([self._active]), *self.active.state(), self._history.copy()]

    def macs_per_sample(self, width=None) -> int:
        return self.active.macs_per_sample()

    @property
    def receptive_field_active(self) -> int:
        return self.active.receptive_field


def from_spec(spec, *, width: Optional[int] = None, slim: Optional[float] = None) -> Model:
    """Build the streaming model for a validated spec."""
    if isinstance(spec, WaveNetSpec):
        if slim is not None:
            width = spec.width_for_ratio(slim)
        return WaveNetModel(spec, width)
    if width is not None:
        raise WidthError(f"{spec.architecture} models have no width; use a slimmable WaveNet")
    if isinstance(spec, ContainerSpec):
        return ContainerModel(spec, 1.0 if slim is None else slim)
    if slim is not None:
        raise WidthError(f"{spec.architecture} models are not slimmable: a slimming ratio needs a slimmable model")
    if isinstance(spec, LSTMSpec):
        return LSTMModel(spec)
    if isinstance(spec, LinearSpec):
        return LinearModel(spec)
    raise NamDspError(f"not a model spec: {type(spec).__name__}")


def load(path, *, width: Optional[int] = None, slim: Optional[float] = None) -> Model:
    """Load a ``.nam`` file into a ready (prewarmed) streaming model.

    Parameters
    ----------
    path : str or os.PathLike
    width : int, optional
        Start at this width (slimmable WaveNets).
    slim : float, optional
        Start at NAM's slimming ratio in [0, 1] (slimmable WaveNets and containers).

    Raises
    ------
    NamFileError
        The file is unreadable, not JSON, malformed, or uses a feature this engine lacks; the
        message names the file and the field.
    """
    return from_spec(load_spec(path), width=width, slim=slim)


def render(model, x, *, block_size: Optional[int] = None, width: Optional[int] = None,
           slim: Optional[float] = None) -> np.ndarray:
    """One-shot: reset ``model`` (a Model, spec or path), then process all of ``x``.

    ``block_size`` splits the signal into blocks as a live host would (the output is the same);
    ``None`` processes it in one call.
    """
    if isinstance(model, (str, os.PathLike)):
        model = load(model, width=width, slim=slim)
    elif not isinstance(model, Model):
        model = from_spec(model, width=width, slim=slim)
    else:
        if width is not None:
            model.set_width(width)
        if slim is not None:
            model.set_slim(slim)
        model.reset()
    x = _kernels.input_block(x)
    out = np.empty(x.shape[0], dtype=np.float32)
    if not block_size:
        return model.process(x, out=out)
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    for start in range(0, x.shape[0], block_size):
        model.process(x[start:start + block_size], out=out[start:start + block_size])
    return out
