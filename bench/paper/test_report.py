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


def test_curves_figure_pairs_each_target_width_with_its_dedicated_model(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    history = [[100 * i, 10.0 * i, {str(w): 0.5 / (i * w) for w in range(1, 9)}] for i in (1, 2, 3)]
    r = {"tone": "clean", "budget": {"cpu_minutes_per_model": 30},
         "models": {"slimmable-paper": {"validation_history": history},
                    "paper-w4": {"validation_history": [[50, 5.0, {"4": 0.2}], [150, 15.0, {"4": 0.1}]]},
                    "paper-w2": {"validation_history": None}}}  # a run from before histories were kept
    assert report.curves(r, "slimmable-paper", 4) == [(100, 0.125), (200, 0.0625), (300, 0.5 / 12)]
    assert report.curves(r, "paper-w4", 4) == [(50, 0.2), (150, 0.1)]
    assert report.curves(r, "paper-w2", 2) == [] and report.curves(r, "paper-full", 8) == []
    assert report.plot_curves(plt, r, tmp_path / "clean_curves.png")
    assert (tmp_path / "clean_curves.png").stat().st_size > 5000
    assert not report.plot_curves(plt, {"models": {}}, tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_the_report_warns_when_equal_cpu_budgets_were_not_equal_work():
    def result(**speeds):
        return {"models": {m: {"trainer_samples_per_cpu_second": s} for m, s in speeds.items()}}

    assert report.speed_drift(result(a=[100, 110], b=[95, 105])) == ""  # within 1.25x
    slow = report.speed_drift(result(a=[200, 200], b=[100, 90]))
    assert slow.startswith("**Caution:**") and "a 200" in slow and "b 95" in slow
    old = report.speed_drift(result(a=[100, 100], b=None))  # b trained before the probe existed
    assert "no machine speed was recorded for b" in old and "differed" not in old
    assert report.speed_drift(result(a=None, b=None)) == ""  # nothing known: nothing to compare


def test_budgets_in_steps_are_equal_work_whatever_the_speeds():
    def result(**steps):
        return {"budget": {"steps_per_cpu_second": {"a": 4.0, "b": 3.0}},
                "models": {m: {"trainer_samples_per_cpu_second": [100e3, 250e3], "budget_steps": b,
                               "training": {"steps": s}} for m, (s, b) in steps.items()}}

    assert report.speed_drift(result(a=(7200, 7200), b=(5500, 5400))) == ""  # within 5%, speeds 2.5x apart
    old = report.speed_drift(result(a=(7200, 7200), b=(4000, 5400)))  # b trained under a CPU budget
    assert old.startswith("**Caution:**") and "b made 4000 steps against the budget's 5400" in old
    assert "a made" not in old


def test_machine_speed_probe_measures_the_trainer():
    from bench.machine_speed import trainer_samples_per_cpu_second
    rate = trainer_samples_per_cpu_second(seconds=0.05)
    assert 1e3 < rate < 1e9  # samples per CPU-second: finite, positive, in a plausible range


def test_step_rates_keep_the_reference_runs_and_scale_the_others_by_the_mean_slow_down():
    from bench.paper import step_rates
    ref = step_rates.REFERENCE_RUNS
    # today every reference model runs at half its reference rate, the others at 1 step/CPU-s
    today = {m: {"steps": ref[m]["steps"] // 2, "cpu_seconds": ref[m]["cpu_seconds"]} if m in ref
             else {"steps": 120, "cpu_seconds": 120.0} for m in experiment.MODELS}
    out = step_rates.step_rates(today)
    assert out["mean_slowdown"] == pytest.approx(0.5, abs=1e-3)
    for m in experiment.MODELS:
        want = ref[m]["steps"] / ref[m]["cpu_seconds"] if m in ref else 2.0
        assert out["steps_per_cpu_second"][m] == pytest.approx(want, abs=2e-3)
