"""Live playback of NAM models: ``nam-dsp play``.

Modules, each one concept:

* :mod:`.switcher` - :class:`~.switcher.WidthSwitcher`, the audio engine the callback calls once per
  block: click-free width changes (catch-up of a spare model instance, then a 10 ms crossfade),
  bypass, nothing allocated per block. Usable offline (``render_with_switches``).
* :mod:`.player` - :class:`~.player.Player`: the PyAudio stream, device and rate checks,
  ``--input-file`` / ``--record``, meters; :class:`~.player.AudioError`.
* :mod:`.meters` - the rings the callback writes and the meters read.
* :mod:`.autowidth` - :class:`~.autowidth.AutoWidth`, the p99-based width controller.
* :mod:`.gui` - the Tk window; :mod:`.cli` - ``add_arguments`` / ``run`` for ``nam-dsp play``.
* :mod:`.testing` - JACK (dummy driver) and Xvfb for the tests.

Importing this package needs neither PyAudio nor Tk; the engine never imports it.
"""
