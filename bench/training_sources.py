"""The dry/wet recordings the trainer comparisons use, and their train/validation ranges.

One home for both sides of a comparison: ``bench/train_quality.py`` (ours) and
``bench/nam_trainer_quality.py`` (NAM's trainer, run in the peer venv, so this module needs nothing
but the standard library and ``soundfile``). Both trainers see exactly the same sample ranges:

* ``clean``, ``crunch``, ``lead``, ``rhythm``: ``../shared/data/tones/dry.flac`` ->
  ``wet_<tone>.flac``, ranges from ``split.json``;
* ``ampprofiling``: ``../shared/data/audio/pairs/ampprofiling`` (a real DI through an undocumented
  distortion, 33.3 s, no lag), the last :data:`AMPPROFILING_VALIDATION_SECONDS` s as validation
  (what ``nam-dsp train --validation-seconds 5`` does).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")
TONES_DIR = os.path.join(SHARED, "tones")
TONES = ("clean", "crunch", "lead", "rhythm")
AMPPROFILING_DIR = os.path.join(SHARED, "audio", "pairs", "ampprofiling")
AMPPROFILING_VALIDATION_SECONDS = 5.0
NAMES = TONES + ("ampprofiling",)


@dataclass(frozen=True)
class Source:
    name: str
    dry: str
    wet: str
    split_file: str | None = None  # else the last validation_seconds validate
    validation_seconds: float | None = None

    def train_args(self):
        """The split options of ``nam-dsp train`` for this source (latency 0: the pairs are aligned)."""
        split = (["--split", self.split_file] if self.split_file
                 else ["--validation-seconds", f"{self.validation_seconds:g}"])
        return [self.dry, self.wet, *split, "--latency", "0"]

    def ranges(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """``(train, validation)`` half-open sample ranges, as ``training.data.split_ranges`` gives them."""
        if self.split_file:
            with open(self.split_file) as fh:
                d = json.load(fh)
            return tuple(d["train"]), tuple(d["validation"])
        import soundfile as sf
        n = min(sf.info(self.dry).frames, sf.info(self.wet).frames)
        nv = round(self.validation_seconds * sf.info(self.dry).samplerate)
        return (0, n - nv), (n - nv, n)


def source(name: str) -> Source:
    if name in TONES:
        return Source(name, os.path.join(TONES_DIR, "dry.flac"), os.path.join(TONES_DIR, f"wet_{name}.flac"),
                      split_file=os.path.join(TONES_DIR, "split.json"))
    if name == "ampprofiling":
        return Source(name, os.path.join(AMPPROFILING_DIR, "guitar_clean.wav"),
                      os.path.join(AMPPROFILING_DIR, "guitar_processed.wav"),
                      validation_seconds=AMPPROFILING_VALIDATION_SECONDS)
    raise SystemExit(f"unknown source {name!r}: expected one of {', '.join(NAMES)}")


def require(src: Source) -> None:
    """Stop with a clear reason when the shared recordings are not there."""
    for path in (src.dry, src.wet) + ((src.split_file,) if src.split_file else ()):
        if not os.path.exists(path):
            raise SystemExit(f"{path} is missing: the shared recordings (../shared/data) are needed here")
