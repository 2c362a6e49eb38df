"""``python -m bench.paper`` end to end on a tiny budget: JSON schema, cache reuse, plots-only path.

Two models (the slimmable paper model and the dedicated 2-channel one) train for 1.8 CPU-seconds each
on the shared ``clean`` tone, validated on its first 2 s of validation audio, in a temporary folder.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.paper import experiment, report  # noqa: E402

MODELS = ["slimmable-paper", "paper-w2"]


@pytest.fixture(scope="module")
def tones(shared_data):
    path = shared_data / "tones"
    if not (path / "dry.flac").is_file() or not (path / "wet_clean.flac").is_file():
        pytest.skip(f"{path} has no dry.flac / wet_clean.flac (the shared tones are needed)")
    return path


def args(tones, out, *extra):
    return ["--tones", "clean", "--models", *MODELS, "--budget-minutes", "0.03", "--data", str(tones),
            "--out", str(out / "results"), "--cache", str(out / "cache"), "--validation-seconds", "2",
            "--bench-seconds", "0.2", "--bench-repeats", "1", *extra]


@pytest.fixture(scope="module")
def first_run(tones, tmp_path_factory):
    out = tmp_path_factory.mktemp("paper")
    assert experiment.main(args(tones, out)) == 0
    return out


def test_first_run_writes_the_schema(first_run, capsys):
    r = json.loads((first_run / "results" / "clean.json").read_text())
    for key in ("tone", "capture", "command", "commit", "machine", "budget", "data", "speed", "models",
                "missing", "pareto_front"):
        assert key in r, key
    assert r["budget"]["cpu_minutes_per_model"] == 0.03 and r["speed"]["block_size"] == 64
    assert r["machine"]["cores"] >= 1 and r["generated_by"].startswith("python -m bench.paper")
    assert r["command"] == ("python -m bench.paper --tones clean --budget-minutes 0.03 --models "
                            "slimmable-paper paper-w2 --validation-seconds 2 --bench-seconds 0.2 --bench-repeats 1")
    assert set(r["models"]) == set(MODELS) and r["missing"] == []
    slim = r["models"]["slimmable-paper"]
    assert [p["width"] for p in slim["points"]] == list(range(1, 9))
    assert [p["width"] for p in r["models"]["paper-w2"]["points"]] == [2]
    for d in r["models"].values():
        assert d["training"]["train_cpu_seconds"] >= 1.8 and d["training"]["steps"] > 0
        assert os.path.isfile(os.path.join(experiment.ROOT, d["nam"]))
        for p in d["points"]:
            assert p["xrt_cpu"] > 0 and p["xrt"] > 0 and p["macs_per_sample"] > 0
            # the engine's ESR of the exported file is the trainer's own validation figure
            assert p["esr"] == pytest.approx(p["esr_trainer"], rel=1e-4)
    macs = [p["macs_per_sample"] for p in slim["points"]]
    assert macs == sorted(macs)
    assert r["pareto_front"] and all(f["model"] in MODELS for f in r["pareto_front"])
    text = (first_run / "results" / "README.md").read_text()
    assert "| new (slimmable) | 8 |" in text and "| dedicated w2 | 2 |" in text
    assert "Short-budget results" in text


def test_second_run_trains_nothing(first_run, tones, capsys):
    cache = first_run / "cache" / "clean"
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.iterdir() if p.suffix in (".nam", ".json")}
    assert sum(name.endswith(".measure.json") for name in stamps) == 2
    assert sum(name.endswith(".nam") for name in stamps) == 2
    capsys.readouterr()
    assert experiment.main(args(tones, first_run)) == 0
    assert "trained 0 model(s), measured 0" in capsys.readouterr().out
    assert stamps == {p.name: p.stat().st_mtime_ns for p in cache.iterdir() if p.suffix in (".nam", ".json")}


def test_plots_only_rebuilds_from_the_cache(first_run, tones, capsys):
    res = first_run / "results"
    before = json.loads((res / "clean.json").read_text())
    for name in ("clean.json", "clean.png", "README.md"):
        if (res / name).exists():
            (res / name).unlink()
    capsys.readouterr()
    assert experiment.main(args(tones, first_run, "--plots-only")) == 0
    assert "trained 0 model(s), measured 0" in capsys.readouterr().out
    after = json.loads((res / "clean.json").read_text())
    assert after["models"] == before["models"]
    assert (res / "README.md").is_file()
    try:
        import matplotlib  # noqa: F401
        assert (res / "clean.png").stat().st_size > 10000
    except ImportError:
        pass


def test_plots_only_without_matplotlib_says_so(first_run, tones, capsys, monkeypatch):
    res = first_run / "results"
    if (res / "clean.png").exists():
        (res / "clean.png").unlink()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    capsys.readouterr()
    assert experiment.main(args(tones, first_run, "--plots-only")) == 0
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not (res / "clean.png").exists() and (res / "clean.json").is_file()


def test_dedicated_models_are_the_paper_arch_sliced():
    from nam_dsp import preset
    for c in (2, 4):
        mine, sliced = experiment.paper_arch(c, 0), preset("slimmable-paper").sliced(c)
        assert [p.shape for p in mine.parameters()] == [p.shape for p in sliced.parameters()]
        assert experiment.arch_summary(mine)["arrays"][0]["dilations"] == [1, 4, 16, 64, 256] * 3
        assert mine.macs_per_sample() == preset("slimmable-paper").macs_per_sample(c)
        assert not mine.slimmable


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
