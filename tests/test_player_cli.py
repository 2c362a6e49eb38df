"""The terminal side of ``nam-dsp play``: keys and the one-line status (no audio needed)."""

from __future__ import annotations

import argparse

import nam_dsp
from nam_dsp.realtime import cli
from nam_dsp.realtime.player import Player


def make_player():
    return Player(nam_dsp.from_spec(nam_dsp.preset("slimmable-paper")), block_size=128,
                  rt_priority=None)


def test_keys_change_width_bypass_and_auto_and_q_quits():
    p = make_player()
    eng = p.engine
    assert cli._key(p, b"-") and eng.target_width == 7
    assert cli._key(p, b"\x1b[D") and eng.target_width == 6  # left arrow
    assert cli._key(p, b"+") and eng.target_width == 7
    assert cli._key(p, b"3") and eng.target_width == 3
    assert cli._key(p, b"b") and eng.bypass
    assert cli._key(p, b"a") and p.auto_enabled
    assert cli._key(p, b"-") and not p.auto_enabled  # a manual change turns auto off
    assert not cli._key(p, b"q")


def test_status_line_shows_width_esr_cpu_xruns_levels_and_the_auto_reason():
    p = make_player()
    p.model.spec.metadata["training"] = {"validation_esr": {"8": 0.0129}}
    m = p.meters()
    line = cli.status_line(m, p.engine.allowed_widths)
    assert line.startswith("width 8/8 ESR 0.013 | cpu") and "dBFS" in line
    assert "| xruns (audio dropouts): 0 |" in line  # says what an xrun is
    p.set_auto(True)
    assert "| auto: waiting for measurements" in cli.status_line(p.meters(), (1, 8))


def test_arguments_parse_as_documented():
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    a = parser.parse_args(["m.nam", "--input-device", "1", "--output-device", "2", "--block-size",
                           "64", "--auto-width", "--gui", "--input-file", "in.wav", "--record",
                           "out.wav", "--seconds", "3"])
    assert (a.model, a.input_device, a.output_device, a.block_size, a.auto_width, a.gui,
            a.input_file, a.record, a.seconds) == ("m.nam", 1, 2, 64, True, True, "in.wav",
                                                  "out.wav", 3.0)
    assert parser.parse_args([]).block_size == 128


def test_status_line_of_a_fixed_width_model():
    p = Player(nam_dsp.from_spec(nam_dsp.preset("a1-nano")), block_size=64, rt_priority=None)
    assert cli.status_line(p.meters(), p.engine.allowed_widths).startswith("width 4 (fixed) | cpu")
    said = []
    assert cli._key(p, b"+", said.append) and cli._key(p, b"a", said.append)  # no error
    assert cli._key(p, b"3", said.append) and p.engine.width == 4
    assert said == ["key '+': this model has a fixed width",
                    "key a: automatic width needs a slimmable model; this one has a fixed width",
                    "key '3': this model has a fixed width"]


def test_a_width_key_beyond_the_models_widths_says_so_instead_of_doing_nothing():
    p = make_player()
    said = []
    assert cli._key(p, b"9", said.append) and cli._key(p, b"0", said.append)
    assert p.engine.target_width == 8
    assert said == ["key 9: this model has 8 widths, keys 1-8 choose 1, 2, 3, 4, 5, 6, 7, 8",
                    "key 0: this model has 8 widths, keys 1-8 choose 1, 2, 3, 4, 5, 6, 7, 8"]
    assert cli._key(p, b"8", said.append) and cli._key(p, b"2", said.append)
    assert p.engine.target_width == 2 and len(said) == 2  # keys in range act silently


def test_the_auto_mode_states_its_two_thresholds():
    p = make_player()  # default target 0.5
    p.set_auto(True)
    m = p.meters()
    assert m["auto_rule"] == ("target 50%: narrower when p99 > 50% of the deadline (2 readings in "
                              "a row), wider only when the next width is predicted < 35%")
    p.set_auto(False)
    assert p.meters()["auto_rule"] == "" and not p.meters()["auto"]
