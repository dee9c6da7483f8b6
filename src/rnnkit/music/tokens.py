"""Monophonic melodies as events (pitch, duration), keys, transposition, and the token vocabulary.

An event is a tuple (pitch, duration): pitch is a MIDI note number 0..127 or REST (-1); duration is in
quarter lengths (beats of a quarter note) and is one of DURATIONS. A melody is the list of its events, played
one after the other; a rest is an event like a note, so every onset time is the sum of the durations before.

DURATIONS are the binary values and their dotted forms from a sixteenth to a breve, no triplets:
    0.25 sixteenth, 0.5 eighth, 0.75 dotted eighth, 1 quarter, 1.5 dotted quarter, 2 half,
    3 dotted half, 4 whole, 6 dotted whole, 8 breve.
`quantize_duration` rounds a length to the nearest of them on a log scale and clamps at both ends.
`events_from_notes`, used by the MIDI reader and the corpus preparation, keeps every onset on the
sixteenth grid instead: a note gets the longest allowed value that fits before the next onset and the rest
of that gap becomes rest events (`split_duration`), so bar lines never drift. numpy, stdlib and the core's
vocabulary only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from rnnkit.errors import DataError
from rnnkit.lm.vocab import TokenVocabulary
from rnnkit.music.chords import Progression

REST = -1  # the pitch of a rest event
DURATIONS: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)  # quarter lengths
GRID = 0.25  # onsets are quantized to sixteenth notes

Event = tuple[int, float]  # (pitch or REST, duration in quarter lengths)

_LOG_DURATIONS = np.log2(DURATIONS)
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_PC_OF_LETTER = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
MODES = ("major", "minor")


def pitch_name(pitch: int) -> str:
    """'C4' for MIDI 60 (middle C), 'rest' for REST."""
    if pitch == REST:
        return "rest"
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def quantize_duration(ql: float) -> float:
    """The allowed duration nearest to `ql` on a log scale; below 0.25 gives 0.25, above 8 gives 8."""
    if not ql > 0:
        raise ValueError(f"duration must be positive, got {ql}")
    return DURATIONS[int(np.argmin(np.abs(_LOG_DURATIONS - math.log2(ql))))]


def fit_duration(ql: float) -> float:
    """The longest allowed duration that is not longer than `ql` (0.25 when `ql` is shorter than that)."""
    fits = [d for d in DURATIONS if d <= ql + 1e-9]
    return fits[-1] if fits else DURATIONS[0]


def split_duration(ql: float) -> list[float]:
    """Allowed durations, longest first, that add up to `ql` rounded to the sixteenth grid.

    Used for rests: a 10-beat silence becomes [8.0, 2.0], 1.25 beats become [1.0, 0.25].
    """
    steps = round(ql / GRID)
    parts = []
    while steps > 0:
        d = fit_duration(steps * GRID)
        parts.append(d)
        steps -= round(d / GRID)
    return parts


# ---------------------------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class Key:
    """A key: tonic pitch class 0..11 (C=0) and mode "major" or "minor"."""

    tonic: int = 0
    mode: str = "major"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be 'major' or 'minor', got {self.mode!r}")
        object.__setattr__(self, "tonic", int(self.tonic) % 12)

    @property
    def name(self) -> str:
        """'G major', 'Bb minor'."""
        return f"{NOTE_NAMES[self.tonic]} {self.mode}"

    @property
    def major_tonic(self) -> int:
        """Tonic of the major key with the same key signature (C for A minor)."""
        return self.tonic if self.mode == "major" else (self.tonic + 3) % 12

    @classmethod
    def parse(cls, text: str) -> Key:
        """'C', 'c', 'F# major', 'Bb minor', 'f#m', 'Am', 'E-' (music21's flat) -> Key. Lower-case alone is minor."""
        s = text.strip().replace("♯", "#").replace("♭", "b")
        words = s.split()
        if not words or len(words) > 2 or s[0].upper() not in _PC_OF_LETTER:
            raise ValueError(f"cannot read key {text!r}: expected e.g. 'C', 'F# major', 'Bb minor', 'Am'")
        note, mode_word = words[0], (words[1].lower() if len(words) == 2 else "")
        mode = "minor" if note[0].islower() else "major"
        if not mode_word and len(note) > 1 and note[-1] == "m" and note[:-1]:
            note, mode = note[:-1], "minor"
        tonic = _PC_OF_LETTER[note[0].upper()]
        for acc in note[1:]:
            if acc == "#":
                tonic += 1
            elif acc in "b-":
                tonic -= 1
            else:
                raise ValueError(f"cannot read key {text!r}: unknown accidental {acc!r}")
        if mode_word in ("major", "maj", "minor", "min"):
            mode = "major" if mode_word.startswith("maj") else "minor"
        elif mode_word:
            raise ValueError(f"cannot read key {text!r}: mode must be 'major' or 'minor'")
        return cls(tonic, mode)


C_MAJOR = Key(0, "major")

# Krumhansl-Kessler probe-tone profiles, tonic first (Krumhansl 1990).
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


KEYS = tuple(Key(tonic, mode) for mode in MODES for tonic in range(12))  # the 24 keys, C major first


def key_correlations(hist: np.ndarray) -> np.ndarray:
    """Krumhansl-Schmuckler: the correlation of a 12-bin pitch-class histogram with each key's profile, (24,) in
    the order of KEYS (the major and minor profiles rotated to each tonic). `hist` must not be constant."""
    profiles = np.stack([np.roll(_KK_MAJOR if k.mode == "major" else _KK_MINOR, k.tonic) for k in KEYS])  # (24, 12)
    return np.array([np.corrcoef(hist, profile)[0, 1] for profile in profiles])  # (24,)


def best_key(scores: np.ndarray) -> Key:
    """The key of the highest of 24 scores (in the order of KEYS); a near tie goes to the first."""
    return KEYS[int(np.flatnonzero(scores > scores.max() - 1e-12)[0])]


def estimate_key(pitches: Sequence[int] | np.ndarray, durations: Sequence[float] | np.ndarray) -> Key:
    """Krumhansl-Schmuckler key finding: the key whose profile best correlates with the pitch-class durations.

    The 12 pitch classes are weighted by how long they sound (rests ignored) and correlated with the
    major and minor profiles rotated to each of the 12 tonics; the best of the 24 wins (C major if no notes).
    """
    pitches = np.asarray(pitches, dtype=np.int64)  # (T,)
    durations = np.asarray(durations, dtype=np.float64)  # (T,)
    notes = pitches != REST
    hist = np.bincount(pitches[notes] % 12, weights=durations[notes], minlength=12)  # (12,)
    if hist.sum() <= 0 or np.ptp(hist) == 0:
        return C_MAJOR
    return best_key(key_correlations(hist))


def key_shift(to_key: Key | str, from_key: Key | str = C_MAJOR) -> int:
    """Smallest shift in -6..+5 semitones that turns `from_key`'s key signature into `to_key`'s.

    Modes are matched through the relative major, so a model trained in C major / A minor is moved to
    "D minor" by the shift that makes C major into F major (+5 semitones, A minor -> D minor).
    """
    to_key = Key.parse(to_key) if isinstance(to_key, str) else to_key
    from_key = Key.parse(from_key) if isinstance(from_key, str) else from_key
    return (to_key.major_tonic - from_key.major_tonic + 6) % 12 - 6


# ------------------------------------------------------------------------------------------- melody


@dataclass(frozen=True, eq=False)
class Melody:
    """One monophonic line: events plus what is known about the piece.

    pitches: (T,) int64, MIDI 0..127 or REST (-1).  durations: (T,) float64, quarter lengths.
    `transposition` is how many semitones the line has been moved since it was read, so the key it was
    written in is `key` moved back by that amount (`original_key`). `chords`, when known, is the chord of every
    beat under the line (a `rnnkit.music.chords.Progression`, beat 0 at the first event); it moves with it.
    """

    pitches: np.ndarray
    durations: np.ndarray
    key: Key = C_MAJOR
    time_signature: tuple[int, int] = (4, 4)
    piece_id: str = ""
    tempo_bpm: float | None = None
    transposition: int = 0
    chords: Progression | None = None

    def __post_init__(self) -> None:
        pitches = np.array(self.pitches, dtype=np.int64).reshape(-1)  # (T,)
        durations = np.array(self.durations, dtype=np.float64).reshape(-1)  # (T,)
        if pitches.shape != durations.shape:
            raise ValueError(f"{len(pitches)} pitches but {len(durations)} durations")
        if np.any((pitches < REST) | (pitches > 127)):
            raise ValueError(f"pitches must be MIDI numbers 0..127 or REST ({REST})")
        if np.any(~(durations > 0)):
            raise ValueError("durations must be positive")
        pitches.flags.writeable = durations.flags.writeable = False
        object.__setattr__(self, "pitches", pitches)
        object.__setattr__(self, "durations", durations)
        object.__setattr__(self, "time_signature", tuple(int(x) for x in self.time_signature))
        if isinstance(self.key, str):
            object.__setattr__(self, "key", Key.parse(self.key))

    @classmethod
    def from_events(cls, events: Iterable[Event], **meta) -> Melody:
        """A melody from (pitch, duration) events; `meta` fills the other fields."""
        events = list(events)
        pitches = [int(p) for p, _ in events]
        durations = [float(d) for _, d in events]
        return cls(np.array(pitches, dtype=np.int64), np.array(durations, dtype=np.float64), **meta)

    @property
    def events(self) -> list[Event]:
        """The (pitch, duration) tuples, as plain Python numbers."""
        return list(zip(self.pitches.tolist(), self.durations.tolist(), strict=True))

    @property
    def num_notes(self) -> int:
        """Events that are notes, not rests."""
        return int(np.count_nonzero(self.pitches != REST))

    @property
    def total_beats(self) -> float:
        """Length in quarter notes."""
        return float(self.durations.sum())

    @property
    def original_key(self) -> Key:
        """The key before any `transpose`."""
        return Key(self.key.tonic - self.transposition, self.key.mode)

    def __len__(self) -> int:
        return len(self.pitches)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Melody):
            return NotImplemented
        return (
            np.array_equal(self.pitches, other.pitches)
            and np.array_equal(self.durations, other.durations)
            and (self.key, self.time_signature, self.piece_id, self.transposition)
            == (other.key, other.time_signature, other.piece_id, other.transposition)
            and self.tempo_bpm == other.tempo_bpm
            and self.chords == other.chords
        )

    __hash__ = None  # mutable-looking arrays inside: not hashable


