import os
import sys

# One BLAS thread per training process: the budget is CPU time, and jobs run side by side.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from .experiment import main  # noqa: E402

sys.exit(main())
