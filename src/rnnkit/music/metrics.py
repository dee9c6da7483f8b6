"""How much generated melodies resemble real ones: histograms, divergences, scale consistency, copying.

Pure numpy. A melody is anything with `.pitches` (T,) and `.durations` (T,) (a `Melody`), rests are pitch -1.

    pitch-class JSD     Jensen-Shannon divergence (base 2, in [0, 1]) of the 12 pitch-class note counts
    duration JSD        of the event durations (notes and rests) over tokens.DURATIONS
    interval JSD        of the steps between consecutive notes, in semitones, clipped to -12..+12
    scale consistency   per piece, the largest share of its notes inside one of the 24 major or harmonic-minor
                        scales (Mogren 2016, C-RNN-GAN), averaged over pieces
    pitch range         per piece, highest minus lowest note in semitones, averaged
    distinct pitches    per piece, the number of different notes, averaged
    copy rate           share of a piece's 8-grams of events that occur verbatim in the training pieces, over all
                        the pieces' 8-grams

Harmonic minor (raised 7th) is used because the natural minor scales hold the same notes as the major ones, which
would leave only 12 distinct sets; Bach's minor melodies lean on the leading tone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnnkit.music.tokens import DURATIONS, REST

MAJOR = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)
MAX_INTERVAL = 12
NGRAM = 8

# (24, 12) membership of each pitch class in each scale: 12 major then 12 harmonic minor, tonic C first
SCALES = np.array(
    [[(pc - tonic) % 12 in steps for pc in range(12)] for steps in (MAJOR, HARMONIC_MINOR) for tonic in range(12)]
)


def _notes(melody) -> np.ndarray:
    p = np.asarray(melody.pitches)
    return p[p != REST]


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits of two histograms (normalised here): 0 same, 1 disjoint."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def pitch_class_histogram(melodies: Sequence) -> np.ndarray:
    """Note counts per pitch class C..B: (12,)."""
    notes = np.concatenate([_notes(m) for m in melodies] or [np.zeros(0, np.int64)])
    return np.bincount(notes % 12, minlength=12).astype(np.float64)


def duration_histogram(melodies: Sequence) -> np.ndarray:
    """Event counts per allowed duration (other lengths go to the nearest on a log scale): (len(DURATIONS),)."""
    d = np.concatenate([np.asarray(m.durations, dtype=np.float64) for m in melodies] or [np.zeros(0)])
    idx = np.abs(np.log2(d)[:, None] - np.log2(DURATIONS)[None, :]).argmin(axis=1)  # (T,)
    return np.bincount(idx, minlength=len(DURATIONS)).astype(np.float64)


def interval_histogram(melodies: Sequence) -> np.ndarray:
    """Counts of the steps between consecutive notes (rests skipped), clipped to -12..+12: (25,)."""
    steps = [np.clip(np.diff(_notes(m)), -MAX_INTERVAL, MAX_INTERVAL) for m in melodies]
    steps = np.concatenate(steps or [np.zeros(0, np.int64)]).astype(np.int64)
    return np.bincount(steps + MAX_INTERVAL, minlength=2 * MAX_INTERVAL + 1).astype(np.float64)


def scale_consistency(melody) -> float:
    """The largest share of the melody's notes that lie in one of the 24 scales (nan without notes)."""
    notes = _notes(melody)
    if notes.size == 0:
        return float("nan")
    counts = np.bincount(notes % 12, minlength=12)  # (12,)
    return float((SCALES @ counts).max() / notes.size)


def ngrams(melody, n: int = NGRAM) -> list[tuple]:
    """The melody's n-grams of (pitch, duration) events, in order (overlapping)."""
    events = list(zip(np.asarray(melody.pitches).tolist(), np.asarray(melody.durations).tolist(), strict=True))
    return [tuple(events[i : i + n]) for i in range(len(events) - n + 1)]


def copy_rate(melodies: Sequence, training: Sequence, n: int = NGRAM) -> float:
    """Share of the n-grams of `melodies` that occur verbatim in `training` (nan if none is n long)."""
    known = {g for m in training for g in ngrams(m, n)}
    grams = [g for m in melodies for g in ngrams(m, n)]
    return float(np.mean([g in known for g in grams])) if grams else float("nan")


def _mean(values) -> float:
    values = np.array(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def describe(melodies: Sequence) -> dict[str, float]:
    """Per-piece statistics averaged over pieces: scale consistency, pitch range, distinct pitches, length."""
    with_notes = [m for m in melodies if _notes(m).size]
    return {
        "scale_consistency": _mean([scale_consistency(m) for m in with_notes]),
        "pitch_range": _mean([np.ptp(_notes(m)) for m in with_notes]),
        "distinct_pitches": _mean([np.unique(_notes(m)).size for m in with_notes]),
        "events": _mean([len(m.pitches) for m in melodies]),
    }


def compare(melodies: Sequence, reference: Sequence, training: Sequence, n: int = NGRAM) -> dict[str, Any]:
    """Every metric of `melodies` against `reference` pieces (the divergences) and `training` (the copy rate)."""
    return {
        "pieces": len(melodies),
        "pitch_class_jsd": js_divergence(pitch_class_histogram(melodies), pitch_class_histogram(reference)),
        "duration_jsd": js_divergence(duration_histogram(melodies), duration_histogram(reference)),
        "interval_jsd": js_divergence(interval_histogram(melodies), interval_histogram(reference)),
        **describe(melodies),
        "copy_rate": copy_rate(melodies, training, n),
    }
