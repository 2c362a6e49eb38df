"""Live playback of NAM models: ``nam-dsp play``.

Modules, each one concept:

* :mod:`.switcher` - :class:`~.switcher.WidthSwitcher`, the audio engine the callback calls once per
  block: click-free width changes (catch-up of a spare model instance, then a 10 ms crossfade),
  bypass, nothing allocated per block. Usable offline (``render_with_switches``).
* :mod:`.player` - :class:`~.player.Player`: the PyAudio stream and its callback.
* :mod:`.devices` - PyAudio, device listing, choice and rate checks.
* :mod:`.files` - ``--input-file`` (played as the live input) and ``--record``.
* :mod:`.meters` - the rings the callback writes and the meters read.
* :mod:`.status` - the meters and run summary the UIs show, and their words.
* :mod:`.autowidth` - :class:`~.autowidth.AutoWidth`, the p99-based width controller.
* :mod:`.models` - the model to play: a file, the bundled default, or an untrained stand-in.
* :mod:`.gui` - the Tk window; :mod:`.cli` - ``add_arguments`` / ``run`` for ``nam-dsp play``.
* :mod:`.testing` - JACK (dummy driver) and Xvfb for the tests.

Errors are :class:`~nam_dsp.errors.AudioError` (devices, stream), ``AudioFileError`` and
``WidthError`` from :mod:`nam_dsp.errors`.

Importing this package needs neither PyAudio nor Tk; the engine never imports it.
"""
