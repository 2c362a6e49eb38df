"""Build nam_dsp and its Cython kernels.

Local builds use -O3 and this machine's vector instructions (-march=native), which is worth 2-4x
on the kernels. Set NAM_DSP_PORTABLE=1 for a build that runs on any x86-64 / aarch64 CPU.
"""

import glob
import os
import platform
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup


def compile_args():
    args = ["-O3", "-fno-strict-aliasing", "-ffp-contract=fast", "-fno-trapping-math", "-fno-math-errno",
            # keep GCC from fully unrolling the 16-frame loops into scalars before vectorising
            "--param=max-completely-peel-times=1"]
    if sys.platform == "win32":
        return ["/O2"]
    if os.environ.get("NAM_DSP_PORTABLE", "") not in ("", "0"):
        return args
    if platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64"):
        args.append("-march=native" if platform.machine().lower() in ("x86_64", "amd64") else "-mcpu=native")
    if os.environ.get("NAM_DSP_VEC_REPORT"):
        args.append("-fopt-info-vec-optimized")
    return args


extensions = [
    Extension(
        "nam_dsp._kernels",
        ["nam_dsp/_kernels.pyx"],
        include_dirs=[numpy.get_include(), "nam_dsp"],
        depends=glob.glob("nam_dsp/_kernels/*.h"),
        extra_compile_args=compile_args(),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
]

setup(
    ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}),
    package_dir={"nam_dsp": "nam_dsp", "nam_dsp.training": "training"},
    packages=["nam_dsp", "nam_dsp.realtime", "nam_dsp.training"],
    package_data={"nam_dsp": ["data/*.nam", "data/*.wav"]},
)
