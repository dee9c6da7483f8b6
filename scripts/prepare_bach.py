"""Rebuild src/rnnkit/data/bach_soprano.npz: the soprano lines of the Bach chorales, with their chords.

Origin: music21's bundled corpus (music21.corpus, the 371 four-part chorales of J. S. Bach in the
Riemenschneider numbering, each file once: 350 pieces; public domain). The music21 version used is stored
in the file's metadata. Every soprano line carries the chord of every beat, derived from all four parts
(`rnnkit.music.chords`; benchmarks/chords.py measures them against human analyses).
Needs the `music` extra (pip install -e '.[music]'); takes a few minutes, offline.

    python scripts/prepare_bach.py [--out PATH] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from rnnkit.music.corpus import BACH_FILE, save_corpus
from rnnkit.music.prepare import prepare_music21_corpus

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "rnnkit" / "data" / BACH_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N chorales (default: all)")
    args = parser.parse_args(argv)

    import music21

    start = time.time()

    def progress(i: int, n: int, path: str) -> None:
        if i % 50 == 0:
            print(f"  {i}/{n} {path} ({time.time() - start:.0f} s)", file=sys.stderr)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        melodies = prepare_music21_corpus("bach", limit=args.limit, progress=progress)
    skipped = [str(w.message) for w in caught if str(w.message).startswith("skipped")]
    for s in skipped:
        print(f"  {s}", file=sys.stderr)

    notes = sum(m.num_notes for m in melodies)
    rests = sum(len(m) - m.num_notes for m in melodies)
    meta = {
        "source": "music21 corpus: J. S. Bach, the 371 chorales (Riemenschneider), soprano part; public domain",
        "music21_version": music21.__version__,
        "pieces": len(melodies),
        "notes": notes,
        "rests": rests,
        "skipped": len(skipped),
        "chords": "per beat, derived from all four parts by template matching (rnnkit.music.chords)",
        "beats_with_chords": sum(len(m.chords) for m in melodies if m.chords is not None),
    }
    path = save_corpus(melodies, args.out, meta=meta)
    durations = Counter(d for m in melodies for d in m.durations.tolist())
    pitches = np.concatenate([m.pitches[m.pitches >= 0] for m in melodies])
    modes, meters = Counter(m.key.mode for m in melodies), Counter(m.time_signature for m in melodies)
    print(f"music21 {music21.__version__}: {len(melodies)} pieces, {notes} notes, {rests} rests", end="")
    print(f", {len(skipped)} skipped")
    print(f"pitch range {pitches.min()}..{pitches.max()}; durations {dict(sorted(durations.items()))}")
    print(f"modes {dict(modes)}; meters {dict(meters)}")
    print(f"wrote {path} ({path.stat().st_size / 1024:.1f} KiB) in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
