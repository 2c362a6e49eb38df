"""The trainer's forward agrees with the streaming engine; exported files are NAM 0.7.0 slimmable."""

import json
import os

import numpy as np
import pytest
import soundfile as sf


import nam_dsp
from nam_dsp.nam_writer import to_dict
from nam_dsp.presets import preset
from nam_dsp.training.data import load_pair
from nam_dsp.training.trainer import TrainConfig, Trainer, valid_predict
from nam_dsp.training.wavenet_grad import GradNet

from conftest import GUITAR_DI, SHARED_DATA

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAM_SLIM = str(SHARED_DATA / "models" / "slimmable" / "nam_trainer_paper_crunch_30min.nam")
DI = str(SHARED_DATA / GUITAR_DI)
TOL = 1e-6


def rel(a, b):
    """Relative RMS error of ``a`` against ``b`` (float32 engine vs float64 trainer)."""
    return float(np.sqrt(np.mean((a - b) ** 2) / np.mean(b ** 2)))


def _engine(spec, x, width=None):
    return nam_dsp.render(nam_dsp.from_spec(spec, width=width), np.asarray(x, np.float32)).astype(np.float64)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny slimmable model trained for a few steps and exported."""
    d = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(0)
    n = 3 * 48000
    x = 0.2 * rng.standard_normal(n)
    y = 0.5 * np.tanh(3 * np.convolve(x, [0.6, 0.3, -0.2])[:n])
    sf.write(str(d / "dry.wav"), x, 48000, subtype="FLOAT")
    sf.write(str(d / "wet.wav"), y, 48000, subtype="FLOAT")
    pair = load_pair(str(d / "dry.wav"), str(d / "wet.wav"), validation_seconds=0.5, latency=0)
    cfg = TrainConfig(arch="tiny-slimmable", steps=40, batch_size=4, segment=1024, lr=0.01, validate_every=20)
    trainer = Trainer(pair, cfg, str(d / "out.nam"), log=open(os.devnull, "w"))
    summary = trainer.run()
    return trainer, summary, pair


def test_exported_model_rendered_by_the_engine_equals_the_trainer_forward(trained):
    trainer, summary, pair = trained
    spec = nam_dsp.load_spec(summary["path"])
    net = GradNet(spec)  # float64 forward on the exported (float32) weights
    x = pair.dry[:20000]
    for w in spec.allowed_widths:
        assert rel(_engine(spec, x, w), net.predict(x, w)) <= TOL


def test_export_is_nam_0_7_with_slimmable_key_and_training_metadata(trained):
    trainer, summary, pair = trained
    with open(summary["path"]) as fh:
        d = json.load(fh)
    assert d["version"] == "0.7.0" and d["architecture"] == "WaveNet"
    la = d["config"]["layers"][0]
    assert la["slimmable"] == {"method": "slice_channels_uniform", "kwargs": {"allowed_channels": [1, 2, 3, 4]}}
    tr = d["metadata"]["training"]
    assert tr["trainer"] == "nam_dsp" and tr["steps"] == 40 and "seconds" in tr and "data" in tr
    assert set(tr["validation_esr"]) == {"1", "2", "3", "4"}
    # the recorded ESRs are those of the exported weights
    spec = nam_dsp.load_spec(summary["path"])
    net = GradNet(spec)
    for w, esr in tr["validation_esr"].items():
        y = valid_predict(net, trainer.val_x.astype(np.float64), int(w))
        e = np.sum((y - trainer.val_y) ** 2) / np.sum(trainer.val_y ** 2)
        assert e == pytest.approx(esr, rel=1e-3)


def test_training_lowers_the_validation_error(trained):
    trainer, summary, pair = trained
    first = trainer.val_history[0][2]
    assert trainer.best_esr[4] < 1.0
    assert trainer.best_esr[4] <= first["4"]


@pytest.mark.parametrize("width", [1, 5, 8])
def test_paper_architecture_forward_matches_engine(width):
    spec = preset("slimmable-paper", seed=3)
    x = 0.3 * np.random.default_rng(width).standard_normal(12000)
    assert rel(_engine(spec, x, width), GradNet(spec).predict(x, width)) <= TOL


@pytest.mark.skipif(not (os.path.isfile(NAM_SLIM) and os.path.isfile(DI)), reason="../shared/data slimmable model or DI absent")
def test_nam_trained_slimmable_model_forward_matches_engine_and_layout_roundtrips():
    spec = nam_dsp.load_spec(NAM_SLIM)
    x = sf.read(DI)[0][:24000]
    net = GradNet(spec)
    for w in (1, 4, 8):
        assert rel(_engine(spec, x, w), net.predict(x, w)) <= TOL
    # our exporter writes NAM's layout: same config, same flat weights
    with open(NAM_SLIM) as fh:
        theirs = json.load(fh)
    ours = to_dict(net.to_spec(), form="0.7")
    assert ours["config"]["layers"] == theirs["config"]["layers"] and ours["version"] == theirs["version"]
    # the loader keeps head_scale as the file's last (float32) weight
    assert ours["config"]["head_scale"] == pytest.approx(theirs["config"]["head_scale"], rel=1e-7)
    np.testing.assert_array_equal(np.float32(ours["weights"]), np.float32(theirs["weights"]))


def test_two_array_model_forward_matches_engine():
    spec = preset("a1-nano", seed=1)
    x = 0.3 * np.random.default_rng(0).standard_normal(6000)
    assert rel(_engine(spec, x), GradNet(spec).predict(x)) <= TOL


DEFAULT = os.path.join(ROOT, "nam_dsp", "data", "default.nam")


@pytest.mark.skipif(not os.path.isfile(DEFAULT), reason="nam_dsp/data/default.nam is not built")
def test_default_model_is_a_slimmable_paper_model_trained_by_us():
    model = nam_dsp.load_default()
    spec = model.spec
    assert spec.allowed_widths == tuple(range(1, 9)) and spec.receptive_field == 5116
    tr = spec.metadata["training"]
    assert tr["trainer"] == "nam_dsp" and set(tr["validation_esr"]) == {str(w) for w in range(1, 9)}
    x = 0.3 * np.random.default_rng(0).standard_normal(8000)
    assert rel(_engine(spec, x, 8), GradNet(spec).predict(x, 8)) <= TOL
