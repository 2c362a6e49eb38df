"""The live player: a PyAudio full-duplex float32 stream around a :class:`WidthSwitcher`.

The audio callback does one thing: copy the input bytes into a preallocated block, hand it to the
switcher (one nogil engine call per block outside width switches), note levels and its own
duration in preallocated rings, and return a preallocated output buffer. Everything else runs on
other threads a few dozen times a second and only reads what the callback wrote: the devices
(:mod:`.devices`), the input file and the recording (:mod:`.files`), automatic width
(:class:`.AutoWidth`), the meters and their words (:mod:`.status`), the GUI.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from typing import Optional

import numpy as np

from ..engine import ContainerModel, Model, from_spec
from ..errors import AudioError, AudioFileError, WidthError
from ..resample import DEFAULT_MODEL_BLOCK, RateConverter, convert_rate
from ..spec import validation_esr
from . import devices, status
from .autowidth import AutoWidth
from .files import FileFeed, Recorder, read_input_file
from .meters import BlockRing, CallbackStats
from .switcher import WidthSwitcher

__all__ = ["Player", "calibrate", "AudioError"]  # AudioError: its home is nam_dsp.errors

_now = time.perf_counter


def calibrate(model: Model, block_size: int, repeats: int = 12) -> dict:
    """Seconds per block at each width (median of ``repeats``), on a throwaway copy of the model.

    A SlimmableContainer's widths are its submodels 1..K (as :class:`WidthSwitcher` numbers them)."""
    if isinstance(model, ContainerModel):
        probe = from_spec(model.spec)
        runs = {i + 1: sub.process for i, sub in enumerate(probe.submodels)}
    elif model.allowed_widths:
        probe = from_spec(model.spec, width=model.width)

        def at(w):
            def run(x, y):
                probe.set_width(w)
                probe.process(x, y)
            return run
        runs = {w: at(w) for w in model.allowed_widths}
    else:
        probe = from_spec(model.spec)
        runs = {model.width: probe.process}
    x = (np.random.default_rng(0).standard_normal(block_size) * 0.1).astype(np.float32)
    y = np.empty_like(x)
    cost = {}
    for w, run in runs.items():
        run(x, y)
        t = []
        for _ in range(repeats):
            t0 = _now()
            run(x, y)
            t.append(_now() - t0)
        cost[w] = float(np.median(t))
    return cost


