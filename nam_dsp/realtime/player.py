"""The live player: a PyAudio full-duplex float32 stream around a :class:`WidthSwitcher`.

The audio callback does one thing: copy the input bytes into a preallocated block, hand it to the
switcher (one nogil engine call per block outside width switches), note levels and its own
duration in preallocated rings, and return a preallocated output buffer. Everything else (meters,
auto-width, recording to disk, the GUI) runs on other threads a few dozen times a second and
only reads what the callback wrote.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
from typing import Optional

import numpy as np

from ..engine import Model, from_spec
from ..errors import AudioFileError, NamDspError
from .autowidth import AutoWidth
from .meters import BlockRing, CallbackStats, level_dbfs
from .switcher import WidthSwitcher

_now = time.perf_counter
# Xruns in the stream's first 0.1 s are counted apart: PortAudio/JACK flag the first callbacks of
# a new stream (the server was running before the client connected), with or without work.
STARTUP_SECONDS = 0.1


class AudioError(NamDspError, RuntimeError):
    """The audio system refused: no such device, unsupported rate, stream failure."""


def import_pyaudio():
    try:
        import pyaudio
    except ImportError as exc:
        raise AudioError("the live player needs PyAudio: pip install 'nam_dsp[realtime]' (PortAudio's "
                         "headers must be installed first, e.g. apt-get install portaudio19-dev)") from exc
    return pyaudio


@contextlib.contextmanager
def quiet_stderr():
    """Silence the C-level chatter PortAudio's ALSA/JACK back ends print while probing devices."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)


def open_audio():
    """A PyAudio instance (PortAudio initialised quietly). Call ``terminate()`` when done."""
    pyaudio = import_pyaudio()
    with quiet_stderr():
        return pyaudio.PyAudio()


def list_devices(pa) -> list:
    """Every device PortAudio sees: dicts with index, name, host API, channels and default rate."""
    rows = []
    for i in range(pa.get_device_count()):
        d = pa.get_device_info_by_index(i)
        rows.append(dict(index=i, name=d["name"],
                         host_api=pa.get_host_api_info_by_index(d["hostApi"])["name"],
                         inputs=int(d["maxInputChannels"]), outputs=int(d["maxOutputChannels"]),
                         rate=float(d["defaultSampleRate"])))
    return rows


def format_devices(rows) -> str:
    if not rows:
        return "no audio devices found (is an audio server such as JACK or PulseAudio running?)"
    lines = [f"{'#':>3}  {'in':>3} {'out':>3} {'rate':>6}  name (host API)"]
    for r in rows:
        lines.append(f"{r['index']:>3}  {r['inputs']:>3} {r['outputs']:>3} {r['rate']:>6.0f}  "
                     f"{r['name']} ({r['host_api']})")
    return "\n".join(lines)


def calibrate(model: Model, block_size: int, repeats: int = 12) -> dict:
    """Seconds per block at each width (median of ``repeats``), on a throwaway copy of the model."""
    switchable = bool(model.allowed_widths)
    probe = from_spec(model.spec, width=model.width) if switchable else from_spec(model.spec)
    x = (np.random.default_rng(0).standard_normal(block_size) * 0.1).astype(np.float32)
    y = np.empty_like(x)
    widths = tuple(model.allowed_widths) if switchable else (model.width,)
    cost = {}
    for w in widths:
        if switchable:
            probe.set_width(w)
        probe.process(x, y)
        t = []
        for _ in range(repeats):
            t0 = _now()
            probe.process(x, y)
            t.append(_now() - t0)
        cost[w] = float(np.median(t))
    return cost


