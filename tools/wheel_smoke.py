"""Smoke test of an installed nam_dsp (a wheel, not the source tree): run-time ISA dispatch works.

    python tools/wheel_smoke.py              # every check below, one subprocess per ISA
    python tools/wheel_smoke.py --single     # in this process only (under qemu-user, whose
                                             # emulated CPU a child process would not inherit)

Checks: nam_dsp imports from site-packages; nam_dsp.isa() is the best variant this CPU runs
(judged from /proc/cpuinfo, or --expect); each variant the CPU runs can be forced with NAM_DSP_ISA
and renders the bundled model as the default variant does (relative RMS <= 1e-5); forcing a variant
the CPU lacks fails with a message naming it. cibuildwheel's test-command and tools/check_wheel.py
both run this file. Exit status 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import subprocess
import sys
import tempfile

X86_VARIANTS = ("baseline", "avx2", "avx512")
ARM_VARIANTS = ("baseline", "neon")
# /proc/cpuinfo flags of x86-64-v3 and -v4 (what the dispatcher's __builtin_cpu_supports checks)
X86_V3 = {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
X86_FLAGS = {"baseline": set(), "avx2": X86_V3,
             "avx512": X86_V3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}}

# Renders the bundled model at two widths through the variant NAM_DSP_ISA selects; prints the
# variant, the module's file and the output's bytes as hex (float32, little-endian).
RENDER = """
import sys, numpy as np, nam_dsp
isa = nam_dsp.isa() if hasattr(nam_dsp, "isa") else "no-dispatch"
x = (0.3 * np.random.default_rng(7).standard_normal(3000)).astype(np.float32)
ys = []
for width in (None, 1):
    try:
        model = nam_dsp.load_default(width=width)
    except nam_dsp.WidthError:
        continue
    ys.append(np.concatenate([model.process(x[s:s + 100]) for s in range(0, len(x), 100)]))
y = np.concatenate(ys).astype("<f4")
print(isa)
print(nam_dsp.__file__)
print(y.tobytes().hex())
"""


def machine_variants() -> tuple[str, ...]:
    return ARM_VARIANTS if platform.machine().lower() in ("aarch64", "arm64") else X86_VARIANTS


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def runnable_variants() -> list[str]:
    """The variants this CPU can execute, worst first (aarch64: NEON is part of the base ISA)."""
    if machine_variants() == ARM_VARIANTS:
        return list(ARM_VARIANTS)
    flags = cpu_flags()
    return [v for v in X86_VARIANTS if X86_FLAGS[v] <= flags]


def render(isa: str | None, single: bool) -> tuple[str, str, bytes]:
    if single:
        namespace: dict = {}
        from contextlib import redirect_stdout
        from io import StringIO
        out = StringIO()
        with redirect_stdout(out):
            exec(RENDER, namespace)
        lines = out.getvalue().split("\n")
    else:
        env = dict(os.environ)
        env.pop("NAM_DSP_ISA", None)
        if isa is not None:
            env["NAM_DSP_ISA"] = isa
        run = subprocess.run([sys.executable, "-c", RENDER], env=env, capture_output=True, text=True,
                             timeout=600, cwd=tempfile.gettempdir())   # not a source tree: -c imports from cwd
        if run.returncode != 0:
            raise RuntimeError(f"NAM_DSP_ISA={isa}: exit {run.returncode}: {run.stderr.strip()[-2000:]}")
        lines = run.stdout.split("\n")
    return lines[0], lines[1], bytes.fromhex(lines[2])


def relative_rms(a: bytes, b: bytes) -> float:
    import numpy as np
    x = np.frombuffer(a, "<f4").astype(np.float64)
    y = np.frombuffer(b, "<f4").astype(np.float64)
    return float(np.sqrt(np.mean((x - y) ** 2) / np.mean(y ** 2)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--expect", help="the variant nam_dsp.isa() must pick (default: the best "
                        "/proc/cpuinfo allows; under qemu-user pass the emulated CPU's)")
    parser.add_argument("--single", action="store_true", help="check only the default variant, "
                        "in this process (no NAM_DSP_ISA subprocesses)")
    parser.add_argument("--reference", help="a render (raw float32 file) the default variant must "
                        "match within 1e-5 relative RMS")
    parser.add_argument("--save", help="write the default variant's render here")
    parser.add_argument("--source-tree", action="store_true",
                        help="nam_dsp may come from a source tree (a cross-built one, not a wheel)")
    parser.add_argument("--allow-no-dispatch", action="store_true",
                        help="accept a build without nam_dsp.isa() (before run-time dispatch existed)")
    args = parser.parse_args(argv)
    failures: list[str] = []

    def check(ok: bool, what: str) -> None:
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    runnable = runnable_variants()
    # in this process, a forced variant is the one to expect
    forced = os.environ.get("NAM_DSP_ISA") if args.single else None
    expected = args.expect or forced or runnable[-1]
    isa, where, default = render(None, args.single)
    check(args.source_tree or "site-packages" in where or "dist-packages" in where,
          f"nam_dsp imported from {where}")
    if isa == "no-dispatch":
        check(args.allow_no_dispatch, "nam_dsp.isa() exists (this build has no run-time dispatch)")
    else:
        check(isa == expected, f"nam_dsp.isa() = {isa!r}, expected {expected!r} "
                               f"(CPU runs: {', '.join(runnable)})")
    print(f"     default render: {len(default) // 4} samples, sha256 {hashlib.sha256(default).hexdigest()[:16]}")
    if args.save:
        with open(args.save, "wb") as f:
            f.write(default)
    if args.reference:
        with open(args.reference, "rb") as f:
            reference = f.read()
        error = relative_rms(default, reference)
        check(error <= 1e-5, f"default render vs {os.path.basename(args.reference)}: relative RMS "
                             f"{error:.3g}" + (" (bit-identical)" if default == reference else ""))

    if not args.single and isa != "no-dispatch":
        for variant in machine_variants():
            if variant in runnable:
                forced, _, y = render(variant, False)
                error = relative_rms(y, default)
                check(forced == variant and error <= 1e-5,
                      f"NAM_DSP_ISA={variant}: isa() = {forced!r}, relative RMS vs default {error:.3g}"
                      + (" (bit-identical)" if y == default else ""))
            else:
                try:
                    render(variant, False)
                    check(False, f"NAM_DSP_ISA={variant} on a CPU without it should fail")
                except RuntimeError as e:
                    last = str(e).strip().splitlines()[-1]
                    check(variant in last, f"NAM_DSP_ISA={variant} refused: {last[:200]}")
    print(f"{len(failures)} failed" if failures else "all wheel smoke checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
