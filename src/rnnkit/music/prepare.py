"""Training melodies from music21's bundled corpus (the Bach chorales by default) or from MIDI folders.

music21 is imported inside the functions that need it, so `import rnnkit.music.prepare` stays cheap and
training never needs music21: prepared melodies are saved with `corpus.save_corpus` and read back with
numpy alone. From each score the soprano line is taken by its role (a part called Soprano, S., Canto ...),
never by its position; a score with no such part falls back to its highest part (by mean pitch).
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from rnnkit.errors import DataError
from rnnkit.music.tokens import MODES, Key, Melody, estimate_key, events_from_notes

# Names a soprano part goes by in scores (English, German, Italian, Latin); matched case-insensitively
# against a part's id, name and abbreviation.
_SOPRANO = re.compile(r"^(s|s\.|sop\.?|sopr\.?|soprano|sopran|canto|cantus|discantus)(\s*\d+)?$|\bsoprano\b")


def is_soprano_name(text: str | None) -> bool:
    """True for part labels such as 'Soprano', 'S.', 'Sopran 1', 'Canto' (not 'Mezzo-soprano')."""
    text = " ".join(str(text or "").lower().split())
    return bool(text) and "mezzo" not in text and _SOPRANO.search(text) is not None


def _part_labels(part) -> list[str]:
    return [str(x) for x in (part.id, part.partName, part.partAbbreviation) if x]


def _mean_pitch(part) -> float:
    midis = [max(p.midi for p in n.pitches) for n in part.recurse().notes if getattr(n, "pitches", ())]
    return float(np.mean(midis)) if midis else -np.inf


def find_soprano_part(score, fallback: bool = True):
    """The part of a music21 score that sings the soprano line, or None.

    Parts whose id, name or abbreviation names a soprano win (the highest of them if several); otherwise,
    with `fallback`, the part with the highest mean pitch. None if no part has notes.
    """
    parts = [p for p in score.parts if _mean_pitch(p) > -np.inf]
    by_role = [p for p in parts if any(is_soprano_name(s) for s in _part_labels(p))]
    pool = by_role or (parts if fallback else [])
    return max(pool, key=_mean_pitch) if pool else None


def _score_key(score, melody: Melody) -> Key:
    """The key the score is written in: music21's analysis when it agrees with the key signature."""
    from music21 import key as m21key

    sig = score.recurse().getElementsByClass(m21key.KeySignature).first()
    try:
        found = score.analyze("key")
    except Exception:  # music21 raises assorted errors on odd scores; the key signature still tells
        found = None
    if found is not None and found.mode in MODES and (sig is None or found.sharps == sig.sharps):
        return Key(found.tonic.pitchClass, found.mode)
    if isinstance(sig, m21key.Key) and sig.mode in MODES:
        return Key(sig.tonic.pitchClass, sig.mode)
    if sig is not None:
        return Key(7 * sig.sharps, "major")  # each sharp moves the major tonic up a fifth
    return estimate_key(melody.pitches, melody.durations)


def melody_from_part(part, score=None, piece_id: str = "") -> Melody | None:
    """The monophonic line of a music21 part (ties merged, grace notes dropped, chords -> top note).

    Key, time signature and tempo come from `score` (default: the part). None when the part has no notes.
    """
    from music21 import meter, tempo

    score = part if score is None else score
    onsets, pitches, ends = [], [], []
    for n in part.stripTies().flatten().notes:
        if n.duration.isGrace or n.quarterLength <= 0 or not getattr(n, "pitches", ()):
            continue
        onsets.append(float(n.offset))
        ends.append(float(n.offset + n.quarterLength))
        pitches.append(max(p.midi for p in n.pitches))
    events = events_from_notes(onsets, pitches, ends)
    if not events:
        return None
    melody = Melody.from_events(events, piece_id=piece_id)
    ts = part.recurse().getElementsByClass(meter.TimeSignature).first()
    ts = ts or score.recurse().getElementsByClass(meter.TimeSignature).first()
    mm = score.recurse().getElementsByClass(tempo.MetronomeMark).first()
    return Melody(
        melody.pitches,
        melody.durations,
        key=_score_key(score, melody),
        time_signature=(ts.numerator, ts.denominator) if ts else (4, 4),
        piece_id=piece_id,
        tempo_bpm=float(mm.getQuarterBPM()) if mm is not None and mm.number else None,
    )


def melody_from_score(score, piece_id: str = "", fallback: bool = True, chords: bool = True) -> Melody | None:
    """The soprano line of a music21 score (see `find_soprano_part`), or None if it has none.

    With `chords`, a score of two or more parts gives the line the chord of every beat, derived from all its
    parts (`score_progression`), beat 0 at the line's first note.
    """
    part = find_soprano_part(score, fallback=fallback)
    melody = None if part is None else melody_from_part(part, score, piece_id)
    if melody is None or not chords or sum(_mean_pitch(p) > -np.inf for p in score.parts) < 2:
        return melody
    return dataclasses.replace(melody, chords=score_progression(score, first_onset(part), melody.total_beats))


