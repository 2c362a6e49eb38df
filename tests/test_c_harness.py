"""The kernel headers' own C harness (tests/c/kernel_harness.c), once per instruction-set variant.

Each variant setup.py builds (its VARIANTS) is compiled here from its own
nam_dsp/_kernels/variant_<isa>.c with the flags setup.py gives it, and run where this machine can: natively for the x86-64 variants the CPU has, and for
aarch64 with Debian's cross compiler (gcc-aarch64-linux-gnu) under qemu-aarch64-static
(qemu-user-static). A variant the CPU lacks is still compiled, then skipped with the reason.
The harness checks tanh against double tanh, nd_conv_rows against a double loop and
nd_array_chunk against a double reference and across chunk partitions (see the .c file).
"""

from __future__ import annotations

import ast
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "tests" / "c" / "kernel_harness.c"
KERNELS = ROOT / "nam_dsp" / "_kernels"
# setup.py's compile_args(), less what only matters inside Python's build
BASE_FLAGS = ["-O3", "-fno-strict-aliasing", "-ffp-contract=fast", "-fno-trapping-math", "-fno-math-errno",
              "--param=max-completely-peel-times=1", "-std=gnu11", "-Wall", "-Wno-psabi",
              "-Wno-unused-function", "-Werror=implicit-function-declaration"]
# /proc/cpuinfo flags that -march=x86-64-v3 / -v4 code may use
X86_LEVEL_FLAGS = {"avx2": {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"},
                   "avx512": {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}}


def setup_variants() -> dict[str, dict[str, list[str]]]:
    """setup.py's VARIANTS literal (machine -> variant -> flags), without running setup.py."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "VARIANTS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no VARIANTS literal (machine -> variant -> flags)")


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    match = re.search(r"^(?:flags|Features)\s*:(.*)$", text, re.MULTILINE)
    return set(match.group(1).split()) if match else set()


def native_machine() -> str:
    m = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(m, m)


def cannot_run_x86(variant: str) -> str | None:
    """Why this CPU cannot run the x86-64 variant, or None."""
    flags = cpu_flags()
    need = set()
    if variant in ("avx2", "avx512"):
        need |= X86_LEVEL_FLAGS["avx2"]
    if variant == "avx512":
        need |= X86_LEVEL_FLAGS["avx512"]
    missing = sorted(need - flags)
    if missing:
        return (f"this CPU lacks {', '.join(missing)} (and QEMU's user-mode emulation has no "
                "AVX-512): compiled only")
    return None


CASES = []
for machine, variants in setup_variants().items():
    for variant, flags in variants.items():
        marks = [pytest.mark.slow] if machine != native_machine() else []
        CASES.append(pytest.param(machine, variant, flags, id=f"{machine}-{variant}", marks=marks))


def compile_harness(cc: str, flags: list[str], variant: str, out: Path, extra=()) -> None:
    cmd = [cc, *BASE_FLAGS, *flags, f'-DHARNESS_VARIANT_FILE="variant_{variant}.c"',
           f"-I{KERNELS}", str(HARNESS), "-o", str(out), *extra, "-lm"]
    build = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, f"{' '.join(cmd)}\n{build.stderr[-4000:]}"


def check_output(run: subprocess.CompletedProcess, label: str) -> None:
    lines = run.stdout.strip().splitlines()
    failures = [line for line in lines if line.startswith("FAIL")]
    assert run.returncode == 0 and lines and re.fullmatch(r"\d+ passed, 0 failed", lines[-1]), (
        f"{label}: exit {run.returncode}\n" + "\n".join(failures or lines[-20:]) + run.stderr[-2000:])


@pytest.mark.parametrize("machine, variant, flags", CASES)
def test_kernel_harness(machine, variant, flags, tmp_path):
    exe = tmp_path / f"harness_{machine}_{variant}"
    if machine == native_machine():
        cc = os.environ.get("CC", "cc")
        if shutil.which(cc) is None:
            pytest.skip(f"no C compiler ({cc})")
        compile_harness(cc, flags, variant, exe)
        reason = cannot_run_x86(variant) if machine == "x86_64" else None
        if reason:
            pytest.skip(f"{machine}-{variant}: {reason}")
        run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600)
    elif machine == "aarch64" and native_machine() == "x86_64":
        cc, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64-static")
        if cc is None or qemu is None:
            pytest.skip("cross-testing aarch64 needs Debian's gcc-aarch64-linux-gnu and qemu-user-static "
                        "(apt-get install gcc-aarch64-linux-gnu qemu-user-static)")
        compile_harness(cc, flags, variant, exe, extra=["-static"])
        run = subprocess.run([qemu, str(exe)], capture_output=True, text=True, timeout=900)
    else:
        pytest.skip(f"no way to build or run {machine} code on {native_machine()}")
    check_output(run, f"{machine}-{variant}")
    print(run.stdout)
