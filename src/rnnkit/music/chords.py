"""Chords: symbols ("G7/B"), per-beat progressions, and chords derived from the notes of several voices.

A chord is a root pitch class (C=0) and a quality, the intervals above the root; an optional bass names a slash
chord's lowest note. A progression holds one chord per beat (a quarter note, BEAT), as three small int arrays:
    roots (N,) int      root pitch class 0..11, or NO_CHORD (-1) where nothing sounds
    masks (N,) int      the chord's pitch classes as 12 bits (bit pc set when pc is in the chord)
    basses (N,) int     the pitch class in the bass: the root, or a slash chord's bass (B in G/B); NO_CHORD with none
Beat k covers quarter lengths [k, k + 1) of the melody it goes with.

Derivation (`derive_progression`) is the note-list form of music21's chordify followed by template matching:
every beat gets a 12-bin pitch-class profile, each note weighted by how long it sounds inside the beat, with
extra weight on the lowest note of each moment (the bass) and on notes sounding at the beat's start. Each of the
60 templates (major, minor, diminished, augmented and dominant seventh on 12 roots) scores the weight of its
pitch classes minus a share of the weight outside them, plus a bonus when the bass is its root; ties go to the
simpler chord (triads before the seventh) and the lower root. numpy and stdlib only, so MIDI files need no
music21.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnkit.errors import RnnkitError

BEAT = 1.0  # quarter lengths per progression entry
NO_CHORD = -1
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_PC_OF_LETTER = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# quality -> intervals above the root; the first spelling of each is how `Chord.symbol` writes it
QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7),
    "m": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "dim7": (0, 3, 6, 9),
    "m7b5": (0, 3, 6, 10),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "7sus4": (0, 5, 7, 10),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
    "9": (0, 2, 4, 7, 10),
}
# other spellings people write, mapped to the names above
ALIASES = {
    "maj": "",
    "M": "",
    "min": "m",
    "-": "m",
    "mi": "m",
    "o": "dim",
    "°": "dim",
    "+": "aug",
    "dom7": "7",
    "M7": "maj7",
    "Δ": "maj7",
    "Δ7": "maj7",
    "ma7": "maj7",
    "min7": "m7",
    "-7": "m7",
    "mi7": "m7",
    "o7": "dim7",
    "°7": "dim7",
    "ø": "m7b5",
    "ø7": "m7b5",
    "-7b5": "m7b5",
    "min7b5": "m7b5",
    "sus": "sus4",
    "7sus": "7sus4",
    "min6": "m6",
    "-6": "m6",
}
# the templates derivation chooses from, in tie-breaking order (simplest first)
TEMPLATES = ("", "m", "dim", "aug", "7")


def pc_mask(pcs) -> int:
    """The 12-bit set of pitch classes: bit pc is 1 for each pc in `pcs`."""
    mask = 0
    for pc in pcs:
        mask |= 1 << (int(pc) % 12)
    return mask


def mask_pcs(mask: int) -> list[int]:
    """The pitch classes of a 12-bit mask, ascending."""
    return [pc for pc in range(12) if mask >> pc & 1]


def _rotate(mask: int, semitones: int) -> int:
    s = semitones % 12
    return ((mask << s) | (mask >> (12 - s))) & 0xFFF


@dataclass(frozen=True)
class Chord:
    """A chord symbol: root pitch class, quality (a key of QUALITIES) and an optional bass pitch class."""

    root: int
    quality: str = ""
    bass: int | None = None

    def __post_init__(self) -> None:
        if self.quality not in QUALITIES:
            raise ValueError(f"unknown chord quality {self.quality!r}")
        object.__setattr__(self, "root", int(self.root) % 12)
        if self.bass is not None:
            object.__setattr__(self, "bass", int(self.bass) % 12)

    @property
    def pitch_classes(self) -> list[int]:
        """Root first, then the other chord tones in interval order (a slash bass that is no chord tone last)."""
        pcs = [(self.root + i) % 12 for i in QUALITIES[self.quality]]
        return pcs + ([self.bass] if self.bass is not None and self.bass not in pcs else [])

    @property
    def mask(self) -> int:
        return pc_mask(self.pitch_classes)

    @property
    def symbol(self) -> str:
        """'C', 'F#m7', 'G7/B': the text `parse_chord` reads back to this chord."""
        text = NOTE_NAMES[self.root] + self.quality
        return text + (f"/{NOTE_NAMES[self.bass]}" if self.bass is not None and self.bass != self.root else "")

    def transpose(self, semitones: int) -> Chord:
        bass = None if self.bass is None else self.bass + semitones
        return Chord(self.root + semitones, self.quality, bass)

    @classmethod
    def from_mask(cls, root: int, mask: int, bass: int | None = None) -> Chord | None:
        """The chord of a progression entry (None for NO_CHORD): the quality whose pitch classes are `mask`,
        over `bass` when it is given and not the root (G/B). A bass that a quality lacks is read as added to it
        (C/Bb, not C7/Bb: the same notes)."""
        if root == NO_CHORD:
            return None
        bass = None if bass is None or bass % 12 == root % 12 else bass % 12
        if bass is not None:  # a slash chord as written: its quality plus the bass note
            for quality, steps in QUALITIES.items():
                tones = pc_mask((root + s) for s in steps)
                if not tones >> bass & 1 and tones | 1 << bass == mask:
                    return cls(root, quality, bass)
        for quality, steps in QUALITIES.items():
            if pc_mask((root + s) for s in steps) == mask:
                return cls(root, quality, bass)
        for quality, steps in sorted(QUALITIES.items(), key=lambda q: -len(q[1])):  # a slash chord: G/C
            tones = pc_mask((root + s) for s in steps)
            extra = mask & ~tones
            if tones & mask == tones and bin(extra).count("1") == 1 and bass in (None, extra.bit_length() - 1):
                return cls(root, quality, extra.bit_length() - 1)
        raise ValueError(f"no chord quality has root {NOTE_NAMES[root % 12]} and pitch classes {mask_pcs(mask)}")


_SYMBOL = re.compile(r"^([A-Ga-g])([#b♯♭]*)([^/]*)(?:/([A-Ga-g])([#b♯♭]*))?$")
NO_CHORD_SYMBOLS = ("N.C.", "NC", "N")


def _pitch_class(letter: str, accidentals: str) -> int:
    pc = _PC_OF_LETTER[letter.upper()]
    return pc + sum(1 if a in "#♯" else -1 for a in accidentals)


def parse_chord(symbol: str) -> Chord:
    """'C', 'Am', 'F#m7', 'Bb7', 'G/B', 'Cmaj7', 'Bdim', 'Caug', 'Dsus4', 'Em7b5' ... -> Chord.

    Raises ValueError naming the symbol when it is not one. A slash bass equal to the root is dropped.
    """
    m = _SYMBOL.match(symbol.strip())
    quality = None if m is None else ALIASES.get(m.group(3), m.group(3))
    if m is None or quality not in QUALITIES:
        raise ValueError(
            f"cannot read chord {symbol!r}: expected a root A-G with # or b, a quality "
            "(m, dim, aug, 7, maj7, m7, dim7, m7b5, sus2, sus4, 6, m6, 9) and an optional /bass, e.g. 'F#m7' or 'G/B'"
        )
    root = _pitch_class(m.group(1), m.group(2))
    bass = None if m.group(4) is None else _pitch_class(m.group(4), m.group(5))
    return Chord(root, quality, None if bass is not None and bass % 12 == root % 12 else bass)


# ---------------------------------------------------------------------------------------------- progression

# what a key's function adds to its correlation in `Progression.key`: with equal weights of 0.2 to 0.3 it names
# the key of all 50 progressions in tests/test_music_chords.py (without them 4 are wrong, e.g. Dm G7 C: G major)
KEY_FIRST = 0.2  # the first chord is the key's tonic triad
KEY_LAST = 0.2  # the last chord is
KEY_CADENCE = 0.2  # a dominant moves to the tonic somewhere


@dataclass(frozen=True, eq=False)
class Progression:
    """One chord per beat (see the module docstring): roots (N,), masks (N,) and basses (N,) int64.

    `basses` defaults to the roots (no slash chords): derived chords and the corpus file carry none.
    """

    roots: np.ndarray
    masks: np.ndarray
    basses: np.ndarray | None = None

    def __post_init__(self) -> None:
        roots = np.array(self.roots, dtype=np.int64).reshape(-1)  # (N,)
        masks = np.array(self.masks, dtype=np.int64).reshape(-1)  # (N,)
        basses = roots.copy() if self.basses is None else np.array(self.basses, dtype=np.int64).reshape(-1)  # (N,)
        if not roots.shape == masks.shape == basses.shape:
            raise ValueError(f"{len(roots)} roots, {len(masks)} masks and {len(basses)} basses")
        if np.any((roots < NO_CHORD) | (roots > 11)) or np.any((masks < 0) | (masks > 0xFFF)):
            raise ValueError("roots must be 0..11 or NO_CHORD, masks 12-bit pitch-class sets")
        if np.any((roots == NO_CHORD) != (masks == 0)) or np.any((roots == NO_CHORD) != (basses == NO_CHORD)):
            raise ValueError("a beat has no chord exactly when its mask is empty and it has no bass")
        has = roots != NO_CHORD
        if np.any((basses[has] < 0) | (basses[has] > 11)) or np.any((masks[has] >> basses[has].clip(0, 11)) & 1 == 0):
            raise ValueError("a beat's bass must be one of its pitch classes")
        roots.flags.writeable = masks.flags.writeable = basses.flags.writeable = False
        object.__setattr__(self, "roots", roots)
        object.__setattr__(self, "masks", masks)
        object.__setattr__(self, "basses", basses)

    @classmethod
    def from_chords(cls, chords: Sequence[Chord | None]) -> Progression:
        """A progression of one beat per entry (None: no chord); a slash chord keeps its bass."""
        roots = [NO_CHORD if c is None else c.root for c in chords]
        masks = [0 if c is None else c.mask for c in chords]
        basses = [NO_CHORD if c is None else c.root if c.bass is None else c.bass for c in chords]
        return cls(roots, masks, basses)

    def __len__(self) -> int:
        return len(self.roots)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Progression):
            return NotImplemented
        return (
            np.array_equal(self.roots, other.roots)
            and np.array_equal(self.masks, other.masks)
            and np.array_equal(self.basses, other.basses)
        )

    __hash__ = None

    @property
    def total_beats(self) -> float:
        return len(self) * BEAT

    def chords(self) -> list[Chord | None]:
        """The chord of every beat (None where there is none), a slash chord with its bass."""
        return [Chord.from_mask(r, m, b) for r, m, b in zip(*self.arrays(), strict=True)]

    def arrays(self) -> tuple[list[int], list[int], list[int]]:
        """roots, masks and basses as lists of ints."""
        return self.roots.tolist(), self.masks.tolist(), self.basses.tolist()

    def symbols(self) -> str:
        """'C C G7 G7 N.C.': the chord of every beat, as symbols."""
        return " ".join("N.C." if c is None else c.symbol for c in self.chords())

    def head(self, beats: int) -> Progression:
        """The first `beats` beats."""
        return Progression(self.roots[:beats], self.masks[:beats], self.basses[:beats])

    def key(self):
        """The key the chords suggest (a `rnnkit.music.tokens.Key`; C major without chords).

        Krumhansl-Schmuckler over the chords' pitch classes (each chord tone weighs the beats it lasts) hears
        the notes but not the harmony: C-G-Am-F-Dm-G-C and A minor share every pitch class, and Dm7-G7-Cmaj7-A7
        correlates best with G major. So, as key-finding over chords does, each key's correlation also gains
        the evidence of its function: KEY_FIRST when the first chord is its tonic triad, KEY_LAST when the last
        is, KEY_CADENCE when a dominant (a chord on the fifth degree holding the leading tone) moves to it.
        """
        from rnnkit.music.tokens import C_MAJOR, KEYS, best_key, key_correlations

        hist = np.zeros(12)  # (12,) beats of each pitch class
        for mask in self.masks.tolist():
            hist[mask_pcs(mask)] += BEAT
        beats = [(r, m) for r, m in zip(self.roots.tolist(), self.masks.tolist(), strict=True) if r != NO_CHORD]
        changes = [c for k, c in enumerate(beats) if k == 0 or c != beats[k - 1]]  # the chords, repeats merged
        if not changes or np.ptp(hist) == 0:
            return C_MAJOR
        scores = key_correlations(hist)  # (24,)
        for j, key in enumerate(KEYS):
            triad = pc_mask((key.tonic + s) for s in QUALITIES["" if key.mode == "major" else "m"])

            def tonic(chord: tuple[int, int], t=key.tonic, triad=triad) -> bool:
                return chord[0] == t and chord[1] & triad == triad

            def dominant(chord: tuple[int, int], t=key.tonic) -> bool:
                return chord[0] == (t + 7) % 12 and bool(chord[1] >> ((t + 11) % 12) & 1)

            cadence = any(dominant(a) and tonic(b) for a, b in zip(changes[:-1], changes[1:], strict=True))
            scores[j] += KEY_FIRST * tonic(changes[0]) + KEY_LAST * tonic(changes[-1]) + KEY_CADENCE * cadence
        return best_key(scores)

    def transpose(self, semitones: int) -> Progression:
        """Every chord moved by `semitones` (no-chord beats stay so)."""
        roots = np.where(self.roots == NO_CHORD, NO_CHORD, (self.roots + semitones) % 12)
        basses = np.where(self.basses == NO_CHORD, NO_CHORD, (self.basses + semitones) % 12)
        masks = np.array([_rotate(int(m), semitones) for m in self.masks], dtype=np.int64)
        return Progression(roots, masks, basses)

    def at(self, onsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The root and mask under each onset (quarter lengths): (K,), (K,); past the end: NO_CHORD, 0."""
        k = np.floor(np.asarray(onsets, dtype=np.float64) / BEAT + 1e-9).astype(np.int64)  # (K,)
        inside = (k >= 0) & (k < len(self))
        kk = np.clip(k, 0, max(len(self) - 1, 0))
        if len(self) == 0:
            return np.full(k.shape, NO_CHORD), np.zeros(k.shape, dtype=np.int64)
        return np.where(inside, self.roots[kk], NO_CHORD), np.where(inside, self.masks[kk], 0)

    def features(self, onsets: np.ndarray) -> np.ndarray:
        """ImprovRNN's chord encoding under each onset: root one-hot then pitch-class multi-hot, (K, 24) float32.

        No chord (or an onset past the end) is all zeros.
        """
        roots, masks = self.at(onsets)
        return chord_features(roots, masks)


