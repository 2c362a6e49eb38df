"""``nam-dsp train`` (nam_dsp.training.cli): options, errors, optimizers, the end-of-run table."""

import json
import os

import numpy as np
import pytest
import soundfile as sf


import nam_dsp
from nam_dsp.training import cli
from nam_dsp.training.optim import Adam, clip_grad_norm, lbfgs_round
from nam_dsp.training.trainer import parse_widths, verdict

from conftest import write_training_pair

COMMON = ["--arch", "tiny-slimmable", "--batch-size", "4", "--segment", "512", "--validation-seconds", "0.5",
          "--latency", "0"]


@pytest.fixture
def pair(tmp_path):
    return (*write_training_pair(tmp_path, seed=1, taps=[0.5, 0.5]), tmp_path)


def test_adam_run_prints_the_esr_table_and_writes_a_slimmable_nam(pair, capsys):
    dry, wet, tmp = pair
    out = str(tmp / "m.nam")
    assert cli.main([dry, wet, "-o", out, "--steps", "60", "--widths", "2-4", "--summary-json",
                     str(tmp / "s.json")] + COMMON) == 0
    captured = capsys.readouterr()
    assert "width  val ESR" in captured.out
    assert sorted(json.load(open(tmp / "s.json"))["validation_esr"]) == ["2", "3", "4"]
    assert "matplotlib" in captured.err or os.path.isfile(str(tmp / "m.png"))
    spec = nam_dsp.load_spec(out)
    assert spec.allowed_widths == (1, 2, 3, 4)  # the file keeps every width; training used 2..4
    assert spec.metadata["training"]["settings"]["widths"] == "2-4"


def test_lbfgs_and_sandwich_runs_lower_the_error(pair, capsys):
    dry, wet, tmp = pair
    for extra in (["--optimizer", "lbfgs", "--steps", "3"], ["--schedule", "sandwich", "--steps", "40"]):
        out = str(tmp / "m.nam")
        assert cli.main([dry, wet, "-o", out] + COMMON + extra) == 0
        esr = nam_dsp.load_spec(out).metadata["training"]["validation_esr"]
        assert esr["4"] < 0.5, (extra, esr)


def test_same_seed_same_model(pair):
    dry, wet, tmp = pair
    for name in ("a", "b"):
        assert cli.main([dry, wet, "-o", str(tmp / f"{name}.nam"), "--steps", "30", "--seed", "3"] + COMMON) == 0
    wa = json.load(open(tmp / "a.nam"))["weights"]
    wb = json.load(open(tmp / "b.nam"))["weights"]
    assert wa == wb


def test_bad_data_exits_2_with_the_file_and_the_problem(pair, capsys):
    dry, wet, tmp = pair
    sf.write(str(tmp / "silent.wav"), np.zeros(2 * 48000), 48000)
    assert cli.main([dry, str(tmp / "silent.wav"), "-o", str(tmp / "x.nam")] + COMMON) == 2
    assert "silent.wav" in capsys.readouterr().err


def test_unknown_architecture_and_bad_widths_are_refused(pair, capsys):
    dry, wet, tmp = pair
    args = [dry, wet, "-o", str(tmp / "x.nam"), "--steps", "1", "--validation-seconds", "0.5"]
    assert cli.main(args + ["--arch", "no-such-arch"]) == 2
    assert "unknown architecture 'no-such-arch'" in capsys.readouterr().err
    assert cli.main(args + ["--arch", "tiny-slimmable", "--widths", "3-9", "--segment", "512"]) == 2
    assert "not allowed" in capsys.readouterr().err


def test_parse_widths_and_verdicts():
    spec = nam_dsp.preset("slimmable-paper")
    assert parse_widths("1-3,8", spec) == [1, 2, 3, 8]
    assert parse_widths(None, spec) == list(range(1, 9))
    assert [verdict(e) for e in (0.005, 0.02, 0.05, 0.2, 0.5)] == [
        "Great!", "Not bad!", "...This *might* sound ok!", "This probably won't sound great :(",
        "Something seems to have gone wrong."]


def test_adam_matches_the_textbook_update_and_respects_the_mask():
    theta = np.array([1.0, -2.0, 3.0])
    g = np.array([0.5, -1.0, 2.0])
    opt = Adam(3, mask=np.array([True, True, False]))
    opt.step(theta, g, lr=0.1)
    # first step: m_hat = g, v_hat = g^2, update = lr * sign(g) (up to eps)
    np.testing.assert_allclose(theta, [0.9, -1.9, 3.0], atol=1e-7)
    clipped, norm = clip_grad_norm(np.array([3.0, 4.0]), 1.0)
    assert norm == 5.0 and np.allclose(clipped, [0.6, 0.8])


def test_lbfgs_round_minimises_a_quadratic():
    a = np.diag([1.0, 10.0, 100.0])
    fun = lambda th: (0.5 * th @ a @ th, a @ th)
    th, res = lbfgs_round(fun, np.ones(3), np.array([True, True, True]), maxiter=50)
    assert np.allclose(th, 0, atol=1e-6)


def test_cpu_time_budget_stops_the_run(pair):
    dry, wet, tmp = pair
    out = str(tmp / "c.nam")
    assert cli.main([dry, wet, "-o", out, "--budget-cpu-minutes", "0.01"] + COMMON) == 0
    tr = nam_dsp.load_spec(out).metadata["training"]
    assert 0.6 <= tr["cpu_seconds"] < 5 and tr["steps"] > 0


def test_nam_dsp_train_subcommand_dispatches_here(pair):
    from nam_dsp.cli import main as nam_dsp_main
    dry, wet, tmp = pair
    out = str(tmp / "d.nam")
    assert nam_dsp_main(["train", dry, wet, "-o", out, "--steps", "5"] + COMMON) == 0
    assert nam_dsp.load_spec(out).metadata["training"]["steps"] == 5
