"""The player's Tk window (``nam-dsp play --gui``), standard library only.

Layout, top to bottom: the model's name and an "Open model..." button; the "Quality" slider from
the smallest width (left) to the full width (right), one tick per allowed width labelled with the
width and its validation ESR when the model's metadata has it; the width being heard and the auto
mode's reason; CPU meter (mean and p99 share of the block deadline); input and output level
meters; the xrun (audio dropout) counter; Bypass and Auto-width toggles.

The window redraws its meters ``fps`` times a second from :meth:`Player.tick` and is otherwise
idle in Tk's event loop, so the audio callback almost never waits for the GIL.
"""

from __future__ import annotations

import collections
import os
import time
import tkinter as tk
from tkinter import filedialog, messagebox
from typing import Optional

from ..errors import NamDspError
from .models import load_model
from .status import xruns_text

METER_W, METER_H = 260, 14


class _Meter:
    """A horizontal bar on a canvas with a text value; ``set(fraction, text, colour)``."""

    def __init__(self, parent, label: str, row: int):
        tk.Label(parent, text=label, anchor="w", width=9).grid(row=row, column=0, sticky="w")
        self.canvas = tk.Canvas(parent, width=METER_W, height=METER_H, bg="#202020",
                                highlightthickness=0)
        self.canvas.grid(row=row, column=1, padx=4, pady=2)
        self.bar = self.canvas.create_rectangle(0, 0, 0, METER_H, fill="#3c3", width=0)
        self.mark = self.canvas.create_line(0, 0, 0, METER_H, fill="#fff")
        self.text = tk.Label(parent, text="", anchor="w", width=22, font=("TkFixedFont", 9))
        self.text.grid(row=row, column=2, sticky="w")

    def set(self, frac: float, text: str, colour: str = "#3c3", mark: Optional[float] = None):
        frac = min(max(frac, 0.0), 1.0)
        self.canvas.coords(self.bar, 0, 0, frac * METER_W, METER_H)
        self.canvas.itemconfigure(self.bar, fill=colour)
        m = -10 if mark is None else min(max(mark, 0.0), 1.0) * METER_W
        self.canvas.coords(self.mark, m, 0, m, METER_H)
        self.text.configure(text=text)


def _db_frac(db: float) -> float:
    return (db + 60.0) / 60.0  # -60..0 dBFS


