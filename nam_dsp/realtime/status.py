"""What the player shows: its meters and run summary as dicts, and their words for the terminal.

Read a few dozen times a second from the UI thread (never from the audio callback); the window
(:mod:`.gui`) lays the same dict out in its own widgets.
"""

from __future__ import annotations

from .meters import level_dbfs

#: Xruns in the stream's first 0.1 s are counted apart: PortAudio/JACK flag the first callbacks of
#: a new stream (the server was running before the client connected), with or without work.
STARTUP_SECONDS = 0.1


def xruns_text(count: int) -> str:
    """An xrun is a block the audio system had to play without the player's output in time."""
    return f"xruns (audio dropouts): {count}"


def meters(player, window: float = 1.0) -> dict:
    """CPU share of the deadline (mean, p99 over ``window`` s), xruns, levels, width, ESR, auto."""
    last = max(1, int(window / player.deadline))
    s = player.stats.summary(last)
    win = int(0.05 * player.rate)
    in_peak, in_rms = level_dbfs(player.in_ring.last_samples(win))
    out_peak, out_rms = level_dbfs(player.out_ring.last_samples(win))
    eng, auto = player.engine, player.auto
    on = player.auto_enabled
    return dict(cpu_mean=s["mean"], cpu_p99=s["p99"], p50_us=s["p50_us"], p99_us=s["p99_us"],
                callbacks=s["callbacks"], xruns=s["xruns"], in_peak=in_peak, in_rms=in_rms,
                out_peak=out_peak, out_rms=out_rms, width=eng.width, target=eng.target_width,
                esr=player.esr(eng.width), bypass=eng.bypass, auto=on,
                auto_reason=auto.reason if on else "", auto_rule=auto.rule if on else "",
                switching=eng.transitioning, seconds=player.blocks * player.deadline,
                conversion=player.conversion_text())


def summary(player) -> dict:
    """Whole-run figures (over the callbacks still in the timing ring)."""
    stats = player.stats
    s = stats.summary()
    s.update(block_size=player.block_size, rate=player.rate, deadline_us=player.deadline * 1e6,
             switches=int(player.engine.switch_count),
             flags={k: int(v) for k, v in stats.flag_counts.items()},
             odd_blocks=player.odd_blocks, model_rate=player.model_rate,
             conversion=player.conversion_text(), conversion_ms=player.conversion_ms,
             startup_xruns=stats.xruns - stats.xruns_after(STARTUP_SECONDS),
             xrun_callbacks=[int(v) for v in stats.xrun_at[:min(stats.xruns, 4096)]])
    return s


def status_line(m: dict, widths) -> str:
    """The terminal's one line from :func:`meters`; ``widths``: the allowed widths (or None)."""
    esr = f" ESR {m['esr']:.3f}" if m.get("esr") is not None else ""
    width = ("fixed" if m["width"] is None else f"{m['width']} (fixed)") if not widths else (
        f"{m['width']}/{max(widths)}{esr}" + (f" -> {m['target']}" if m["target"] != m["width"] else ""))
    auto = f" | auto: {m['auto_reason']}" if m["auto"] else ""  # the rule is shown apart: it is long
    byp = " | BYPASS" if m["bypass"] else ""
    conv = f" | {m['conversion']}" if m.get("conversion") else ""
    return (f"width {width} | cpu {m['cpu_mean']:4.0%} p99 {m['cpu_p99']:4.0%} | "
            f"{xruns_text(m['xruns'])} | in {m['in_peak']:6.1f} out {m['out_peak']:6.1f} dBFS"
            f"{byp}{conv}{auto}")


def format_summary(s: dict) -> str:
    """The line printed when a run ends, from :func:`summary`."""
    return (f"played {s['callbacks']} blocks of {s['block_size']} frames at {s['rate']} Hz: callback "
            f"p50 {s['p50_us']:.0f} us p99 {s['p99_us']:.0f} us ({s['p50']:.0%} / {s['p99']:.0%} of "
            f"the {s['deadline_us']:.0f} us deadline), {xruns_text(s['xruns'])}, width switches "
            f"{s['switches']}" + (f"; {s['conversion']}" if s.get("conversion") else ""))