class Player:
    """Plays a model live through PyAudio.

    Parameters
    ----------
    model : Model
        What to play; a slimmable WaveNet can change width while playing.
    block_size : int
        Frames per callback (the stream's buffer size).
    input_device, output_device : int, optional
        PortAudio device indices (:func:`.devices.list_devices`); default devices otherwise.
    input_file : path, optional
        Play this audio file as the input instead of a device (paced by the stream; the stream is
        then output-only, at the file's rate if the device runs it, else the file is converted to
        the device's, with a note in ``notices``). The player finishes when the file has been played.
    device_rate : int, optional
        The stream's sample rate. Default: the input file's or the model's if the devices run
        it, else the device's default. At any rate other than the model's the player converts in
        the stream (:class:`~nam_dsp.resample.RateConverter`, under 2 ms added: ``conversion_ms``).
    record : path, optional
        Write what was played (the model's output, mono float32 WAV).
    seconds : float, optional
        Stop after this much audio (more than 0).
    fade : int, optional
        Crossfade length in samples (default 10 ms).
    auto_width : bool
        Start with automatic width on (see :class:`AutoWidth`); ``auto_target`` is its p99 target.
    no_work : bool
        Baseline mode for measurements: the same callback without the engine call (plays silence).
    catchup_share : float
        A width switch's catch-up work per callback, as a share of the deadline (default 0.1,
        from a timing calibration at start, 2 to 16 blocks per callback). Measured at 256 frames
        on JACK's dummy driver with the CPUs shared: catch-up callbacks of ~18% of the deadline
        went with about twice the no-work baseline's xruns, ~9% with no more than the baseline.
        At 0.1 a switch to full width takes 20-30 ms (catch-up, then the 10 ms crossfade).
    rt_priority : int or None
        SCHED_FIFO priority asked for the audio thread (None: leave the scheduling alone).

    Use ``start()``, then ``tick()`` a few times a second (meters, auto-width) or ``wait()``, then
    ``stop()``. Refusals raise :class:`~nam_dsp.errors.AudioError` (its ``settings`` name the
    argument at fault), :class:`~nam_dsp.errors.AudioFileError` (``input_file``, ``record``) or
    :class:`~nam_dsp.errors.WidthError` (``auto_width`` on a fixed-width model).
    """

    def __init__(self, model: Model, *, block_size: int = 64, input_device: Optional[int] = None,
                 output_device: Optional[int] = None, input_file=None, record=None,
                 seconds: Optional[float] = None, fade: Optional[int] = None,
                 device_rate: Optional[int] = None,
                 auto_width: bool = False, auto_target: float = 0.5, no_work: bool = False,
                 catchup_share: float = 0.1, rt_priority: Optional[int] = 10):
        if int(block_size) < 1:
            raise AudioError(f"block size must be >= 1 frame, got {block_size}", ("block_size",))
        if seconds is not None and not float(seconds) > 0:
            raise AudioError(f"the time to play must be more than 0 seconds, got {seconds}", ("seconds",))
        if device_rate is not None and not (int(device_rate) == device_rate and device_rate > 0):
            raise AudioError(f"the device rate must be a positive whole number of Hz, got "
                             f"{device_rate}", ("device_rate",))
        self.model = model
        self.model_rate = int(round(model.sample_rate))
        self.device_rate = None if device_rate is None else int(device_rate)  # as asked
        self.block_size = n = int(block_size)
        self.input_device = input_device
        self.output_device = output_device
        self.record_path = record
        self.seconds = seconds
        self.no_work = no_work
        self.fade = fade
        self.auto_target = auto_target
        self.catchup_share = catchup_share
        self.notices: list = []   # what the player changed to make the request work, for the UIs
        self._file = None   # (samples, rate) of the input file
        if input_file is not None:
            self._file = read_input_file(input_file)
            if self.device_rate is not None and self._file[1] != self.device_rate:
                raise AudioFileError(f"{input_file}: sample rate {self._file[1]} Hz, but the "
                                     f"stream was asked to run at {self.device_rate} Hz")
        self._calibration = None  # (model, block, costs) of the last timing calibration
        self._configure_stream(self.device_rate or (self._file[1] if self._file else self.model_rate))
        self._setup_model(model, auto_width)
        self._x = np.zeros(n, np.float32)
        self._x_bytes = memoryview(self._x).cast("B")
        self._y = np.zeros(n, np.float32)
        self._silence = np.zeros(n, np.float32)
        self.blocks = 0.0
        self.odd_blocks = 0
        self.error: Optional[BaseException] = None
        self.finished = threading.Event()
        self._done = False
        self._pa = None
        self._stream = None
        self._recorder = None
        self.load_hook = None  # tests: a callable(x) run inside the callback (artificial load)
        self.rt_priority = rt_priority
        self._promote = rt_priority is not None
        self.scheduling = "normal"

    def _configure_stream(self, rate: int) -> None:
        """What depends on the stream's rate: the deadline, the rings, the file feed, the limit."""
        n = self.block_size
        self.rate = int(rate)
        self.deadline = n / self.rate
        self.stats = CallbackStats(self.deadline)
        ring_blocks = max(64, -(-2 * self.rate // n))
        self.in_ring = BlockRing(n, ring_blocks)
        self.out_ring = BlockRing(n, ring_blocks)
        self._feed = FileFeed(self._file[0], n) if self._file is not None else None
        s = self.seconds
        self._limit = float("inf") if s is None else float(np.ceil(s * self.rate / n))

    def _setup_model(self, model: Model, auto_width: bool) -> None:
        n = self.block_size
        self.model = model
        self.model_rate = int(round(model.sample_rate))
        converting = self.rate != self.model_rate
        # Converting, the model runs on fixed blocks of its own (the converter's FIFO); costs are
        # kept per callback, as the deadline and auto-width count them.
        block = DEFAULT_MODEL_BLOCK if converting else n
        per_callback = n * self.model_rate / self.rate / block if converting else 1.0
        self.cost = {w: c * per_callback for w, c in self._block_costs(model, block).items()}
        # catch-up blocks per engine call: the callback's share of the deadline over the cost of
        # a callback's worth of blocks is the same ratio per engine call
        catchup = {w: int(min(16, max(2, self.catchup_share * self.deadline / max(c, 1e-9))))
                   for w, c in self.cost.items()}
        switchable = bool(model.allowed_widths) or isinstance(model, ContainerModel)
        self.engine = WidthSwitcher(model, block, fade=self.fade,
                                    catchup_blocks=catchup if switchable else None)
        self.converter = (RateConverter(self.engine.process, self.model_rate, self.rate, n, block)
                          if converting else None)
        self.auto = None
        if self.engine.switchable:
            self.auto = AutoWidth(self.engine.allowed_widths, self.cost, target=self.auto_target)
            self.auto.enabled = bool(auto_width)
        elif auto_width:
            raise WidthError(f"automatic width needs a slimmable model; this "
                             f"{model.spec.architecture} model has a fixed width")

    def _block_costs(self, model: Model, block: int) -> dict:
        """:func:`calibrate`'s costs, measured once per model and block size (a stream that
        starts at another rate than guessed sets the model up again, with the same blocks)."""
        cached = self._calibration
        if cached is None or cached[0] is not model or cached[1] != block:
            cached = self._calibration = (model, block, calibrate(model, block))
        return cached[2]

    def replace_model(self, model: Model) -> None:
        """Play another model: the stream stops, the new model is set up, the stream restarts.

        The stream keeps its rate (a model at another rate is converted). A recording in progress
        starts again (the file is rewritten) with the new model."""
        pa, own, running = self._pa, getattr(self, "_own_pa", False), self._stream is not None
        if running:
            self._close(None)
        self._setup_model(model, self.auto_enabled and (bool(model.allowed_widths)
                                                         or isinstance(model, ContainerModel)))
        if running:
            self.start(pa)
            self._own_pa = own

    # -- what the UIs show and set ---------------------------------------------------------------
    @property
    def conversion_ms(self) -> float:
        """Latency the rate conversion adds (0 when the stream runs at the model's rate)."""
        return 0.0 if self.converter is None else self.converter.latency_ms

    def conversion_text(self) -> str:
        """E.g. "44100 Hz <-> model 48000 Hz, +1.77 ms", or "" without conversion."""
        if self.converter is None:
            return ""
        return f"{self.rate} Hz <-> model {self.model_rate} Hz, +{self.conversion_ms:.2f} ms"

    @property
    def name(self) -> str:
        meta = self.model.spec.metadata or {}
        return str(meta.get("name") or meta.get("title") or getattr(self.model, "source", "")
                   or self.model.spec.architecture)

    def esr(self, width) -> Optional[float]:
        """Validation ESR at ``width`` from the model's metadata, when the trainer stored it (a
        container's width k: its k-th submodel's own metadata)."""
        if isinstance(self.model, ContainerModel):
            return validation_esr(self.model.spec.submodels[width - 1]) if width else None
        return validation_esr(self.model.spec, width)

    def request_width(self, width: int, manual: bool = True) -> None:
        """Change width (any thread); a manual change turns automatic width off."""
        if manual:
            self.auto_enabled = False
        self.engine.request_width(width)

    @property
    def auto_enabled(self) -> bool:
        return self.auto is not None and self.auto.enabled

    @auto_enabled.setter
    def auto_enabled(self, on: bool) -> None:
        if self.auto is not None:
            self.auto.enabled = bool(on)

    def set_auto(self, on: bool) -> None:
        """Turn automatic width on or off; its next measurement starts now."""
        if self.auto is None:
            if on:
                raise WidthError("automatic width needs a slimmable model; this one has a fixed width")
            return
        self.auto.enabled = bool(on)
        self.auto.measure_from(int(self.stats.count), time.monotonic())

    def tick(self) -> dict:
        """Run the auto-width controller if on, and return :meth:`meters`."""
        if self.auto_enabled:
            self.auto.step(self.engine, self.stats, time.monotonic())
        return self.meters()

    def meters(self, window: float = 1.0) -> dict:
        """The live figures (:func:`.status.meters`): CPU, xruns, levels, width, ESR, auto."""
        return status.meters(self, window)

    def summary(self) -> dict:
        """Whole-run figures (:func:`.status.summary`)."""
        return status.summary(self)

    # -- the audio callback ---------------------------------------------------------------------
    def _callback(self, in_data, frame_count, time_info, flags):
        t0 = _now()
        if self._promote:
            self._promote_thread()
        try:
            if flags:
                self.stats.status(flags)
            if frame_count != self.block_size:
                return self._odd_block(frame_count)
            feed = self._feed
            if feed is None:
                self._x_bytes[:] = in_data
                if self._in_col is not None:
                    np.copyto(self._x, self._in_col)
                x = self._x
            else:
                x = feed.next()
            if self.no_work:
                y = self._silence
            else:
                y = self._y
                if self.converter is None:
                    self.engine.process(x, y)
                else:
                    self.converter.process(x, y)
                if self.load_hook is not None:
                    self.load_hook(x)
            self.in_ring.write(x)
            self.out_ring.write(y)
            if self._stereo:
                np.copyto(self._out_left, y)
                np.copyto(self._out_right, y)
            self.blocks += 1.0
            if self.blocks >= self._limit or (feed is not None and feed.finished):
                if not self._done:
                    self._done = True
                    self.finished.set()
            self.stats.record(_now() - t0, self.engine.transitioning)
            return self._ret
        except BaseException as exc:  # never let an exception leave a stream half-alive
            self.error = exc
            self.finished.set()
            return self._abort

    def _promote_thread(self) -> None:
        """First callback: ask for real-time scheduling for the audio thread, as JACK clients get
        from a real-time server. Refused without the privilege; the player then runs as normal."""
        self._promote = False
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self.rt_priority))
            self.scheduling = f"SCHED_FIFO {self.rt_priority}"
        except (AttributeError, OSError):
            try:
                os.setpriority(os.PRIO_PROCESS, 0, -10)  # this thread (Linux: per-thread nice)
                self.scheduling = "nice -10"
            except (AttributeError, OSError):
                pass

    def _odd_block(self, frame_count):
        self.odd_blocks += 1
        return (bytes(4 * frame_count * self._out_channels), self._pyaudio.paContinue)

    # -- stream life ----------------------------------------------------------------------------
    def start(self, pa=None) -> None:
        """Open and start the stream; raises AudioError with a clear message on any refusal."""
        pyaudio = devices.import_pyaudio()
        self._pyaudio = pyaudio
        self._promote = self.rt_priority is not None
        own = pa is None
        pa = devices.open_audio() if own else pa
        try:
            inp = devices.pick_device(pa, self.input_device, "input") if self._feed is None else None
            out = devices.pick_device(pa, self.output_device, "output")
            ch = devices.stream_channels(inp, out)
            self._out_channels = ch
            file_rate = [self._file[1]] if self._file is not None else []
            rate = devices.stream_rate(pa, self.device_rate, file_rate + [self.model_rate],
                                       self.model_rate, inp, out, ch)
            if rate != self.rate:   # the device runs neither the file's rate nor the model's
                if self._file is not None and self._file[1] != rate:
                    self.notices.append(f"the input file is at {self._file[1]} Hz and the device "
                                        f"at {rate} Hz: the file is converted to {rate} Hz")
                    self._file = (convert_rate(self._file[0], self._file[1], rate), rate)
                self._configure_stream(rate)
                self._setup_model(self.model, self.auto_enabled)
            self._prepare_buffers(ch, inp is not None)
            if self.record_path is not None:
                self._recorder = Recorder(self.out_ring, self.record_path, self.rate)
            try:
                self._stream = pa.open(
                    format=pyaudio.paFloat32, rate=self.rate, channels=ch,
                    input=inp is not None, output=True, frames_per_buffer=self.block_size,
                    input_device_index=None if inp is None else inp["index"],
                    output_device_index=out["index"], stream_callback=self._callback, start=False)
            except (IOError, OSError, ValueError) as exc:
                raise AudioError(f"could not open the audio stream at {self.rate} Hz, "
                                 f"{self.block_size} frames: {exc}") from None
            self._pa = pa
            self._own_pa = own
            if self._recorder is not None:
                self._recorder.start()
            # Objects made so far never need collecting: keep the collector's passes short.
            gc.collect()
            gc.freeze()
            if self.auto is not None:
                self.auto.measure_from(int(self.stats.count), time.monotonic())
            self._stream.start_stream()
        except BaseException:
            self._close(pa if own else None)
            raise

    def _prepare_buffers(self, channels: int, duplex: bool) -> None:
        n = self.block_size
        pa = self._pyaudio
        self._in_col = None
        self._x_bytes = memoryview(self._x).cast("B")
        if duplex and channels == 2:
            self._in2 = np.zeros((n, 2), np.float32)
            self._x_bytes = memoryview(self._in2).cast("B")
            self._in_col = self._in2[:, 0]
        self._stereo = channels == 2
        if self._stereo:
            self._out2 = np.zeros((n, 2), np.float32)
            self._out_left = self._out2[:, 0]
            self._out_right = self._out2[:, 1]
            self._ret = (self._out2, pa.paContinue)
        else:
            self._ret = (self._silence if self.no_work else self._y, pa.paContinue)
        self._abort = (np.zeros((n, channels), np.float32), pa.paAbort)

    @property
    def running(self) -> bool:
        s = self._stream
        return s is not None and s.is_active() and not self.finished.is_set()

    def stop(self) -> None:
        """Stop and close the stream, finish the recording; safe to call twice."""
        self._close(self._pa if getattr(self, "_own_pa", False) else None)

    def _close(self, pa_to_terminate) -> None:
        s, self._stream = self._stream, None
        if s is not None:
            try:
                if s.is_active():
                    s.stop_stream()
            finally:
                s.close()
        gc.unfreeze()
        rec, self._recorder = self._recorder, None
        if rec is not None:
            rec.close()
            self.lost_record_blocks = rec.lost_blocks
        if pa_to_terminate is not None:
            pa_to_terminate.terminate()
        self._pa = None

    def wait(self, timeout: Optional[float] = None, tick: Optional[float] = None) -> None:
        """Block until the input file or ``seconds`` are done, the stream fails, or ``timeout``."""
        end = None if timeout is None else time.monotonic() + timeout
        step = 0.25 if tick is None else tick
        while not self.finished.wait(step):
            if tick is not None:
                self.tick()
            if self._stream is None or not self._stream.is_active():
                break
            if end is not None and time.monotonic() >= end:
                break
        if self.error is not None:
            raise AudioError(f"the audio callback failed: {self.error!r}") from self.error
