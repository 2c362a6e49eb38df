"""SlimmableContainers live: the player's switcher changes submodel while playing, click-free.

A container's submodels count as widths 1..K (smallest first). A switch catches the submodel
switched to up on the container's input window, then crossfades, as for slimmable WaveNets.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

import nam_dsp
from test_player_click import SWITCH_BLOCK, _deviation_db, _highpass, _signals
from test_player_switcher import _worst_block
from nam_dsp.realtime.switcher import WidthSwitcher, render_with_switches

CONTAINERS = ["examples/A2.nam", "examples/slimmable_container.nam", "captures/mesa_rectifier_a2.nam"]
BLOCK = 64


@pytest.fixture(scope="module", params=CONTAINERS)
def container(request, shared_data):
    path = shared_data / "models" / request.param
    if not path.is_file():
        pytest.skip(f"{path} is missing from the shared test data")
    spec = nam_dsp.load_spec(path)
    assert spec.architecture == "SlimmableContainer"
    return spec


def test_between_switches_each_submodel_sounds_as_if_it_had_run_all_along(container, guitar_di):
    x = np.ascontiguousarray(guitar_di[48000:48000 + 96000])
    k = len(container.submodels)
    alone = {w: nam_dsp.render(nam_dsp.from_spec(container.submodels[w - 1]), x) for w in range(1, k + 1)}
    plan = [(300, 1), (700, k), (1100, 2 if k > 2 else 1)]
    y, sw = render_with_switches(nam_dsp.from_spec(container), x, BLOCK, plan)
    assert sw.allowed_widths == tuple(range(1, k + 1))
    events = sw.switch_events()
    assert [(old, new) for _, old, new in events] == [(k, 1), (1, k), (k, plan[2][1])]
    start, width = 0, k
    for fade_start, _, new in events + [(x.size // BLOCK, None, None)]:
        seg = slice(start, fade_start * BLOCK)
        if container.submodels[width - 1].architecture == "WaveNet":
            np.testing.assert_array_equal(y[seg], alone[width][seg], err_msg=f"width {width}")
        else:  # an LSTM is caught up on 0.5 s of input: nearly its all-along state
            np.testing.assert_allclose(y[seg], alone[width][seg], rtol=0, atol=1e-6)
        start, width = (fade_start + sw.fade_blocks) * BLOCK, new


def test_submodel_switches_of_a_real_capture_add_no_click(shared_data, guitar_di):
    spec = nam_dsp.load_spec(shared_data / "models" / "captures" / "mesa_rectifier_a2.nam")
    k = len(spec.submodels)
    report = []
    for name, x in _signals(guitar_di).items():
        refs = {w: _highpass(nam_dsp.render(nam_dsp.from_spec(spec.submodels[w - 1]), x))
                for w in range(1, k + 1)}
        for old in range(1, k + 1):
            for new in range(1, k + 1):
                if old == new:
                    continue
                model = nam_dsp.from_spec(spec, slim=spec.max_values[old - 1] - 1e-6)
                y, sw = render_with_switches(model, x, BLOCK, [(SWITCH_BLOCK, new)])
                (start, _, _), = sw.switch_events()
                above, below = _deviation_db(y, refs[old], refs[new], start * BLOCK,
                                             (start + sw.fade_blocks) * BLOCK)
                report.append((name, old, new, above, below))
    worst = max(report, key=lambda r: max(r[3], r[4]))
    print(f"\nworst: {worst[0]}, {worst[1]} -> {worst[2]}: {worst[3]:+.2f} dB above, {worst[4]:+.2f} dB below")
    assert max(max(r[3], r[4]) for r in report) < 3.0, worst


def test_every_engine_call_keeps_the_gil_for_a_container(container, guitar_di):
    sw = WidthSwitcher(nam_dsp.from_spec(container), BLOCK)
    asked = []
    for m in sw._levels:
        def spy(x, out=None, release_gil=True, real=m.process):
            asked.append(release_gil)
            return real(x, out, release_gil)
        m.process = spy
    y = np.empty(BLOCK, np.float32)
    k = len(container.submodels)
    for b in range(1200):
        if b % 300 == 10:
            sw.request_width((1, k, 1, k)[b // 300])
        sw.process(np.ascontiguousarray(guitar_di[b * BLOCK:(b + 1) * BLOCK]), y)
    assert len(asked) >= 1200 and not any(asked) and sw.switch_count == 4


def test_the_player_offers_a_containers_submodels_as_widths(shared_data, guitar_di):
    from nam_dsp.realtime.player import Player
    spec = nam_dsp.load_spec(shared_data / "models" / "captures" / "mesa_rectifier_a2.nam")
    # the most catch-up per callback (16 blocks), so that switches finish within 50 callbacks
    p = Player(nam_dsp.from_spec(spec), block_size=BLOCK, rt_priority=None, auto_width=True,
               catchup_share=1e3)
    assert p.engine.allowed_widths == (1, 2) and set(p.cost) == {1, 2} and p.auto_enabled
    assert p.engine.width == 2 and p.cost[1] < p.cost[2]
    p._pyaudio = types.SimpleNamespace(paContinue=0, paAbort=2)
    p._prepare_buffers(1, duplex=True)
    for i in range(400):
        if i % 50 == 0:
            p.request_width((1, 2)[(i // 50) % 2])
        p._callback(np.ascontiguousarray(guitar_di[i * BLOCK:(i + 1) * BLOCK]).tobytes(), BLOCK, None, 0)
    assert p.error is None and p.engine.switch_count == 8 and p.engine.width == 2


def test_submodel_switches_allocate_nothing(shared_data, guitar_di):
    spec = nam_dsp.load_spec(shared_data / "models" / "captures" / "mesa_rectifier_a2.nam")
    sw = WidthSwitcher(nam_dsp.from_spec(spec), BLOCK, catchup_blocks=16)
    blocks = [np.ascontiguousarray(guitar_di[i:i + BLOCK]) for i in range(0, 48000 * 3, BLOCK)]
    out = np.zeros(BLOCK, np.float32)
    for i, b in enumerate(blocks[:400]):   # every path once (NumPy caches its ufunc loops)
        if i % 50 == 0:
            sw.request_width((1, 2)[(i // 50) % 2])
        sw.process(b, out)
    calls = []
    for i, b in enumerate(blocks[400:]):
        def call(i=i, b=b):
            if i % 50 == 0:
                sw._request = (1, 2)[(i // 50) % 2]   # the attribute request_width sets
            sw.process(b, out)
        calls.append(call)
    worst = _worst_block(calls)
    assert sw.switch_count >= 30
    assert worst == 0, f"a block allocated {worst} B"


def test_width_on_the_command_line_starts_a_container_on_that_submodel(shared_data, guitar_di):
    from nam_dsp.errors import WidthError
    from nam_dsp.realtime.models import load_model
    from nam_dsp.realtime.player import Player
    path = shared_data / "models" / "captures" / "mesa_rectifier_a2.nam"
    if not path.is_file():
        pytest.skip(f"{path} is missing (the shared captures are needed)")
    spec = nam_dsp.load_spec(path)
    model = load_model(path, width=1)
    assert model.active_index == 0
    assert Player(model, block_size=BLOCK, rt_priority=None).engine.width == 1
    x = np.ascontiguousarray(guitar_di[:48000])
    np.testing.assert_array_equal(nam_dsp.render(model, x),
                                  nam_dsp.render(nam_dsp.from_spec(spec.submodels[0]), x))
    assert load_model(path).active_index == 1   # no width: the container's own default (ratio 1)
    with pytest.raises(WidthError, match=r"2 submodels, played as widths 1\.\.2; got width 3"):
        load_model(path, width=3)
