"""Hashes of the engine's renders, to show a refactor changed no sample.

Renders every shared model that has a NAM Core reference render (at the reference's slim setting)
over the reference DI, and the bundled default model at every width over the demo's plucked
phrase, and records the SHA-256 of each float32 output, once per instruction-set variant this CPU
runs (baseline, avx2, avx512 here). Hashes are only comparable on the same CPU kind and variant;
--check compares the variants both the record and this machine have.

    python bench/render_hashes.py --write bench/results/render_hashes.json
    python bench/render_hashes.py --check bench/results/render_hashes.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import soundfile

import nam_dsp
from nam_dsp import _kernels
from nam_dsp.benchmark import cpu_model
from nam_dsp.demo import plucked_phrase

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _digest(y: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(y, dtype=np.float32).tobytes()).hexdigest()


def render_hashes(data: Path = DATA) -> dict:
    """{render name: sha256 of its float32 samples}."""
    hashes = {}
    models = {p.stem: p for p in sorted(data.glob("models/*/*.nam"))}
    x, _ = soundfile.read(str(data / "audio/di/guitar_di_10s.wav"), dtype="float32")
    for ref in sorted((data / "reference").glob("*.wav")):
        stem, slim = re.fullmatch(r"(.+?)(?:__slim([0-9.]+))?", ref.stem).groups()
        model = nam_dsp.load(models[stem], slim=None if slim is None else float(slim))
        hashes[ref.stem] = _digest(nam_dsp.render(model, x, block_size=64))
    default = nam_dsp.load_default()
    phrase = plucked_phrase(4.0, default.sample_rate)
    for width in default.allowed_widths or [None]:
        hashes[f"default__width{width}"] = _digest(nam_dsp.render(default, phrase, block_size=64,
                                                                  width=width))
    return hashes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, help="record the hashes into this JSON file")
    group.add_argument("--check", type=Path, help="compare the hashes with this JSON file")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"shared data not found at {DATA}", file=sys.stderr)
        return 2
    hashes = {}
    try:
        for isa in _kernels.available_isas():
            _kernels.use_isa(isa)
            hashes[isa] = render_hashes()
    finally:
        _kernels.use_isa(None)
    record = {"cpu": cpu_model(), "hashes": hashes}
    if args.write:
        args.write.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        print(f"{sum(map(len, hashes.values()))} render hashes ({', '.join(hashes)}) written to "
              f"{args.write}")
        return 0
    expected = json.loads(args.check.read_text())
    common = [isa for isa in hashes if isa in expected["hashes"]]
    if not common:
        print(f"{args.check} has no variant this machine runs ({', '.join(expected['hashes'])})",
              file=sys.stderr)
        return 2
    failed = False
    for isa in common:
        want, got = expected["hashes"][isa], hashes[isa]
        changed = sorted(k for k in want if got.get(k) != want[k])
        missing = sorted(set(got) - set(want))
        print(f"{isa}: {len(want) - len(changed)} of {len(want)} renders bit-identical to "
              f"{args.check} (recorded on {expected['cpu']}; this machine {record['cpu']})")
        for name in changed:
            print(f"  changed: {name}")
        if missing:
            print(f"  not in the record: {', '.join(missing)}")
        failed = failed or bool(changed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
