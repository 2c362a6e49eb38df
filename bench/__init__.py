"""Benchmarks and experiments (``python -m bench.paper``); the ``test_*.py`` files here are pytest's."""
