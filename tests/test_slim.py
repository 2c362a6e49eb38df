"""``nam-dsp slim``: distil a capture into a slimmable model; batches in processes or on Dask.

Every run here is tiny (a 4-channel teacher and student, a few steps on seconds of audio): the
tests check the plumbing (data, export, metadata, resume, batches, refusals), not the accuracy,
which ``bench/slim_captures.py`` measures.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf

from nam_dsp import load, render, save_spec
from nam_dsp.cli import main
from nam_dsp.demo import plucked_phrase
from nam_dsp.excitation import PEAK_RANGE, excitation
from nam_dsp.nam_file import load_spec
from nam_dsp.presets import preset
from nam_dsp.training.distill import DEFAULT_STUDENT, EVAL_SYNTHETIC_NOTE, file_sha256
from nam_dsp.training.trainer import make_arch

RATE = 48000
#: A few steps of the smallest student on seconds of audio.
TINY = ["--arch", "tiny-slimmable", "--steps", "3", "--epoch-seconds", "1", "--selection-seconds", "0.5",
        "--eval-seconds", "1", "--segment", "1024", "--batch-size", "4", "--threads", "1"]


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    """Two small WaveNet 'captures' (4 channels, receptive field 31) and a DI recording."""
    folder = tmp_path_factory.mktemp("teachers")
    paths = []
    for name, seed in (("amp_a", 5), ("amp_b", 6)):
        spec = make_arch("tiny-slimmable", seed)
        spec.metadata = {"name": name, "gear_make": "Test", "gear_type": "amp"}
        save_spec(spec, str(folder / f"{name}.nam"))
        paths.append(folder / f"{name}.nam")
    di = folder / "di.wav"
    sf.write(str(di), plucked_phrase(1.0, RATE, seed=1), RATE, subtype="FLOAT")
    return paths, di


def weights(path):
    with open(path) as fh:
        return json.load(fh)["weights"]


def test_a_short_distillation_exports_a_slimmable_model_with_the_teacher_named(teachers, tmp_path, capsys):
    (teacher, _), di = teachers
    out = tmp_path / "slim.nam"
    assert main(["slim", str(teacher), "-o", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "synthetic" in printed and "verdict" in printed  # says plainly the evaluation is synthetic
    with open(out) as fh:
        raw = json.load(fh)
    assert raw["version"] == "0.7.0" and "slimmable" in raw["config"]["layers"][0]
    training = raw["metadata"]["training"]
    assert sorted(training["validation_esr"], key=int) == ["1", "2", "3", "4"]
    data = training["data"]
    assert data["teacher"]["file"] == "amp_a.nam" and data["teacher"]["sha256"] == file_sha256(teacher)
    assert data["eval_source"]["kind"] == "synthetic" and data["eval_source"]["note"] == EVAL_SYNTHETIC_NOTE
    assert raw["metadata"]["gear_make"] == "Test" and "slimmable" in raw["metadata"]["name"]
    model = load(str(out), width=2)
    y = render(model, sf.read(str(di), dtype="float32")[0])
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) > 0


def test_real_eval_di_and_user_di_are_used_and_recorded(teachers, tmp_path, capsys):
    (teacher, _), di = teachers
    other_rate = tmp_path / "di_44k.wav"
    sf.write(str(other_rate), plucked_phrase(1.0, 44100), 44100, subtype="FLOAT")
    out = tmp_path / "slim.nam"
    assert main(["slim", str(teacher), "-o", str(out), *TINY, "--di", str(other_rate),
                 "--eval-di", str(di)]) == 0
    captured = capsys.readouterr()
    assert "resampled to 48000 Hz" in captured.err and "real DI not used for training" in captured.out
    data = load_spec(str(out)).metadata["training"]["data"]
    assert data["eval_source"] == {"kind": "real DI", "files": ["di.wav"], "seconds": 1.0}
    assert data["excitation"]["user_di"] == ["di_44k.wav"]


def test_same_seed_same_model_and_resume_continues_bit_for_bit(teachers, tmp_path):
    (teacher, _), _ = teachers
    more = [a if a != "3" else "8" for a in TINY]  # 8 steps: several 1-second epochs
    assert main(["slim", str(teacher), "-o", str(tmp_path / "a.nam"), *more]) == 0
    assert main(["slim", str(teacher), "-o", str(tmp_path / "b.nam"), *more]) == 0
    assert weights(tmp_path / "a.nam") == weights(tmp_path / "b.nam")
    half = [a if a != "3" else "4" for a in TINY]
    assert main(["slim", str(teacher), "-o", str(tmp_path / "c.nam"), *half]) == 0
    assert main(["slim", str(teacher), "-o", str(tmp_path / "c.nam"), *more,
                 "--resume", str(tmp_path / "c.nam.ckpt.npz")]) == 0
    assert weights(tmp_path / "c.nam") == weights(tmp_path / "a.nam")


def test_the_default_student_is_the_papers_and_the_a1_cost_student_is_there_to_choose():
    assert DEFAULT_STUDENT == "slimmable-paper"
    a1, student = preset("a1-standard"), preset("slimmable-a1")
    assert student.allowed_widths == tuple(range(1, 17))
    assert 0.9 < student.macs_per_sample() / a1.macs_per_sample() < 1.1


def test_the_excitation_is_seeded_and_at_di_levels():
    a = excitation(30.0, RATE, np.random.default_rng(1))
    assert np.array_equal(a, excitation(30.0, RATE, np.random.default_rng(1)))
    assert not np.array_equal(a, excitation(30.0, RATE, np.random.default_rng(2)))
    assert a.dtype == np.float32 and a.size == 30 * RATE
    assert PEAK_RANGE[0] < np.max(np.abs(a)) <= PEAK_RANGE[1] + 1e-6
    frames = np.abs(a[:a.size // 4800 * 4800].reshape(-1, 4800)).max(axis=1)
    assert np.any(frames == 0) and np.any(frames > 0.05)  # silences and playing


# -- batches --------------------------------------------------------------------------------------

def test_a_batch_runs_in_processes_prints_a_summary_and_a_rerun_skips_finished_models(
        teachers, tmp_path, capsys):
    (a, b), _ = teachers
    out = tmp_path / "out"
    out.mkdir()
    assert main(["slim", str(a), str(b), "-o", str(out), *TINY, "--jobs", "2"]) == 0
    table = capsys.readouterr().out
    assert "amp_a" in table and "amp_b" in table and "teacher MACs" in table and "w4" in table
    assert {"amp_a.nam", "amp_b.nam"} <= set(os.listdir(out))
    assert not any(f.startswith(".") for f in os.listdir(out))  # no partial exports left
    before = os.stat(out / "amp_a.nam").st_mtime_ns
    assert main(["slim", str(a.parent), "-o", str(out), *TINY, "--jobs", "2"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("skipped") == 2 and "skipped" in captured.out
    assert os.stat(out / "amp_a.nam").st_mtime_ns == before


def test_a_batch_on_a_dask_cluster_equals_the_local_run_bit_for_bit(dask_scheduler, teachers, tmp_path):
    (a, b), _ = teachers
    local, remote = tmp_path / "local", tmp_path / "dask"
    local.mkdir()
    remote.mkdir()
    assert main(["slim", str(a), str(b), "-o", str(local), *TINY, "--jobs", "2"]) == 0
    assert main(["slim", str(a), str(b), "-o", str(remote), *TINY, "--scheduler", dask_scheduler]) == 0
    for name in ("amp_a.nam", "amp_b.nam"):
        assert weights(local / name) == weights(remote / name)
        esr = [load_spec(str(d / name)).metadata["training"]["validation_esr"] for d in (local, remote)]
        assert esr[0] == esr[1]


# -- refusals: one line, exit 2, before any work ------------------------------------------------------

def refused(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_bad_teachers_are_refused(teachers, tmp_path, capsys):
    (teacher, _), di = teachers
    out = str(tmp_path / "o.nam")
    assert "No such model file" in refused(capsys, ["slim", str(tmp_path / "none.nam"), "-o", out])
    garbage = tmp_path / "garbage.nam"
    garbage.write_text("{not json")
    assert "garbage.nam" in refused(capsys, ["slim", str(garbage), "-o", out])
    unsupported = tmp_path / "transformer.nam"
    unsupported.write_text(json.dumps({"version": "0.5.0", "architecture": "Transformer", "config": {},
                                       "weights": []}))
    assert "Transformer" in refused(capsys, ["slim", str(unsupported), "-o", out])
    assert "audio file" in refused(capsys, ["slim", str(di), "-o", out])
    assert not os.path.exists(out)


def test_bad_outputs_and_dis_are_refused(teachers, tmp_path, capsys):
    (teacher, other), di = teachers
    assert "does not exist" in refused(capsys, ["slim", str(teacher), "-o", str(tmp_path / "no" / "o.nam")])
    assert "no such folder" in refused(capsys, ["slim", str(teacher), str(other), "-o", str(tmp_path / "no")])
    assert "would destroy the input" in refused(capsys, ["slim", str(teacher), "-o", str(teacher)])
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(4800, dtype=np.float32), RATE)
    out = str(tmp_path / "o.nam")
    assert "silent" in refused(capsys, ["slim", str(teacher), "-o", out, "--di", str(silent)])
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000WAVEnope")
    assert "cannot read" in refused(capsys, ["slim", str(teacher), "-o", out, "--eval-di", str(broken)])
    assert "No such file" in refused(capsys, ["slim", str(teacher), "-o", out, "--di", str(tmp_path / "x.wav")])
    assert "not allowed" in refused(capsys, ["slim", str(teacher), "-o", out, "--arch", "tiny-slimmable",
                                             "--widths", "1-9"])
    assert "not slimmable" in refused(capsys, ["slim", str(teacher), "-o", out, "--arch", "a1-nano"])
    assert not os.path.exists(out)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_output_folder_is_refused(teachers, tmp_path, capsys):
    (teacher, other), _ = teachers
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert "not writable" in refused(capsys, ["slim", str(teacher), str(other), "-o", str(locked)])
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("budget", [["--budget-cpu-minutes", "0"], ["--budget-minutes", "-1"], ["--steps", "0"]])
def test_a_budget_of_zero_or_less_is_refused(teachers, tmp_path, capsys, budget):
    (teacher, _), _ = teachers
    with pytest.raises(SystemExit) as exc:
        main(["slim", str(teacher), "-o", str(tmp_path / "o.nam"), *budget])
    assert exc.value.code == 2 and "expected" in capsys.readouterr().err


def test_each_epoch_is_fresh_and_user_dis_follow_a_receptive_field_of_silence(teachers):
    from nam_dsp.training.distill import TeacherExamples
    (teacher_path, _), di = teachers
    teacher = load(str(teacher_path))
    x = sf.read(str(di), dtype="float32")[0]
    source = TeacherExamples(teacher, seed=0, epoch_seconds=0.5, user_di=[x], receptive_field=31, segment=256)
    n_exc = int(0.5 * RATE) + 31
    assert np.array_equal(source.dry[n_exc:n_exc + x.size], x) and not source.dry[n_exc - 31:n_exc].any()
    assert np.array_equal(source.wet[n_exc:n_exc + x.size], render(teacher, x))  # the DI from silence
    first = source.dry.copy()
    source.use_epoch(1)
    assert not np.array_equal(source.dry[:n_exc], first[:n_exc])
    assert np.array_equal(source.dry[n_exc:], first[n_exc:])
    source.use_epoch(0)
    assert np.array_equal(source.dry, first)
