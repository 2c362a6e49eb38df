"""Automatic width: the controller's rules offline, then the player under an artificial load."""

from __future__ import annotations


import numpy as np
import pytest

import nam_dsp
from nam_dsp.realtime import testing
from nam_dsp.realtime.autowidth import AutoWidth

WIDTHS = tuple(range(1, 9))
COST = {w: w * w for w in WIDTHS}  # the paper model's conv cost grows as width squared


def test_steps_down_to_the_widest_width_predicted_under_the_target():
    auto = AutoWidth(WIDTHS, COST, target=0.5)
    assert auto.decide(8, 0.80, now=0.0) is None and "1 of 2" in auto.reason
    assert auto.decide(8, 0.80, now=0.5) == 6  # 0.80 * 36/64 = 0.45 <= 0.9 * 0.5
    assert "80%" in auto.reason and "8 -> 6" in auto.reason


def test_one_measurement_over_the_target_is_not_enough():
    auto = AutoWidth(WIDTHS, COST, target=0.5)
    for now in range(10):  # a hiccup every other measurement never confirms
        assert auto.decide(8, 0.9 if now % 2 else 0.05, now=float(now)) is None


def test_holds_inside_the_hysteresis_band():
    auto = AutoWidth(WIDTHS, COST, target=0.5, up_margin=0.7)
    assert auto.decide(6, 0.30, now=100.0) is None  # at 7: 0.30 * 49/36 = 0.41 > 0.35
    assert "holding width 6" in auto.reason
    assert auto.decide(6, 0.45, now=100.0) is None  # under the target: no step down either


def test_steps_up_one_width_at_a_time_and_waits_longer_after_a_step_down():
    auto = AutoWidth(WIDTHS, COST, target=0.5, hold=1.0, confirm=1)
    assert auto.decide(8, 0.9, now=0.0) == 5
    assert auto.decide(5, 0.05, now=2.0) is None and "waiting 3 s" in auto.reason
    assert auto.decide(5, 0.05, now=3.1) == 6
    assert auto.decide(6, 0.05, now=3.6) is None  # 1 s hold after a step up
    assert auto.decide(6, 0.05, now=4.2) == 7
    assert auto.decide(7, 0.05, now=5.3) == 8
    assert auto.decide(8, 0.05, now=9.0) is None and "full width" in auto.reason


def test_the_smallest_width_is_the_floor():
    auto = AutoWidth(WIDTHS, COST, target=0.5, confirm=1)
    assert auto.decide(1, 0.9, now=0.0) is None and "smallest" in auto.reason


def test_the_reasons_name_both_thresholds_of_the_hysteresis():
    auto = AutoWidth(WIDTHS, COST, target=0.5)
    assert auto.rule == ("target 50%: narrower when p99 > 50% of the deadline (2 readings in a "
                         "row), wider only when the next width is predicted < 35%")
    auto.decide(6, 0.30, now=100.0)
    assert "over the 35% step-up threshold (70% of the 50% target: the hysteresis)" in auto.reason
    auto.decide(6, 0.05, now=100.0)
    assert "under the 35% step-up threshold: width 6 -> 7" in auto.reason


class _Switcher:
    """What AutoWidth.step reads and sets on a WidthSwitcher."""

    def __init__(self, width):
        self.width = self.target_width = width
        self.transitioning = False

    def request_width(self, width):
        self.target_width = width


def test_step_measures_the_p99_outside_switches_and_requests_the_width():
    from nam_dsp.realtime.meters import CallbackStats
    stats = CallbackStats(deadline=0.001)
    auto = AutoWidth(WIDTHS, COST, target=0.5, confirm=1)
    eng = _Switcher(8)
    for _ in range(600):  # 0.6 s of callbacks at 80% of the deadline, plus slow ones in a switch
        stats.record(0.0008, False)
        stats.record(0.0100, True)
    assert auto.step(eng, stats, now=0.2) is None  # the first measurement needs 0.5 s
    assert auto.step(eng, stats, now=0.6) == 6 and eng.target_width == 6
    assert "p99 80%" in auto.reason  # the in-switch callbacks (1000%) were left out
    eng.transitioning = True  # a switch in progress: nothing is measured or decided
    assert auto.step(eng, stats, now=5.0) is None and eng.target_width == 6
    eng.transitioning, eng.width = False, 6
    for _ in range(600):
        stats.record(0.0001, False)
    assert auto.step(eng, stats, now=10.0) == 7  # 10% at width 6 -> ~14% predicted at 7


