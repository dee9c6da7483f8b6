"""How well the derived chords agree with people: root accuracy on beats against music21's Roman-numeral analyses.

music21's corpus holds human analyses (.rntxt, by Andrew Jones, Dmitri Tymoczko and others) of the first 20
chorales in Riemenschneider's numbering; 17 of them line up bar for bar with the scores in their key
(`prepare.analysis_lines_up`; no. 11 has other bars, nos. 14 and 17 analyse transposed editions). For each, the
chords `rnnkit.music.chords.derive_progression` finds from all four parts are compared, beat by beat, with the
analysis's roots; beats the analysis leaves empty are not counted. Needs music21 (the `music` extra).

    python benchmarks/chords.py [--first 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def measure(first: int = 20) -> dict:
    """Per chorale (Riemenschneider number, file, lines up, beats, accuracy) and the pooled root accuracy."""
    from music21 import corpus
    from music21.corpus import chorales

    from rnnkit.music.prepare import analysis_lines_up, analysis_roots, score_progression

    files = list(chorales.Iterator(1, first, numberingSystem="riemenschneider", returnType="filename"))
    rows, hits, beats = [], 0, 0
    for number, path in enumerate(files, start=1):
        score = corpus.parse(path)
        analysis = corpus.parse(f"bach/choraleAnalyses/riemenschneider{number:03d}.rntxt")
        lines_up = analysis_lines_up(score, analysis)
        progression = score_progression(score, 0.0, float(score.highestTime))
        human = analysis_roots(analysis, len(progression))  # (N,)
        judged = human >= 0
        agree = int(np.sum(progression.roots[judged] == human[judged]))
        rows.append(
            {
                "riemenschneider": number,
                "piece": path,
                "lines_up": lines_up,
                "beats": int(judged.sum()),
                "root_accuracy": agree / max(1, int(judged.sum())),
            }
        )
        if lines_up:
            hits, beats = hits + agree, beats + int(judged.sum())
    used = sum(r["lines_up"] for r in rows)
    return {"chorales": rows, "lined_up": used, "beats": beats, "root_accuracy": hits / max(1, beats)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", type=int, default=20, help="the first N chorales with analyses (default: 20)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = measure(args.first)
    if args.json:
        print(json.dumps(result))
        return 0
    for r in result["chorales"]:
        note = "" if r["lines_up"] else "  (does not line up: not counted)"
        print(f"{r['riemenschneider']:>3} {r['piece']:<22} {r['beats']:>4} beats  {r['root_accuracy']:.3f}{note}")
    print(
        f"root accuracy on beats: {result['root_accuracy']:.3f} over {result['beats']} beats of "
        f"{result['lined_up']} chorales"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
