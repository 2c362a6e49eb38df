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
    assert line.startswith("width 8/8 ESR 0.013 | cpu") and "xruns 0" in line and "dBFS" in line
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
    assert cli._key(p, b"+") and cli._key(p, b"a")  # ignored, no error