# The target and load follow the machine the test runs on. With JACK's dummy driver run without
# real-time scheduling and CPU-bound jobs sharing the 2 cores, xruns already start when the
# callback takes a third of the deadline (the server's own wake-ups miss the rest of the period),
# so the test targets 20% (``--auto-target 0.2``) where it can and ramps the load up as a real one
# would, to 40% of the deadline at full width, rather than switching it on at once. "Where it
# can": the controller climbs back to full width only when width 8 is predicted under the step-up
# threshold (70% of the target), and on the CI machine of 2026-12-07 width 8 alone ran at p99 15%
# of the deadline, over the 14% threshold of a 20% target, so it rightly stayed at width 7 and the
# test failed. The target is therefore raised until full width's own p99, measured just before,
# sits at FULL_WIDTH_SHARE of the step-up threshold, up to MAX_TARGET: a target of 49% with the
# load raised to match drove callbacks to 143% of the deadline before the step down (22 xruns,
# CI of 2026-12-07), so the load stays at LOAD. A machine whose full width alone runs over even
# MAX_TARGET's threshold cannot show the climb back, and the test says so (expected failure).
TARGET = 0.2
LOAD = 0.4
FULL_WIDTH_SHARE = 0.6
MAX_TARGET = 0.3
UP_MARGIN = AutoWidth.UP_MARGIN  # the player's controller uses the default


def target_for(full_width_p99: float) -> float:
    """The auto-width target this test uses when full width alone runs at ``full_width_p99``."""
    return min(MAX_TARGET, max(TARGET, full_width_p99 / (UP_MARGIN * FULL_WIDTH_SHARE)))


def test_the_target_leaves_full_width_room_under_the_step_up_threshold():
    assert target_for(0.05) == TARGET                     # a quiet machine: the documented 20%
    target = target_for(0.12)
    assert 0.12 == pytest.approx(FULL_WIDTH_SHARE * UP_MARGIN * target)
    assert target_for(0.21) == MAX_TARGET and 0.21 > UP_MARGIN * MAX_TARGET * FULL_WIDTH_SHARE


def _play(period, seconds, spec, **player_args):
    from nam_dsp.realtime.player import Player
    player = Player(nam_dsp.from_spec(spec), block_size=period, seconds=seconds, **player_args)
    return testing.play_to_end(player, timeout=seconds + 10, tick=0.1)


def run_under_load(period, seconds, spec, target, load_share, ramp_from, ramp_to, load_to):
    """One auto-width session with the artificial load; returns (player, k, widths, reasons)."""
    from nam_dsp.realtime.player import Player
    player = Player(nam_dsp.from_spec(spec), block_size=period, seconds=seconds,
                    auto_width=True, auto_target=target)
    k = int(np.ceil(load_share * player.deadline / player.cost[8]))
    load_model = nam_dsp.from_spec(spec)
    big_in = np.zeros(k * period, np.float32)
    big_out = np.zeros(k * period, np.float32)
    ins = [big_in[:j * period] for j in range(k + 1)]
    outs = [big_out[:j * period] for j in range(k + 1)]
    state = dict(blocks=0)

    def load(x):
        j = state["blocks"]
        if j:
            load_model.set_width(player.engine.width)
            load_model.process(ins[j], outs[j])

    player.load_hook = load
    widths, reasons = [], []
    player.start()
    try:
        while not player.finished.wait(0.1):
            t = player.blocks * player.deadline
            ramp = min(max((t - ramp_from) / (ramp_to - ramp_from), 0.0), 1.0)
            state["blocks"] = int(round(k * ramp)) if t < load_to else 0
            m = player.tick()
            widths.append((round(t, 1), m["width"]))
            if m["auto_reason"] and (not reasons or reasons[-1] != m["auto_reason"]):
                reasons.append(m["auto_reason"])
    finally:
        player.stop()
    assert player.error is None
    return player, k, widths, reasons


