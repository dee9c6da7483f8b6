"""The music data layer: tokens, keys, vocabulary, MIDI in and out, corpus files, corpus preparation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import mido
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.errors import DataError
from rnnkit.music import midi
from rnnkit.music.corpus import load_bundled_bach, load_corpus, save_corpus
from rnnkit.music.midi import (
    MidiError,
    RenderError,
    instrument_program,
    midi_to_events,
    read_midi,
    read_midi_paths,
    render_piano_roll,
    render_wav,
    write_midi,
)
from rnnkit.music.tokens import (
    C_MAJOR,
    DURATIONS,
    REST,
    Key,
    Melody,
    UnknownTokenError,
    Vocabulary,
    estimate_key,
    events_from_notes,
    key_shift,
    quantize_duration,
    split_duration,
    transpose,
    transpose_to_c,
)

C_MAJOR_SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


def random_melody(rng: np.random.Generator, n: int = 40, key: Key = C_MAJOR, **meta) -> Melody:
    """A melody of n events with some single rests (never two in a row, never first or last)."""
    pitches = rng.integers(55, 80, size=n)
    odd = pitches[1:-1:2]  # a view: rests only at odd positions, so no two are adjacent
    odd[rng.random(odd.size) < 0.25] = REST
    durations = rng.choice(DURATIONS[:7], size=n)
    return Melody(pitches, durations, key=key, **meta)


def note_file(path: Path, tracks: list[list[tuple]], ticks_per_beat: int = 480, type: int = 1) -> Path:
    """A MIDI file whose tracks list notes (channel, pitch, start beat, end beat) and messages (tick, msg)."""
    mid = mido.MidiFile(type=type, ticks_per_beat=ticks_per_beat)
    for spec in tracks:
        timed = []
        for item in spec:
            if len(item) == 4:
                ch, p, on, off = item
                timed.append((round(off * ticks_per_beat), 0, mido.Message("note_off", channel=ch, note=p)))
                timed.append((round(on * ticks_per_beat), 1, mido.Message("note_on", channel=ch, note=p, velocity=90)))
            else:
                tick, msg = item
                timed.append((tick, -1, msg))
        track, last = mido.MidiTrack(), 0
        for tick, _, msg in sorted(timed, key=lambda x: (x[0], x[1])):
            track.append(msg.copy(time=tick - last))
            last = tick
        mid.tracks.append(track)
    mid.save(path)
    return path


def read_back(path: Path) -> list[tuple[int, float]]:
    """Events of a written file decoded with mido alone (not with rnnkit's reader): gaps become rests."""
    mid = mido.MidiFile(path)
    events, tick, last_end, start = [], 0, 0, {}
    for msg in mid.tracks[1]:
        tick += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            if tick > last_end:
                events.append((REST, (tick - last_end) / mid.ticks_per_beat))
            start[msg.note] = tick
        elif msg.type == "note_off" or msg.type == "note_on":
            events.append((msg.note, (tick - start.pop(msg.note)) / mid.ticks_per_beat))
            last_end = tick
        elif msg.type == "end_of_track" and tick > last_end:
            events.append((REST, (tick - last_end) / mid.ticks_per_beat))
    return events


# ------------------------------------------------------------------------------------------ tokens


def test_quantize_duration_picks_nearest_on_log_scale_and_clamps():
    """Lengths round to the nearest allowed value by ratio, not difference, and clamp at 0.25 and 8."""
    assert [quantize_duration(d) for d in DURATIONS] == list(DURATIONS)
    assert quantize_duration(1.3) == 1.5  # log2: 0.38 is nearer 0.58 (1.5) than 0 (1.0)
    assert quantize_duration(1.2) == 1.0
    assert quantize_duration(2.5) == 3.0
    assert quantize_duration(0.6) == 0.5
    assert quantize_duration(0.01) == 0.25
    assert quantize_duration(100.0) == 8.0
    with pytest.raises(ValueError):
        quantize_duration(0.0)


@given(st.integers(min_value=1, max_value=400))
def test_split_duration_sums_exactly_with_allowed_values(steps):
    """Any whole number of sixteenths splits into allowed durations, longest first, with the same sum."""
    parts = split_duration(steps * 0.25)
    assert sum(parts) == steps * 0.25
    assert all(d in DURATIONS for d in parts)
    assert parts == sorted(parts, reverse=True)


def test_events_from_notes_keeps_top_voice_onsets_and_rests():
    """Chords keep their top note, overlaps are cut at the next onset, gaps become rests on the grid."""
    onsets = [0.0, 0.0, 1.02, 2.0, 4.0]  # a chord at 0; 1.02 rounds to the grid; a gap after beat 2
    pitches = [60, 67, 64, 65, 62]
    ends = [1.0, 1.5, 2.5, 3.25, 5.0]  # 67 overlaps 64, 64 overlaps 65
    events = events_from_notes(onsets, pitches, ends)
    # 65 sounds 1.25 beats: it gets 1.0 (the longest allowed that fits) and the gap to beat 4 is a rest
    assert events == [(67, 1.0), (64, 1.0), (65, 1.0), (REST, 1.0), (62, 1.0)]
    starts = np.cumsum([0.0] + [d for _, d in events])[:-1]
    assert [s for s, (p, _) in zip(starts, events, strict=True) if p != REST] == [0.0, 1.0, 2.0, 4.0]


def test_key_parse_and_shift():
    """Key names read in several spellings; key_shift moves key signatures by at most a tritone."""
    assert Key.parse("F# major") == Key(6, "major")
    assert Key.parse("Bb minor") == Key(10, "minor") == Key.parse("bb") == Key.parse("B-m")
    assert Key.parse("Am") == Key(9, "minor")
    assert Key.parse("c") == Key(0, "minor")
    assert Key(10, "minor").name == "Bb minor"
    with pytest.raises(ValueError):
        Key.parse("H dorian")
    assert key_shift("D minor") == 5  # C major -> F major up a fourth, i.e. A minor -> D minor
    assert key_shift("C major", "A minor") == 0
    assert key_shift("G major") == -5 and key_shift("F# major") == 6 - 12
    assert all(-6 <= key_shift(Key(t, "major")) <= 5 for t in range(12))


def test_estimate_key_finds_scale_keys_in_every_transposition():
    """Krumhansl-Schmuckler finds C major for a C major tune and follows it through all 12 shifts."""
    tune = [60, 64, 67, 72, 71, 69, 67, 65, 64, 62, 60, 67, 60]
    durs = [1, 1, 1, 2, 0.5, 0.5, 1, 1, 1, 1, 2, 1, 4]
    assert estimate_key(tune, durs) == Key(0, "major")
    minor = [57, 60, 64, 69, 68, 69, 71, 72, 71, 69, 64, 57]  # A minor with its leading tone G#
    assert estimate_key(minor, [1] * 11 + [4]) == Key(9, "minor")
    for k in range(12):
        assert estimate_key(np.array(tune) + k, durs) == Key(k, "major")
    assert estimate_key([REST], [1.0]) == Key(0, "major")


def test_transpose_to_c_and_back():
    """Every key goes to C major or A minor by -6..+5 semitones, and transposing back restores the melody."""
    rng = np.random.default_rng(0)
    for tonic in range(12):
        for mode in ("major", "minor"):
            m = random_melody(rng, key=Key(tonic, mode), piece_id=f"k{tonic}{mode}")
            c = transpose_to_c(m)
            assert c.key == (Key(0, "major") if mode == "major" else Key(9, "minor"))
            assert -6 <= c.transposition <= 5 and c.original_key == m.key
            notes = m.pitches != REST
            assert np.array_equal(c.pitches[notes], m.pitches[notes] + c.transposition)
            assert np.array_equal(c.pitches[~notes], m.pitches[~notes])
            assert transpose(c, -c.transposition) == m


def test_transpose_out_of_midi_range_raises():
    """Moving a note above 127 is an error, not a silent wrap."""
    with pytest.raises(ValueError, match="MIDI range"):
        transpose(Melody([120, REST], [1.0, 1.0]), 12)


def test_vocabulary_round_trips_and_is_order_independent():
    """encode/decode and to_json/from_json round trip; ids do not depend on the order of the melodies."""
    rng = np.random.default_rng(1)
    melodies = [random_melody(rng) for _ in range(5)]
    vocab = Vocabulary.from_melodies(melodies)
    assert Vocabulary.from_melodies(melodies[::-1]) == vocab
    assert vocab.tokens == tuple(sorted(vocab.tokens)) and vocab.tokens[0][0] == REST
    for m in melodies:
        ids = vocab.encode(m)
        assert ids.dtype == np.int64 and ids.shape == (len(m),) and ids.min() >= 1
        assert vocab.decode([vocab.bos, *ids, vocab.eos]) == m.events
    loaded = Vocabulary.from_json(json.loads(json.dumps(vocab.to_json())))
    assert loaded == vocab and len(loaded) == len(vocab) == len(vocab.tokens) + 1
    with pytest.raises(DataError):
        Vocabulary.from_json({"chars": ["a"]})


def test_vocabulary_unknown_token_errors_or_maps_to_nearest():
    """An unseen event raises a clear error, or maps to the closest known token of the same kind."""
    vocab = Vocabulary.from_melodies([[(60, 1.0), (64, 0.5), (REST, 1.0)]])
    with pytest.raises(UnknownTokenError, match=r"event 1 \(C#4, 1 beats\) is not in the vocabulary"):
        vocab.encode([(60, 1.0), (61, 1.0)])
    ids = vocab.encode([(61, 1.0), (63, 0.5), (REST, 2.0)], unknown="nearest")
    assert vocab.decode(ids) == [(60, 1.0), (64, 0.5), (REST, 1.0)]


# ------------------------------------------------------------------------------------- MIDI writing


def test_write_midi_round_trips_pitches_durations_and_rests(tmp_path):
    """Events written to MIDI come back unchanged through mido and through read_midi, rests included."""
    rng = np.random.default_rng(2)
    m = random_melody(rng, n=60)
    events = [*m.events, (REST, 2.0)]  # a final rest is kept by end_of_track
    path = tmp_path / "out.mid"
    write_midi(events, path, tempo_bpm=90)
    assert read_back(path) == events
    back = read_midi(path)
    assert back.events == m.events  # read_midi drops trailing silence
    assert back.tempo_bpm == 90.0 and back.time_signature == (4, 4)
    assert midi_to_events(mido.MidiFile(path)) == m.events


def test_write_midi_has_conductor_program_and_paired_notes(tmp_path):
    """The file is type 1 with tempo and meter on track 0, a program change, and a note_off per note_on."""
    path = tmp_path / "song.mid"
    events = [(60, 1.0), (60, 1.0), (REST, 0.5), (67, 0.5), (64, 2.0)]
    write_midi(events, path, tempo_bpm=100, time_signature=(3, 4), instrument="violin", key_shift=2)
    mid = mido.MidiFile(path)
    assert mid.type == 1 and len(mid.tracks) == 2
    conductor = {m.type: m for m in mid.tracks[0]}
    assert mido.tempo2bpm(conductor["set_tempo"].tempo) == pytest.approx(100)
    assert (conductor["time_signature"].numerator, conductor["time_signature"].denominator) == (3, 4)
    assert [m.program for m in mid.tracks[1] if m.type == "program_change"] == [40]
    assert mid.tracks[1][-1].type == "end_of_track"
    on = [m.note for m in mid.tracks[1] if m.type == "note_on" and m.velocity > 0]
    off = [m.note for m in mid.tracks[1] if m.type == "note_off" or (m.type == "note_on" and m.velocity == 0)]
    assert on == off == [62, 62, 69, 66]
    assert not list(tmp_path.glob(".*"))  # the temporary file was renamed into place
    with pytest.raises(ValueError, match="MIDI range"):
        write_midi([(127, 1.0)], tmp_path / "x.mid", key_shift=1)


def test_instrument_program_names_and_numbers():
    """GM names map to program numbers, numbers pass through, unknown names list valid ones."""
    assert instrument_program("Acoustic Grand Piano") == 0
    assert instrument_program("violin") == 40 and instrument_program("church_organ") == 19
    assert instrument_program(73) == 73 and instrument_program("71") == 71
    with pytest.raises(ValueError, match="piano, violin"):
        instrument_program("kazoo")
    with pytest.raises(ValueError):
        instrument_program(128)


# ------------------------------------------------------------------------------------- MIDI reading


def test_read_midi_picks_highest_non_drum_track(tmp_path):
    """The melody is the highest-pitched non-drum track; high drum notes on channel 10 are ignored."""
    bass = [(1, 40 + i % 3, i, i + 1) for i in range(8)]
    tune = [(0, p, i, i + 1) for i, p in enumerate(C_MAJOR_SCALE)]
    drums = [(9, 81, i / 2, i / 2 + 0.25) for i in range(16)]
    path = note_file(tmp_path / "band.mid", [[], bass, drums, tune])
    m = read_midi(path)
    assert m.events == [(p, 1.0) for p in C_MAJOR_SCALE] and m.piece_id == "band"
    assert m.key == Key(0, "major")
    assert read_midi(path, track=1).pitches.tolist() == [40, 41, 42, 40, 41, 42, 40, 41]
    with pytest.raises(MidiError, match="no track 7"):
        read_midi(path, track=7)


def test_read_midi_type0_picks_channel(tmp_path):
    """In a single-track (type 0) file the melody is the highest non-drum channel."""
    notes = [(1, 48, i, i + 1) for i in range(4)] + [(0, 72 - i, i, i + 1) for i in range(4)]
    notes += [(9, 90, i, i + 0.5) for i in range(4)]
    path = note_file(tmp_path / "zero.mid", [notes], type=0)
    assert read_midi(path).pitches.tolist() == [72, 71, 70, 69]


def test_read_midi_makes_a_polyphonic_track_monophonic(tmp_path):
    """Chords keep their highest note and a held note is cut where the next note starts."""
    notes = [(0, 60, 0, 2), (0, 64, 0, 2), (0, 67, 0, 2), (0, 72, 1, 1.5), (0, 65, 2, 4), (0, 69, 2, 3)]
    path = note_file(tmp_path / "chords.mid", [notes])
    assert read_midi(path).events == [(67, 1.0), (72, 0.5), (REST, 0.5), (69, 1.0)]


def test_read_midi_ignores_tempo_changes(tmp_path):
    """Durations are counted in beats, so a tempo change mid-piece changes no event; the first tempo is kept."""
    tune = [(0, p, i * 0.5, i * 0.5 + 0.5) for i, p in enumerate(C_MAJOR_SCALE)]
    tempos = [(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(80)))]
    tempos.append((960, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(160))))
    steady = read_midi(note_file(tmp_path / "steady.mid", [tune]))
    changing = read_midi(note_file(tmp_path / "change.mid", [tempos, tune]))
    assert changing.events == steady.events == [(p, 0.5) for p in C_MAJOR_SCALE]
    assert changing.tempo_bpm == 80.0 and steady.tempo_bpm == 120.0


