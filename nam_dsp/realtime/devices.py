"""Audio devices through PyAudio: importing it, listing devices, choosing and checking them.

Every refusal is an :class:`~nam_dsp.errors.AudioError` that says what is wrong and, in its
``settings``, which :class:`~nam_dsp.realtime.player.Player` argument chose the device.
"""

from __future__ import annotations

import contextlib
import os
from typing import Optional

from ..errors import AudioError


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


def pick_device(pa, index: Optional[int], kind: str) -> dict:
    """PortAudio's info for device ``index`` (None: the default one) as an ``kind`` device.

    ``kind`` is ``"input"`` or ``"output"``; the device must have at least one such channel.
    """
    at_fault = (f"{kind}_device",)  # the Player argument that chose the device
    count = pa.get_device_count()
    if count == 0:
        raise AudioError("no audio devices found: is an audio server (JACK, PulseAudio) running? "
                         "Without a sound card, JACK's dummy driver provides one (jackd -d dummy)")
    if index is None:
        try:
            info = pa.get_default_input_device_info() if kind == "input" else \
                pa.get_default_output_device_info()
        except (IOError, OSError):
            raise AudioError(f"there is no default {kind} device (PortAudio sees {count} "
                             "devices, none of them the default)", at_fault) from None
    else:
        if not (0 <= int(index) < count):
            raise AudioError(f"unknown {kind} device {index}: devices are numbered 0..{count - 1}",
                             at_fault)
        info = pa.get_device_info_by_index(int(index))
    key = "maxInputChannels" if kind == "input" else "maxOutputChannels"
    if int(info[key]) < 1:
        raise AudioError(f"device {info['index']} ({info['name']}) has no {kind} channels", at_fault)
    return info


def stream_channels(inp: Optional[dict], out: dict) -> int:
    """The stream's channel count: PyAudio gives a duplex stream one count for both sides, 2 when
    the devices have two each way (the model hears input 1, both outputs play it), else 1."""
    if inp is None:
        return min(2, int(out["maxOutputChannels"]))
    return 2 if min(int(inp["maxInputChannels"]), int(out["maxOutputChannels"])) >= 2 else 1


def supports(pa, rate: int, inp: Optional[dict], out: dict, channels: int) -> Optional[str]:
    """None when the devices run float32 at ``rate`` with ``channels``, else PortAudio's reason."""
    pyaudio = import_pyaudio()
    kwargs = dict(rate=rate, output_device=out["index"], output_channels=channels,
                  output_format=pyaudio.paFloat32)
    if inp is not None:
        kwargs.update(input_device=inp["index"], input_channels=channels,
                      input_format=pyaudio.paFloat32)
    try:
        pa.is_format_supported(**kwargs)
    except ValueError as exc:
        return str(exc)
    return None


def stream_rate(pa, requested: Optional[int], preferred, model_rate: int, inp: Optional[dict],
                out: dict, channels: int) -> int:
    """The stream's rate: ``requested`` if given (refused with the reason if the devices cannot),
    else the first of ``preferred`` (e.g. an input file's rate, the model's) the devices run,
    else the device's default (the player converts)."""
    dev = out if inp is None else inp
    default = int(round(dev["defaultSampleRate"]))
    candidates = [requested] if requested is not None else list(dict.fromkeys([*preferred, default]))
    reasons = []
    for rate in candidates:
        reason = supports(pa, rate, inp, out, channels)
        if reason is None:
            return rate
        reasons.append(f"{rate} Hz: {reason}")
    at_fault = ("device_rate",) if requested is not None else ()
    raise AudioError(f"device {dev['index']} ({dev['name']}, default {default} Hz) refused float32 "
                     f"at {'; '.join(reasons)}. The model runs at {model_rate} Hz; the player "
                     "converts between the model's rate and any standard device rate", at_fault)