@pytest.mark.realtime
def test_under_an_artificial_load_auto_width_steps_down_and_back_up_without_xruns():
    """JACK at 256 frames. A second copy of the model, kept at the player's width, processes
    extra blocks inside the callback (a load that, like the model, shrinks with the width):
    ramping from 0 at 1.5 s to the load share of the deadline (at full width) at 4 s, on until
    8 s. A run that does not come back to full width, on a machine that did not slow down, is
    run once more, and only the second run judges: load from other processes comes in spells."""
    # 20 s: a step down confirmed as late as 8 s needs ~3 s of hold plus ~1 s per width to climb
    # back from width 3 to 8 (15 s was measured too short once).
    period, seconds = 256, 20.0
    ramp_from, ramp_to, load_to = 1.5, 4.0, 8.0
    spec = nam_dsp.preset("slimmable-paper")
    first = None
    try:
        with testing.jack_server(period):
            for attempt in (1, 2):
                base = _play(period, seconds, spec, no_work=True)
                full = _play(period, 3.0, spec)
                # the first 0.5 s left out: the stream's start-up is not the model's cost
                full_p99 = float(np.percentile(full.stats.recent(since=int(0.5 / full.deadline)),
                                               99)) / full.deadline
                target = target_for(full_p99)
                player, k, widths, reasons = run_under_load(period, seconds, spec, target, LOAD,
                                                            ramp_from, ramp_to, load_to)
                # A second baseline after the player: the machine's own xrun rate drifts with
                # whatever else runs, so the player is compared with the worse of the two.
                base_after = _play(period, seconds, spec, no_work=True)
                after = [w for t, w in widths if t >= seconds - 1.0]
                back = bool(after) and after[-1] == 8
                slowdown = 1.0 if back else testing.machine_slowdown(player)
                if back or slowdown > testing.SLOWDOWN_LIMIT or attempt == 2:
                    break
                first = (f"the first run ended at width {after[-1] if after else None} (full width "
                         f"p99 {full_p99:.0%}, target {target:.0%}; {reasons[-1]})")
                print(f"\n{first}; running again")
    except testing.Unavailable as exc:
        pytest.skip(str(exc))
    s = player.summary()
    b = max(base.summary(), base_after.summary(), key=lambda r: r["xruns"] - r["startup_xruns"])
    print(f"\nfull width alone: p99 {full_p99:.0%} of the deadline; target {target:.0%}, load "
          f"{LOAD:.0%} at full width (x{k} blocks)\nwidths over time: {widths[::5]}\nreasons:\n  "
          + "\n  ".join(reasons)
          + f"\nxruns: player {s['xruns']} ({s['startup_xruns']} at start-up), no-work baseline "
          f"{b['xruns']} ({b['startup_xruns']} at start-up)\nplayer xruns at (s): "
          f"{np.bincount([int(c * player.deadline) for c in s['xrun_callbacks']]).tolist()} per second")
    # The load's last second: a busy machine's readings can take until ~6 s to confirm a step down.
    during = [w for t, w in widths if load_to - 1.0 <= t < load_to]
    assert any("target" in r and "->" in r for r in reasons)
    assert during and max(during) < 8, f"never stepped down under load: {widths}"
    if not back and full_p99 >= UP_MARGIN * target:
        pytest.xfail(f"full width alone ran at p99 {full_p99:.0%} of the deadline, over the "
                     f"{UP_MARGIN * target:.0%} step-up threshold of the largest target "
                     f"{target:.0%}: the controller rightly holds a narrower width ({reasons[-1]})")
    if not back and slowdown > testing.SLOWDOWN_LIMIT:
        pytest.xfail(f"stayed at width {after[-1] if after else None} after the load: the machine "
                     f"ran the model {slowdown:.2f}x slower than at the start ({reasons[-1]})")
    assert back, f"did not come back to full width: {widths}" + (f"; {first}" if first else "")
    p_run, b_run = s["xruns"] - s["startup_xruns"], b["xruns"] - b["startup_xruns"]
    assert p_run <= b_run + testing.xrun_margin(b_run), (
        f"xruns after start-up: player {p_run}, baseline {b_run}")
