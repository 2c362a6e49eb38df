"""Build nam_dsp for aarch64 and run it in an arm64 Python under qemu-user, on an x86-64 machine.

    python tools/arm64_qemu.py [--work DIR] [--isa baseline --isa neon] [--pytest TEST ...]

Needs Debian's gcc-aarch64-linux-gnu and qemu-user-static, and network access to Debian's and
PyPI's package indexes. Steps:
 1. An arm64 root: Debian's python3.11 and libpython3.11-dev for arm64, with their dependencies,
    downloaded by apt-get with a private configuration and state under DIR (the machine's own
    apt setup and dpkg architectures are left alone) and unpacked with dpkg -x.
 2. The Python packages an arm64 user would get from PyPI (numpy, scipy, soundfile, pytest,
    hypothesis, Cython, setuptools): `pip install --target` of their manylinux aarch64 wheels.
 3. A copy of the source tree (git's files), built in place by the emulated arm64 Python running
    setup.py, so setup.py's aarch64 logic (its variants and flags) is what runs; the compiler it
    calls is the x86-64 cross gcc (qemu-user hands exec() of a host binary to the host kernel).
 4. For each --isa (default: baseline and neon): tools/wheel_smoke.py --single under qemu with
    NAM_DSP_ISA set (render vs the first variant's render), then each --pytest file.

This verifies that the aarch64 code compiles, imports and computes the same as elsewhere under
QEMU's emulation of the instructions; it says nothing about speed on real ARM hardware, nor about
behaviour QEMU does not model (e.g. denormal flushing set by the OS, memory ordering). Slow:
minutes per step on a loaded machine. Exit status 0 when everything passed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from steps import step_runner  # tools/steps.py: scripts run from tools/, which Python puts first on the path

ROOT = Path(__file__).resolve().parents[1]
# libstdc++6: numpy's and scipy's manylinux wheels use the system's, as manylinux allows
DEBIAN_PACKAGES = ["python3.11", "libpython3.11-dev", "libstdc++6"]
PYPI_PACKAGES = ["numpy>=1.23", "scipy>=1.9", "soundfile>=0.12", "pytest>=7", "hypothesis>=6",
                 "cython>=3.0", "setuptools>=64"]


run = step_runner("arm64_qemu")


def arm64_root(work: Path) -> Path:
    root = work / "root"
    done = root / ".nam_dsp_packages"
    if done.exists() and done.read_text() == " ".join(DEBIAN_PACKAGES):
        return root
    apt = work / "apt"
    for d in ("state/lists/partial", "cache/archives/partial"):
        (apt / d).mkdir(parents=True, exist_ok=True)
    (apt / "state" / "status").touch()          # nothing installed: download the whole closure
    config = apt / "apt.conf"
    config.write_text(f'''APT::Architecture "arm64";
APT::Architectures {{ "arm64"; }};
Dir::State "{apt}/state";
Dir::State::status "{apt}/state/status";
Dir::Cache "{apt}/cache";
APT::Install-Recommends "false";
''')
    env = dict(os.environ, APT_CONFIG=str(config), DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], what="apt-get update (arm64 lists, private state)", env=env)
    run(["apt-get", "install", "-y", "-qq", "--download-only", *DEBIAN_PACKAGES],
        what="apt-get download (arm64)", env=env)
    debs = sorted((apt / "cache" / "archives").glob("*.deb"))
    for deb in debs:
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    done.write_text(" ".join(DEBIAN_PACKAGES))
    print(f"  unpacked {len(debs)} arm64 packages into {root}")
    return root


def pypi_packages(work: Path) -> Path:
    target = work / "pylib"
    if (target / "numpy").is_dir():
        return target
    run([sys.executable, "-m", "pip", "install", "-q", "--target", target, "--only-binary=:all:",
         "--platform", "manylinux_2_28_aarch64", "--platform", "manylinux2014_aarch64",
         "--python-version", "3.11", "--implementation", "cp", *PYPI_PACKAGES],
        what="pip install --target (aarch64 wheels)")
    return target


def source_copy(dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/nam_dsp_arm64"),
                        help="working directory; the arm64 root and packages are reused from it")
    parser.add_argument("--isa", action="append", help="variants to run (default: baseline, neon)")
    parser.add_argument("--pytest", action="append", default=[], metavar="TEST",
                        help="a test file (relative to the repository) to run under each variant")
    parser.add_argument("--compare", type=Path, metavar="F32",
                        help="a render saved by tools/wheel_smoke.py --save on another machine: the "
                        "first variant's render here must match it within 1e-5 relative RMS")
    parser.add_argument("--host-cython", metavar="PYTHON",
                        help="translate the .pyx with this host Python's Cython first (the C it "
                        "writes is the same on every architecture; emulated Cython takes minutes)")
    parser.add_argument("--reuse-build", action="store_true",
                        help="keep DIR/src and its extension from the last run (skip copy and build)")
    parser.add_argument("--allow-no-dispatch", action="store_true",
                        help="a build without run-time dispatch: run it once, without NAM_DSP_ISA")
    args = parser.parse_args(argv)
    qemu = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
    missing = [name for name, found in (("aarch64-linux-gnu-gcc", shutil.which("aarch64-linux-gnu-gcc")),
                                        ("qemu-aarch64-static", qemu)) if not found]
    if missing:
        raise SystemExit(f"arm64_qemu: {', '.join(missing)} not found "
                         "(apt-get install gcc-aarch64-linux-gnu qemu-user-static)")
    args.work.mkdir(parents=True, exist_ok=True)
    root = arm64_root(args.work)
    pylib = pypi_packages(args.work)
    src = args.work / "src"
    reuse = args.reuse_build and any((src / "nam_dsp").glob("_kernels*aarch64*.so"))
    if not reuse:
        source_copy(src)
    python = root / "usr" / "bin" / "python3.11"
    env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{pylib}", OPENBLAS_NUM_THREADS="1",
               QEMU_LD_PREFIX=str(root), PYTHONDONTWRITEBYTECODE="1",
               # the cross gcc runs natively: point it at the arm64 headers, not the host's
               CC="aarch64-linux-gnu-gcc",
               CFLAGS=f"-I{pylib}/numpy/_core/include -I{root}/usr/include/python3.11 -I{root}/usr/include",
               LDSHARED="aarch64-linux-gnu-gcc -shared")
    env.pop("NAM_DSP_ISA", None)
    if args.host_cython and not reuse:
        run([args.host_cython, "-m", "cython", "-3", "-I", "nam_dsp", "nam_dsp/_kernels.pyx", "-o",
             "nam_dsp/_kernels.c"], what="cython on the host", cwd=src)
    if not reuse:
        run([qemu, python, "setup.py", "build_ext", "--inplace"], what="setup.py build_ext (arm64 Python)",
            cwd=src, env=env)
    built = sorted(p.name for p in (src / "nam_dsp").glob("_kernels*.so"))
    print(f"  built {', '.join(built)}")
    file_out = run(["file", "-b", *(src / "nam_dsp").glob("_kernels*.so")], what="file", check=False)
    print(f"  {file_out.stdout.strip()}")

    variants = [None] if args.allow_no_dispatch else (args.isa or ["baseline", "neon"])
    reference = args.work / "first_variant.f32"
    reference.unlink(missing_ok=True)
    failed = []
    for isa in variants:
        venv = dict(env)
        if isa:
            venv["NAM_DSP_ISA"] = isa
        smoke = [qemu, python, src / "tools" / "wheel_smoke.py", "--single", "--source-tree"]
        smoke += ["--allow-no-dispatch"] if args.allow_no_dispatch else ["--expect", isa]
        smoke += ["--reference", reference] if reference.exists() else ["--save", reference]
        if args.compare and not reference.exists():
            smoke += ["--reference", args.compare]
        result = run(smoke, what=f"wheel_smoke.py under qemu-aarch64, NAM_DSP_ISA={isa}", cwd=args.work,
                     env=venv, check=False)
        print(result.stdout.rstrip())
        if result.returncode != 0:
            print(result.stderr[-3000:])
            failed.append(f"smoke {isa}")
        for test in args.pytest:
            result = run([qemu, python, "-m", "pytest", "-q", "-p", "no:cacheprovider", src / test],
                         what=f"pytest {test} under qemu-aarch64, NAM_DSP_ISA={isa}", cwd=src, env=venv,
                         check=False)
            print("\n".join(result.stdout.rstrip().splitlines()[-15:]))
            if result.returncode != 0:
                failed.append(f"{test} {isa}")
    print("arm64_qemu: " + (f"FAILED: {', '.join(failed)}" if failed else "all passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
