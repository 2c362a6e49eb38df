"""Test support: a JACK server on the dummy driver and an Xvfb display, started and stopped by pid,
:func:`play_to_end`, and :func:`machine_slowdown`, which tells a slow machine from a slow player.

The JACK and Xvfb helpers are context managers that yield the process (and for Xvfb the display
name) and raise :class:`Unavailable` with the reason when the program is missing or does not come
up, so tests can ``pytest.skip(str(exc))``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Optional

import numpy as np

from .player import calibrate


class Unavailable(RuntimeError):
    """The program a test needs is missing or did not start."""


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def jack_server(period: int, rate: int = 48000, nice: Optional[int] = None, realtime: bool = False):
    """``jackd --no-realtime -d dummy -r rate -p period`` for the duration of the block.

    ``realtime=True`` drops ``--no-realtime`` (the server and its clients' process threads then
    run SCHED_FIFO, as on a tuned audio machine; needs the privilege). ``nice`` (root only) sets
    the niceness of every jackd thread once it runs. Neither is used by the tests, which run the
    server as docs/realtime.md does; they are there for experiments.
    PyAudio must be created *after* the server runs (PortAudio probes JACK at initialisation).
    """
    jackd = shutil.which("jackd")
    if jackd is None:
        raise Unavailable("jackd is not installed (apt-get install jackd2)")
    try:
        import pyaudio  # noqa: F401
    except ImportError:
        raise Unavailable("pyaudio is not installed (pip install pyaudio)") from None
    log = tempfile.TemporaryFile()
    # A server name of our own: another JACK server on the machine (another test run, another
    # engineer's) is never mistaken for ours, and ours never disturbs theirs. Clients in this
    # process and in its subprocesses find it through JACK_DEFAULT_SERVER.
    name = f"nam-dsp-test-{os.getpid()}-{period}"
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    mode = [] if realtime else ["--no-realtime"]
    proc = subprocess.Popen([jackd, "-n", name, *mode, "-d", "dummy", "-r", str(rate), "-p", str(period)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    old = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    try:
        if not _wait_for_jack(proc):
            log.seek(0)
            raise Unavailable(f"jackd did not start: {log.read()[-400:].decode(errors='replace')}")
        if nice is not None:
            renice(proc.pid, nice)
        yield proc
    finally:
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old
        _stop(proc)
        log.close()


def renice(pid: int, nice: int) -> None:
    """Set the niceness of every thread of ``pid`` (Linux; silently skipped without privilege)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return
    for tid in tids:
        try:
            os.setpriority(os.PRIO_PROCESS, int(tid), nice)
        except (OSError, ValueError):
            pass


def _wait_for_jack(proc, timeout: float = 10.0) -> bool:
    from .devices import open_audio
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        time.sleep(0.3)
        pa = open_audio()
        try:
            if any(pa.get_host_api_info_by_index(i)["name"].startswith("JACK")
                   and pa.get_host_api_info_by_index(i)["deviceCount"] > 0
                   for i in range(pa.get_host_api_count())):
                return True
        finally:
            pa.terminate()
    return False


def jack_devices(pa) -> tuple:
    """The (input, output) device indices of the JACK 'system' device."""
    for i in range(pa.get_device_count()):
        d = pa.get_device_info_by_index(i)
        if pa.get_host_api_info_by_index(d["hostApi"])["name"].startswith("JACK"):
            return i, i
    raise Unavailable("PortAudio sees no JACK device")


@contextlib.contextmanager
def xvfb(display: int = 97, size: str = "1024x768x24"):
    """An Xvfb display; sets ``DISPLAY`` inside the block and restores it after."""
    exe = shutil.which("Xvfb")
    if exe is None:
        raise Unavailable("Xvfb is not installed (apt-get install xvfb)")
    try:
        import tkinter  # noqa: F401
    except ImportError:
        raise Unavailable("tkinter is not available in this Python") from None
    for d in range(display, display + 20):
        if not os.path.exists(f"/tmp/.X11-unix/X{d}") and not os.path.exists(f"/tmp/.X{d}-lock"):
            break
    name = f":{d}"
    proc = subprocess.Popen([exe, name, "-screen", "0", size, "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    old = os.environ.get("DISPLAY")
    try:
        end = time.monotonic() + 10
        while not os.path.exists(f"/tmp/.X11-unix/X{d}"):
            if proc.poll() is not None or time.monotonic() > end:
                raise Unavailable("Xvfb did not start")
            time.sleep(0.1)
        os.environ["DISPLAY"] = name
        yield name
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
        _stop(proc)


_SHARED = {}


def shared_xvfb() -> str:
    """One Xvfb display for the whole test process, stopped by pid when the process exits.

    Tk never closes an X connection, and an X server that dies under a live connection makes Tk
    exit the process at its next event; so every Tk test in a process shares this display, and
    it outlives them all.
    """
    if "name" in _SHARED:
        os.environ["DISPLAY"] = _SHARED["name"]
        return _SHARED["name"]
    cm = xvfb()
    name = cm.__enter__()  # raises Unavailable
    import atexit
    atexit.register(cm.__exit__, None, None, None)
    _SHARED["name"] = name
    return name


def play_to_end(player, timeout: float, tick: Optional[float] = None):
    """Start ``player``, wait until its file or ``seconds`` are done (at most ``timeout`` s), and
    stop it even when the wait raises; returns the player for its figures."""
    player.start()
    try:
        player.wait(timeout=timeout, tick=tick)
    finally:
        player.stop()
    return player


#: A model running this many times slower than when a player calibrated it means the machine
#: lost speed meanwhile (on a shared VM: another tenant on the same core), not that the player did.
SLOWDOWN_LIMIT = 1.3


def machine_slowdown(player, repeats: int = 40) -> float:
    """How many times slower the player's model runs now than at the player's calibration.

    The median over the allowed widths of the ratio of median block times, so a real-time test
    that failed can tell the machine's slow spells (half speed for minutes on the shared VM of
    2026-12-01) from the player's own cost; below SLOWDOWN_LIMIT the machine ran as it did at the
    start.
    """
    now = calibrate(player.model, player.block_size, repeats=repeats)
    return float(np.median([now[w] / player.cost[w] for w in now if player.cost.get(w)]))


def xrun_margin(baseline_xruns: float) -> float:
    """Extra xruns a player may show over a no-work run of the same length on the same server.

    Three standard deviations of a Poisson count of the baseline's size, plus 5: on the shared
    2-vCPU VMs the baseline alone went from 4 to 16 xruns in 15 s between runs minutes apart, and
    which of two runs a late wake-up of the server lands in is chance. A player that really adds
    work per callback adds xruns at every period, far over this.
    """
    return 3.0 * float(np.sqrt(max(baseline_xruns, 0.0))) + 5.0
