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
    dry, wet = write_training_pair(tmp_path, seed=1, taps=[0.5, 0.5])
    return str(dry), str(wet), tmp_path


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


def test_the_run_says_which_checkpoint_the_table_shows_and_draws_a_titled_figure(pair, capsys):
    dry, wet, tmp = pair
    out = tmp / "amp.nam"
    assert cli.main([dry, wet, "-o", str(out), "--steps", "6", "--validate-every", "3"] + COMMON) == 0
    captured = capsys.readouterr()
    assert "best checkpoint (step " in captured.out and "which is what the .nam holds" in captured.out
    try:
        import matplotlib  # noqa: F401 (the [plot] extra)
    except ImportError:
        assert "matplotlib is not installed: no plot written" in captured.err
        assert not (tmp / "amp.png").exists()
    else:
        assert (tmp / "amp.png").is_file() and (tmp / "amp.png").stat().st_size > 10_000


def test_narrow_widths_that_trail_are_explained_only_when_wider_ones_did_well():
    from nam_dsp.training.trainer import esr_table
    assert "much longer run" in esr_table({1: 0.4, 2: 0.2, 3: 0.05, 4: 0.02})
    assert "much longer run" not in esr_table({1: 0.4, 2: 0.3, 3: 0.3, 4: 0.2})
    assert "much longer run" not in esr_table({1: 0.05, 2: 0.03})


def test_every_train_option_has_help_with_its_default():
    import argparse
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"{action.option_strings[0]} has no help text"
            if action.default is not None and not isinstance(action.default, bool):
                assert "default" in action.help, f"{action.option_strings[0]} does not state its default"


# -- errors: the library names the parameter, the CLI the flag ----------------------------------

def test_setting_errors_are_config_errors_naming_the_parameter_not_a_flag():
    from nam_dsp.errors import ConfigError, NamDspError
    from nam_dsp.training.losses import make_loss
    from nam_dsp.training.trainer import make_arch
    spec = nam_dsp.preset("slimmable-paper")
    for call, setting in [(lambda: parse_widths("1-x", spec), "widths"), (lambda: parse_widths("9", spec), "widths"),
                          (lambda: make_arch("no-such-arch", 0), "arch"), (lambda: make_loss("l7"), "loss")]:
        with pytest.raises(ConfigError) as info:
            call()
        assert isinstance(info.value, (ValueError, NamDspError)) and info.value.settings == (setting,)
        assert "--" not in str(info.value)


@pytest.mark.parametrize("extra, flag", [(["--validation-seconds", "5"], "--validation-seconds 5.0: the pair is 2.00 s long"),
                                         (["--batch-size", "400"], "--batch-size 400 / --segment 512: "),
                                         (["--channel", "1"], "--channel 1: ")])
def test_the_cli_says_which_option_to_change(pair, capsys, extra, flag):
    dry, wet, tmp = pair
    args = [dry, wet, "-o", str(tmp / "x.nam"), "--steps", "1", "--arch", "tiny-slimmable", "--segment", "512",
            "--latency", "0"]
    args += [] if "--validation-seconds" in extra else ["--validation-seconds", "0.5"]
    assert cli.main(args + extra) == 2
    assert flag in capsys.readouterr().err
    assert not (tmp / "x.nam").exists()


def test_a_checkpoint_path_equal_to_the_output_is_refused_before_training(pair, capsys):
    dry, wet, tmp = pair
    assert cli.main([dry, wet, "-o", str(tmp / "x.nam"), "--checkpoint", str(tmp / "x.nam"), "--steps", "1"]
                    + COMMON) == 2
    err = capsys.readouterr().err
    assert "--checkpoint" in err and "overwrite the exported model" in err
    assert not (tmp / "x.nam").exists()


def test_resuming_from_a_file_that_is_not_a_checkpoint_exits_2_naming_it(pair, capsys):
    dry, wet, tmp = pair
    bogus = tmp / "bogus.npz"
    bogus.write_bytes(b"not a zip")
    assert cli.main([dry, wet, "-o", str(tmp / "x.nam"), "--steps", "1", "--resume", str(bogus)] + COMMON) == 2
    err = capsys.readouterr().err
    assert str(bogus) in err and "not a usable checkpoint" in err
