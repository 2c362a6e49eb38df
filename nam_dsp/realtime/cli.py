"""``nam-dsp play``: the live player's command line (dispatched by :mod:`nam_dsp.cli`).

``add_arguments(parser)`` fills an argparse parser; ``run(args)`` plays and returns the exit code:
0 when done, 2 when the request cannot be played (unknown device, unsupported rate, a model or
audio file that fails to load), with one clear message on stderr. ``python -m
nam_dsp.realtime.cli`` runs it on its own.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys

KEYS_HELP = "<-/-: narrower  ->/+: wider  1-9: width  a: auto  b: bypass  q: quit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help=".nam file to play (default: the bundled default "
                                                 "model)")
    parser.add_argument("--input-device", type=int, metavar="N", help="PortAudio input device index")
    parser.add_argument("--output-device", type=int, metavar="N", help="PortAudio output device index")
    parser.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    parser.add_argument("--block-size", type=int, default=128, metavar="N",
                        help="frames per callback (default 128)")
    width = parser.add_mutually_exclusive_group()
    width.add_argument("--width", type=int, metavar="C", help="start at this width (slimmable models)")
    width.add_argument("--slim", type=float, metavar="V", help="start at NAM's slimming ratio V in [0, 1]")
    width.add_argument("--auto-width", action="store_true",
                       help="choose the widest width whose p99 callback time stays under the target")
    parser.add_argument("--auto-target", type=float, default=0.5, metavar="SHARE",
                        help="auto-width's p99 target as a share of the block deadline (default 0.5)")
    parser.add_argument("--gui", action="store_true", help="open the Tk window")
    parser.add_argument("--input-file", metavar="F", help="play this WAV as the live input")
    parser.add_argument("--record", metavar="G", help="write what was played to this WAV")
    parser.add_argument("--seconds", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument("--fade-ms", type=float, default=10.0, metavar="MS",
                        help="crossfade length of a width switch (default 10 ms)")


def _err(msg: str) -> None:
    print(f"nam-dsp play: error: {msg}", file=sys.stderr)


def load_model(path=None, width=None, slim=None):
    """The model to play: ``path``, else the bundled default, else the paper preset (with notice)."""
    import nam_dsp
    if path is not None:
        model = nam_dsp.load(path, width=width, slim=slim)
        model.source = os.path.splitext(os.path.basename(os.fspath(path)))[0]
        return model
    try:
        model = nam_dsp.load_default(width=width, slim=slim)
        model.source = "default"
        return model
    except nam_dsp.NamDspError as exc:
        print(f"nam-dsp play: note: {exc}; playing the 'slimmable-paper' preset instead "
              "(random weights: fine for timing, not for tone)", file=sys.stderr)
        model = nam_dsp.from_spec(nam_dsp.preset("slimmable-paper"), width=width, slim=slim)
        model.source = "slimmable-paper (preset)"
        return model


def status_line(m: dict, widths) -> str:
    esr = f" ESR {m['esr']:.3f}" if m.get("esr") is not None else ""
    width = ("fixed" if m["width"] is None else f"{m['width']} (fixed)") if not widths else (
        f"{m['width']}/{max(widths)}{esr}" + (f" -> {m['target']}" if m["target"] != m["width"] else ""))
    auto = f" | auto: {m['auto_reason']}" if m["auto"] else ""
    byp = " | BYPASS" if m["bypass"] else ""
    return (f"width {width} | cpu {m['cpu_mean']:4.0%} p99 {m['cpu_p99']:4.0%} | xruns {m['xruns']} | "
            f"in {m['in_peak']:6.1f} out {m['out_peak']:6.1f} dBFS{byp}{auto}")


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
    try:
        while not player.finished.is_set() and player.running:
            if tty:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if ready:
                    if not _key(player, os.read(fd, 8)):
                        break
                m = player.tick()
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


def _key(player, data: bytes) -> bool:
    eng = player.engine
    for key in (data.decode(errors="ignore"),):
        if key in ("q", "Q", "\x1b"):
            return False
        if key in ("b", "B"):
            eng.bypass = not eng.bypass
        elif key in ("a", "A") and player.auto is not None:
            player.set_auto(not player.auto_enabled)
        elif eng.switchable:
            if key in ("-", "\x1b[D", "<", ","):
                player.auto_enabled = False
                eng.step_width(-1)
            elif key in ("+", "=", "\x1b[C", ">", "."):
                player.auto_enabled = False
                eng.step_width(+1)
            elif key.isdigit() and 1 <= int(key) <= len(eng.allowed_widths):
                player.request_width(eng.allowed_widths[int(key) - 1])
    return True


def format_summary(s: dict) -> str:
    return (f"played {s['callbacks']} blocks of {s['block_size']} frames at {s['rate']} Hz: callback "
            f"p50 {s['p50_us']:.0f} us p99 {s['p99_us']:.0f} us ({s['p50']:.0%} / {s['p99']:.0%} of "
            f"the {s['deadline_us']:.0f} us deadline), xruns {s['xruns']}, width switches "
            f"{s['switches']}")


def run(args) -> int:
    """Play as ``args`` (from :func:`add_arguments`) asks; returns the exit code."""
    from ..errors import NamDspError
    from .player import AudioError, Player, format_devices, list_devices, open_audio

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
    if args.block_size < 1 or args.block_size > 8192:
        _err(f"--block-size must be between 1 and 8192 frames, got {args.block_size}")
        return 2
    if args.record is not None:
        from ..output_paths import check_output_path
        try:
            check_output_path(args.record, inputs=[args.input_file, args.model])
        except NamDspError as exc:
            _err(f"--record {exc}")
            return 2
    player = None
    try:
        model = load_model(args.model, width=args.width, slim=args.slim)
        fade = int(round(args.fade_ms * 1e-3 * model.sample_rate))
        player = Player(model, block_size=args.block_size, input_device=args.input_device,
                        output_device=args.output_device, input_file=args.input_file,
                        record=args.record, seconds=args.seconds, fade=max(1, fade),
                        auto_width=args.auto_width, auto_target=args.auto_target)
        # SIGTERM ends the run like q or Ctrl-C: the stream is always stopped and closed.
        if threading_main():
            signal.signal(signal.SIGTERM, lambda *a: player.finished.set())
        window = _open_window(player) if args.gui else None  # before the stream starts
        player.start()
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
        _err(str(exc))
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