CHORD_FEATURES = 24  # 12 root one-hot + 12 pitch-class multi-hot


def chord_features(roots: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(K,) roots and masks -> (K, 24) float32: one-hot of the root, then the 12 bits of the mask."""
    roots, masks = np.asarray(roots, dtype=np.int64), np.asarray(masks, dtype=np.int64)
    out = np.zeros((*roots.shape, CHORD_FEATURES), dtype=np.float32)  # (K, 24)
    has = roots != NO_CHORD
    out[has, roots[has]] = 1.0
    out[..., 12:] = (masks[..., None] >> np.arange(12)) & 1
    return out


BEAT_POSITIONS = round(BEAT / 0.25)  # sixteenths in a beat: where an onset can fall inside one
STEP_FEATURES = CHORD_FEATURES + BEAT_POSITIONS


def step_features(progression: Progression, onsets: np.ndarray) -> np.ndarray:
    """What a chord model reads beside each token about the event it draws: (K, 28) float32.

    The chord under the event's onset (`chord_features`, 24), then where in the beat the onset falls, a one-hot
    of its sixteenth (4): on the beat a melody mostly sounds a chord tone, between beats it mostly passes.
    """
    onsets = np.asarray(onsets, dtype=np.float64)
    position = np.round((onsets % BEAT) / 0.25).astype(np.int64) % BEAT_POSITIONS  # (K,)
    out = np.zeros((len(onsets), STEP_FEATURES), dtype=np.float32)  # (K, 28)
    out[:, :CHORD_FEATURES] = progression.features(onsets)
    out[np.arange(len(onsets)), CHORD_FEATURES + position] = 1.0
    return out


def parse_progression(
    text: str, beats_per_chord: float | None = None, beats_per_bar: int = 4, flag: str = "--chords"
) -> tuple[list[Chord | None], Progression]:
    """'C G/B Am F | Dm G C C' -> (the chords as written, one chord per beat).

    Every chord lasts `beats_per_chord` beats, by default a bar (`beats_per_bar`): eight chords make eight bars,
    long enough for a melody to go somewhere (a lead sheet's four chords in a bar would give it a beat each).
    Bar lines '|' only group the chords for reading. 'N.C.' (or NC) is a chord's length with no chord.
    Raises RnnkitError with a one-line message naming a bad symbol or an empty bar (and `flag`, the input).
    """
    bars = [bar.split() for bar in text.replace(",", " ").split("|")]
    if not any(bars):
        raise RnnkitError(f"{flag} {text!r}: no chord symbols")
    if beats_per_chord is not None and not (beats_per_chord > 0 and float(beats_per_chord).is_integer()):
        raise RnnkitError(f"--beats-per-chord must be a whole number of beats >= 1, got {beats_per_chord:g}")
    written: list[Chord | None] = []
    beats: list[Chord | None] = []
    for b, bar in enumerate(bars, start=1):
        if not bar:
            if 1 < b < len(bars):
                raise RnnkitError(f"{flag} {text!r}: bar {b} is empty")
            continue
        per = beats_per_bar if beats_per_chord is None else beats_per_chord
        for symbol in bar:
            if symbol.upper() in NO_CHORD_SYMBOLS:
                chord = None
            else:
                try:
                    chord = parse_chord(symbol)
                except ValueError as e:
                    raise RnnkitError(f"{flag}: {e}") from None
            written.append(chord)
            beats += [chord] * int(per)
    return written, Progression.from_chords(beats)


# ---------------------------------------------------------------------------------------------- derivation

# the derivation's weights, chosen on the first chorales against their human analyses (benchmarks/chords.py)
OUTSIDE_PENALTY = 0.6  # how much the weight of pitch classes outside a template counts against it
BASS_WEIGHT = 1.0  # extra weight of the lowest sounding note, per quarter length
ONSET_WEIGHT = 0.5  # extra weight of notes sounding at the beat's start
ROOT_IN_BASS = 0.3  # bonus, per quarter length, when the bass is the template's root


def _template_matrix() -> tuple[np.ndarray, list[tuple[int, str]]]:
    rows, labels = [], []
    for quality in TEMPLATES:
        for root in range(12):
            row = np.zeros(12)
            row[[(root + s) % 12 for s in QUALITIES[quality]]] = 1.0
            rows.append(row)
            labels.append((root, quality))
    return np.array(rows), labels  # (60, 12)


_TEMPLATES, _LABELS = _template_matrix()


def beat_profiles(
    onsets: np.ndarray, ends: np.ndarray, pitches: np.ndarray, n_beats: int, start: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Pitch-class weights and bass weights of each beat: (n_beats, 12) twice.

    Notes are (onset, end, MIDI pitch) in quarter lengths; beat k covers [start + k, start + k + 1). The
    moments between consecutive note boundaries are chordify's slices: in each, the lowest sounding pitch is
    the bass.
    """
    onsets = np.asarray(onsets, dtype=np.float64) - start  # (N,)
    ends = np.asarray(ends, dtype=np.float64) - start  # (N,)
    pitches = np.asarray(pitches, dtype=np.int64)  # (N,)
    weights = np.zeros((n_beats, 12))
    bass = np.zeros((n_beats, 12))
    grid = np.arange(n_beats + 1) * BEAT  # beat boundaries
    cuts = np.unique(np.concatenate([grid, np.clip(onsets, 0, grid[-1]), np.clip(ends, 0, grid[-1])]))
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):  # the slices, each inside one beat
        sounding = (onsets < hi - 1e-9) & (ends > lo + 1e-9)
        if not sounding.any():
            continue
        k = min(int(lo / BEAT + 1e-9), n_beats - 1)
        pcs = pitches[sounding] % 12
        np.add.at(weights[k], pcs, hi - lo)
        if abs(lo - k * BEAT) < 1e-9:  # sounding at the beat's start
            np.add.at(weights[k], pcs, ONSET_WEIGHT)
        bass[k, pitches[sounding].min() % 12] += hi - lo
    return weights, bass


def best_chords(weights: np.ndarray, bass: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best template of each beat's profile: roots (N,) and masks (N,); silent beats repeat the previous."""
    total = weights + BASS_WEIGHT * bass  # (N, 12)
    inside = total @ _TEMPLATES.T  # (N, 60)
    outside = total.sum(axis=1, keepdims=True) - inside  # (N, 60)
    roots = np.array([r for r, _ in _LABELS])  # (60,)
    score = inside - OUTSIDE_PENALTY * outside + ROOT_IN_BASS * bass[:, roots]  # (N, 60)
    best = np.argmax(score - 1e-9 * np.arange(len(_LABELS)), axis=1)  # ties: the first (simplest, lowest root)
    out_roots = np.full(len(weights), NO_CHORD, dtype=np.int64)
    out_masks = np.zeros(len(weights), dtype=np.int64)
    prev = (NO_CHORD, 0)
    for k, j in enumerate(best):
        if total[k].sum() > 0:
            root, quality = _LABELS[j]
            prev = (root, pc_mask((root + s) for s in QUALITIES[quality]))
        out_roots[k], out_masks[k] = prev
    first = np.flatnonzero(out_roots != NO_CHORD)
    if first.size:  # silent beats at the start take the first chord
        out_roots[: first[0]], out_masks[: first[0]] = out_roots[first[0]], out_masks[first[0]]
    return out_roots, out_masks


def derive_progression(
    onsets: Sequence[float] | np.ndarray,
    ends: Sequence[float] | np.ndarray,
    pitches: Sequence[int] | np.ndarray,
    total_beats: float,
    start: float = 0.0,
) -> Progression:
    """The chord of every beat of [start, start + total_beats) from the notes of all voices (see module doc)."""
    n_beats = max(1, int(np.ceil(total_beats / BEAT - 1e-9)))
    weights, bass = beat_profiles(onsets, ends, pitches, n_beats, start)
    return Progression(*best_chords(weights, bass))


def chord_tone_counts(melody, progression: Progression) -> np.ndarray:
    """What `chord_tone_ratios` divides, for pooling over pieces: (8,) float64.

    [notes judged, of them chord tones, on-beat notes, chord tones, off-beat notes, chord tones, beats of notes
    judged, beats on chord tones]. A note is judged by the chord at its onset; by duration each stretch of a
    note is judged by the chord it sounds over. Notes over no chord are left out.
    """
    pitches = np.asarray(melody.pitches)
    durations = np.asarray(melody.durations, dtype=np.float64)
    onsets = np.concatenate([[0.0], np.cumsum(durations)[:-1]])  # (T,)
    notes = pitches >= 0
    roots, masks = progression.at(onsets)
    judged = notes & (roots != NO_CHORD)
    tone = (masks >> (np.where(notes, pitches, 0) % 12)) & 1 == 1  # (T,)
    on_beat = np.abs(onsets / BEAT - np.round(onsets / BEAT)) < 1e-9
    inside = total = 0.0
    for t in np.flatnonzero(notes):  # by duration: split each note at the beats it crosses
        lo, hi = onsets[t], onsets[t] + durations[t]
        cuts = np.concatenate([[lo], np.arange(np.floor(lo / BEAT) + 1, np.ceil(hi / BEAT - 1e-9)) * BEAT, [hi]])
        r, m = progression.at(cuts[:-1])
        covered = r != NO_CHORD
        lengths = np.diff(cuts)
        total += lengths[covered].sum()
        inside += lengths[covered & ((m >> (int(pitches[t]) % 12)) & 1 == 1)].sum()
    on, off = judged & on_beat, judged & ~on_beat
    return np.array(
        [judged.sum(), tone[judged].sum(), on.sum(), tone[on].sum(), off.sum(), tone[off].sum(), total, inside],
        dtype=np.float64,
    )


def ratios_from_counts(counts: np.ndarray) -> dict[str, float]:
    """The four ratios (count, duration, on_beat, off_beat; nan with nothing to judge) and the notes judged."""

    def div(a: float, b: float) -> float:
        return float(a / b) if b else float("nan")

    c = counts
    return {
        "count": div(c[1], c[0]),
        "duration": div(c[7], c[6]),
        "on_beat": div(c[3], c[2]),
        "off_beat": div(c[5], c[4]),
        "notes": int(c[0]),
    }


def chord_tone_ratios(melody, progression: Progression) -> dict[str, float]:
    """Share of the melody's notes whose pitch class is in the chord under them (see `chord_tone_counts`):
    by count, by duration, and by count for the notes on a beat and off it; and how many notes were judged."""
    return ratios_from_counts(chord_tone_counts(melody, progression))


def pooled_chord_tone_ratios(melodies: Sequence, progressions: Sequence[Progression]) -> dict[str, float]:
    """`chord_tone_ratios` over many pieces, every note counting once (not an average of per-piece ratios)."""
    counts = sum((chord_tone_counts(m, p) for m, p in zip(melodies, progressions, strict=True)), np.zeros(8))
    return ratios_from_counts(counts)