def transpose(melody: Melody, semitones: int) -> Melody:
    """The melody moved by `semitones` (rests stay rests); raises ValueError if a note leaves 0..127."""
    semitones = int(semitones)
    notes = melody.pitches != REST
    pitches = np.where(notes, melody.pitches + semitones, REST)  # (T,)
    if np.any(notes & ((pitches < 0) | (pitches > 127))):
        raise ValueError(f"transposing {melody.piece_id or 'melody'} by {semitones} leaves the MIDI range 0..127")
    return Melody(
        pitches,
        melody.durations,
        key=Key(melody.key.tonic + semitones, melody.key.mode),
        time_signature=melody.time_signature,
        piece_id=melody.piece_id,
        tempo_bpm=melody.tempo_bpm,
        transposition=melody.transposition + semitones,
        chords=None if melody.chords is None else melody.chords.transpose(semitones),
    )


def transpose_to_c(melody: Melody) -> Melody:
    """The melody in C major (or A minor if its key is minor), by the smallest shift in -6..+5 semitones.

    A melody that this shift would take out of 0..127 (notes near either end) moves an octave the other way
    instead; only one that fits neither raises ValueError. The shift is added to `transposition`, so
    `original_key` still names the key it was written in.
    """
    shift = key_shift(C_MAJOR, melody.key)
    try:
        return transpose(melody, shift)
    except ValueError:
        if shift == 0:
            raise
        other = shift - 12 if shift > 0 else shift + 12
        try:
            return transpose(melody, other)
        except ValueError:
            raise ValueError(
                f"transposing {melody.piece_id or 'melody'} to C by {shift} or {other} semitones leaves the "
                "MIDI range 0..127"
            ) from None


