"""MIDI in and out with mido, plus a piano-roll picture and WAV rendering through FluidSynth.

Reading: time is measured in beats (ticks / ticks_per_beat), so tempo changes move no note in the melody;
the first tempo (120 bpm when the file sets none, as the MIDI standard says) is kept as `tempo_bpm` for
writing the result back. Drums (MIDI channel 10, mido channel 9) are never the melody. The melody is the
given track, or by default the non-drum track (the channel, in a type-0 file) with the highest mean pitch;
it is made monophonic and put on the sixteenth grid by `tokens.events_from_notes`, and its key is estimated
with `tokens.estimate_key`. The other non-drum tracks (channels, in a type-0 file) are the accompaniment: when
there is one, the melody gets the chord of every beat derived from it (`chords.derive_progression`).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import subprocess
import tempfile
import warnings
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import mido
import numpy as np

from rnnkit.errors import DataError, RnnkitError
from rnnkit.music.chords import BEAT, NO_CHORD, Chord, Progression, derive_progression, mask_pcs
from rnnkit.music.corpus import write_atomic
from rnnkit.music.tokens import GRID, REST, Event, Melody, estimate_key, events_from_notes, pitch_name

DRUM_CHANNEL = 9  # General MIDI channel 10, counted from 0 as mido does
# tempos written: a MIDI set_tempo holds 1..0xFFFFFF microseconds per beat (3.6 bpm and up); beyond 1000 bpm a
# melody is a blur. A file's first tempo outside this range is read as the nearest end of it.
MIN_BPM, MAX_BPM = 4.0, 1000.0
MIDI_SUFFIXES = (".mid", ".midi")

# General MIDI program numbers (0-based, as in program_change messages) for a few common instruments.
GM_INSTRUMENTS: dict[str, int] = {
    "piano": 0,
    "acoustic grand piano": 0,
    "bright piano": 1,
    "electric piano": 4,
    "harpsichord": 6,
    "celesta": 8,
    "glockenspiel": 9,
    "music box": 10,
    "vibraphone": 11,
    "marimba": 12,
    "xylophone": 13,
    "organ": 19,  # church organ, for chorales
    "church organ": 19,
    "drawbar organ": 16,
    "accordion": 21,
    "harmonica": 22,
    "guitar": 24,  # acoustic guitar (nylon)
    "nylon guitar": 24,
    "steel guitar": 25,
    "jazz guitar": 26,
    "electric guitar": 27,
    "bass": 32,
    "acoustic bass": 32,
    "violin": 40,
    "viola": 41,
    "cello": 42,
    "contrabass": 43,
    "harp": 46,
    "strings": 48,
    "choir": 52,
    "voice": 53,
    "trumpet": 56,
    "trombone": 57,
    "tuba": 58,
    "french horn": 60,
    "soprano sax": 64,
    "alto sax": 65,
    "saxophone": 65,
    "tenor sax": 66,
    "oboe": 68,
    "english horn": 69,
    "bassoon": 70,
    "clarinet": 71,
    "piccolo": 72,
    "flute": 73,
    "recorder": 74,
    "pan flute": 75,
    "ocarina": 79,
}

# Where General MIDI soundfonts are installed by Debian/Ubuntu/Fedora/Arch packages and by hand.
SOUNDFONT_DIRS = (
    "/usr/share/sounds/sf2",
    "/usr/share/sounds/sf3",
    "/usr/share/soundfonts",
    "/usr/local/share/soundfonts",
    "~/.local/share/soundfonts",
)
PREFERRED_SOUNDFONTS = ("FluidR3_GM.sf2", "TimGM6mb.sf2", "default-GM.sf2", "FluidR3_GM.sf3", "default-GM.sf3")
INSTALL_HINT = (
    "install them with `apt-get install fluidsynth timgm6mb-soundfont` (or fluid-soundfont-gm), "
    "or set RNNKIT_SOUNDFONT to a General MIDI .sf2 file"
)


class MidiError(DataError, ValueError):
    """A MIDI file that cannot be read as a melody; the one-line message names the file."""


class RenderError(RnnkitError, RuntimeError):
    """Audio rendering is unavailable (no fluidsynth, no soundfont) or failed."""


def instrument_program(name_or_number: str | int) -> int:
    """General MIDI program 0..127 for a name in GM_INSTRUMENTS ("violin", "Church Organ") or a number."""
    if isinstance(name_or_number, str) and name_or_number.strip().isdigit():
        name_or_number = int(name_or_number)
    if isinstance(name_or_number, (int, np.integer)) and not isinstance(name_or_number, bool):
        if 0 <= name_or_number <= 127:
            return int(name_or_number)
        raise ValueError(f"General MIDI program must be 0..127, got {name_or_number}")
    name = " ".join(str(name_or_number).lower().replace("_", " ").replace("-", " ").split())
    if name not in GM_INSTRUMENTS:
        known = ", ".join(("piano", "violin", "flute", "clarinet", "trumpet", "cello", "organ", "choir"))
        raise ValueError(f"unknown instrument {name_or_number!r}: use a program number 0..127 or one of {known}, ...")
    return GM_INSTRUMENTS[name]


# ------------------------------------------------------------------------------------------- reading


def _open_midi(path: Path) -> mido.MidiFile:
    if not path.is_file():
        raise MidiError(f"{path}: no such file")
    return _parse_midi(lambda: mido.MidiFile(path), str(path))


def _parse_midi(open_file, label: str) -> mido.MidiFile:
    """open_file() -> MidiFile, its failures as one-line MidiErrors that name `label`."""
    try:
        mid = open_file()
    except OSError as e:
        reason = "not a MIDI file (no MThd header)" if "MThd" in str(e) else f"cannot read ({e})"
        raise MidiError(f"{label}: {reason}") from None
    except EOFError:
        raise MidiError(f"{label}: truncated or corrupt MIDI file (it ends inside a chunk)") from None
    except Exception as e:  # mido's parser meets any bytes: KeyError, ValueError, KeySignatureError ...
        detail = " ".join(str(e).split()) or type(e).__name__
        raise MidiError(f"{label}: corrupt MIDI file ({detail})") from None
    if mid.type not in (0, 1, 2) or not 0 < mid.ticks_per_beat < 0x8000:
        raise MidiError(f"{label}: not a usable MIDI file (type {mid.type}, {mid.ticks_per_beat} ticks per beat)")
    return mid


def _melody_from_midifile(mid: mido.MidiFile, label: str, track: int | None = None) -> Melody:
    """The melody of an open MidiFile, with the chords of its accompaniment when it has one."""
    melody, accompaniment, start = _melody_and_accompaniment(mid, label, track)
    if accompaniment is None:
        return melody
    return dataclasses.replace(melody, chords=derive_progression(*accompaniment, melody.total_beats, start))


def _melody_and_accompaniment(mid: mido.MidiFile, label: str, track: int | None = None):
    """The melody of an open MidiFile (`label` names the file in error messages), without chords; the other
    non-drum notes as (onsets, ends, pitches) in beats, or None when there are none; the melody's first onset.
    """
    if track is not None and not 0 <= track < len(mid.tracks):
        raise MidiError(f"{label}: there is no track {track} (the file has {len(mid.tracks)} tracks)")
    notes = []  # (track, channel, start tick, end tick, pitch)
    tempo, time_sig = None, None  # (tick, value) of the first of each
    for ti, trk in enumerate(mid.tracks):
        tick = 0
        sounding: dict[tuple[int, int], list[int]] = defaultdict(list)  # (channel, pitch) -> start ticks
        for msg in trk:
            tick += msg.time
            if msg.type == "set_tempo" and (tempo is None or tick < tempo[0]):
                tempo = (tick, mido.tempo2bpm(msg.tempo))
            elif msg.type == "time_signature" and (time_sig is None or tick < time_sig[0]):
                if valid_time_signature(msg.numerator, msg.denominator):  # 0/4 and the like are ignored
                    time_sig = (tick, (msg.numerator, msg.denominator))
            elif msg.type == "note_on" and msg.velocity > 0:
                sounding[msg.channel, msg.note].append(tick)
            elif msg.type in ("note_on", "note_off") and sounding[msg.channel, msg.note]:
                notes.append((ti, msg.channel, sounding[msg.channel, msg.note].pop(0), tick, msg.note))
        for (ch, p), starts in sounding.items():  # notes never switched off end with their track
            notes.extend((ti, ch, s, tick, p) for s in starts)
    if not notes:
        raise MidiError(f"{label}: no notes")
    every = [n for n in notes if n[1] != DRUM_CHANNEL]
    if track is not None:
        notes = [n for n in notes if n[0] == track]
        if not notes:
            raise MidiError(f"{label}: track {track} has no notes")
    pitched = [n for n in notes if n[1] != DRUM_CHANNEL]
    if not pitched:
        raise MidiError(f"{label}: only drums (channel 10), no melody to read")
    if track is None:
        groups: dict[int, list] = defaultdict(list)  # by track, or by channel in a single-track file
        for n in pitched:
            groups[n[1] if mid.type == 0 else n[0]].append(n)
        pitched = max(groups.values(), key=lambda g: np.mean([n[4] for n in g]))
    tpb = mid.ticks_per_beat
    _, _, starts, ends, pitches = zip(*pitched, strict=True)
    events = events_from_notes(np.array(starts) / tpb, pitches, np.array(ends) / tpb)
    bpm = min(MAX_BPM, max(MIN_BPM, round(tempo[1], 3))) if tempo else 120.0
    melody = Melody.from_events(events, piece_id=Path(label).stem, tempo_bpm=bpm)
    melody = dataclasses.replace(
        melody,
        key=estimate_key(melody.pitches, melody.durations),
        time_signature=time_sig[1] if time_sig else (4, 4),
    )
    chosen = set(pitched)
    others = [n for n in every if n not in chosen]
    accompaniment = None
    if others:
        _, _, a_on, a_end, a_pitch = (np.array(x) for x in zip(*others, strict=True))
        accompaniment = (a_on / tpb, a_end / tpb, a_pitch)
    return melody, accompaniment, round(min(starts) / tpb / GRID) * GRID


def read_progression(path: str | os.PathLike, track: int | None = None) -> Progression:
    """The chord of every beat of a MIDI file's accompaniment, beat 0 at the file's start (`--chords-from`).

    The accompaniment is every non-drum part but the melody (`track`, or the highest); a file of one part is
    its own harmony. It lasts to the end of its last note. Raises MidiError (one line) for a file without notes.
    """
    path = Path(path)
    melody, accompaniment, start = _melody_and_accompaniment(_open_midi(path), str(path), track)
    if accompaniment is None:  # one part: the chords of the melody line's own notes
        onsets = start + np.concatenate([[0.0], np.cumsum(melody.durations)[:-1]])  # (T,)
        notes = melody.pitches != REST
        accompaniment = (onsets[notes], (onsets + melody.durations)[notes], melody.pitches[notes])
    onsets, ends, pitches = accompaniment
    return derive_progression(onsets, ends, pitches, float(ends.max()), 0.0)


def valid_time_signature(numerator: int, denominator: int) -> bool:
    """n/2^k with n and 2^k between 1 and 64: what a MIDI time_signature can say and a bar can be drawn from."""
    return 1 <= numerator <= 64 and 1 <= denominator <= 64 and denominator & (denominator - 1) == 0


def read_midi(path: str | os.PathLike, track: int | None = None) -> Melody:
    """The melody of a MIDI file; `track` indexes mid.tracks, None picks the highest non-drum part.

    Raises MidiError (one line naming the file) for a file that is missing, not MIDI, truncated or
    corrupt, or has no notes outside the drum channel.
    """
    path = Path(path)
    return _melody_from_midifile(_open_midi(path), str(path), track)


def read_midi_bytes(data: bytes, label: str = "upload.mid", track: int | None = None) -> Melody:
    """The melody of a MIDI file's contents (an upload), as `read_midi`; errors name `label`, not a path."""
    import io

    return _melody_from_midifile(_parse_midi(lambda: mido.MidiFile(file=io.BytesIO(data)), label), label, track)


