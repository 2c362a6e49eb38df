"""Automatic width: the widest model whose callback time stays under a share of the deadline."""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np


class AutoWidth:
    """Chooses a width from the measured p99 callback time, with hysteresis.

    Parameters
    ----------
    widths : the allowed widths, ascending.
    cost : mapping width -> relative cost of one block at that width (from a timing calibration;
        any unit). Used to predict the p99 at another width: ``p99 * cost[w] / cost[now]``.
    target : the largest p99 callback time allowed, as a share of the deadline (default 0.5).
        Over it, the controller steps down to the widest width predicted under
        ``down_margin * target`` (default 0.9: 45% for the default target).
    up_margin : step up only when the predicted p99 at the next width is under
        ``up_margin * target`` (default 0.7: 35% for the default target). The gap between the two
        thresholds is the hysteresis: a step up never lands straight back over the target.
    hold : seconds without a change before stepping up (``3 * hold`` after a step down).
    confirm : step down only after this many measurements in a row over the target (default 2):
        one scheduler hiccup (a preempted thread holding the GIL) is not a reason to lose quality.
    interval : seconds between measurements (default 0.5); each needs at least 200 callbacks.

    The player calls :meth:`step` a few times a second while :attr:`enabled`; it measures the
    p99 since the last decision (callbacks spent in a width switch left out) and passes it to
    :meth:`decide`, which returns the width to request, or None, and always leaves the reason in
    :attr:`reason`. :attr:`rule` states the thresholds.
    """

    #: The default ``up_margin``: step up only when the next width is predicted under 70% of the target.
    UP_MARGIN = 0.7

    def __init__(self, widths: Sequence[int], cost: Mapping[int, float], target: float = 0.5,
                 up_margin: float = UP_MARGIN, hold: float = 1.0, confirm: int = 2,
                 down_margin: float = 0.9, interval: float = 0.5):
        if not 0.0 < target < 1.0:
            raise ValueError(f"target must be a share of the deadline in (0, 1), got {target}")
        self.widths = tuple(sorted(widths))
        self.cost = dict(cost)
        self.target = float(target)
        self.up_margin = float(up_margin)
        self.down_margin = float(down_margin)
        self.hold = float(hold)
        self.confirm = max(1, int(confirm))
        self.interval = float(interval)
        self.enabled = False
        self._over = 0
        self.reason = "waiting for measurements"
        self._last_change = None
        self._last_was_down = False
        self._since = 0          # the callback count the current measurement starts from
        self._measured_at = 0.0  # when the last measurement was taken (time.monotonic())

    @property
    def rule(self) -> str:
        """The thresholds in words, for the player's displays."""
        t = self.target
        return (f"target {t:.0%}: narrower when p99 > {t:.0%} of the deadline ({self.confirm} "
                f"readings in a row), wider only when the next width is predicted "
                f"< {self.up_margin * t:.0%}")

    def predict(self, p99: float, width: int, other: int) -> float:
        return p99 * self.cost[other] / self.cost[width]

    # -- measuring (the player's tick) ---------------------------------------------------------
    def measure_from(self, count: int, now: float) -> None:
        """Start the next measurement at callback ``count`` (on, off, or a stream (re)start)."""
        self._since = count
        self._measured_at = now

    def step(self, switcher, stats, now: float) -> Optional[int]:
        """One control step: measure ``stats`` (a CallbackStats) since the last decision, decide,
        and request the chosen width from ``switcher`` (a WidthSwitcher). Returns that width."""
        count = int(stats.count)
        if switcher.transitioning or switcher.target_width != switcher.width:
            self._since = count  # measure from the end of the switch
            return None
        if now - self._measured_at < self.interval:
            return None
        t = stats.recent(since=self._since, outside_switches=True)
        # a p99 needs a few hundred callbacks: at least `interval` s and 200 callbacks
        if t.size < max(200, int(self.interval / stats.deadline)):
            return None
        p99 = float(np.percentile(t, 99)) / stats.deadline
        choice = self.decide(switcher.width, p99, now)
        self.measure_from(count, now)
        if choice is not None:
            switcher.request_width(choice)
        return choice

    # -- deciding ------------------------------------------------------------------------------
    def decide(self, width: int, p99: float, now: float) -> Optional[int]:
        t = self.target
        up = self.up_margin * t
        i = self.widths.index(width)
        if p99 > t:
            self._over += 1
            if self._over < self.confirm:
                self.reason = (f"p99 {p99:.0%} of the deadline > {t:.0%} target at width {width} "
                               f"({self._over} of {self.confirm} measurements before stepping down)")
                return None
            lower = [w for w in self.widths[:i] if self.predict(p99, width, w) <= self.down_margin * t]
            choice = lower[-1] if lower else self.widths[0]
            if choice == width:
                self.reason = (f"width {width} is the smallest: p99 {p99:.0%} of the deadline "
                               f"is over the {t:.0%} target")
                return None
            self.reason = (f"p99 {p99:.0%} of the deadline > {t:.0%} target: width {width} -> "
                           f"{choice} (predicted {self.predict(p99, width, choice):.0%})")
            self._changed(now, down=True)
            return choice
        self._over = 0
        if i + 1 == len(self.widths):
            self.reason = f"full width {width}: p99 {p99:.0%} of the deadline, target {t:.0%}"
            return None
        wider = self.widths[i + 1]
        pred = self.predict(p99, width, wider)
        if pred > up:
            self.reason = (f"holding width {width}: p99 {p99:.0%}; width {wider} would need "
                           f"~{pred:.0%}, over the {up:.0%} step-up threshold ({self.up_margin:.0%} "
                           f"of the {t:.0%} target: the hysteresis)")
            return None
        wait = self.hold * (3.0 if self._last_was_down else 1.0)
        if self._last_change is not None and now - self._last_change < wait:
            self.reason = (f"width {width}: p99 {p99:.0%}; waiting {wait:.0f} s after the last "
                           f"change before trying {wider}")
            return None
        self.reason = (f"p99 {p99:.0%} of the deadline; width {wider} predicted {pred:.0%}, under "
                       f"the {up:.0%} step-up threshold: width {width} -> {wider}")
        self._changed(now, down=False)
        return wider

    def _changed(self, now: float, down: bool) -> None:
        self._over = 0
        self._last_change = now
        self._last_was_down = down