class PlayerWindow:
    """The GUI around a started :class:`Player`. ``run()`` blocks until the window is closed."""

    def __init__(self, player, root: Optional[tk.Tk] = None, fps: int = 25):
        self.player = player
        self.fps = fps
        self.root = root or tk.Tk()
        self.root.title("nam-dsp play")
        self.closed = False
        self.updates = 0
        self.update_seconds = collections.deque(maxlen=4096)  # how long each meter update took
        self._synced = None
        self._build()
        self.root.protocol("WM_DELETE_WINDOW", self.close)
        self._after = self.root.after(int(1000 / fps), self._update)

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        r = self.root
        top = tk.Frame(r, padx=8, pady=6)
        top.pack(fill="x")
        self.name_var = tk.StringVar(value=self.player.name)
        tk.Label(top, text="Model:").pack(side="left")
        tk.Label(top, textvariable=self.name_var, font=("TkDefaultFont", 10, "bold")).pack(side="left")
        tk.Button(top, text="Open model...", command=self.open_model).pack(side="right")

        self.quality = tk.Frame(r, padx=8)
        self.quality.pack(fill="x")
        self._build_slider()

        info = tk.Frame(r, padx=8, pady=2)
        info.pack(fill="x")
        self.width_var = tk.StringVar()
        tk.Label(info, textvariable=self.width_var, anchor="w").pack(fill="x")
        self.reason_var = tk.StringVar()
        tk.Label(info, textvariable=self.reason_var, anchor="w", fg="#555", wraplength=480,
                 justify="left").pack(fill="x")

        meters = tk.Frame(r, padx=8, pady=4)
        meters.pack(fill="x")
        self.cpu = _Meter(meters, "CPU", 0)
        self.level_in = _Meter(meters, "Input", 1)
        self.level_out = _Meter(meters, "Output", 2)

        bottom = tk.Frame(r, padx=8, pady=6)
        bottom.pack(fill="x")
        self.xrun_var = tk.StringVar(value=xruns_text(0))
        tk.Label(bottom, textvariable=self.xrun_var, width=26, anchor="w").pack(side="left")
        self.bypass_var = tk.BooleanVar(value=self.player.engine.bypass)
        tk.Checkbutton(bottom, text="Bypass", variable=self.bypass_var,
                       command=self._bypass).pack(side="left", padx=6)
        self.auto_var = tk.BooleanVar(value=self.player.auto_enabled)
        self.auto_button = tk.Checkbutton(bottom, text="Auto width", variable=self.auto_var,
                                          command=self._auto)
        self.auto_button.pack(side="left", padx=6)
        if self.player.auto is None:
            self.auto_button.configure(state="disabled")

    def _build_slider(self) -> None:
        for w in self.quality.winfo_children():
            w.destroy()
        eng = self.player.engine
        widths = eng.allowed_widths
        tk.Label(self.quality, text="Quality", font=("TkDefaultFont", 10, "bold")).pack(anchor="w")
        if not widths:
            self.slider = None
            tk.Label(self.quality, text="fixed width (this model is not slimmable)").pack(anchor="w")
            return
        self.widths = widths
        self._synced = eng.target_width
        self.slider_var = tk.IntVar(value=widths.index(eng.target_width))
        self.slider = tk.Scale(self.quality, from_=0, to=len(widths) - 1, orient="horizontal",
                               resolution=1, showvalue=False, length=480, sliderlength=24,
                               variable=self.slider_var, command=self._slid)
        self.slider.pack(fill="x")
        self.ticks = tk.Canvas(self.quality, height=34, highlightthickness=0)
        self.ticks.pack(fill="x")
        self.ticks.bind("<Configure>", lambda e: self._draw_ticks())
        ends = tk.Frame(self.quality)
        ends.pack(fill="x")
        tk.Label(ends, text="smallest (fastest)", fg="#555").pack(side="left")
        tk.Label(ends, text="full (best)", fg="#555").pack(side="right")
        if any(self.player.esr(w) is not None for w in widths):
            tk.Label(ends, text="width / validation ESR", fg="#555").pack()

    def _draw_ticks(self) -> None:
        c = self.ticks
        c.delete("all")
        self.root.update_idletasks()
        for i, w in enumerate(self.widths):
            x = self.slider.coords(i)[0]
            esr = self.player.esr(w)
            c.create_line(x, 0, x, 5)
            c.create_text(x, 7, text=str(w), anchor="n", font=("TkDefaultFont", 9))
            if esr is not None:
                c.create_text(x, 20, text=f"{esr:.3f}", anchor="n", font=("TkDefaultFont", 7),
                              fill="#555")

    # -- controls -------------------------------------------------------------------------------
    def _slid(self, value) -> None:
        w = self.widths[int(float(value))]
        self._synced = w
        if w != self.player.engine.target_width:
            self.player.request_width(w)  # a manual move turns auto off
            self.auto_var.set(False)

    def set_quality(self, width: int) -> None:
        """Move the slider to ``width`` as a user would (tests and keyboard shortcuts)."""
        self.slider.set(self.widths.index(width))
        self._slid(self.widths.index(width))

    def _bypass(self) -> None:
        self.player.engine.bypass = self.bypass_var.get()

    def _auto(self) -> None:
        try:
            self.player.set_auto(self.auto_var.get())
        except NamDspError as exc:
            self.auto_var.set(False)
            messagebox.showerror("nam-dsp play", str(exc))

    def open_model(self, path: Optional[str] = None) -> bool:
        """Load another model (a file dialog without ``path``); the stream restarts with it."""
        if path is None:
            path = filedialog.askopenfilename(title="Open a NAM model",
                                              filetypes=[("NAM models", "*.nam"), ("All", "*")])
            if not path:
                return False
        try:
            model = load_model(path)
            self.player.replace_model(model)
        except (NamDspError, OSError) as exc:
            messagebox.showerror("nam-dsp play", f"could not play {os.path.basename(path)}:\n{exc}")
            return False
        self.name_var.set(self.player.name)
        self.auto_button.configure(state="normal" if self.player.auto is not None else "disabled")
        self._build_slider()
        return True

    # -- meters ---------------------------------------------------------------------------------
    def _update(self) -> None:
        if self.closed:
            return
        t0 = time.perf_counter()
        try:
            self._refresh()
        finally:
            self.update_seconds.append(time.perf_counter() - t0)
        if self.closed:
            return
        self._after = self.root.after(int(1000 / self.fps), self._update)

    def _refresh(self) -> None:
        p = self.player
        m = p.tick()
        self.updates += 1
        eng = p.engine
        target = eng.target_width
        if self.slider is not None and target != self._synced:
            # the width changed elsewhere (auto mode, keys): follow it. Never fight the user: a
            # drag does not change the target until Tk runs the slider's command.
            self._synced = target
            self.slider_var.set(self.widths.index(target))
        if self.slider is None:
            self.width_var.set("Width: fixed" if m["width"] is None else f"Width {m['width']} (fixed)")
        else:
            esr = f", validation ESR {m['esr']:.4f}" if m["esr"] is not None else ""
            arrow = f" -> {m['target']}" if m["target"] != m["width"] else ""
            self.width_var.set(f"Width {m['width']}{arrow} of {max(self.widths)}{esr}")
        self.reason_var.set(f"Auto: {m['auto_reason']}\n({m['auto_rule']})" if m["auto"] else "")
        if self.auto_var.get() != m["auto"]:
            self.auto_var.set(m["auto"])
        colour = "#3c3" if m["cpu_p99"] < 0.5 else ("#db3" if m["cpu_p99"] < 0.8 else "#d33")
        self.cpu.set(m["cpu_mean"], f"{m['cpu_mean']:4.0%} p99 {m['cpu_p99']:4.0%}", colour,
                     mark=m["cpu_p99"])
        for meter, peak, rms in ((self.level_in, m["in_peak"], m["in_rms"]),
                                 (self.level_out, m["out_peak"], m["out_rms"])):
            meter.set(_db_frac(rms), f"{peak:6.1f} dBFS peak", "#d33" if peak > -0.5 else "#3c3",
                      mark=_db_frac(peak))
        self.xrun_var.set(xruns_text(m["xruns"]))
        if p.finished.is_set() or not p.running:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.root.after_cancel(self._after)
        except tk.TclError:
            pass
        self.root.quit()

    def run(self) -> None:
        self.root.mainloop()
        try:
            self.root.destroy()
        except tk.TclError:
            pass