@pytest.mark.parametrize("case", ["random bytes", "truncated", "no notes", "only drums", "missing"])
def test_read_midi_bad_files_raise_one_line_midi_error(tmp_path, case):
    """Each kind of unreadable file raises MidiError with a one-line message naming the file."""
    path = tmp_path / f"{case.replace(' ', '_')}.mid"
    if case == "random bytes":
        path.write_bytes(np.random.default_rng(3).bytes(300))
    elif case == "truncated":
        data = note_file(tmp_path / "ok.mid", [[(0, 60 + i, i, i + 1) for i in range(20)]]).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "no notes":
        note_file(path, [[(0, mido.MetaMessage("set_tempo", tempo=500000))]])
    elif case == "only drums":
        note_file(path, [[(9, 36, i, i + 0.5) for i in range(8)]])
    with pytest.raises(MidiError) as err:
        read_midi(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    expected = {"random bytes": "not a MIDI file", "truncated": "truncated", "no notes": "no notes"}
    expected |= {"only drums": "only drums", "missing": "no such file"}
    assert expected[case] in message
    assert isinstance(err.value, ValueError) and isinstance(err.value, DataError)


def test_read_midi_paths_skips_bad_files_in_folders(tmp_path):
    """A folder with one good and one bad file gives 1 melody and 1 skipped, with a warning."""
    folder = tmp_path / "songs"
    (folder / "sub").mkdir(parents=True)
    note_file(folder / "sub" / "good.MID", [[(0, 60 + i, i, i + 1) for i in range(4)]])
    (folder / "bad.mid").write_bytes(b"not midi at all")
    (folder / "notes.txt").write_text("ignored")
    with pytest.warns(UserWarning, match="bad.mid"):
        melodies, skipped = read_midi_paths(folder)
    assert [m.piece_id for m in melodies] == ["sub/good"] and len(melodies[0]) == 4
    assert [p.name for p, _ in skipped] == ["bad.mid"] and "not a MIDI file" in skipped[0][1]
    with pytest.raises(MidiError, match="bad.mid"):
        read_midi_paths([folder / "bad.mid"])  # named directly, a bad file is an error


def test_read_midi_paths_empty_folder_raises(tmp_path):
    """A folder without MIDI files is an error naming the folder."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(MidiError, match="empty: no MIDI files"):
        read_midi_paths(tmp_path / "empty")


# ---------------------------------------------------------------------------------- picture, audio


def test_render_piano_roll_writes_png(tmp_path):
    """A piano roll of a melody with rests is a non-trivial PNG file."""
    path = render_piano_roll(random_melody(np.random.default_rng(4)), tmp_path / "roll.png", title="test")
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_render_wav_without_fluidsynth_raises_install_hint(tmp_path, monkeypatch):
    """With no fluidsynth program, or no soundfont, render_wav says how to install them."""
    midi_path = tmp_path / "a.mid"
    write_midi([(60, 1.0)], midi_path)
    monkeypatch.setattr(midi.shutil, "which", lambda name: None)
    with pytest.raises(RenderError, match="apt-get install fluidsynth"):
        render_wav(midi_path, tmp_path / "a.wav")
    monkeypatch.setattr(midi.shutil, "which", lambda name: "/usr/bin/fluidsynth")
    monkeypatch.setattr(midi, "SOUNDFONT_DIRS", (str(tmp_path),))
    monkeypatch.delenv("RNNKIT_SOUNDFONT", raising=False)
    with pytest.raises(RenderError, match="no General MIDI soundfont.*apt-get install"):
        render_wav(midi_path, tmp_path / "a.wav")
    assert not (tmp_path / "a.wav").exists()


def test_render_wav_with_fluidsynth_is_not_silent(tmp_path):
    """Where fluidsynth and a soundfont are installed, the WAV holds audible samples."""
    try:
        midi.find_soundfont()
    except RenderError:
        pytest.skip("no General MIDI soundfont installed")
    if shutil.which("fluidsynth") is None:
        pytest.skip("fluidsynth is not installed")
    midi_path = tmp_path / "a.mid"
    write_midi([(60, 0.5), (64, 0.5), (67, 1.0)], midi_path, instrument="piano")
    with wave.open(str(render_wav(midi_path, tmp_path / "a.wav"))) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert samples.size > 0 and np.abs(samples).max() > 100


# ------------------------------------------------------------------------------------------ corpora


def test_save_and_load_corpus_round_trip(tmp_path):
    """Melodies with all their fields survive save_corpus/load_corpus; a non-corpus file is a DataError."""
    rng = np.random.default_rng(5)
    melodies = [
        random_melody(rng, key=Key(7, "minor"), time_signature=(3, 4), piece_id="bwv1", tempo_bpm=None),
        transpose(random_melody(rng, n=5, piece_id="x/y", tempo_bpm=96.5), -3),
    ]
    path = save_corpus(melodies, tmp_path / "c.npz", meta={"source": "test"})
    assert load_corpus(path) == melodies
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(DataError, match="bad.npz"):
        load_corpus(tmp_path / "bad.npz")


def test_bundled_bach_loads_without_music21():
    """The bundled chorale sopranos load with numpy alone: music21 is never imported."""
    code = (
        "import sys; from rnnkit.music.corpus import load_bundled_bach; ms = load_bundled_bach();"
        "assert 'music21' not in sys.modules; print(len(ms), sum(m.num_notes for m in ms))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    pieces, notes = map(int, out.split())
    assert pieces >= 300 and notes > 15000


def test_bundled_bach_melodies_are_plausible():
    """Bundled melodies are soprano-range lines on the duration set, with unique ids and real keys."""
    melodies = load_bundled_bach()
    assert len({m.piece_id for m in melodies}) == len(melodies)
    pitches = np.concatenate([m.pitches[m.pitches != REST] for m in melodies])
    assert 55 <= pitches.min() and pitches.max() <= 84 and 65 < pitches.mean() < 74
    assert set(np.concatenate([m.durations for m in melodies]).tolist()) <= set(DURATIONS)
    assert {m.key.mode for m in melodies} == {"major", "minor"}
    assert all(m.transposition == 0 and m.pitches[0] != REST for m in melodies)


def test_soprano_name_matching():
    """Soprano labels are recognised in several languages; other voices and mezzos are not."""
    from rnnkit.music.prepare import is_soprano_name

    for name in ("Soprano", "S.", "s", "Sopran 1", "Soprano Oboe 1 Violin1", "Canto"):
        assert is_soprano_name(name), name
    for name in ("Alto", "A.", "Tenor", "Bass Continuo", "Mezzo-soprano", "Sax", "", None):
        assert not is_soprano_name(name), name


def test_soprano_chosen_by_role_not_position():
    """A part named Soprano is chosen wherever it stands; without names the highest part is chosen."""
    stream = pytest.importorskip("music21.stream")
    from music21 import note

    from rnnkit.music.prepare import find_soprano_part, melody_from_score

    def part(name: str | None, pitches: list[int]):
        p = stream.Part(id=name or None)
        p.partName = name
        for m in pitches:
            p.append(note.Note(m, quarterLength=1.0))
        return p

    score = stream.Score([part("Alto", [64, 65, 67]), part("Soprano", [60, 62, 64]), part("Bass", [48, 50, 52])])
    assert find_soprano_part(score).partName == "Soprano"
    assert melody_from_score(score, "s").pitches.tolist() == [60, 62, 64]
    anonymous = stream.Score([part(None, [55, 57, 59]), part(None, [72, 74, 76]), part(None, [48, 50, 52])])
    assert melody_from_score(anonymous).pitches.tolist() == [72, 74, 76]
    assert find_soprano_part(anonymous, fallback=False) is None


def test_prepare_bach_chorales_takes_the_soprano_line():
    """On a few chorales the prepared line is the soprano's, above the alto's, with the score's meter."""
    pytest.importorskip("music21")
    from music21 import corpus

    from rnnkit.music.prepare import prepare_music21_corpus

    pieces = ["bach/bwv269", "bach/bwv347", "bach/bwv153.1", "bach/bwv41.6"]  # 41.6 leads with trumpets
    melodies = prepare_music21_corpus(pieces=pieces)
    assert [m.piece_id for m in melodies] == ["bwv269", "bwv347", "bwv153.1", "bwv41.6"]
    for m, path in zip(melodies, pieces, strict=True):
        score = corpus.parse(path)
        alto = next(p for p in score.parts if "alto" in p.partName.lower())
        soprano = next(p for p in score.parts if p.partName.lower().startswith("soprano"))
        sounding = m.pitches[m.pitches != REST]
        assert sounding.tolist() == [n.pitch.midi for n in soprano.stripTies().flatten().notes]
        alto_mean = np.mean([n.pitch.midi for n in alto.recurse().notes])
        assert sounding.mean() > alto_mean + 2
        assert m.num_notes > 30 and m.time_signature in ((3, 4), (4, 4))
    assert melodies[0].time_signature == (3, 4) and melodies[0].key == Key(7, "major")
    assert melodies[0].events[:5] == [(67, 1.0), (67, 2.0), (74, 1.0), (71, 1.5), (69, 0.5)]
