"""The release-wheel setup stays coherent, cheaply (the full wheel check, tools/check_wheel.py,
builds and installs a wheel in fresh venvs: minutes and network, so it is not run here).

- [tool.cibuildwheel] builds manylinux x86_64 and aarch64 and its test-command names files that
  exist;
- setup.py never asks for the build machine's CPU (-march=native / -mcpu=native), which would
  make `pip wheel .` a wheel that dies of SIGILL on older CPUs;
- the smoke test the wheels run (tools/wheel_smoke.py) knows the variants setup.py builds, and
  passes on this build.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

def _tool(name: str):
    """A script of tools/ as a module (tools/ is not a package and is not installed)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wheel_smoke = _tool("wheel_smoke")

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")


def cibuildwheel() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["cibuildwheel"]


def test_cibuildwheel_builds_manylinux_x86_64_and_aarch64():
    config = cibuildwheel()
    assert set(config["linux"]["archs"]) == {"x86_64", "aarch64"}
    assert any("musllinux" in s for s in config["skip"])   # manylinux only
    for key in ("manylinux-x86_64-image", "manylinux-aarch64-image"):
        assert config["linux"][key].startswith("manylinux")


def test_cibuildwheel_test_command_names_existing_files():
    commands = cibuildwheel()["test-command"]
    paths = [m.group(1) for c in commands for m in re.finditer(r"\{project\}/(\S+)", c)]
    assert paths, commands
    for path in paths:
        assert (ROOT / path).is_file(), f"test-command names {path}, which does not exist"


def setup_variants(tree: ast.Module):
    return next((ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                 and any(getattr(t, "id", None) == "VARIANTS" for t in n.targets)), None)


def test_setup_py_does_not_build_for_the_build_machine_only():
    tree = ast.parse((ROOT / "setup.py").read_text())
    if setup_variants(tree) is None:
        pytest.skip("setup.py predates run-time dispatch: local builds are -march=native, and a "
                    "portable wheel needs NAM_DSP_PORTABLE=1")
    docstring = tree.body[0].value if isinstance(tree.body[0], ast.Expr) else None
    native = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and node is not docstring
              and isinstance(node.value, str) and re.search(r"m(arch|cpu|tune)=native", node.value)]
    assert not native, f"setup.py passes {native}: a wheel built so runs only on CPUs like the build machine's"


def test_smoke_script_knows_the_variants_setup_py_builds():
    variants = setup_variants(ast.parse((ROOT / "setup.py").read_text()))
    if variants is None:
        pytest.skip("setup.py has no VARIANTS (a build without run-time dispatch)")
    assert tuple(variants["x86_64"]) == wheel_smoke.X86_VARIANTS
    assert tuple(variants["aarch64"]) == wheel_smoke.ARM_VARIANTS


def test_smoke_script_passes_on_this_build():
    import nam_dsp
    if not hasattr(nam_dsp, "isa"):
        pytest.skip("this build has no run-time dispatch (nam_dsp.isa)")
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "wheel_smoke.py"), "--source-tree"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "all wheel smoke checks passed" in run.stdout


def test_sdist_carries_what_the_build_needs(tmp_path):
    """setuptools packs neither the .pyx/.pxd nor the variant sources by itself (MANIFEST.in
    does): without them `pip install nam_dsp-*.tar.gz` fails in cythonize."""
    pytest.importorskip("Cython", reason="setup.py needs Cython (the test extra has it)")
    src = tmp_path / "src"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes((ROOT / name).read_bytes())
    run = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path)], cwd=src,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    import tarfile
    (archive,) = tmp_path.glob("nam_dsp-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    needed = {"setup.py", "pyproject.toml", "nam_dsp/_kernels.pyx", "nam_dsp/_kernels.pxd",
              "tools/wheel_smoke.py", "tests/test_kernels_oracle.py"}
    needed |= {str(p.relative_to(ROOT)) for p in (ROOT / "nam_dsp" / "_kernels").iterdir()}
    assert needed <= names, f"the sdist lacks {sorted(needed - names)}"
    assert "nam_dsp/_kernels.c" not in names   # Cython's output is a build product
