"""Atomic writes (nam_dsp.atomic_io) and the refusal to overwrite an input, in the library and the CLI."""

import os
import stat

import numpy as np
import pytest
import soundfile as sf

import nam_dsp
from nam_dsp.atomic_io import atomic_output, atomic_write_bytes, check_not_input
from nam_dsp.cli import main
from nam_dsp.errors import ConfigError


def test_a_write_replaces_the_content_with_a_plain_files_mode(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    atomic_write_bytes(target, b"new")
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["out.bin"]


def test_an_error_inside_the_block_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="mid-write"):
        with atomic_output(target) as fh:
            fh.write(b"half of the new")
            raise RuntimeError("mid-write")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_an_output_naming_an_input_is_refused_through_links_and_relative_paths(tmp_path, monkeypatch):
    source = tmp_path / "dry.wav"
    source.write_bytes(b"x")
    (tmp_path / "link.wav").symlink_to(source)
    monkeypatch.chdir(tmp_path)
    for output in (source, "dry.wav", "./link.wav"):
        with pytest.raises(ConfigError, match="refusing to overwrite") as info:
            check_not_input(output, [None, tmp_path / "other.wav", source], ("output",))
        assert isinstance(info.value, ValueError) and info.value.settings == ("output",)
    # two outputs that do not exist yet are still the same file
    with pytest.raises(ConfigError):
        check_not_input("new.nam", ["./new.nam"])
    check_not_input(tmp_path / "out.wav", [source])


def test_render_refuses_to_write_over_its_input_and_leaves_it_intact(tmp_path, capsys):
    model = tmp_path / "m.nam"
    nam_dsp.save_spec(nam_dsp.preset("a1-nano"), model)
    wav = tmp_path / "in.wav"
    sf.write(str(wav), np.zeros(4800, dtype=np.float32), 48000, subtype="FLOAT")
    for output in (wav, model):
        before = output.read_bytes()
        assert main(["render", str(model), str(wav), str(output)]) == 2
        assert "refusing to overwrite" in capsys.readouterr().err
        assert output.read_bytes() == before


def test_render_writes_the_same_samples_as_the_library(tmp_path):
    model = tmp_path / "m.nam"
    nam_dsp.save_spec(nam_dsp.preset("a1-nano", seed=3), model)
    x = (0.3 * np.random.default_rng(0).standard_normal(3000)).astype(np.float32)
    sf.write(str(tmp_path / "in.wav"), x, 48000, subtype="FLOAT")
    assert main(["render", str(model), str(tmp_path / "in.wav"), str(tmp_path / "out.wav")]) == 0
    y, rate = sf.read(str(tmp_path / "out.wav"), dtype="float32")
    assert rate == 48000 and np.array_equal(y, nam_dsp.render(str(model), x))
    assert sorted(os.listdir(tmp_path)) == ["in.wav", "m.nam", "out.wav"]


def test_a_slimming_ratio_on_a_fixed_width_model_names_the_flag_only_in_the_cli(tmp_path, capsys):
    spec = nam_dsp.preset("a1-nano")
    with pytest.raises(nam_dsp.WidthError) as info:
        nam_dsp.from_spec(spec, slim=0.5)
    assert "--" not in str(info.value)
    model = tmp_path / "m.nam"
    nam_dsp.save_spec(spec, model)
    sf.write(str(tmp_path / "in.wav"), np.zeros(480, dtype=np.float32), 48000, subtype="FLOAT")
    assert main(["render", str(model), str(tmp_path / "in.wav"), str(tmp_path / "o.wav"), "--slim", "0.5"]) == 2
    assert f"--slim 0.5: {info.value}" in capsys.readouterr().err
