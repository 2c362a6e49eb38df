"""CPU budgets counted at a reference machine speed (``TrainConfig.reference_speed``): a slower
machine trains for proportionally more CPU time, the probes' own CPU time is not counted, and the
count survives a checkpoint."""

from __future__ import annotations

import time

import numpy as np
import pytest
from nam_dsp.training import speed, trainer
from nam_dsp.training.data import Pair
from nam_dsp.training.trainer import TrainConfig, Trainer

from nam_dsp.errors import ConfigError


@pytest.fixture
def pair(saturator_pair) -> Pair:
    return saturator_pair


def _trainer(pair, tmp_path, **config) -> Trainer:
    config = {"arch": "tiny-slimmable", "batch_size": 4, "segment": 512, "validate_every": 20, **config}
    return Trainer(pair, TrainConfig(**config), str(tmp_path / "m.nam"))


def _stub_probe(monkeypatch, speeds, burn=0.0):
    """The probe reports ``speeds`` in turn (then the last one), each after ``burn`` CPU-seconds."""
    seq = list(speeds)

    def measure(self, seconds=1.0):
        t = time.process_time()
        while time.process_time() - t < burn:
            pass
        return seq.pop(0) if len(seq) > 1 else seq[0]

    monkeypatch.setattr(speed.SpeedProbe, "__init__", lambda self: None)
    monkeypatch.setattr(speed.SpeedProbe, "samples_per_cpu_second", measure)


def test_a_machine_at_half_the_reference_speed_trains_twice_the_cpu_time(pair, tmp_path, monkeypatch):
    _stub_probe(monkeypatch, [1000.0])
    t = _trainer(pair, tmp_path, budget_cpu_seconds=0.5, reference_speed=2000.0)
    t.run()
    assert t.reference_cpu >= 0.5 and t.cpu >= 1.0
    assert t.reference_cpu == pytest.approx(0.5 * t.cpu, rel=1e-9)
    assert t.speed_probes[0] == [0.0, 1000]
    plain = _trainer(pair, tmp_path, budget_cpu_seconds=0.5)
    plain.run()
    assert 0.5 <= plain.cpu < 1.0 and plain.speed_probes == []  # no reference: CPU time as it is


def test_the_latest_probe_sets_the_rate_and_probing_is_not_counted(pair, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer, "PROBE_EVERY_CPU_SECONDS", 0.3)
    _stub_probe(monkeypatch, [1000.0, 2000.0], burn=0.05)
    t = _trainer(pair, tmp_path, budget_cpu_seconds=0.8, reference_speed=2000.0)
    t0 = time.process_time()
    t.run()
    used = time.process_time() - t0
    assert len(t.speed_probes) >= 3
    c1 = t.speed_probes[1][0]  # the first interval ran at half the reference speed, the rest at it
    assert t.reference_cpu == pytest.approx(0.5 * c1 + (t.cpu - c1), abs=0.06)
    assert used >= t.cpu + 0.05 * len(t.speed_probes) * 0.9  # the probes' CPU is on top of the budget


def test_the_reference_count_survives_a_checkpoint(pair, tmp_path, monkeypatch):
    _stub_probe(monkeypatch, [1000.0])
    t = _trainer(pair, tmp_path, budget_cpu_seconds=0.3, reference_speed=2000.0)
    t.run()
    again = _trainer(pair, tmp_path, budget_cpu_seconds=0.6, reference_speed=2000.0)
    again.load_checkpoint(t.ckpt_path)
    assert (again.reference_cpu, again.speed_probes) == (t.reference_cpu, t.speed_probes)
    again.run()  # resumes the count: it stops at the larger budget, one more probe on the way
    assert 0.6 <= again.reference_cpu < 0.6 + 0.3 and len(again.speed_probes) == 2
    exported = again.export()
    assert exported["reference_cpu_seconds"] == round(again.reference_cpu, 1)


def test_a_checkpoint_from_before_reference_budgets_counts_its_cpu_at_face_value(pair, tmp_path):
    t = _trainer(pair, tmp_path, steps=3)
    t.run()
    state = t.state()
    for k in ("reference_cpu", "speed_probes"):
        del state[k]
    np.savez(tmp_path / "old.npz", **state)
    again = _trainer(pair, tmp_path, budget_cpu_seconds=60.0, reference_speed=2000.0)
    again.load_checkpoint(tmp_path / "old.npz")
    assert again.reference_cpu == again.cpu == t.cpu and again.speed_probes == []


@pytest.mark.parametrize("config", [{"reference_speed": 1e5}, {"reference_speed": 0.0, "budget_cpu_seconds": 60.0},
                                    {"reference_speed": -1.0, "budget_cpu_seconds": 60.0}])
def test_a_reference_speed_needs_a_cpu_budget_and_a_positive_speed(pair, tmp_path, config):
    with pytest.raises(ConfigError, match="reference_speed") as info:
        _trainer(pair, tmp_path, **config)
    assert "reference_speed" in info.value.settings


def test_the_probe_measures_the_trainer_and_repeats_without_rebuilding():
    probe = speed.SpeedProbe()
    rates = [probe.samples_per_cpu_second(0.05) for _ in range(2)]
    assert all(1e3 < r < 1e9 for r in rates)  # samples per CPU-second: finite, positive, plausible
