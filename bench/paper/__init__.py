"""The Slimmable NAM paper's figure on four real amp tones: validation ESR and x real time per width.

    python -m bench.paper --tones clean crunch lead rhythm --budget-minutes 2 --jobs 1

For each tone of ``../shared/data/tones`` (train/validation from ``split.json``) it trains, each for
the same budget of CPU minutes with ``nam_dsp.training``: the paper's slimmable model
(``slimmable-paper``, random width per batch), the same model at full width only (``paper-full``,
"new (full)"), A1 standard (``a1-standard``), A1 nano with dilations 1..512 in both arrays
(``a1-nano-paper``) and, as a control, the paper's architecture built with 2 and 4 channels and
trained only at that width (``paper-w2``, ``paper-w4``). It then measures each exported ``.nam``:
validation ESR run by the engine (the slimmable model at widths 1..8) and x real time with
:mod:`nam_dsp.benchmark` (64-sample blocks, one thread), and writes
``bench/results/paper/<tone>.json``, ``<tone>.png`` and ``README.md``.

Every finished run is cached in ``bench/results/paper/cache/<tone>/`` (``.nam`` + metrics JSON,
keyed by tone, model, budget, seed and a hash of the training settings); a rerun only trains what
is missing, resumes an interrupted run from its checkpoint, and ``--plots-only`` rebuilds the
tables and figures from the cache.
"""
