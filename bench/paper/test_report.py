"""The paper experiment's own logic on made-up points (no training): the Pareto front and the
comparisons its README states. The pipeline end to end: ``tests/test_paper_experiment.py``."""

import numpy as np
import pytest

from bench.paper import experiment, report


def test_pareto_front_and_comparisons():
    pts = [{"xrt_cpu": 100.0, "esr": 0.1}, {"xrt_cpu": 50.0, "esr": 0.05}, {"xrt_cpu": 40.0, "esr": 0.2},
           {"xrt_cpu": 100.0, "esr": 0.3}]
    assert experiment.pareto_front(pts) == [0, 1]
    r = {"models": {
        "slimmable-paper": {"label": "s", "points": [{"width": w, "xrt_cpu": 100.0 / w, "esr": 0.1 / w}
                                                     for w in range(1, 9)]},
        "paper-full": {"label": "f", "points": [{"width": 8, "xrt_cpu": 12.5, "esr": 0.01}]},
        "a1-standard": {"label": "A1", "points": [{"width": 16, "xrt_cpu": 10.0, "esr": 0.03}]}}}
    comp = dict(report.comparisons(r))
    assert comp["ESR slimmable w8 / new (full)"] == pytest.approx(1.25)
    assert comp["slimmable widths at least as fast and as accurate as A1"] == "4, 5, 6, 7, 8"
    assert np.isfinite(comp["ESR slimmable w8 / new (full)"])