def screenshot(widget, path) -> str:
    """Write a PNG of ``widget``'s toplevel window, read back from the X server (no extra
    packages: libX11 through ctypes, PNG through zlib). Returns the path."""
    import ctypes
    import ctypes.util
    import struct
    import zlib

    widget.update()
    top = widget.winfo_toplevel()
    w, h = top.winfo_width(), top.winfo_height()
    x, y = top.winfo_rootx(), top.winfo_rooty()
    lib = ctypes.util.find_library("X11")
    if lib is None:
        raise OSError("libX11 not found: cannot take a screenshot")
    x11 = ctypes.CDLL(lib)

    class XImage(ctypes.Structure):
        _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int),
                    ("format", ctypes.c_int), ("data", ctypes.c_void_p),
                    ("byte_order", ctypes.c_int), ("bitmap_unit", ctypes.c_int),
                    ("bitmap_bit_order", ctypes.c_int), ("bitmap_pad", ctypes.c_int),
                    ("depth", ctypes.c_int), ("bytes_per_line", ctypes.c_int),
                    ("bits_per_pixel", ctypes.c_int), ("red_mask", ctypes.c_ulong),
                    ("green_mask", ctypes.c_ulong), ("blue_mask", ctypes.c_ulong)]

    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XDefaultRootWindow.restype = ctypes.c_ulong
    x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x11.XGetImage.restype = ctypes.POINTER(XImage)
    x11.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                              ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
    x11.XFree.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = x11.XOpenDisplay(str(widget.winfo_screen()).encode())
    if not display:
        raise OSError(f"cannot open X display {widget.winfo_screen()}")
    try:
        root = x11.XDefaultRootWindow(display)
        img = x11.XGetImage(display, root, x, y, w, h, ctypes.c_ulong(-1).value, 2)  # ZPixmap
        if not img:
            raise OSError("XGetImage failed")
        im = img.contents
        if im.bits_per_pixel != 32:
            raise OSError(f"unsupported screen format: {im.bits_per_pixel} bits per pixel")
        raw = ctypes.string_at(im.data, im.bytes_per_line * im.height)
        stride = im.bytes_per_line
        x11.XFree(ctypes.c_void_p(im.data))
        x11.XFree(img)
    finally:
        x11.XCloseDisplay(display)
    rows = []
    for r in range(h):
        line = raw[r * stride:r * stride + 4 * w]
        rgb = bytearray(3 * w)
        rgb[0::3] = line[2::4]  # little-endian BGRX -> RGB
        rgb[1::3] = line[1::4]
        rgb[2::3] = line[0::4]
        rows.append(b"\x00" + bytes(rgb))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)
    return os.fspath(path)
