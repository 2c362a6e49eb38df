"""nam_dsp.training: fit slimmable NAM WaveNets to reamp pairs without autograd.

Modules
-------
:mod:`~nam_dsp.training.data`
    Read and check a dry/wet pair, calibrate the wet's latency, split, cut examples.
:mod:`~nam_dsp.training.wavenet_grad`
    :class:`GradNet`: the WaveNet forward (valid-mode, batched, BLAS per tap) and its hand-written
    backward, at any slimmable width.
:mod:`~nam_dsp.training.losses`
    MSE, ESR, pre-emphasised MSE, multi-resolution STFT, each returning ``(value, gradient)``.
:mod:`~nam_dsp.training.optim`
    Adam (minibatch protocol) and SciPy L-BFGS-B rounds (fixed objective).
:mod:`~nam_dsp.training.trainer`
    :class:`Trainer`: the slimmable loop, validation at every width, checkpoints, ``.nam`` export.
:mod:`~nam_dsp.training.cli`
    ``nam-dsp train``.

Example
-------
>>> from nam_dsp.training.data import load_pair                           # doctest: +SKIP
>>> from nam_dsp.training.trainer import TrainConfig, Trainer             # doctest: +SKIP
>>> pair = load_pair("dry.wav", "wet.wav", validation_seconds=10)        # doctest: +SKIP
>>> Trainer(pair, TrainConfig(budget_seconds=600), "amp.nam").run()      # doctest: +SKIP
"""
