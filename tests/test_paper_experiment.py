"""``python -m bench.paper`` end to end on a tiny budget: JSON schema, cache reuse, plots-only path.

Two models (the slimmable paper model and the dedicated 2-channel one) train for 1.8 CPU-seconds each
on the shared ``clean`` tone, validated on its first 2 s of validation audio, in a temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.paper import experiment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ["slimmable-paper", "paper-w2"]


@pytest.fixture(scope="module")
def tones(shared_data):
    path = shared_data / "tones"
    if not (path / "dry.flac").is_file() or not (path / "wet_clean.flac").is_file():
        pytest.skip(f"{path} has no dry.flac / wet_clean.flac (the shared tones are needed)")
    return path


def run_paper(tones, out, *extra, block_matplotlib=False) -> str:
    """``python -m bench.paper`` as a user runs it (from the repository root); its stdout."""
    args = ["--tones", "clean", "--models", *MODELS, "--budget-minutes", "0.03", "--data", str(tones),
            "--out", str(out / "results"), "--cache", str(out / "cache"), "--validation-seconds", "2",
            "--bench-seconds", "0.2", "--bench-repeats", "1", *extra]
    if block_matplotlib:  # as if it were not installed
        run = ("import runpy, sys; sys.modules['matplotlib'] = None; "
               "runpy.run_module('bench.paper', run_name='__main__', alter_sys=True)")
        command = [sys.executable, "-c", run, *args]
    else:
        command = [sys.executable, "-m", "bench.paper", *args]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def first_run(tones, tmp_path_factory):
    out = tmp_path_factory.mktemp("paper")
    run_paper(tones, out)
    return out


def test_first_run_writes_the_schema(first_run):
    r = json.loads((first_run / "results" / "clean.json").read_text())
    for key in ("tone", "capture", "command", "commit", "machine", "budget", "data", "speed", "models",
                "missing", "pareto_front"):
        assert key in r, key
    assert r["budget"]["cpu_minutes_per_model"] == 0.03 and r["speed"]["block_size"] == 64
    assert r["machine"]["cores"] >= 1 and r["generated_by"].startswith("python -m bench.paper")
    assert r["command"] == ("python -m bench.paper --tones clean --budget-minutes 0.03 --models "
                            "slimmable-paper paper-w2 --validation-seconds 2 --bench-seconds 0.2 --bench-repeats 1")
    assert set(r["models"]) == set(MODELS) and r["missing"] == []
    # the report names where its speeds were measured, even when rebuilt from the cache elsewhere
    assert all(d["measurement_machine"] == r["machine"] for d in r["models"].values())
    slim = r["models"]["slimmable-paper"]
    assert [p["width"] for p in slim["points"]] == list(range(1, 9))
    assert [p["width"] for p in r["models"]["paper-w2"]["points"]] == [2]
    rates = experiment.load_step_rates()
    assert r["budget"]["steps_per_cpu_second"] == rates
    for m, d in r["models"].items():
        # the budget is counted in steps: 1.8 CPU-seconds at the reference speed of this model
        assert d["training"]["steps"] == d["budget_steps"] == max(1, round(1.8 * rates[m]))
        assert os.path.isfile(first_run / "results" / d["nam"])  # relative to the result file
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


def test_a_finished_run_leaves_no_checkpoint_behind(first_run):
    # checkpoints of unfinished runs are committed so that a later session resumes them; a
    # finished one must not linger in the cache (nor in the repository)
    cache = first_run / "cache" / "clean"
    assert sum(p.name.endswith(".nam") for p in cache.iterdir()) == 2
    assert not [p.name for p in cache.iterdir() if p.name.endswith(".ckpt.npz")]


def test_second_run_trains_nothing(first_run, tones):
    cache = first_run / "cache" / "clean"
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.iterdir() if p.suffix in (".nam", ".json")}
    assert sum(name.endswith(".measure.json") for name in stamps) == 2
    assert sum(name.endswith(".nam") for name in stamps) == 2
    assert "trained 0 model(s), measured 0" in run_paper(tones, first_run)
    assert stamps == {p.name: p.stat().st_mtime_ns for p in cache.iterdir() if p.suffix in (".nam", ".json")}


def test_a_new_measurement_measures_the_whole_tone_again(first_run, tones):
    # speed ratios between models are only fair within one session: a model measured anew brings
    # the tone's other finished models with it
    cache = first_run / "cache" / "clean"
    measured = sorted(cache.glob("*.measure.json"))
    stamps = [p.stat().st_mtime_ns for p in measured]
    next(p for p in measured if "paper-w2" in p.name).unlink()
    assert "trained 0 model(s), measured 2" in run_paper(tones, first_run)
    assert all(p.stat().st_mtime_ns != s for p, s in zip(measured, stamps))
    # and they are timed in turns, so that a slow spell of the machine falls on both
    records = [json.loads(p.read_text()) for p in measured]
    assert all(sorted(r["timed_with"]) == sorted(MODELS) for r in records)
    assert len({r["measured_utc"] for r in records}) == 1


def test_plots_only_rebuilds_from_the_cache(first_run, tones):
    res = first_run / "results"
    before = json.loads((res / "clean.json").read_text())
    for name in ("clean.json", "clean.png", "README.md"):
        if (res / name).exists():
            (res / name).unlink()
    assert "trained 0 model(s), measured 0" in run_paper(tones, first_run, "--plots-only")
    after = json.loads((res / "clean.json").read_text())
    assert after["models"] == before["models"]
    assert (res / "README.md").is_file()
    try:
        import matplotlib  # noqa: F401
        assert (res / "clean.png").stat().st_size > 10000
    except ImportError:
        pass


def test_plots_only_without_matplotlib_says_so(first_run, tones):
    res = first_run / "results"
    if (res / "clean.png").exists():
        (res / "clean.png").unlink()
    out = run_paper(tones, first_run, "--plots-only", block_matplotlib=True)
    assert "matplotlib is not installed" in out
    assert not (res / "clean.png").exists() and (res / "clean.json").is_file()


def test_the_committed_30_minute_runs_are_found_by_todays_settings(tones):
    """A settings hash that changes by accident makes ``python -m bench.paper`` train every model
    again: hours of CPU per tone (it happened once, when step budgets dropped ``steps`` from the
    hash). The models trained at 30 CPU-minutes with settings that have not changed since must
    keep their cache keys; the slimmable model's changed on purpose (channel-causal weights), and
    the 2-minute runs are found with the weights as drawn."""
    cache = os.path.join(ROOT, "bench", "results", "paper", "cache", "clean")
    settings = experiment.Settings(data_dir=str(tones), budget_cpu_minutes=30,
                                   step_rates=experiment.load_step_rates())
    for key in experiment.MODELS:
        name = settings.cache_key("clean", experiment.MODELS[key])
        found = [f for f in os.listdir(cache) if f.startswith(name + ".")]
        assert found, f"{key}: no committed run under today's cache key {name}"
    assert settings.settings_hash(experiment.MODELS["slimmable-paper"]) == "db5bab2c5d"
    short = experiment.Settings(data_dir=str(tones), budget_cpu_minutes=2, train_overrides={"init": "drawn"})
    for key in experiment.MODELS:
        name = short.cache_key("clean", experiment.MODELS[key])
        assert os.path.isfile(os.path.join(cache, name + ".json")), f"{key}: no 2-minute run {name}"


def test_the_step_rate_table_is_not_replaced_by_accident(tmp_path, capsys):
    from bench.paper import step_rates
    table = tmp_path / "step_rates.json"
    table.write_text("{}")
    with pytest.raises(SystemExit) as exc:
        step_rates.main(["--out", str(table)])
    assert exc.value.code == 2 and "--force" in capsys.readouterr().err
    assert table.read_text() == "{}"


def test_the_one_width_finetune_starts_from_the_committed_model_and_records_every_width(tones, tmp_path):
    """``python -m bench.paper.finetune_one_width`` (the diagnosis of why the slimmable model misses
    the dedicated ones), on 3 steps and 1 s of validation audio: it starts from the committed clean
    slimmable model, trains only the named width, and records every width's ESR at each point."""
    from bench.paper import finetune_one_width
    out = tmp_path / "ft.json"
    args = ["--tone", "clean", "--data", str(tones), "--arms", "2", "--steps", "3", "--every", "3",
            "--validation-seconds", "1", "--out", str(out)]
    assert finetune_one_width.main(args) == 0
    result = json.loads(out.read_text())
    (arm,) = result["arms"]
    assert arm["trained_widths"] == [2] and [p["step"] for p in arm["curve"]] == [0, 3]
    start, end = (p["esr"] for p in arm["curve"])
    assert sorted(start, key=int) == [str(w) for w in range(1, 9)] == sorted(end, key=int)
    assert end["2"] != start["2"]              # width 2 trained
    assert finetune_one_width.main(args) == 2  # an existing result is not replaced without --force


def test_a_private_arm_gives_each_width_its_own_copy_of_the_named_groups(tones, tmp_path):
    """``--arms private:conv_b+head_b``: every width trains, each on its own biases (8 x 15 conv
    biases and the head's bias of the paper model), and an unknown group is refused up front."""
    from bench.paper import finetune_one_width
    out = tmp_path / "ft.json"
    args = ["--tone", "clean", "--data", str(tones), "--arms", "private:conv_b+head_b", "--steps", "2",
            "--every", "2", "--validation-seconds", "1", "--out", str(out)]
    assert finetune_one_width.main(args) == 0
    (arm,) = json.loads(out.read_text())["arms"]
    assert arm["trained_widths"] == list(range(1, 9)) and arm["private_parameters_per_width"] == 8 * 15 + 1
    assert finetune_one_width.main(["--arms", "private:conv_weights", "--out", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()
