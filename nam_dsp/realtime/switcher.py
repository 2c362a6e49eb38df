"""Click-free width switching for a streaming slimmable WaveNet: the player's audio engine.

:class:`WidthSwitcher` is what the audio callback calls once per block. It needs no audio
hardware, so the offline tests drive it directly.

How a switch works
------------------
Two instances of the model are kept: the *active* one plays; the *spare* one is idle. A width
request (from any thread: one attribute assignment, atomic under the GIL) is picked up at the next
block boundary:

1. **catch-up**: the spare is set to the new width and re-fed the recent input (the last
   receptive field, kept in a history window) a few blocks' worth per callback, plus every block
   that arrives meanwhile, until it has heard exactly what the active one heard. A WaveNet's state
   depends only on its last receptive field of input, so the spare is then in exactly the state it
   would have had if it had run at the new width all along: its output equals an offline render at
   the new width, sample for sample. The active instance keeps playing the old width meanwhile.
2. **crossfade**: both instances process the live blocks, and the output moves from the old to
   the new width along a raised-cosine ramp of ``fade`` samples (equal-gain: the two outputs are
   strongly correlated, being one amp at two widths).
3. The spare becomes the active instance; the old one goes idle.

Everything the callback touches is preallocated when the switcher is built (history window,
catch-up buffer and its block schedule, fade ramps, scratch blocks), and counters that grow past
Python's small-integer cache are kept as floats or walked through prebuilt lists, so that in steady
state and during a switch a block allocates nothing that tracemalloc can see: not a buffer, not a
view, not an int (``tests/test_player_switcher.py`` checks this, for the switcher and the
player's whole callback).

Steady state costs one engine call per block; a switch costs two per block (active + spare) for
its catch-up and fade, ``transition_blocks`` blocks in all.

Every engine call keeps the GIL (``release_gil=False``). A callback that lets the GIL go while
the GUI thread runs Python waits up to the interpreter's switch interval (5 ms) to get it back: at
256 frames on JACK's dummy driver, with the GUI up, callbacks of 4.3-17.5 ms wall time came right
before xruns; keeping the GIL, none took more than 1.5 ms (``tests/test_player_switcher.py``
checks the calls).
"""

from __future__ import annotations

import array
import threading
from typing import Optional, Sequence

import numpy as np

from .. import _kernels
from ..engine import ContainerModel, Model, WaveNetModel, from_spec
from ..errors import WidthError

# The crossfade window, chosen from measurements on the trained paper model (all 56 ordered width
# pairs, sines of 82-440 Hz at -46..-6 dBFS and a guitar DI; worst increase of the >8 kHz energy in
# any 20 ms window over the switch, against the louder of the two no-switch renders): a 64-sample
# fade adds up to +17.7 dB on a quiet 110 Hz sine, 256 samples +0.8 dB, 480 samples (10 ms) +0.23 dB,
# 960 samples +0.01 dB. 10 ms is the shortest fade with a wide margin under the 3 dB limit; longer
# only delays the switch and doubles the CPU for longer. (A hard cut adds up to +80 dB; the
# engine's in-place set_width up to +103 dB.)
DEFAULT_FADE_SECONDS = 0.010
# Blocks of catch-up the spare processes per callback when the caller gives no budget.
DEFAULT_CATCHUP_BLOCKS = 4

IDLE, CATCHUP, FADE = 0, 1, 2
STATE_NAMES = {IDLE: "idle", CATCHUP: "catch-up", FADE: "crossfade"}


def fade_ramp(length: int) -> np.ndarray:
    """A raised-cosine ramp rising from just above 0 to just below 1 over ``length`` samples."""
    i = np.arange(1, length + 1, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(np.pi * i / (length + 1))).astype(np.float32)


def _blocks(a: np.ndarray, n: int) -> list:
    """Views of consecutive ``n``-sample blocks of ``a``, made once so the callback makes none."""
    return [a[i:i + n] for i in range(0, a.shape[0], n)]