def events_from_notes(
    onsets: Sequence[float] | np.ndarray,
    pitches: Sequence[int] | np.ndarray,
    ends: Sequence[float] | np.ndarray,
    grid: float = GRID,
) -> list[Event]:
    """Events of a monophonic line made from possibly overlapping notes (times in quarter lengths).

    Onsets and ends are rounded to `grid`; of the notes that start together the highest is kept (the
    melody), and a note is cut at the next onset. Each note gets the longest allowed duration that fits
    in what it sounds; the rest of the gap to the next onset becomes rest events, so onsets stay exact.
    Silence before the first and after the last note is dropped. Returns [] when there are no notes.
    """
    onsets = np.asarray(onsets, dtype=np.float64)  # (N,)
    pitches = np.asarray(pitches, dtype=np.int64)  # (N,)
    ends = np.asarray(ends, dtype=np.float64)  # (N,)
    q_on = np.round(onsets / grid).astype(np.int64)  # (N,) in grid steps
    q_end = np.maximum(np.round(ends / grid).astype(np.int64), q_on + 1)  # (N,) every note sounds >= 1 step
    top: dict[int, tuple[int, int]] = {}  # onset -> (pitch, end) of the highest note starting there
    for on, p, end in zip(q_on.tolist(), pitches.tolist(), q_end.tolist(), strict=True):
        if on not in top or (p, end) > top[on]:
            top[on] = (p, end)
    starts = sorted(top)
    events: list[Event] = []
    for i, on in enumerate(starts):
        p, end = top[on]
        slot_end = starts[i + 1] if i + 1 < len(starts) else end
        note = fit_duration((min(end, slot_end) - on) * grid)
        events.append((p, note))
        if i + 1 < len(starts):
            events.extend((REST, d) for d in split_duration((slot_end - on) * grid - note))
    return events


