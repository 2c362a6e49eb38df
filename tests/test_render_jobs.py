"""``nam-dsp render`` on several processes or a Dask cluster, and the executor under it.

A split render starts each chunk one receptive field early, so a WaveNet's output is bit-identical
to one stream; a worker process that dies is replaced and its task rerun.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from nam_dsp import load, render, save_spec
from nam_dsp.cli import main
from nam_dsp.excitation import excitation
from nam_dsp.executor import Task, run_tasks
from nam_dsp.parallel_render import chunk_bounds, render_chunked
from nam_dsp.presets import preset
from nam_dsp.spec import LSTMSpec

RATE = 48000


def samples(path) -> np.ndarray:
    return sf.read(str(path), dtype="float32")[0]  # the samples: WAV headers carry a timestamp


@pytest.fixture(scope="module")
def guitar(tmp_path_factory):
    path = tmp_path_factory.mktemp("render_jobs") / "guitar.wav"
    sf.write(str(path), excitation(1.5, RATE, np.random.default_rng(3)), RATE, subtype="FLOAT")
    return path


def test_render_jobs_2_equals_one_stream_bit_for_bit(guitar, tmp_path, capsys):
    assert main(["render", "default", str(guitar), str(tmp_path / "one.wav")]) == 0
    assert main(["render", "default", str(guitar), str(tmp_path / "two.wav"), "--jobs", "2"]) == 0
    assert "in 2 chunks" in capsys.readouterr().out
    one, two = samples(tmp_path / "one.wav"), samples(tmp_path / "two.wav")
    assert one.shape == two.shape and np.array_equal(one, two)


def test_chunks_shorter_than_the_receptive_field_still_join_exactly():
    spec = preset("a1-nano-paper", seed=1)  # two arrays, receptive field 4093
    model_path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"nam_dsp_chunks_{os.getpid()}.nam")
    save_spec(spec, model_path)
    try:
        x = excitation(0.25, RATE, np.random.default_rng(4))  # 12,000 samples: 5 chunks < 4,093
        model = load(model_path)
        y, nonfinite, _ = render_chunked(model_path, model, x, jobs=5, block_size=512)
        assert np.array_equal(y, render(model, x)) and nonfinite == 0
    finally:
        os.unlink(model_path)


def test_chunk_bounds_cover_the_signal_once():
    assert chunk_bounds(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert chunk_bounds(2, 8) == [(0, 1), (1, 2)]


def test_an_lstm_is_refused_for_a_split_render_before_any_work(guitar, tmp_path, capsys):
    from test_lstm_kernel import random_lstm
    model_path = tmp_path / "lstm.nam"
    save_spec(random_lstm(0, 4, 1), str(model_path))
    assert main(["render", str(model_path), str(guitar), str(tmp_path / "out.wav"), "--jobs", "2"]) == 2
    err = capsys.readouterr().err
    assert "LSTM" in err and "--jobs 1" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.wav").exists()
    assert isinstance(load(str(model_path)).spec, LSTMSpec)


def test_many_inputs_render_into_a_folder_as_each_alone(guitar, tmp_path):
    other = tmp_path / "other.wav"
    sf.write(str(other), excitation(0.5, 44100, np.random.default_rng(5)), 44100, subtype="FLOAT")
    out = tmp_path / "out"
    out.mkdir()
    assert main(["render", "default", str(guitar), str(other), str(out), "--jobs", "2"]) == 0
    assert sorted(os.listdir(out)) == ["guitar.wav", "other.wav"]
    assert main(["render", "default", str(guitar), str(tmp_path / "alone.wav")]) == 0
    assert np.array_equal(samples(out / "guitar.wav"), samples(tmp_path / "alone.wav"))
    assert sf.info(str(out / "other.wav")).samplerate == 44100  # resampled for the model and back


def test_many_inputs_need_an_existing_output_folder(guitar, tmp_path, capsys):
    assert main(["render", "default", str(guitar), str(guitar), str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err


# -- the executor ----------------------------------------------------------------------------------

def die_once(marker: str, value: int) -> int:
    """Kill this worker process the first time (no exception: the process just ends)."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return value * 10


def square(value: int) -> int:
    return value * value


def fail(value: int) -> int:
    raise ValueError(f"bad value {value}")


def test_a_killed_worker_process_does_not_lose_the_batch(tmp_path):
    tasks = [Task("a", square, (2,)), Task("dies", die_once, (str(tmp_path / "marker"), 3)),
             Task("b", square, (4,))]
    outcomes = run_tasks(tasks, jobs=2)
    assert list(outcomes) == ["a", "dies", "b"]
    assert {k: o.result for k, o in outcomes.items()} == {"a": 4, "dies": 30, "b": 16}
    assert outcomes["dies"].attempts == 2


def test_a_task_that_raises_fails_alone():
    outcomes = run_tasks([Task("bad", fail, (1,)), Task("good", square, (3,))], jobs=2)
    assert isinstance(outcomes["bad"].error, ValueError) and outcomes["good"].result == 9


def test_on_a_dask_cluster_a_render_equals_one_stream_and_a_dying_worker_is_replaced(
        dask_scheduler, guitar, tmp_path):
    assert main(["render", "default", str(guitar), str(tmp_path / "one.wav")]) == 0
    assert main(["render", "default", str(guitar), str(tmp_path / "dask.wav"), "--jobs", "3",
                 "--scheduler", dask_scheduler]) == 0
    assert np.array_equal(samples(tmp_path / "one.wav"), samples(tmp_path / "dask.wav"))
    marker = tmp_path / "dask_marker"
    outcomes = run_tasks([Task("dies", die_once, (str(marker), 7)), Task("a", square, (5,))],
                         scheduler=dask_scheduler)
    assert outcomes["dies"].result == 70 and outcomes["a"].result == 25