def midi_to_events(mid: mido.MidiFile, track: int | None = None) -> list[Event]:
    """The events `read_midi` would give for an already open MidiFile."""
    return _melody_from_midifile(mid, mid.filename or "<MidiFile>", track).events


def _midi_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


def read_midi_paths(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    track: int | None = None,
) -> tuple[list[Melody], list[tuple[Path, str]]]:
    """Melodies of MIDI files and of every *.mid / *.midi below folders: (melodies, skipped).

    `track` is passed to `read_midi` for every file (None: the highest non-drum part).
    A file named directly must be readable (MidiError otherwise). Inside a folder a bad file is skipped
    with a warning and listed in `skipped` as (path, reason); a folder with no MIDI files, or none that
    can be read, raises MidiError. Piece ids are paths relative to the folder, without the suffix.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    melodies: list[Melody] = []
    skipped: list[tuple[Path, str]] = []
    for path in map(Path, paths):
        if path.is_file():
            melodies.append(read_midi(path, track))
            continue
        if not path.is_dir():
            raise MidiError(f"{path}: no such file or folder")
        files = _midi_files(path)
        if not files:
            raise MidiError(f"{path}: no MIDI files (*.mid, *.midi) in this folder")
        found = []
        for f in files:
            try:
                m = read_midi(f, track)
            except MidiError as e:
                skipped.append((f, str(e)))
                warnings.warn(f"skipped {e}", stacklevel=2)
                continue
            found.append(dataclasses.replace(m, piece_id=f.relative_to(path).with_suffix("").as_posix()))
        if not found:
            raise MidiError(f"{path}: none of its {len(files)} MIDI files could be read ({skipped[-1][1]})")
        melodies.extend(found)
    return melodies, skipped


# ------------------------------------------------------------------------------------------- writing


def write_midi(
    events: Melody | Iterable[Event],
    path: str | os.PathLike,
    tempo_bpm: float = 120.0,
    time_signature: tuple[int, int] = (4, 4),
    instrument: str | int = 0,
    key_shift: int = 0,
    ticks_per_beat: int = 480,
    velocity: int = 80,
    chords: Progression | None = None,
    chord_instrument: str | int = "strings",
) -> mido.MidiFile:
    """Write events as a type-1 Standard MIDI File, atomically, and return it.

    Track 0 (conductor) holds track_name, time_signature and set_tempo; track 1 holds the melody:
    track_name, program_change (`instrument`: GM program or name), note_on/note_off pairs on channel 1,
    and end_of_track after the last event, so a final rest keeps its length. Pitches move by `key_shift`.
    With `chords` (one per beat, already in the melody's key), track 2 voices them as block chords on channel 2
    with `chord_instrument` (`chord_blocks`), each held while it lasts, quieter than the melody.
    """
    if chords is not None:
        chord_program = instrument_program(chord_instrument)
    events = events.events if isinstance(events, Melody) else [(int(p), float(d)) for p, d in events]
    num, den = (int(x) for x in time_signature)
    if not valid_time_signature(num, den):
        raise ValueError(f"time signature must be n/2^k (1..64 each), got {num}/{den}")
    if not MIN_BPM <= tempo_bpm <= MAX_BPM:
        raise ValueError(f"tempo must be between {MIN_BPM:g} and {MAX_BPM:g} bpm, got {tempo_bpm}")
    program = instrument_program(instrument)

    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name="rnnkit", time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=num, denominator=den, time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))
    conductor.append(mido.MetaMessage("end_of_track", time=0))

    melody = mido.MidiTrack()
    melody.append(mido.MetaMessage("track_name", name="melody", time=0))
    melody.append(mido.Message("program_change", channel=0, program=program, time=0))
    beat, last_tick = 0.0, 0  # ticks come from the running beat count, so rounding never accumulates
    for t, (pitch, dur) in enumerate(events):
        if not dur > 0:
            raise ValueError(f"event {t}: duration must be positive, got {dur}")
        start, end = round(beat * ticks_per_beat), round((beat + dur) * ticks_per_beat)
        beat += dur
        if pitch == REST:
            continue
        note = pitch + int(key_shift)
        if not 0 <= note <= 127:
            raise ValueError(f"event {t}: pitch {pitch} shifted by {key_shift} leaves the MIDI range 0..127")
        melody.append(mido.Message("note_on", channel=0, note=note, velocity=velocity, time=start - last_tick))
        melody.append(mido.Message("note_off", channel=0, note=note, velocity=0, time=end - start))
        last_tick = end
    melody.append(mido.MetaMessage("end_of_track", time=round(beat * ticks_per_beat) - last_tick))

    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    mid.tracks.extend([conductor, melody])
    if chords is not None:
        mid.tracks.append(_chord_track(chords, chord_program, ticks_per_beat, max(1, velocity - 25), beat))
    write_atomic(path, lambda fh: mid.save(file=fh))
    return mid


def voice_chord(root: int, mask: int, bass: int | None = None) -> list[int]:
    """Block-chord voicing: the bass (a slash chord's, else the root) in C2..B2, every chord tone once in C3..B3,
    below the melody. The first pitch is the lowest."""
    return [36 + (root if bass is None else bass) % 12] + [48 + pc for pc in mask_pcs(mask)]


def chord_blocks(chords: Progression) -> list[tuple[float, float, list[int], Chord]]:
    """(start beat, end beat, MIDI pitches, chord) of each chord, a run of equal beats held as one; no-chord beats
    rest."""
    roots, masks, basses = chords.arrays()
    beats = list(zip(roots, masks, basses, strict=True))
    blocks: list[tuple[float, float, list[int], Chord]] = []
    k = 0
    while k < len(beats):
        j = k
        while j + 1 < len(beats) and beats[j + 1] == beats[k]:
            j += 1
        root, mask, bass = beats[k]
        if root != NO_CHORD:
            chord = Chord.from_mask(root, mask, bass)
            blocks.append((k * BEAT, (j + 1) * BEAT, voice_chord(root, mask, bass), chord))
        k = j + 1
    return blocks


def _chord_track(chords: Progression, program: int, tpb: int, velocity: int, melody_beats: float) -> mido.MidiTrack:
    """Track 2: the chords as held blocks on channel 2; at a shared tick every note_off comes before a note_on."""
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name="chords", time=0))
    track.append(mido.Message("program_change", channel=1, program=program, time=0))
    timed = []  # (tick, 0 = off / 1 = on, pitch)
    for start, end, pitches, _ in chord_blocks(chords):
        for p in pitches:
            timed += [(round(start * tpb), 1, p), (round(end * tpb), 0, p)]
    last = 0
    for tick, on, p in sorted(timed):
        kind, vel = ("note_on", velocity) if on else ("note_off", 0)
        track.append(mido.Message(kind, channel=1, note=p, velocity=vel, time=tick - last))
        last = tick
    end = round(max(melody_beats, chords.total_beats) * tpb)
    track.append(mido.MetaMessage("end_of_track", time=end - last))
    return track


# ------------------------------------------------------------------------------------ picture, audio


def render_piano_roll(
    events: Melody | Iterable[Event],
    path: str | os.PathLike,
    title: str | None = None,
    time_signature: tuple[int, int] = (4, 4),
    chords: Progression | None = None,
) -> Path:
    """Draw events as a piano roll PNG: beats on x (bar lines dotted), pitches on y named at every C.

    With `chords`, their block voicing (`chord_blocks`) is drawn too, in orange under the melody's blue, each
    block named by its symbol.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: only pictures need matplotlib
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    events = events.events if isinstance(events, Melody) else [(int(p), float(d)) for p, d in events]
    onsets = np.concatenate([[0.0], np.cumsum([d for _, d in events])])  # (T + 1,)
    notes = [(on, d, p) for on, (p, d) in zip(onsets, events, strict=False) if p != REST]
    fig = Figure(figsize=(max(6.0, min(24.0, onsets[-1] / 4)), 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    blocks = chord_blocks(chords) if chords is not None else []
    for start, end, pitches, chord in blocks:
        for p in pitches:
            block = Rectangle((start, p - 0.4), end - start, 0.8, facecolor="tab:orange", alpha=0.6, edgecolor="white")
            ax.add_patch(block)
        ax.text(start + 0.05, max(pitches) + 1.0, chord.symbol, fontsize=7, color="tab:brown")
    for on, d, p in notes:
        ax.add_patch(Rectangle((on, p - 0.4), d, 0.8, facecolor="tab:blue", edgecolor="black", linewidth=0.5))
    shown = [n[2] for n in notes] + [p for b in blocks for p in b[2]]
    lo, hi = (min(shown) - 2, max(shown) + 3) if shown else (58, 74)
    end = max(onsets[-1], blocks[-1][1] if blocks else 0.0)
    ax.set_xlim(0, max(end, 1.0))
    ax.set_ylim(lo, hi)
    ticks = [p for p in range(lo, hi + 1) if p % 12 == 0] if hi - lo > 16 else list(range(lo, hi + 1))
    ax.set_yticks(ticks, [pitch_name(p) for p in ticks])
    bar = time_signature[0] * 4 / time_signature[1]
    for x in np.arange(bar, onsets[-1], bar):
        ax.axvline(x, color="0.8", linewidth=0.6, linestyle=":")
    ax.set_xlabel("beats (quarter notes)")
    ax.set_ylabel("pitch")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    write_atomic(path, lambda fh: fig.savefig(fh, format="png"))
    return Path(path)


def find_soundfont() -> Path:
    """A General MIDI soundfont: $RNNKIT_SOUNDFONT, else the first one found in SOUNDFONT_DIRS."""
    env = os.environ.get("RNNKIT_SOUNDFONT")
    if env:
        if not Path(env).is_file():
            raise RenderError(f"RNNKIT_SOUNDFONT={env} is not a file; {INSTALL_HINT}")
        return Path(env)
    found = []
    for d in SOUNDFONT_DIRS:
        d = os.path.expanduser(d)
        found += sorted(glob.glob(os.path.join(d, "*.sf2")) + glob.glob(os.path.join(d, "*.sf3")))
    for name in PREFERRED_SOUNDFONTS:
        for f in found:
            if os.path.basename(f) == name:
                return Path(f)
    if found:
        return Path(found[0])
    raise RenderError(f"no General MIDI soundfont found in {', '.join(SOUNDFONT_DIRS)}; {INSTALL_HINT}")


def check_renderer(soundfont: str | os.PathLike | None = None) -> tuple[str, Path]:
    """The fluidsynth program and the soundfont `render_wav` would use; RenderError, with a hint, if either is
    missing."""
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RenderError(f"fluidsynth is not installed (needed to write audio); {INSTALL_HINT}")
    if soundfont is None:
        return exe, find_soundfont()
    if Path(soundfont).is_file():
        return exe, Path(soundfont)
    raise RenderError(f"soundfont {soundfont} is not a file; {INSTALL_HINT}")


def render_wav(
    midi_path: str | os.PathLike,
    wav_path: str | os.PathLike,
    soundfont: str | os.PathLike | None = None,
    sample_rate: int = 44100,
    timeout: float = 300.0,
) -> Path:
    """Render a MIDI file to WAV with the fluidsynth program (`fluidsynth -ni -F out.wav -r 44100 SF in.mid`).

    Raises RenderError, with an install hint, when fluidsynth or a soundfont is missing or rendering fails.
    """
    exe, sf = check_renderer(soundfont)
    if not Path(midi_path).is_file():
        raise RenderError(f"{midi_path}: no such MIDI file")
    wav_path = Path(wav_path)
    fd, tmp = tempfile.mkstemp(dir=wav_path.parent, prefix=f".{wav_path.name}.", suffix=".wav")
    os.close(fd)
    try:
        # absolute paths: a file name that starts with '-' would read as an option
        cmd = [exe, "-ni", "-F", os.path.abspath(tmp), "-r", str(int(sample_rate)), os.path.abspath(sf)]
        cmd.append(os.path.abspath(midi_path))
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0 or os.path.getsize(tmp) <= 44:  # 44 bytes: a WAV header and no samples
            detail = " ".join((proc.stderr or proc.stdout).split())[-300:]
            raise RenderError(f"fluidsynth could not render {midi_path} (exit {proc.returncode}): {detail}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, wav_path)
    except subprocess.TimeoutExpired:
        raise RenderError(f"fluidsynth took longer than {timeout:g} s to render {midi_path}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return wav_path
