"""``python -m nam_dsp``: the ``nam-dsp`` command line (see :mod:`nam_dsp.cli`)."""

import sys

from .cli import main

sys.exit(main())
