"""``nam-dsp play``: the live player's command line (dispatched by :mod:`nam_dsp.cli`).

``add_arguments(parser)`` fills an argparse parser; ``run(args)`` plays and returns the exit code:
0 when done, 2 when the request cannot be played (unknown device, unsupported rate, a model or
audio file that fails to load), with one clear message on stderr. ``python -m
nam_dsp.realtime.cli`` runs it on its own.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import select
import signal
import sys
from typing import Callable, Optional

from .status import format_summary, status_line

KEYS_HELP = "<-/-: narrower  ->/+: wider  1-9: width  a: auto  b: bypass  q: quit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help=".nam file to play (default: the bundled default "
                                                 "model)")
    parser.add_argument("--input-device", type=int, metavar="N", help="PortAudio input device index")
    parser.add_argument("--output-device", type=int, metavar="N", help="PortAudio output device index")
    parser.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    parser.add_argument("--block-size", type=int, default=128, metavar="N",
                        help="frames per callback, 1 to 8192 (default 128)")
    parser.add_argument("--device-rate", type=int, metavar="HZ",
                        help="the stream's sample rate (default: the input file's or the model's "
                             "if the device runs it, else the device's default). At another rate "
                             "than the model's the "
                             "player converts both ways in the stream, adding about 1.8 ms at "
                             "44.1 <-> 48 kHz (1.7-1.9 ms at the standard rates; the status line "
                             "shows it)")
    width = parser.add_mutually_exclusive_group()
    width.add_argument("--width", type=int, metavar="C",
                       help="start at this width (slimmable models; a SlimmableContainer's submodel 1..K)")
    width.add_argument("--slim", type=float, metavar="V", help="start at NAM's slimming ratio V in [0, 1]")
    width.add_argument("--auto-width", action="store_true",
                       help="choose the widest width whose p99 callback time stays under the target")
    parser.add_argument("--auto-target", type=float, default=0.5, metavar="SHARE",
                        help="auto-width's p99 target as a share of the block deadline, in (0, 1) "
                             "(default 0.5): it steps down when the p99 goes over the target, and up "
                             "only when the next width is predicted under 0.7 x the target")
    parser.add_argument("--gui", action="store_true", help="open the Tk window")
    parser.add_argument("--input-file", metavar="F",
                        help="play this audio file as the live input (at its rate if the device "
                             "runs it, else converted to the device's)")
    parser.add_argument("--record", metavar="G", help="write what was played to this WAV")
    parser.add_argument("--seconds", type=float, metavar="S", help="stop after S seconds (S > 0)")
    parser.add_argument("--fade-ms", type=float, default=10.0, metavar="MS",
                        help="crossfade length of a width switch (default 10 ms)")


def _err(msg: str) -> None:
    print(f"nam-dsp play: error: {msg}", file=sys.stderr)


def _say(msg: str) -> None:
    """A line of its own above the status line (which the next refresh redraws)."""
    sys.stderr.write(f"\r{msg}\n" if sys.stderr.isatty() else f"{msg}\n")
    sys.stderr.flush()


def check_arguments(args) -> Optional[str]:
    """The first argument that cannot work, as a message naming its flag; None when all can."""
    if not 1 <= args.block_size <= 8192:
        return f"--block-size must be between 1 and 8192 frames, got {args.block_size}"
    if args.seconds is not None and not args.seconds > 0:
        return f"--seconds must be more than 0 (how long to play), got {args.seconds:g}"
    if args.device_rate is not None and not args.device_rate > 0:
        return f"--device-rate must be a positive number of Hz (e.g. 44100), got {args.device_rate}"
    if not (math.isfinite(args.fade_ms) and args.fade_ms >= 0):
        return f"--fade-ms must be 0 or more milliseconds, got {args.fade_ms:g}"
    if not 0 < args.auto_target < 1:
        return (f"--auto-target must be a share of the block deadline between 0 and 1 (0.5: half "
                f"of it), got {args.auto_target:g}")
    return None


def _terminal(player) -> None:
    """One status line, refreshed ten times a second, with single-key width control on a TTY."""
    tty = sys.stdin.isatty() and sys.stderr.isatty()
    widths = player.engine.allowed_widths
    fd, saved = None, None
    if tty:
        import termios
        import tty as ttymod
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        ttymod.setcbreak(fd)
        print(KEYS_HELP, file=sys.stderr)
    auto_shown = False
    try:
        while not player.finished.is_set() and player.running:
            if tty:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if ready:
                    if not _key(player, os.read(fd, 8)):
                        break
                m = player.tick()
                if m["auto"] and not auto_shown:
                    _say(f"auto width: {m['auto_rule']}")
                auto_shown = m["auto"]
                line = status_line(m, widths)
                cols = max(20, os.get_terminal_size(sys.stderr.fileno()).columns - 1)
                sys.stderr.write("\r" + line[:cols].ljust(cols))
                sys.stderr.flush()
            else:
                player.finished.wait(0.1)
                player.tick()
    finally:
        if tty:
            import termios
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
            sys.stderr.write("\n")


def _key(player, data: bytes, say: Callable[[str], None] = _say) -> bool:
    """Act on one key press; False for quit. A key that cannot act here is explained through
    ``say`` rather than ignored."""
    eng = player.engine
    key = data.decode(errors="ignore")
    narrower, wider = key in ("-", "\x1b[D", "<", ","), key in ("+", "=", "\x1b[C", ">", ".")
    if key in ("q", "Q", "\x1b"):
        return False
    if key in ("b", "B"):
        eng.bypass = not eng.bypass
    elif key in ("a", "A"):
        if player.auto is None:
            say("key a: automatic width needs a slimmable model; this one has a fixed width")
        else:
            player.set_auto(not player.auto_enabled)
    elif (narrower or wider or key.isdigit()) and not eng.switchable:
        say(f"key {key!r}: this model has a fixed width")
    elif narrower or wider:
        player.auto_enabled = False
        eng.step_width(-1 if narrower else +1)
    elif key.isdigit():
        widths = eng.allowed_widths
        if 1 <= int(key) <= len(widths):
            player.request_width(widths[int(key) - 1])
        else:
            say(f"key {key}: this model has {len(widths)} widths, keys 1-{min(len(widths), 9)} "
                f"choose {', '.join(map(str, widths[:9]))}")
    return True


def run(args) -> int:
    """Play as ``args`` (from :func:`add_arguments`) asks; returns the exit code."""
    from ..errors import AudioFileError, NamDspError, WidthError
    from .devices import format_devices, list_devices, open_audio
    from .models import load_model
    from .player import AudioError, Player

    if args.list_devices:
        try:
            pa = open_audio()
        except AudioError as exc:
            _err(str(exc))
            return 2
        try:
            print(format_devices(list_devices(pa)))
        finally:
            pa.terminate()
        return 0
    problem = check_arguments(args)
    if problem is not None:
        _err(problem)
        return 2
    if args.record is not None:
        from ..output_paths import check_output_path
        try:
            check_output_path(args.record, inputs=[args.input_file, args.model])
        except NamDspError as exc:
            _err(f"--record: {exc}")
            return 2
    player = None
    try:
        model = load_model(args.model, width=args.width, slim=args.slim,
                           notice=lambda msg: print(f"nam-dsp play: note: {msg}", file=sys.stderr))
        fade = int(round(args.fade_ms * 1e-3 * model.sample_rate))
        with _flag_for("--input-file", AudioFileError), _flag_for("--auto-width", WidthError):
            player = Player(model, block_size=args.block_size, input_device=args.input_device,
                            output_device=args.output_device, input_file=args.input_file,
                            record=args.record, seconds=args.seconds, fade=max(1, fade),
                            device_rate=args.device_rate,
                            auto_width=args.auto_width, auto_target=args.auto_target)
        # SIGTERM ends the run like q or Ctrl-C: the stream is always stopped and closed.
        if threading_main():
            signal.signal(signal.SIGTERM, lambda *a: player.finished.set())
        window = _open_window(player) if args.gui else None  # before the stream starts
        with _flag_for("--record", AudioFileError):  # the only file start() opens
            player.start()
        for note in player.notices:
            _say(f"nam-dsp play: note: {note}")
        if player.converter is not None:
            _say(f"nam-dsp play: note: the model runs at {player.model_rate} Hz and the stream at "
                 f"{player.rate} Hz: converting in the stream ({player.conversion_text()})")
        if window is not None:
            window.run()
        else:
            _terminal(player)
        player.stop()
        if player.error is not None:
            raise AudioError(f"the audio callback failed: {player.error!r}")
    except KeyboardInterrupt:
        pass
    except (NamDspError, OSError) as exc:
        if player is not None:
            player.stop()
        _err(_message(exc, args))
        return 2
    finally:
        if player is not None:
            player.stop()
    if player is None:
        return 130
    print(format_summary(player.summary()), file=sys.stderr)
    if args.record:
        print(f"recorded to {args.record}", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _flag_for(flag: str, kind):
    """Lead the message of a ``kind`` error raised inside with ``flag``, the option it is about."""
    from ..errors import NamDspError
    try:
        yield
    except kind as exc:
        raise NamDspError(f"{flag}: {exc}") from exc


def _message(exc: BaseException, args) -> str:
    """The library's message, led by the options it is about (the Player arguments an AudioError
    names are these options' dests; a WidthError is about --width or --slim)."""
    from ..cli_errors import options_at_fault
    text = f"{options_at_fault(exc, args)}{exc}"
    if any(name.endswith("_device") for name in getattr(exc, "settings", ())):
        text += " (nam-dsp play --list-devices lists them)"
    return text


def _open_window(player):
    from ..errors import NamDspError
    try:
        import tkinter
        from .gui import PlayerWindow
        return PlayerWindow(player)
    except ImportError as exc:
        raise NamDspError(f"--gui needs Tk (the tkinter module): {exc}") from None
    except tkinter.TclError as exc:
        raise NamDspError(f"--gui cannot open a window ({exc}); is DISPLAY set?") from None


def threading_main() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="nam-dsp play", description="Play a NAM model live.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