class WidthSwitcher:
    """Plays a model block by block; width changes from any thread are crossfaded, click-free.

    Parameters
    ----------
    model : Model
        The model to play (it becomes the active instance). A slimmable WaveNet can change width;
        so can a SlimmableContainer, whose submodels count as widths 1..K (smallest first; the
        spare is the submodel switched to, caught up on the container's own input window). Any
        other model plays at its fixed configuration.
    block_size : int
        Every :meth:`process` call takes exactly this many samples.
    fade : int, optional
        Crossfade length in samples (rounded up to whole blocks); default
        ``DEFAULT_FADE_SECONDS`` at the model's rate.
    catchup_blocks : int or mapping width -> int, optional
        How many blocks of catch-up the spare instance processes per callback (>= 2). The player
        sets it per width from a timing calibration so catch-up stays within a share of the
        deadline.

    Notes
    -----
    :meth:`request_width`, :meth:`request_slim` and :attr:`bypass` may be called from any thread;
    they take effect at the next block boundary. :meth:`process` must be called from one thread
    only (the audio callback).
    """

    def __init__(self, model: Model, block_size: int, fade: Optional[int] = None,
                 catchup_blocks=None):
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        self.model = model
        self.spec = model.spec
        self.sample_rate = model.sample_rate
        self.block_size = n = int(block_size)
        self.container = isinstance(model, ContainerModel)
        self.switchable = self.container or (isinstance(model, WaveNetModel) and bool(model.slimmable))
        self.allowed_widths: Optional[tuple] = (
            tuple(range(1, len(model.submodels) + 1)) if self.container
            else tuple(model.allowed_widths) if self.switchable else None)
        if fade is None:
            fade = int(round(DEFAULT_FADE_SECONDS * self.sample_rate))
        self.fade_blocks = f = max(1, -(-int(fade) // n))
        self.fade = f * n
        ramp = fade_ramp(self.fade)
        self._ramp_up = _blocks(ramp, n)
        self._ramp_down = _blocks(np.ascontiguousarray(ramp[::-1]), n)
        self._ya = np.zeros(n, np.float32)
        self._yb = np.zeros(n, np.float32)
        self._tmp = np.zeros(n, np.float32)
        self._steps = list(range(1, 1 << 16))  # prebuilt "i + 1" for counters past 256

        self._bypass_req = False
        self._dry = False            # bypass reached (after its fade)
        self._dry_fade = -1          # fade block index while fading wet<->dry, else -1
        self._dry_to = False
        self.blocks = 0.0            # blocks processed (float: see module notes)
        self.switch_count = 0.0      # completed switches
        # Events: [block where the fade started, from width, to width] per completed switch.
        self.events = array.array("d", bytes(8 * 3 * 1024))
        self._event_i = 0
        self._lock = threading.Lock()  # serialises requesters, never taken by process()

        if not self.switchable:
            self._width = model.width
            self._request = None
            return
        if self.container:
            # A switch feeds the submodel switched to the container's input window (the largest
            # receptive field, 0.5 s with an LSTM): its state before is overwritten (WaveNets,
            # exactly) or forgotten (LSTMs, as after the container's own reset-and-refeed).
            level = model.active_index + 1
            self._levels = list(model.submodels)
            self._active_model = self._levels[level - 1]
            self._spare_model = None
            rf = model.switch_window
        else:
            level = model.width
            self._active_model = model
            self._spare_model = from_spec(self.spec, width=level)
            rf = model.receptive_field
        self._spare = self._spare_model
        self._width = level
        self._request = level
        self._target = level
        self.state = IDLE
        self._h = h = -(-rf // n)      # history blocks (>= one receptive field)
        self._hist = np.zeros(h * n, np.float32)
        # catch-up schedules, one per chunk size; the catch buffer fits the longest
        widths = self.allowed_widths
        if catchup_blocks is None:
            catchup_blocks = DEFAULT_CATCHUP_BLOCKS
        if isinstance(catchup_blocks, int):
            per_width = {w: catchup_blocks for w in widths}
        else:
            per_width = {w: int(catchup_blocks.get(w, DEFAULT_CATCHUP_BLOCKS)) for w in widths}
        for w, m in per_width.items():
            if m < 2:
                raise ValueError(f"catchup_blocks must be >= 2 (width {w} got {m})")
        self.catchup_blocks = per_width
        longest = max(self._schedule_length(m) for m in set(per_width.values()))
        self._catch = np.zeros((h + longest) * n, np.float32)
        self._catch_blocks = _blocks(self._catch, n)
        self._catch_head = self._catch[:h * n]
        self._scratch = np.zeros(max(per_width.values()) * n, np.float32)
        schedules = {m: self._schedule(m) for m in set(per_width.values())}
        self._schedule_for = {w: schedules[m] for w, m in per_width.items()}
        self._sched = self._schedule_for[self._width]
        self._step = 0
        self._fade_i = 0

    # -- schedules ------------------------------------------------------------------------------
    def _schedule_length(self, m: int) -> int:
        h, fed, s = self._h, 0, 0
        while True:
            fed += min(m, h + s - fed)
            if fed == h + s:
                return s + 1
            s += 1

    def _schedule(self, m: int) -> list:
        """The catch-up steps for chunks of ``m`` blocks: (live-block slot, input, output, tail).

        At step ``s`` the catch buffer holds the ``h`` history blocks then the ``s`` blocks that
        arrived since; the spare eats up to ``m`` of them. The last step ends with the current
        block, and its tail view is the spare's output for that block.
        """
        n, h = self.block_size, self._h
        steps, fed, s = [], 0, 0
        while True:
            avail = h + s
            take = min(m, avail - fed)
            inp = self._catch[fed * n:(fed + take) * n]
            out = self._scratch[:take * n]
            fed += take
            done = fed == avail
            dst = self._catch_blocks[h + s - 1] if s else None  # where this step's live block goes
            steps.append((dst, inp, out, out[(take - 1) * n:] if done else None))
            if done:
                return steps
            s += 1

    @property
    def transition_blocks(self) -> int:
        """Blocks a switch to the full width takes from request to completion (catch-up + fade)."""
        if not self.switchable:
            return 0
        return len(self._schedule_for[max(self.allowed_widths)]) - 1 + self.fade_blocks

    # -- control (any thread) -------------------------------------------------------------------
    @property
    def width(self):
        """The width being heard now (the old one until a switch's crossfade has finished)."""
        return self._width

    @property
    def target_width(self):
        """The width most recently requested (what the player is heading to)."""
        return self._request if self.switchable else self._width

    def request_width(self, width: int) -> None:
        """Switch to ``width`` (one of ``allowed_widths``) from the next block; returns at once."""
        if not self.switchable:
            raise WidthError(f"this {self.spec.architecture} model is not slimmable: its width "
                             "cannot change while playing")
        if self.container:
            if width not in self.allowed_widths:
                raise WidthError(f"width {width!r} is not allowed: this container's submodels are "
                                 f"widths {self.allowed_widths[0]}..{self.allowed_widths[-1]}")
            self._request = int(width)
            return
        self._request = self.spec.check_width(width)

    def request_slim(self, ratio: float) -> None:
        """Switch to NAM's slimming ratio ``ratio`` in [0, 1] (see ``Model.set_slim``)."""
        if not self.switchable:
            raise WidthError(f"this {self.spec.architecture} model is not slimmable: its width "
                             "cannot change while playing")
        self._request = (self.spec.index_for_ratio(ratio) + 1 if self.container
                         else self.spec.width_for_ratio(ratio))

    def step_width(self, steps: int) -> int:
        """Request the allowed width ``steps`` places above (or below) the target; returns it."""
        if not self.switchable:
            raise WidthError("this model's width cannot change")
        with self._lock:
            widths = self.allowed_widths
            i = widths.index(self._request) + int(steps)
            w = widths[min(max(i, 0), len(widths) - 1)]
            self._request = w
        return w

    @property
    def bypass(self) -> bool:
        return self._bypass_req

    @bypass.setter
    def bypass(self, on: bool) -> None:
        """Bypass: the output fades to the dry input (the model keeps running, staying warm)."""
        self._bypass_req = bool(on)

    @property
    def transitioning(self) -> bool:
        return self.switchable and self.state != IDLE

    # -- audio (one thread) ---------------------------------------------------------------------
    def process(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Process one block: ``x`` and ``out`` are float32 arrays of ``block_size`` samples."""
        if self.switchable:
            self._process_switchable(x, out)
        else:
            self.model.process(x, out, release_gil=False)
        if self._dry or self._dry_fade >= 0 or self._bypass_req:
            self._process_bypass(x, out)
        self.blocks += 1.0
        return out

    def _start(self, width) -> None:
        if self.container:
            self._spare = self._levels[width - 1]
        else:
            self._spare = self._spare_model
            self._spare.set_width(width)  # applied at its next process() call: the first catch-up chunk
        self._target = width
        self._sched = self._schedule_for[width]
        self._step = 0
        np.copyto(self._catch_head, self._hist)
        self.state = CATCHUP

    def _process_switchable(self, x, out) -> None:
        _kernels.shift_in(self._hist, x)
        req = self._request
        state = self.state
        if state == IDLE:
            if req != self._width:
                self._start(req)
                state = CATCHUP
        elif state == CATCHUP and req == self._width:
            self.state = state = IDLE      # cancelled before anything was heard
        # any other new request waits for this switch to finish (it would never finish if a
        # slider dragged faster than one catch-up restarted it)
        active = self._active_model
        if state == IDLE:
            active.process(x, out, release_gil=False)
            return
        if state == CATCHUP:
            active.process(x, out, release_gil=False)
            step = self._step
            dst, inp, res, tail = self._sched[step]
            if dst is not None:
                np.copyto(dst, x)
            self._spare.process(inp, res, release_gil=False)
            if tail is None:
                self._step = self._steps[step]
                return
            # the spare has caught up: this block is the first of the crossfade
            np.subtract(tail, out, self._tmp)
            np.multiply(self._tmp, self._ramp_up[0], self._tmp)
            np.add(out, self._tmp, out)
            self._fade_i = 1
            self.state = FADE
            self._log_event()
        else:
            ya = self._ya
            active.process(x, ya, release_gil=False)
            self._spare.process(x, out, release_gil=False)
            i = self._fade_i
            # out = ya + g * (yb - ya), yb already in out
            np.subtract(out, ya, self._tmp)
            np.multiply(self._tmp, self._ramp_up[i], self._tmp)
            np.add(ya, self._tmp, out)
            self._fade_i = self._steps[i]
        if self._fade_i >= self.fade_blocks:
            if not self.container:   # the old instance becomes the spare
                self._spare_model = active
            self._active_model = self._spare
            self._width = self._target
            self.state = IDLE
            self.switch_count += 1.0

    def _log_event(self) -> None:
        i = self._event_i
        if i < 3 * 1024:
            nxt, e = self._steps, self.events
            e[i] = self.blocks
            e[nxt[i]] = self._width
            e[nxt[nxt[i]]] = self._target
            self._event_i = nxt[nxt[nxt[i]]]

    def _process_bypass(self, x, out) -> None:
        want = self._bypass_req
        if self._dry_fade < 0:
            if want == self._dry:
                if want:
                    np.copyto(out, x)
                return
            self._dry_fade = 0
            self._dry_to = want
        i = self._dry_fade
        ramp = (self._ramp_up if self._dry_to else self._ramp_down)[i]
        np.subtract(x, out, self._tmp)
        np.multiply(self._tmp, ramp, self._tmp)
        np.add(out, self._tmp, out)
        i = self._steps[i]
        if i >= self.fade_blocks:
            self._dry = self._dry_to
            self._dry_fade = -1
        else:
            self._dry_fade = i

    def switch_events(self) -> list:
        """Switches whose crossfade has started: ``(fade start block, from width, to width)``."""
        k = self._event_i // 3
        e = self.events
        return [(int(e[3 * i]), int(e[3 * i + 1]), int(e[3 * i + 2])) for i in range(k)]

    def reset(self) -> None:
        """Silence the stream (both instances reset, history cleared); not from the callback."""
        if self.switchable:
            for m in (self._levels if self.container else (self._active_model, self._spare_model)):
                m.reset()
            self._hist[:] = 0.0
            self.state = IDLE
            self._target = self._width
        else:
            self.model.reset()


def render_with_switches(model: Model, x: np.ndarray, block_size: int,
                         switches: Sequence = (), fade: Optional[int] = None,
                         catchup_blocks=None) -> tuple:
    """Offline: play ``x`` through a :class:`WidthSwitcher`, requesting widths at given blocks.

    ``switches`` is a sequence of ``(block index, width)``. Returns ``(y, switcher)``; the part of
    ``x`` past the last whole block is dropped.
    """
    sw = WidthSwitcher(model, block_size, fade=fade, catchup_blocks=catchup_blocks)
    n = block_size
    nb = x.shape[0] // n
    x = np.ascontiguousarray(x[:nb * n], dtype=np.float32)
    y = np.zeros_like(x)
    todo = sorted(switches)
    k = 0
    for b in range(nb):
        while k < len(todo) and todo[k][0] <= b:
            sw.request_width(todo[k][1])
            k += 1
        sw.process(x[b * n:(b + 1) * n], y[b * n:(b + 1) * n])
    return y, sw