def corpus_pieces(name: str = "bach") -> list[str]:
    """music21 corpus paths: the Bach chorales (Riemenschneider's 371) or a composer's works, each once.

    Riemenschneider prints 21 chorales twice (one three times); music21 maps both numbers to one file,
    which is listed once here so no melody is counted twice or lands in both a training and a test split.
    """
    from music21 import corpus
    from music21.corpus import chorales

    if name.lower() == "bach":
        return list(dict.fromkeys(chorales.Iterator(returnType="filename")))
    paths = corpus.getComposer(name.lower())
    if not paths:
        raise DataError(f"music21's corpus has no works by {name!r}")
    return [str(p) for p in paths]


def _piece_id(path: str) -> str:
    return Path(str(path)).name.removesuffix(".mxl").removesuffix(".xml").removesuffix(".krn")


def prepare_music21_corpus(
    name: str = "bach",
    pieces: Iterable[str] | None = None,
    limit: int | None = None,
    fallback: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
    chords: bool = True,
) -> list[Melody]:
    """Soprano lines of music21 corpus pieces, in their own keys, with their chords (see `melody_from_score`).

    name: "bach" (the 371 chorales) or another composer in music21's corpus; `pieces` overrides it with
    explicit corpus paths ("bach/bwv269"); `limit` keeps the first n. A piece that cannot be parsed or
    has no usable part is skipped with a warning. Piece ids are the file names (bwv153.1 carries the
    movement); a file holding several scores gets ":1", ":2" ... appended.
    """
    from music21 import corpus, stream

    paths = list(pieces) if pieces is not None else corpus_pieces(name)
    paths = paths[:limit] if limit is not None else paths
    melodies = []
    for i, path in enumerate(paths):
        if progress is not None:
            progress(i, len(paths), str(path))
        try:
            parsed = corpus.parse(path)
        except Exception as e:  # music21 raises its own assortment of parse errors
            warnings.warn(f"skipped {path}: cannot parse ({type(e).__name__}: {e})", stacklevel=2)
            continue
        scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
        for j, score in enumerate(scores):
            pid = _piece_id(path) + (f":{j + 1}" if len(scores) > 1 else "")
            melody = melody_from_score(score, pid, fallback=fallback, chords=chords)
            if melody is None:
                warnings.warn(f"skipped {pid}: no soprano part with notes", stacklevel=2)
            else:
                melodies.append(melody)
    return melodies


def prepare_corpus(source: str | os.PathLike) -> list[Melody]:
    """Melodies from a MIDI file or folder (when `source` exists on disk) or a music21 composer name."""
    if os.path.exists(source):
        from rnnkit.music.midi import read_midi_paths

        return read_midi_paths(source)[0]
    return prepare_music21_corpus(str(source))


# ------------------------------------------------------------------------------------------------- chords


def score_notes(score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every sounding pitch of every part: onsets (N,), ends (N,) in quarter lengths, MIDI pitches (N,).

    What music21's chordify slices: each pitch of a chord counts, grace notes are dropped, ties need no merging
    (both halves sound).
    """
    onsets, ends, pitches = [], [], []
    for n in score.flatten().notes:
        if n.duration.isGrace or n.quarterLength <= 0:
            continue
        for p in n.pitches:
            onsets.append(float(n.offset))
            ends.append(float(n.offset + n.quarterLength))
            pitches.append(p.midi)
    return np.array(onsets), np.array(ends), np.array(pitches, dtype=np.int64)


def first_onset(part) -> float:
    """Where a part's first note starts (quarter lengths), on the sixteenth grid as `events_from_notes` puts it."""
    from rnnkit.music.tokens import GRID

    offsets = [float(n.offset) for n in part.stripTies().flatten().notes if not n.duration.isGrace]
    return round(min(offsets) / GRID) * GRID if offsets else 0.0


def score_progression(score, start: float, total_beats: float):
    """The chord of every beat of a score from all its parts, beat 0 at `start` (see chords.derive_progression)."""
    from rnnkit.music.chords import derive_progression

    onsets, ends, pitches = score_notes(score)
    return derive_progression(onsets, ends, pitches, total_beats, start)


def analysis_roots(analysis, n_beats: int) -> np.ndarray:
    """The root pitch class of every beat of a Roman-numeral analysis (an .rntxt score), -1 where it says none."""
    from music21 import roman

    roots = np.full(n_beats, -1, dtype=np.int64)
    for rn in analysis.recurse().getElementsByClass(roman.RomanNumeral):
        lo = float(rn.getOffsetInHierarchy(analysis))
        hi = lo + float(rn.quarterLength)
        for k in range(int(np.ceil(lo - 1e-9)), int(np.ceil(hi - 1e-9))):  # the beats that start under it
            if 0 <= k < n_beats:
                roots[k] = rn.root().pitchClass
    return roots


def analysis_lines_up(score, analysis) -> bool:
    """Whether an analysis fits its score bar for bar and is in its key.

    The same bar numbers start at the same offsets (bar lengths may differ where a score splits a bar at a
    repeat or an analysis writes a pickup or last bar full), and the analysis's first key has the tonic
    music21 finds in the score (two analyses in the corpus are of transposed editions).
    """
    from music21 import key as m21key

    def bar_starts(s) -> dict[int, float]:
        out: dict[int, float] = {}
        for m in s.parts[0].getElementsByClass("Measure"):
            out.setdefault(m.number, float(m.offset))
        return out

    if not bar_starts(score) or bar_starts(score) != bar_starts(analysis):
        return False
    first_key = analysis.recurse().getElementsByClass(m21key.Key).first()
    return first_key is not None and first_key.tonic.pitchClass == score.analyze("key").tonic.pitchClass
