"""Automatic width: the widest model whose callback time stays under a share of the deadline."""

from __future__ import annotations

from typing import Mapping, Optional, Sequence


class AutoWidth:
    """Chooses a width from the measured p99 callback time, with hysteresis.

    Parameters
    ----------
    widths : the allowed widths, ascending.
    cost : mapping width -> relative cost of one block at that width (from a timing calibration;
        any unit). Used to predict the p99 at another width: ``p99 * cost[w] / cost[now]``.
    target : the largest p99 callback time allowed, as a share of the deadline (default 0.5).
    up_margin : step up only when the predicted p99 at the next width is under
        ``up_margin * target`` (default 0.7): the gap between the two thresholds is the hysteresis.
    hold : seconds without a change before stepping up (``3 * hold`` after a step down).
    confirm : step down only after this many measurements in a row over the target (default 2):
        one scheduler hiccup (a preempted thread holding the GIL) is not a reason to lose quality.

    :meth:`decide` is called a few times a second with the p99 measured since the last change
    (blocks spent in a switch left out); it returns the width to request, or None, and always
    leaves the reason in :attr:`reason`.
    """

    def __init__(self, widths: Sequence[int], cost: Mapping[int, float], target: float = 0.5,
                 up_margin: float = 0.7, hold: float = 1.0, confirm: int = 2):
        if not 0.0 < target < 1.0:
            raise ValueError(f"target must be a share of the deadline in (0, 1), got {target}")
        self.widths = tuple(sorted(widths))
        self.cost = dict(cost)
        self.target = float(target)
        self.up_margin = float(up_margin)
        self.hold = float(hold)
        self.confirm = max(1, int(confirm))
        self._over = 0
        self.reason = "waiting for measurements"
        self._last_change = None
        self._last_was_down = False

    def predict(self, p99: float, width: int, other: int) -> float:
        return p99 * self.cost[other] / self.cost[width]

    def decide(self, width: int, p99: float, now: float) -> Optional[int]:
        t = self.target
        i = self.widths.index(width)
        if p99 > t:
            self._over += 1
            if self._over < self.confirm:
                self.reason = (f"p99 {p99:.0%} of the deadline > {t:.0%} target at width {width} "
                               f"({self._over} of {self.confirm} measurements before stepping down)")
                return None
            lower = [w for w in self.widths[:i] if self.predict(p99, width, w) <= 0.9 * t]
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
        if pred > self.up_margin * t:
            self.reason = (f"holding width {width}: p99 {p99:.0%}; width {wider} would need "
                           f"~{pred:.0%} > {self.up_margin * t:.0%} (hysteresis)")
            return None
        wait = self.hold * (3.0 if self._last_was_down else 1.0)
        if self._last_change is not None and now - self._last_change < wait:
            self.reason = (f"width {width}: p99 {p99:.0%}; waiting {wait:.0f} s after the last "
                           f"change before trying {wider}")
            return None
        self.reason = (f"p99 {p99:.0%} of the deadline; width {wider} predicted {pred:.0%} "
                       f"< {self.up_margin * t:.0%}: width {width} -> {wider}")
        self._changed(now, down=False)
        return wider

    def _changed(self, now: float, down: bool) -> None:
        self._over = 0
        self._last_change = now
        self._last_was_down = down
