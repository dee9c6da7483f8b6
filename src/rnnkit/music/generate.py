"""Writing new melodies with a trained model: the seed's music_inference_model, batched, then MIDI out.

Generation starts from the boundary token (the start of a piece) or from a primer melody read once, and then
feeds each drawn token back as the next input for `steps` steps, carrying the recurrent state (x_t = y_{t-1}).
The boundary is never drawn, so a melody has exactly `steps` events. `greedy` takes the argmax at every step
(the seed's inference model); the default draws from the softmax at a temperature, optionally from the top k.

Over a progression (`generate_over`) a melody instead lasts as many beats as the chords: events too long for
what is left are never drawn, and a melody ends when it fills the last beat. A model trained with chords reads,
beside each token, the chord at the onset of the event it draws; the baseline model draws the same way, deaf to
them. The chords are moved to C major / A minor with the melody (the key they suggest, `Progression.key`), and
both move back when written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.lm.model import TokenModel
from rnnkit.lm.sample import continue_ids, next_ids
from rnnkit.lm.vocab import BOUNDARY_ID
from rnnkit.music.chords import Progression, parse_progression, step_features
from rnnkit.music.config import CHORD_TEMPERATURE
from rnnkit.music.tokens import (
    C_MAJOR,
    GRID,
    REST,
    Event,
    Key,
    Melody,
    estimate_key,
    key_shift,
    pitch_name,
    split_duration,
    transpose,
    transpose_to_c,
)

EVENT_BYTES = 400  # one generated event on its way to a file: its id, its (pitch, duration), two MIDI messages


@dataclass(frozen=True)
class Written:
    """The files written for one melody (png and wav are None unless asked for)."""

    midi: Path
    png: Path | None
    wav: Path | None
    melody: Melody  # as written: in the output key, with its tempo


def format_events(events: list[Event], limit: int | None = None) -> str:
    """'G4:1 G4:2 D5:1 rest:0.5': pitch name and beats of each event (the first `limit`)."""
    shown = events if limit is None else events[:limit]
    text = " ".join(f"{pitch_name(p)}:{d:g}" for p, d in shown)
    return text + (" ..." if limit is not None and len(events) > limit else "")


def numbered_paths(path: str | os.PathLike, n: int) -> list[Path]:
    """[path] for one melody; song.mid -> song-1.mid ... song-n.mid for n > 1."""
    path = Path(path)
    if n == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(1, n + 1)]


class MelodyGenerator:
    """A trained melody model with its vocabulary and what the run knows about its data.

    Parameters
    ----------
    model : TokenModel
    vocab : rnnkit.music.tokens.Vocabulary
    transposed : whether the model was trained on melodies moved to C major / A minor
    tempo_bpm, time_signature : defaults for the MIDI files written (from the training data)
    """

    def __init__(
        self, model: TokenModel, vocab, transposed: bool = True, tempo_bpm: float = 100.0, time_signature=(4, 4)
    ):
        self.model, self.vocab, self.transposed = model, vocab, transposed
        self.tempo_bpm, self.time_signature = float(tempo_bpm), tuple(time_signature)
        model.eval()

    @property
    def chords(self) -> bool:
        """Whether the model reads the chord under each event (trained with --chords)."""
        return self.model.context is not None

    @property
    def default_temperature(self) -> float:
        """CHORD_TEMPERATURE for a model that reads chords, else 1 (the softmax as trained)."""
        return CHORD_TEMPERATURE if self.chords else 1.0

    def progression(self, text: str, beats_per_chord: int | None = None, flag: str = "--chords") -> Progression:
        """The progression of chord symbols (`chords.parse_progression`), a chord a bar of the run's meter by
        default; `flag` names the input in the one-line errors ('--chords', or the API's 'chords')."""
        num, den = self.time_signature
        bar = num * 4 / den
        return parse_progression(text, beats_per_chord, int(bar) if float(bar).is_integer() else 4, flag)[1]

    # -- token ids -------------------------------------------------------------------------------------------
    def encode_primer(self, primer: Melody) -> tuple[np.ndarray, int]:
        """The primer's ids (unknown events mapped to the nearest token) and the shift that put it in C: (P,), s."""
        shift = 0
        if self.transposed:
            try:
                moved = transpose_to_c(primer)
            except ValueError as e:
                raise RnnkitError(f"--prime: {e}") from None
            shift = moved.transposition - primer.transposition
            primer = moved
        return self.vocab.encode(primer, unknown="nearest"), shift

    def generate_ids(
        self,
        n: int = 1,
        steps: int = 100,
        temperature: float = 1.0,
        greedy: bool = False,
        top_k: int | None = None,
        prime: np.ndarray | None = None,
        seed: int | None = None,
    ) -> np.ndarray:
        """n melodies of `steps` token ids each, drawn after the boundary and the primer ids: (n, steps)."""
        from rnnkit.config import check_seed, check_temperature
        from rnnkit.memory import require_memory

        if n < 1 or steps < 1:
            raise RnnkitError(f"-n and --steps must be >= 1, got {n} and {steps}")
        check_temperature(temperature)
        if top_k is not None and top_k < 1:
            raise RnnkitError(f"--top-k must be >= 1, got {top_k}")
        check_seed(seed)
        require_memory(n * steps * EVENT_BYTES, f"-n {n} melodies of --steps {steps}")
        greedy = greedy or temperature == 0
        rng = np.random.default_rng(seed)
        start = np.concatenate([[BOUNDARY_ID], [] if prime is None else prime]).astype(np.int64)  # (P+1,)
        out = np.empty((n, steps), dtype=np.int64)  # (n, steps)
        # a melody runs for all its steps: the boundary is never drawn
        drawn = continue_ids(self.model, start, n, steps, temperature, top_k, None, rng, greedy, banned=(BOUNDARY_ID,))
        for t, ids in enumerate(drawn):
            out[:, t] = ids
        return out

    def generate_over_ids(
        self,
        progression: Progression,
        n: int = 1,
        temperature: float | None = None,
        greedy: bool = False,
        top_k: int | None = None,
        seed: int | None = None,
    ) -> list[np.ndarray]:
        """n melodies' ids, each filling the progression's beats exactly (or up to a gap no token fits).

        The progression is in the model's key (C major / A minor for a transposed run). Returns n id arrays
        of their own lengths. `temperature` None: `default_temperature`.
        """
        from rnnkit.config import check_seed, check_temperature
        from rnnkit.memory import require_memory

        if n < 1:
            raise RnnkitError(f"-n must be >= 1, got {n}")
        temperature = self.default_temperature if temperature is None else temperature
        check_temperature(temperature)
        if top_k is not None and top_k < 1:
            raise RnnkitError(f"--top-k must be >= 1, got {top_k}")
        for part in seed if isinstance(seed, (list, tuple)) else [seed]:  # evaluation seeds [seed, piece]
            check_seed(part)
        require_memory(n * 4 * len(progression) * EVENT_BYTES, f"-n {n} melodies over {len(progression)} beats")
        if len(progression) == 0:
            raise RnnkitError("the progression has no beats")
        greedy = greedy or temperature == 0
        rng = np.random.default_rng(seed)
        total = progression.total_beats
        durations = np.array([np.inf] + [d for _, d in self.vocab.tokens])  # (V,) beats of each id; never the end
        onset = np.zeros(n)  # (n,) where each melody's next event starts

        def features() -> np.ndarray | None:  # the chord at each melody's next onset, and its place: (n, 28)
            return step_features(progression, onset) if self.chords else None

        first = None if not self.chords else features()[:1][None]  # (1, 1, 28)
        logits, states, _ = self.model.forward(np.array([[BOUNDARY_ID]]), None, None, first)  # (1, 1, V)
        logits = np.repeat(logits[-1], n, axis=0)  # (n, V)
        rows = np.zeros(n, dtype=np.int64)  # the first step: all n melodies continue the one state
        table = self.model.input_table()
        out: list[list[int]] = [[] for _ in range(n)]
        done = np.zeros(n, dtype=bool)
        for _ in range(int(round(total / GRID))):  # at most one sixteenth per event
            fits = durations[None, :] <= (total - onset)[:, None] + 1e-9  # (n, V)
            done |= ~fits.any(axis=1)  # a gap shorter than every token: ends here (written as a rest)
            if done.all():
                break
            logits = np.where(fits | done[:, None], logits, -np.inf)
            logits[:, BOUNDARY_ID] = -np.inf
            ids = next_ids(logits, temperature, top_k, None, rng, greedy)  # (n,)
            for b in np.flatnonzero(~done):
                out[b].append(int(ids[b]))
            onset = np.where(done, onset, onset + durations[np.where(done, 1, ids)])
            done |= onset >= total - 1e-9
            if done.all():
                break
            logits, states = self.model.step_logits(ids, states, table, rows, context=features())  # (n, V)
            rows = None  # from now on melody b continues state row b
        return [np.array(row, dtype=np.int64) for row in out]

    def key_of(self, progression: Progression) -> tuple[Progression, int]:
        """The progression moved to the model's key (C major / A minor when transposed), and by how much."""
        if not self.transposed:
            return progression, 0
        shift = key_shift(C_MAJOR, progression.key())
        return progression.transpose(shift), shift

    def generate_over(
        self,
        progression: Progression,
        n: int = 1,
        temperature: float | None = None,
        greedy: bool = False,
        top_k: int | None = None,
        seed: int | None = None,
    ) -> list[Melody]:
        """n melodies over a progression in any key, each as long as it (see `generate_over_ids`).

        The melodies come in the model's key with the moved chords attached; `transposition` records the move,
        so `write` (with no key) puts melody and chords back in the progression's key. A melody's `key` is the
        chords' (`Progression.key`), not a guess from its own few notes.
        """
        moved, shift = self.key_of(progression)
        found = progression.key()
        key = Key(found.tonic + shift, found.mode)  # in the model's key, as the melody
        melodies = []
        for row in self.generate_over_ids(moved, n, temperature, greedy, top_k, seed):
            events = self.vocab.decode(row)
            gap = moved.total_beats - sum(d for _, d in events)
            events += [(REST, d) for d in split_duration(gap)]  # only when no token fitted the last gap
            m = Melody.from_events(events, time_signature=self.time_signature, tempo_bpm=self.tempo_bpm)
            melodies.append(replace(m, key=key, transposition=shift, chords=moved))
        return melodies

    # -- melodies --------------------------------------------------------------------------------------------
    def generate(
        self,
        n: int = 1,
        steps: int = 100,
        temperature: float = 1.0,
        greedy: bool = False,
        top_k: int | None = None,
        prime: Melody | None = None,
        seed: int | None = None,
    ) -> list[Melody]:
        """n new melodies of `steps` events, in the model's key (C major / A minor for a transposed run).

        With `prime`, the melodies continue it (the primer itself is not included); each Melody's
        `transposition` is then minus the shift that moved the primer to C, so `original_key` is the primer's.
        """
        prime_ids, shift = (None, 0) if prime is None else self.encode_primer(prime)
        ids = self.generate_ids(n, steps, temperature, greedy, top_k, prime_ids, seed)
        melodies = []
        for row in ids:
            events = self.vocab.decode(row)
            m = Melody.from_events(events, time_signature=self.time_signature, tempo_bpm=self.tempo_bpm)
            melodies.append(replace(m, key=estimate_key(m.pitches, m.durations), transposition=shift))
        return melodies

    def output_shift(self, melody: Melody, key: Key | str | None) -> int:
        """Semitones that move a generated melody to `key` (None: back to the primer's key, if any)."""
        if key is None:
            return -melody.transposition
        key = Key.parse(key) if isinstance(key, str) else key
        return key_shift(key, C_MAJOR if self.transposed else melody.key)

    def write(
        self,
        melodies: list[Melody],
        out: str | os.PathLike,
        tempo_bpm: float | None = None,
        key: Key | str | None = None,
        instrument: str | int = 0,
        time_signature: tuple[int, int] | None = None,
        png: str | os.PathLike | None = None,
        wav: str | os.PathLike | None = None,
        chord_instrument: str | int = "strings",
    ) -> list[Written]:
        """Write each melody as MIDI (and a piano roll, and audio); n > 1 numbers the files (see numbered_paths).

        A melody with chords (from `generate_over`) gets a second track voicing them with `chord_instrument`,
        moved with the melody; the piano roll shows them and the audio plays them.
        """
        from rnnkit.music.midi import MAX_BPM, MIN_BPM, instrument_program, render_piano_roll, render_wav, write_midi

        if isinstance(key, str):
            try:
                key = Key.parse(key)
            except ValueError as e:
                raise RnnkitError(f"--key: {e}") from None
        for flag, value in (("--instrument", instrument), ("--chord-instrument", chord_instrument)):
            try:
                instrument_program(value)
            except ValueError as e:
                raise RnnkitError(f"{flag}: {e}") from None
        tempo = self.tempo_bpm if tempo_bpm is None else tempo_bpm
        if not MIN_BPM <= tempo <= MAX_BPM:
            raise RnnkitError(f"--tempo must be between {MIN_BPM:g} and {MAX_BPM:g} bpm, got {tempo}")
        n = len(melodies)
        mids = numbered_paths(out, n)
        pngs = numbered_paths(png, n) if png is not None else [None] * n
        wavs = numbered_paths(wav, n) if wav is not None else [None] * n
        for p in [*mids, *(p for p in pngs if p), *(w for w in wavs if w)]:
            if p.is_dir():
                raise RnnkitError(f"{p}: is a folder; name a file to write")
            if not p.parent.is_dir():
                raise RnnkitError(f"{p}: the folder {p.parent} does not exist")
        if wav is not None:
            from rnnkit.music.midi import check_renderer

            check_renderer()  # no MIDI file is written for audio that cannot be rendered
        placed_all = []  # every melody in its key first: a melody that cannot be moved there writes no file
        for melody in melodies:
            try:
                placed = transpose(melody, self.output_shift(melody, key))
            except ValueError as e:
                raise RnnkitError(str(e)) from None
            placed_all.append(replace(placed, tempo_bpm=tempo, time_signature=time_signature or melody.time_signature))
        written = []
        for placed, mid, roll, audio in zip(placed_all, mids, pngs, wavs, strict=True):
            write_midi(
                placed,
                mid,
                tempo_bpm=tempo,
                time_signature=placed.time_signature,
                instrument=instrument,
                chords=placed.chords,
                chord_instrument=chord_instrument,
            )
            if roll is not None:
                title = f"{mid.name}: {len(placed)} events, {placed.key.name}"
                render_piano_roll(placed, roll, title=title, time_signature=placed.time_signature, chords=placed.chords)
            if audio is not None:
                render_wav(mid, audio)
            written.append(Written(mid, roll, audio, placed))
        return written
