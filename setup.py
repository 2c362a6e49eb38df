"""Build nam_dsp and its Cython kernels.

The kernels' arithmetic (nam_dsp/_kernels/*.h) is compiled once per instruction-set variant
(nam_dsp/_kernels/variant_<isa>.c, each with its own -march), all linked into the one extension
module, which is itself built for the architecture's baseline so it imports on any CPU and picks
the best variant the CPU runs at import (NAM_DSP_ISA forces one). One build, local or wheel,
is fast on every CPU of these levels.
"""

import glob
import os
import platform
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# name -> the variant's own flags, least to most capable (nam_dsp/_kernels/dispatch.h lists the
# same variants in the same order).
VARIANTS = {
    "x86_64": {"baseline": ["-march=x86-64", "-mtune=generic"],
               "avx2": ["-march=x86-64-v3", "-mtune=generic"],
               "avx512": ["-march=x86-64-v4", "-mtune=generic", "-mprefer-vector-width=512"]},
    "aarch64": {"baseline": ["-march=armv8-a"], "neon": ["-march=armv8-a"]},
}


def machine() -> str:
    m = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(m, m)


def compile_args():
    if sys.platform == "win32":
        return ["/O2"]
    args = ["-O3", "-fno-strict-aliasing", "-ffp-contract=fast", "-fno-trapping-math", "-fno-math-errno",
            # keep GCC from fully unrolling the 16-frame loops into scalars before vectorising
            "--param=max-completely-peel-times=1", "-Wno-psabi"]
    if os.environ.get("NAM_DSP_VEC_REPORT"):
        args.append("-fopt-info-vec-optimized")
    return args


def variant_libraries():
    variants = VARIANTS.get(machine(), {"baseline": []})
    return [(f"nam_dsp_kernels_{name}", {"sources": [f"nam_dsp/_kernels/variant_{name}.c"],
                                         "include_dirs": ["nam_dsp/_kernels"],
                                         "cflags": compile_args() + ["-fPIC"] + flags})
            for name, flags in variants.items()]


class BuildExt(build_ext):
    """build_ext that first compiles the variants (also for ``build_ext --inplace``)."""

    def run(self):
        self.run_command("build_clib")
        super().run()


HEADERS = glob.glob("nam_dsp/_kernels/*.h") + glob.glob("nam_dsp/_kernels/*.c")

extensions = [
    Extension(
        "nam_dsp._kernels",
        ["nam_dsp/_kernels.pyx"],
        include_dirs=[numpy.get_include(), "nam_dsp"],
        depends=HEADERS,
        extra_compile_args=compile_args(),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
]

setup(
    ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}),
    libraries=variant_libraries(),
    cmdclass={"build_ext": BuildExt},
    package_dir={"nam_dsp": "nam_dsp", "nam_dsp.training": "training"},
    packages=["nam_dsp", "nam_dsp.realtime", "nam_dsp.training"],
    package_data={"nam_dsp": ["data/*.nam", "data/*.wav"]},
)