# --------------------------------------------------------------------------------------- vocabulary


class UnknownTokenError(DataError, ValueError):
    """An event that has no id in the vocabulary."""


def _token(event: Sequence) -> Event:
    p, d = event
    return int(p), float(d)


class Vocabulary(TokenVocabulary):
    """The (pitch, duration) tokens of the training melodies, sorted, after a boundary token at id 0.

    Like the text vocabulary (both are `rnnkit.lm.vocab.TokenVocabulary`), id 0 starts and ends every piece;
    ids 1..n are the tokens in (pitch, duration) order, rests (pitch -1) first. The order depends only on the
    set of tokens, so building from the same melodies in any order gives the same ids.
    """

    BOUNDARY_SHOWN = "|"
    WHAT = "music"

    @classmethod
    def check_token(cls, token) -> Event:
        p, d = _token(token)
        if not (p == REST or 0 <= p <= 127) or not d > 0:
            raise DataError(f"not a (pitch, duration) token: {(p, d)}")
        return p, d

    @classmethod
    def from_melodies(cls, melodies: Iterable[Melody | Iterable[Event]]) -> Vocabulary:
        """Every event that occurs in `melodies` (Melody objects or lists of events)."""
        tokens: set[Event] = set()
        for m in melodies:
            tokens.update(_token(e) for e in (m.events if isinstance(m, Melody) else m))
        if not tokens:
            raise DataError("cannot build a vocabulary: the melodies contain no events")
        return cls(tuple(sorted(tokens)))

    def nearest(self, event: Event) -> Event:
        """The known token closest to `event`: a rest maps to a rest, a note to a note when there is one.

        Distance is |pitch difference in semitones| + 4 * |log2 of the duration ratio|, so a duration
        one step off (an eighth for a quarter) weighs like 4 semitones.
        """
        p, d = _token(event)
        pool = [t for t in self.tokens if (t[0] == REST) == (p == REST)] or list(self.tokens)
        cost = [(abs(q - p) if p != REST and q != REST else 0) + 4 * abs(math.log2(e / d)) for q, e in pool]
        return pool[int(np.argmin(cost))]

    def encode(self, melody: Melody | Iterable[Event], unknown: str = "error") -> np.ndarray:
        """Ids of the events, without boundaries: (T,) int64.

        unknown="error" raises UnknownTokenError naming the first event with no id; unknown="nearest"
        maps such events to `nearest` (useful to prime the model with a user's MIDI file).
        """
        if unknown not in ("error", "nearest"):
            raise ValueError(f"unknown must be 'error' or 'nearest', got {unknown!r}")
        events = melody.events if isinstance(melody, Melody) else [_token(e) for e in melody]
        ids = []
        for t, event in enumerate(events):
            i = self._index.get(event)
            if i is None:
                if unknown == "error":
                    p, d = event
                    raise UnknownTokenError(
                        f"event {t} ({pitch_name(p)}, {d:g} beats) is not in the vocabulary of {len(self)} ids;"
                        " transpose the melody or pass unknown='nearest'"
                    )
                i = self._index[self.nearest(event)]
            ids.append(i)
        return np.array(ids, dtype=np.int64)  # (T,)

    @staticmethod
    def token_to_json(token: Event) -> list:
        p, d = token
        return [p, d]

    @staticmethod
    def token_from_json(value) -> Event:
        return _token(value)
