"""Real-time safety: a warmed model's ``process(x, out=out)`` allocates nothing, and models in
different threads do not disturb each other (the kernels release the GIL and share no state).
"""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest

import nam_dsp

from conftest import noise

BLOCK = 256
CALLS = 100
# tracemalloc sees every Python-level allocation, including transient ones that are freed at
# once: an int object for a block length above 256 (CPython caches only -5..256), a bound
# method, an exception-free argument tuple. Those cost a few dozen bytes of *peak* and nothing
# net; a real per-call allocation (a new output array, a history copy) costs >= 1 KiB.
PEAK_TOLERANCE = 512


def _shared(relative):
    def build(request):
        return nam_dsp.load(request.getfixturevalue("shared_data") / "models" / relative)
    return build


MODELS = {
    "a1-standard-preset": lambda r: nam_dsp.from_spec(nam_dsp.preset("a1-standard")),
    "a1-nano-preset": lambda r: nam_dsp.from_spec(nam_dsp.preset("a1-nano")),
    "paper-width-8": lambda r: nam_dsp.from_spec(nam_dsp.preset("slimmable-paper"), width=8),
    "paper-width-3": lambda r: nam_dsp.from_spec(nam_dsp.preset("slimmable-paper"), width=3),
    "lstm": _shared("examples/lstm.nam"),
    "linear_10": _shared("identity/linear_10.nam"),
    "A2-container": _shared("examples/A2.nam"),
}


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("block", [BLOCK, 700])
def test_warmed_process_with_out_allocates_nothing(request, name, block):
    model = MODELS[name](request)
    blocks = [noise(block, seed=seed, scale=0.3) for seed in range(4)]
    out = np.empty(block, np.float32)
    for x in blocks:  # warm-up: first calls may fill caches, import lazily, etc.
        model.process(x, out=out)
    tracemalloc.start()
    try:
        model.process(blocks[0], out=out)
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for i in range(CALLS):
            result = model.process(blocks[i % 4], out=out)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result is out
    assert peak - before <= PEAK_TOLERANCE, f"{name}: peak grew by {peak - before} bytes over {CALLS} calls"
    # Nothing survives the calls: even 8 bytes kept per call would add up to 800.
    assert after - before <= PEAK_TOLERANCE, f"{name}: {after - before} bytes still allocated after {CALLS} calls"
    assert np.isfinite(out).all()


def _run_stream(model, blocks):
    model.reset()
    return np.concatenate([model.process(x).copy() for x in blocks])


@pytest.mark.parametrize("pair", [("a1-nano-preset", "paper-width-3"),
                                  ("paper-width-8", "paper-width-8"),
                                  ("lstm", "A2-container")])
def test_models_in_two_threads_give_the_same_output_as_alone(request, pair):
    models = [MODELS[name](request) for name in pair]
    streams = [[noise(512 + 37 * i, seed=100 * k + i, scale=0.3) for i in range(40)] for k in range(2)]
    alone = [_run_stream(m, s) for m, s in zip(models, streams)]

    results = [None, None]
    errors = []
    barrier = threading.Barrier(2)

    def worker(k):
        try:
            models[k].reset()
            barrier.wait()
            outs = []
            for x in streams[k]:
                outs.append(models[k].process(x).copy())
            results[k] = np.concatenate(outs)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    for _ in range(3):  # a few rounds, so the interleavings differ
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a worker thread hung"
        assert not errors, errors
        for k in range(2):
            assert np.array_equal(results[k], alone[k]), f"{pair[k]} in a thread differs from alone"


def test_two_instances_of_one_spec_in_threads_do_not_share_state():
    """Two models built from the same spec (same weight arrays) streaming different signals."""
    spec = nam_dsp.preset("slimmable-paper")
    a, b = nam_dsp.from_spec(spec, width=5), nam_dsp.from_spec(spec, width=5)
    xa, xb = noise(30_000, seed=1, scale=0.3), noise(30_000, seed=2, scale=0.3)
    expected_a = nam_dsp.render(nam_dsp.from_spec(spec, width=5), xa)
    expected_b = nam_dsp.render(nam_dsp.from_spec(spec, width=5), xb)
    out = {}

    def run(name, model, x):
        out[name] = np.concatenate([model.process(x[i:i + 300]) for i in range(0, x.size, 300)])

    threads = [threading.Thread(target=run, args=("a", a, xa)), threading.Thread(target=run, args=("b", b, xb))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert np.array_equal(out["a"], expected_a)
    assert np.array_equal(out["b"], expected_b)


def test_the_allocation_check_does_see_an_output_array():
    """Control for the test above: process() without ``out`` allocates its result, and the
    same measurement reports it (so a zero above is not a blind spot of tracemalloc)."""
    model = nam_dsp.from_spec(nam_dsp.preset("a1-nano"))
    x = noise(BLOCK, seed=3, scale=0.3)
    model.process(x)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        kept = [model.process(x) for _ in range(10)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(kept) == 10
    assert peak - before >= 10 * 4 * BLOCK > PEAK_TOLERANCE
