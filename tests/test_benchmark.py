"""The benchmark helpers: what they return, not how fast anything is."""

from __future__ import annotations

import math

import nam_dsp
from nam_dsp import _kernels
from nam_dsp import benchmark
from nam_dsp.benchmark import bench_spec, interleaved_block_times, interleaved_isa_block_times


def test_interleaved_block_times_gives_every_width_a_time_per_block():
    spec = nam_dsp.preset("slimmable-paper")
    times = interleaved_block_times(spec, [1, 4, 8], 64, rounds=3, seconds=0.02)
    assert sorted(times) == [1, 4, 8]
    assert all(math.isfinite(t) and t > 0 for t in times.values())
    # 56x the multiply-accumulates cannot take less time, whatever the machine is doing.
    assert times[8] > times[1]


def test_every_bench_row_names_the_instruction_set_variant_it_ran():
    rows = bench_spec(nam_dsp.preset("a1-nano"), [None], block_size=64, seconds=0.02)
    assert rows[0]["isa"] == nam_dsp.isa()


def test_interleaved_isa_block_times_times_every_case_under_every_variant():
    cases = {"paper-w1": (nam_dsp.preset("slimmable-paper"), 1), "paper-w8": (nam_dsp.preset("slimmable-paper"), 8)}
    isas = _kernels.available_isas()
    before = nam_dsp.isa()
    times = interleaved_isa_block_times(cases, isas, 64, rounds=2, seconds=0.02)
    assert sorted(times) == sorted((isa, name) for isa in isas for name in cases)
    assert all(math.isfinite(t) and t > 0 for t in times.values())
    assert nam_dsp.isa() == before  # the variant in use is left as it was


def test_machine_info_names_the_variant_and_survives_an_unusable_one(monkeypatch):
    assert benchmark.machine_info()["isa"] == _kernels.isa()

    def unusable():
        raise nam_dsp.IsaError("NAM_DSP_ISA=avx512: this CPU has no AVX-512")

    monkeypatch.setattr(_kernels, "isa", unusable)
    info = benchmark.machine_info()  # results and reports still get their machine record
    assert info["isa"] is None and info["cores"] >= 1
