"""The player's package: modules that import no cycle, one model loader, one ESR-per-width lookup."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nam_dsp
from nam_dsp.realtime import models
from nam_dsp.realtime.player import Player
from nam_dsp.spec import validation_esr

REALTIME = Path(nam_dsp.__file__).resolve().parent / "realtime"


def _realtime_imports(path: Path) -> set:
    """The realtime modules ``path`` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [a.name for a in node.names]
            found.update(n.split(".")[0] for n in names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nam_dsp.realtime."):
            found.add(node.module.split(".")[2])
    return found & {p.stem for p in REALTIME.glob("*.py")}


def test_no_module_of_the_player_imports_one_that_imports_it_back():
    graph = {p.stem: _realtime_imports(p) for p in REALTIME.glob("*.py") if p.stem != "__init__"}
    assert graph["gui"].isdisjoint({"cli"}) and "models" in graph["gui"]

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, seen + (n,)))
                   for n in graph.get(start, ()))

    cycles = [m for m in graph if reaches(m, m)]
    assert not cycles, f"import cycles through {cycles}: {graph}"


def test_the_model_to_play_is_the_file_else_the_default_else_an_untrained_stand_in(tmp_path, monkeypatch):
    path = tmp_path / "my_amp.nam"
    nam_dsp.save_spec(nam_dsp.preset("a1-nano"), path)
    assert models.load_model(path).source == "my_amp"
    assert models.load_model(width=3).width == 3  # the bundled default, or the stand-in
    assert models.load_model("default").source == models.load_model().source  # as for render

    def no_default(**kwargs):
        raise nam_dsp.NamDspError("no default model is bundled with this installation")

    monkeypatch.setattr(nam_dsp, "load_default", no_default)
    notices = []
    model = models.load_model(width=5, notice=notices.append)
    assert model.source == models.STAND_IN_SOURCE and model.width == 5
    assert len(notices) == 1 and notices[0].startswith("no default model is bundled")
    assert "UNTRAINED" in notices[0]


@pytest.mark.parametrize("stored, expected", [
    ({"3": 0.25, "8": 0.0625}, {3: 0.25, 8: 0.0625}),         # nam_dsp's trainer: a mapping
    ([0.5 / w for w in range(1, 9)], {w: 0.5 / w for w in range(1, 9)}),  # one per width
    (0.0625, {8: 0.0625}),                                    # NAM's trainer: the full width
    ("n/a", {}),
])
def test_demo_player_and_window_read_one_validation_esr_per_width(stored, expected):
    spec = nam_dsp.preset("slimmable-paper")
    spec.metadata["training"] = {"validation_esr": stored}
    player = Player(nam_dsp.from_spec(spec), block_size=64, rt_priority=None)
    for width in spec.allowed_widths:
        assert validation_esr(spec, width) == expected.get(width)
        assert player.esr(width) == expected.get(width)  # what the status line and window show
    assert validation_esr(spec) == expected.get(8)  # no width: the full width


def test_a_model_without_widths_has_its_one_validation_esr():
    spec = nam_dsp.preset("a1-nano")
    assert validation_esr(spec) is None
    spec.metadata["training"] = {"validation_esr": 0.02}
    assert validation_esr(spec) == 0.02 and validation_esr(spec, spec.channels) == 0.02