class _FileFeed:
    """An audio file played as the live input, block by block, paced by the stream."""

    def __init__(self, samples: np.ndarray, block_size: int):
        n = block_size
        nb = -(-samples.shape[0] // n)
        self.data = np.zeros(nb * n, np.float32)
        self.data[:samples.shape[0]] = samples
        self.length = samples.shape[0]
        self._blocks = [self.data[i * n:(i + 1) * n] for i in range(nb)]
        self._next = list(range(1, nb + 1))
        self._zeros = np.zeros(n, np.float32)
        self._nb = nb
        self._i = 0
        self.finished = nb == 0

    def next(self) -> np.ndarray:
        i = self._i
        if i < self._nb:
            self._i = self._next[i]
            return self._blocks[i]
        self.finished = True
        return self._zeros


def read_input_file(path, rate: float) -> np.ndarray:
    """A mono float32 signal from an audio file at the model's rate (first channel if several)."""
    import soundfile as sf
    try:
        data, sr = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several kinds
        raise AudioFileError(f"{path}: cannot read audio: {exc}") from exc
    if sr != int(round(rate)):
        raise AudioFileError(f"{path}: sample rate {sr} Hz, but the model runs at {rate:.0f} Hz "
                             "(resample the file first; the player does not resample)")
    return np.ascontiguousarray(data[:, 0])


class _Recorder(threading.Thread):
    """Writes what the callback played to a WAV file, draining the output ring ten times a second."""

    def __init__(self, ring: BlockRing, path, rate: int):
        super().__init__(name="nam-dsp-recorder", daemon=True)
        import soundfile as sf
        self.ring = ring
        self.path = os.fspath(path)
        try:
            self.file = sf.SoundFile(self.path, "w", samplerate=rate, channels=1, subtype="FLOAT")
        except Exception as exc:
            raise AudioFileError(f"{path}: cannot write the recording: {exc}") from exc
        self.done = 0
        self.lost_blocks = 0
        self._halt = threading.Event()

    def drain(self) -> None:
        count = int(self.ring.count)
        data, first = self.ring.since(self.done, count)
        if first > self.done:
            self.lost_blocks += first - self.done
        if data.size:
            self.file.write(data)
        self.done = count

    def run(self) -> None:
        while not self._halt.wait(0.1):
            self.drain()

    def close(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join()
        self.drain()
        self.file.close()


class Player:
    """Plays a model live through PyAudio.

    Parameters
    ----------
    model : Model
        What to play; a slimmable WaveNet can change width while playing.
    block_size : int
        Frames per callback (the stream's buffer size).
    input_device, output_device : int, optional
        PortAudio device indices (``nam-dsp play --list-devices``); default devices otherwise.
    input_file : path, optional
        Play this audio file as the input instead of a device (paced by the stream; the stream is
        then output-only). The player finishes when the file has been played.
    record : path, optional
        Write what was played (the model's output, mono float32 WAV).
    seconds : float, optional
        Stop after this much audio.
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
    ``stop()``.
    """

    def __init__(self, model: Model, *, block_size: int = 64, input_device: Optional[int] = None,
                 output_device: Optional[int] = None, input_file=None, record=None,
                 seconds: Optional[float] = None, fade: Optional[int] = None,
                 auto_width: bool = False, auto_target: float = 0.5, no_work: bool = False,
                 catchup_share: float = 0.1, rt_priority: Optional[int] = 10):
        if int(block_size) < 1:
            raise AudioError(f"block size must be >= 1 frame, got {block_size}")
        self.model = model
        self.rate = int(round(model.sample_rate))
        self.block_size = n = int(block_size)
        self.deadline = n / self.rate
        self.input_device = input_device
        self.output_device = output_device
        self.record_path = record
        self.seconds = seconds
        self.no_work = no_work
        self.fade = fade
        self.auto_target = auto_target
        self.catchup_share = catchup_share
        self._setup_model(model, auto_width)
        self._feed = None
        if input_file is not None:
            self._feed = _FileFeed(read_input_file(input_file, self.rate), n)
        self.stats = CallbackStats(self.deadline)
        ring_blocks = max(64, -(-2 * self.rate // n))
        self.in_ring = BlockRing(n, ring_blocks)
        self.out_ring = BlockRing(n, ring_blocks)
        self._x = np.zeros(n, np.float32)
        self._x_bytes = memoryview(self._x).cast("B")
        self._y = np.zeros(n, np.float32)
        self._silence = np.zeros(n, np.float32)
        self._limit = float("inf") if seconds is None else float(np.ceil(seconds * self.rate / n))
        self.blocks = 0.0
        self.odd_blocks = 0
        self.error: Optional[BaseException] = None
        self.finished = threading.Event()
        self._done = False
        self._pa = None
        self._stream = None
        self._recorder = None
        self._auto_since = 0
        self._auto_last = 0.0
        self._started_at = None
        self.load_hook = None  # tests: a callable(x) run inside the callback (artificial load)
        self.rt_priority = rt_priority
        self._promote = rt_priority is not None
        self.scheduling = "normal"

    def _setup_model(self, model: Model, auto_width: bool) -> None:
        n = self.block_size
        self.model = model
        self.cost = calibrate(model, n)
        catchup = {w: int(min(16, max(2, self.catchup_share * self.deadline / max(c, 1e-9))))
                   for w, c in self.cost.items()}
        self.engine = WidthSwitcher(model, n, fade=self.fade,
                                    catchup_blocks=catchup if model.allowed_widths else None)
        self.auto = None
        self.auto_enabled = False
        if self.engine.switchable:
            self.auto = AutoWidth(self.engine.allowed_widths, self.cost, target=self.auto_target)
            self.auto_enabled = bool(auto_width)
        elif auto_width:
            raise NamDspError("--auto-width needs a slimmable model; this one has a fixed width")

    def replace_model(self, model: Model) -> None:
        """Play another model: the stream stops, the new model is set up, the stream restarts.

        A recording in progress starts again (the file is rewritten) with the new model."""
        rate = int(round(model.sample_rate))
        if rate != self.rate:
            raise AudioError(f"the new model runs at {rate} Hz but the stream at {self.rate} Hz; "
                             "nam-dsp does not resample")
        pa, own, running = self._pa, getattr(self, "_own_pa", False), self._stream is not None
        if running:
            self._close(None)
        self._setup_model(model, self.auto_enabled and bool(model.allowed_widths))
        if running:
            self.start(pa)
            self._own_pa = own

    # -- properties the UIs show -----------------------------------------------------------------
    @property
    def name(self) -> str:
        meta = self.model.spec.metadata or {}
        return str(meta.get("name") or meta.get("title") or getattr(self.model, "source", "")
                   or self.model.spec.architecture)

    def esr(self, width) -> Optional[float]:
        """Validation ESR at ``width`` from the model's metadata, when the trainer stored it."""
        try:
            v = self.model.spec.metadata["training"]["validation_esr"][str(width)]
            return float(v)
        except (KeyError, TypeError, ValueError):
            return None

    def request_width(self, width: int, manual: bool = True) -> None:
        """Change width (any thread); a manual change turns automatic width off."""
        if manual:
            self.auto_enabled = False
        self.engine.request_width(width)

    def set_auto(self, on: bool) -> None:
        if on and self.auto is None:
            raise NamDspError("automatic width needs a slimmable model")
        self.auto_enabled = bool(on)
        self._auto_since = int(self.stats.count)
        self._auto_last = time.monotonic()

    # -- the audio callback ---------------------------------------------------------------------
    def _callback(self, in_data, frame_count, time_info, status):
        t0 = _now()
        if self._promote:
            self._promote_thread()
        try:
            if status:
                self.stats.status(status)
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
                self.engine.process(x, y)
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
            dt = _now() - t0
            self.stats.record(-dt if self.engine.transitioning else dt)
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
    def _device(self, pa, index, kind: str) -> dict:
        count = pa.get_device_count()
        if count == 0:
            raise AudioError("no audio devices found: is an audio server (JACK, PulseAudio) running? "
                             "Without an audio interface, see nam-dsp play --input-file")
        if index is None:
            try:
                info = pa.get_default_input_device_info() if kind == "input" else \
                    pa.get_default_output_device_info()
            except (IOError, OSError):
                raise AudioError(f"there is no default {kind} device: choose one with "
                                 f"--{kind}-device N (nam-dsp play --list-devices)") from None
        else:
            if not (0 <= int(index) < count):
                raise AudioError(f"unknown {kind} device {index}: devices are numbered 0..{count - 1} "
                                 "(nam-dsp play --list-devices)")
            info = pa.get_device_info_by_index(int(index))
        key = "maxInputChannels" if kind == "input" else "maxOutputChannels"
        if int(info[key]) < 1:
            raise AudioError(f"device {info['index']} ({info['name']}) has no {kind} channels "
                             "(nam-dsp play --list-devices)")
        return info

    def start(self, pa=None) -> None:
        """Open and start the stream; raises AudioError with a clear message on any refusal."""
        pyaudio = import_pyaudio()
        self._pyaudio = pyaudio
        self._promote = self.rt_priority is not None
        own = pa is None
        pa = open_audio() if own else pa
        try:
            need_input = self._feed is None
            inp = self._device(pa, self.input_device, "input") if need_input else None
            out = self._device(pa, self.output_device, "output")
            # PyAudio gives a duplex stream one channel count for both sides: 2 when the device
            # has two each way (the model hears input 1, both outputs play it), else 1.
            if inp is None:
                ch = min(2, int(out["maxOutputChannels"]))
            else:
                ch = 2 if min(int(inp["maxInputChannels"]), int(out["maxOutputChannels"])) >= 2 else 1
            self._out_channels = ch
            kwargs = dict(rate=self.rate, output_device=out["index"], output_channels=ch,
                          output_format=pyaudio.paFloat32)
            if inp is not None:
                kwargs.update(input_device=inp["index"], input_channels=ch,
                              input_format=pyaudio.paFloat32)
            try:
                pa.is_format_supported(**kwargs)
            except ValueError as exc:
                dev = out if inp is None else inp
                raise AudioError(
                    f"the audio device refused {self.rate} Hz float32 ({exc}): the model "
                    f"'{self.name}' runs at {self.rate} Hz and device {dev['index']} "
                    f"({dev['name']}) defaults to {dev['defaultSampleRate']:.0f} Hz. nam-dsp does "
                    f"not resample: run the device (e.g. the JACK server) at {self.rate} Hz or use "
                    f"a model trained at the device's rate") from None
            self._prepare_buffers(ch, inp is not None)
            if self.record_path is not None:
                self._recorder = _Recorder(self.out_ring, self.record_path, self.rate)
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
            self._started_at = time.monotonic()
            self._auto_last = self._started_at
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

    # -- meters and automatic width (called a few times a second) ------------------------------
    def tick(self) -> dict:
        """Run the auto-width controller if on, and return :meth:`meters`."""
        if self.auto_enabled and self.auto is not None:
            self._auto_step()
        return self.meters()

    def _auto_step(self) -> None:
        now = time.monotonic()
        eng = self.engine
        count = int(self.stats.count)
        if eng.transitioning or eng.target_width != eng.width:
            self._auto_since = count  # measure from the end of the switch
            return
        if now - self._auto_last < 0.5:
            return
        t = self.stats.recent(since=self._auto_since)
        t = t[t > 0]
        # a p99 needs a few hundred callbacks: at least 0.5 s and 200 callbacks per measurement
        if t.size < max(200, int(0.5 / self.deadline)):
            return
        p99 = float(np.percentile(t, 99)) / self.deadline
        choice = self.auto.decide(eng.width, p99, now)
        self._auto_last = now
        self._auto_since = count
        if choice is not None:
            eng.request_width(choice)

    def meters(self, window: float = 1.0) -> dict:
        """CPU share of the deadline (mean, p99 over ``window`` s), xruns, levels, width, ESR."""
        last = max(1, int(window / self.deadline))
        s = self.stats.summary(last)
        win = int(0.05 * self.rate)
        in_peak, in_rms = level_dbfs(self.in_ring.last_samples(win))
        out_peak, out_rms = level_dbfs(self.out_ring.last_samples(win))
        eng = self.engine
        return dict(cpu_mean=s["mean"], cpu_p99=s["p99"], p50_us=s["p50_us"], p99_us=s["p99_us"],
                    callbacks=s["callbacks"], xruns=s["xruns"], in_peak=in_peak, in_rms=in_rms,
                    out_peak=out_peak, out_rms=out_rms, width=eng.width, target=eng.target_width,
                    esr=self.esr(eng.width), bypass=eng.bypass, auto=self.auto_enabled,
                    auto_reason=self.auto.reason if (self.auto is not None and self.auto_enabled) else "",
                    switching=eng.transitioning, seconds=self.blocks * self.deadline)

    def summary(self) -> dict:
        """Whole-run figures (over the callbacks still in the timing ring)."""
        s = self.stats.summary()
        s.update(block_size=self.block_size, rate=self.rate, deadline_us=self.deadline * 1e6,
                 switches=int(self.engine.switch_count), flags={k: int(v) for k, v in
                                                                self.stats.flag_counts.items()},
                 odd_blocks=self.odd_blocks,
                 startup_xruns=self.stats.xruns - self.stats.xruns_after(STARTUP_SECONDS),
                 xrun_callbacks=[int(v) for v in self.stats.xrun_at[:min(self.stats.xruns, 4096)]])
        return s
