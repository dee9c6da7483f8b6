"""Chords: symbols and their round trips, progressions, chords derived from voices, chord-tone ratios."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.errors import RnnkitError
from rnnkit.music.chords import (
    NO_CHORD,
    QUALITIES,
    Chord,
    Progression,
    chord_features,
    chord_tone_ratios,
    derive_progression,
    parse_chord,
    parse_progression,
)
from rnnkit.music.tokens import REST, Melody


@pytest.mark.parametrize(
    ("symbol", "root", "pcs", "bass"),
    [
        ("C", 0, [0, 4, 7], None),
        ("Am", 9, [9, 0, 4], None),
        ("F#m7", 6, [6, 9, 1, 4], None),
        ("Bb7", 10, [10, 2, 5, 8], None),
        ("G/B", 7, [7, 11, 2], 11),
        ("Ebmaj7", 3, [3, 7, 10, 2], None),
        ("Bdim", 11, [11, 2, 5], None),
        ("C+", 0, [0, 4, 8], None),
        ("Dsus4", 2, [2, 7, 9], None),
        ("Bø", 11, [11, 2, 5, 9], None),
        ("C/Bb", 0, [0, 4, 7, 10], 10),
        ("Cmin", 0, [0, 3, 7], None),
    ],
)
def test_parse_chord_reads_common_symbols(symbol, root, pcs, bass):
    """Roots with accidentals, qualities under their common spellings, slash basses (added when no chord tone)."""
    chord = parse_chord(symbol)
    assert (chord.root, chord.pitch_classes, chord.bass) == (root, pcs, bass)


@given(st.integers(0, 11), st.sampled_from(sorted(QUALITIES)), st.one_of(st.none(), st.integers(0, 11)))
def test_chord_symbols_round_trip(root, quality, bass):
    """symbol -> parse_chord gives the same chord back, for every root, quality and bass."""
    chord = Chord(root, quality, None if bass == root else bass)
    assert parse_chord(chord.symbol) == chord


@pytest.mark.parametrize("bad", ["H", "Cx", "C/", "Cmaj13#11", "7", "Q7", "C//E"])
def test_bad_chord_symbols_raise_naming_the_symbol(bad):
    """A symbol that is not one gives a one-line error that names it."""
    with pytest.raises(ValueError, match=repr(bad).replace("+", r"\+")):
        parse_chord(bad)
    with pytest.raises(RnnkitError, match="cannot read chord") as e:
        parse_progression(f"C {bad} G")
    assert "\n" not in str(e.value)


def test_parse_progression_a_bar_per_chord_or_beats_per_chord():
    """By default every chord lasts a bar (4 beats; '|' only groups them), so 8 chords make 32 beats, not 8;
    --beats-per-chord gives every chord that many beats; an empty bar between two others is an error."""
    written, prog = parse_progression("C G/B Am F | Dm G C C")
    assert [c.symbol for c in written] == ["C", "G/B", "Am", "F", "Dm", "G", "C", "C"]
    assert len(prog) == 32 and prog.roots.tolist() == [r for r in [0, 7, 9, 5, 2, 7, 0, 0] for _ in range(4)]
    _, prog = parse_progression("C F G C")
    assert prog.roots.tolist() == [0] * 4 + [5] * 4 + [7] * 4 + [0] * 4
    _, prog = parse_progression("C F G | C")  # bars of any number of chords
    assert len(prog) == 16
    _, prog = parse_progression("C G/B Am F | Dm G C C", beats_per_chord=1)
    assert prog.roots.tolist() == [0, 7, 9, 5, 2, 7, 0, 0]
    _, prog = parse_progression("C F | G", beats_per_chord=2)
    assert prog.roots.tolist() == [0, 0, 5, 5, 7, 7]
    _, prog = parse_progression("C N.C. | G", beats_per_bar=3)  # 3/4
    assert prog.roots.tolist() == [0] * 3 + [NO_CHORD] * 3 + [7] * 3
    with pytest.raises(RnnkitError, match="bar 2 is empty"):
        parse_progression("C | | G")
    with pytest.raises(RnnkitError, match="no chord symbols"):
        parse_progression(" | ")


def test_a_slash_chord_keeps_its_bass_through_the_progression():
    """G/B (and any X/Y) parses with B as its bass; the progression keeps it beat by beat, moves it when
    transposed, writes its symbol back, and compares unequal to plain G."""
    written, prog = parse_progression("C G/B Am/C F/A C/Bb", beats_per_chord=1)
    assert [c.bass for c in written] == [None, 11, 0, 9, 10]
    assert prog.basses.tolist() == [0, 11, 0, 9, 10]
    assert prog.symbols() == "C G/B Am/C F/A C/Bb"
    assert prog.transpose(2).symbols() == "D A/C# Bm/D G/B D/C"
    assert prog.transpose(2).transpose(-2) == prog
    assert Progression.from_chords([parse_chord("G/B")]) != Progression.from_chords([parse_chord("G")])
    assert Progression([7], [parse_chord("G").mask]).basses.tolist() == [7]  # no basses given: the roots
    with pytest.raises(ValueError, match="bass must be one of its pitch classes"):
        Progression([7], [parse_chord("G").mask], [1])


def test_the_corpus_file_keeps_slash_basses(tmp_path):
    """A progression with slash chords comes back from the corpus file with its basses; one without writes none."""
    from rnnkit.music.corpus import load_corpus, save_corpus

    _, slash = parse_progression("C G/B Am F/A", beats_per_chord=1)
    a = Melody([60, 62, 64, 65], [1.0] * 4, chords=slash, piece_id="a")
    save_corpus([a], tmp_path / "s.npz")
    assert load_corpus(tmp_path / "s.npz")[0].chords.symbols() == "C G/B Am F/A"
    save_corpus([Melody([60], [1.0], chords=parse_progression("C", 1)[1])], tmp_path / "plain.npz")
    assert "chord_basses" not in np.load(tmp_path / "plain.npz").files


# (progression, key): major and minor keys, cadences, turnarounds, half cadences, slash chords
KEY_CASES = [
    ("C G/B Am F | Dm G C C", "C major"),
    ("C F G C", "C major"),
    ("C Am F G", "C major"),
    ("C Am Dm G7 C", "C major"),
    ("F G C", "C major"),
    ("Dm7 G7 Cmaj7", "C major"),
    ("Dm7 G7 Cmaj7 A7", "C major"),
    ("C G Am F", "C major"),
    ("Dm G7 C", "C major"),
    ("Am Dm G7 C", "C major"),
    ("G7 C", "C major"),
    ("C Dm Em F G", "C major"),
    ("Am F G C", "C major"),
    ("C F C G", "C major"),
    ("Cmaj7 Fmaj7", "C major"),
    ("C G/B Am C/G F C/E Dm G C", "C major"),
    ("C E7 Am F G7 C", "C major"),
    ("Am Dm E Am", "A minor"),
    ("Am E7 Am", "A minor"),
    ("Am Dm G C F Dm E Am", "A minor"),
    ("Am G F E", "A minor"),
    ("Am F C G Am", "A minor"),
    ("Am Dm Am E", "A minor"),
    ("C Am Dm E7 Am", "A minor"),
    ("Am G F E7 Am", "A minor"),
    ("Am E Am", "A minor"),
    ("E Am", "A minor"),
    ("Am Em F C Dm E", "A minor"),
    ("G C D G", "G major"),
    ("G Em C D7 G", "G major"),
    ("G D Em C", "G major"),
    ("Em Am D G", "G major"),
    ("Em Am B7 Em", "E minor"),
    ("Em C G D Em", "E minor"),
    ("D G A7 D", "D major"),
    ("F Bb C7 F", "F major"),
    ("F Dm Bb C F", "F major"),
    ("Bb Eb F7 Bb", "Bb major"),
    ("Dm Gm A7 Dm", "D minor"),
    ("Dm Bb C Dm", "D minor"),
    ("Cm Fm G7 Cm", "C minor"),
    ("Eb Ab Bb7 Eb", "Eb major"),
    ("E A B7 E", "E major"),
    ("Gm Cm D7 Gm", "G minor"),
    ("Gm Eb F Gm", "G minor"),
    ("A D E A", "A major"),
    ("A E F#m D", "A major"),
    ("F#m Bm C#7 F#m", "F# minor"),
    ("Fm Bbm C7 Fm", "F minor"),
    ("Bm G D A Bm", "B minor"),
]


@pytest.mark.parametrize("beats", [None, 1, 2])
def test_the_key_of_a_progression_hears_its_tonic_and_cadences(beats):
    """50 progressions in 16 keys, a bar, a beat or two beats a chord: the key is the one a musician names (the
    pitch classes alone take C-major ii-V-I and V-I for G major and E-Am for E major)."""
    wrong = []
    for text, key in KEY_CASES:
        found = parse_progression(text, beats)[1].key().name
        if found != key:
            wrong.append(f"{text}: {found}, not {key}")
    assert wrong == []
    assert Progression.from_chords([None, None]).key().name == "C major"


def test_progression_transpose_and_features():
    """Transposing moves roots and masks; the features are the root one-hot then the pitch-class bits."""
    prog = Progression.from_chords([parse_chord("C"), None, parse_chord("G7")])
    up = prog.transpose(2)
    assert [None if c is None else c.symbol for c in up.chords()] == ["D", None, "A7"]
    assert up.transpose(-2) == prog
    f = prog.features(np.array([0.0, 1.5, 2.75, 3.0]))  # the last onset is past the end
    assert f.shape == (4, 24)
    assert f[0, :12].tolist() == [1] + [0] * 11 and np.flatnonzero(f[0, 12:]).tolist() == [0, 4, 7]
    assert not f[1].any() and not f[3].any()
    assert np.flatnonzero(f[2, :12]).tolist() == [7] and np.flatnonzero(f[2, 12:]).tolist() == [2, 5, 7, 11]
    assert chord_features(np.array([NO_CHORD]), np.array([0])).sum() == 0


def _notes(*chords):
    """Block chords a beat each: onsets, ends, pitches."""
    on, end, p = [], [], []
    for k, pitches in enumerate(chords):
        for q in pitches:
            on.append(k), end.append(k + 1), p.append(q)
    return np.array(on, float), np.array(end, float), np.array(p)


def test_derive_progression_matches_templates_and_breaks_ties():
    """Triads in any inversion, a dominant seventh, passing tones outweighed; silent beats keep the chord."""
    on, end, p = _notes([48, 64, 67, 72], [52, 60, 67], [43, 59, 62, 65], [45, 60, 64, 69], [], [47, 62, 65, 68])
    prog = derive_progression(on, end, p, 6)
    assert [c.symbol for c in prog.chords()] == ["C", "C", "G7", "Am", "Am", "Bdim"]
    # a C chord with an eighth-note passing D in the soprano is still C
    on2 = np.array([0, 0, 0, 0, 0.5])
    end2 = np.array([1, 1, 1, 0.5, 1])
    prog = derive_progression(on2, end2, np.array([48, 55, 64, 72, 74]), 1)
    assert prog.chords()[0].symbol == "C"


def test_chord_tone_ratios_by_count_duration_and_beat():
    """Share of notes in the chord under them: by count, by duration (split at beats), on and off the beat."""
    prog = Progression.from_chords([parse_chord("C"), parse_chord("G")])
    # C4 (1 beat, on, tone), D4 (0.5, on beat 1, tone of G), F4 (0.5 off, no), rest, nothing more
    m = Melody([60, 62, 65], [1.0, 0.5, 0.5])
    r = chord_tone_ratios(m, prog)
    assert (r["count"], r["on_beat"], r["off_beat"], r["notes"]) == (2 / 3, 1.0, 0.0, 3)
    assert r["duration"] == pytest.approx(1.5 / 2)
    long = Melody([64, REST], [2.0, 1.0])  # E over C (tone) then over G (not)
    assert chord_tone_ratios(long, prog)["duration"] == pytest.approx(0.5)


def test_derived_chords_agree_with_human_analyses():
    """On three chorales that line up with music21's Roman-numeral analyses, >= 0.9 of the beats' roots agree."""
    pytest.importorskip("music21")
    from music21 import corpus

    from rnnkit.music.prepare import analysis_lines_up, analysis_roots, score_progression

    for number, path in [(6, "bach/bwv281"), (10, "bach/bwv38.6"), (18, "bach/bwv318")]:
        score = corpus.parse(path)
        analysis = corpus.parse(f"bach/choraleAnalyses/riemenschneider{number:03d}.rntxt")
        assert analysis_lines_up(score, analysis)
        prog = score_progression(score, 0.0, float(score.highestTime))
        human = analysis_roots(analysis, len(prog))
        judged = human >= 0
        assert judged.sum() > 30
        assert np.mean(prog.roots[judged] == human[judged]) >= 0.9, path


def test_a_transposed_analysis_does_not_line_up():
    """Riemenschneider 14's analysis is of an edition in G, the score is in D: it is not compared."""
    pytest.importorskip("music21")
    from music21 import corpus

    from rnnkit.music.prepare import analysis_lines_up

    score = corpus.parse("bach/bwv184.5")
    assert not analysis_lines_up(score, corpus.parse("bach/choraleAnalyses/riemenschneider014.rntxt"))


def _two_track_midi(path, melody_notes, chord_notes, tpb=480):
    """A type-1 file: track 0 melody, track 1 block chords; notes are (start beat, end beat, pitch)."""
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
    for notes in (melody_notes, chord_notes):
        trk = mido.MidiTrack()
        msgs = []
        for on, end, p in notes:
            msgs += [(round(on * tpb), 1, p), (round(end * tpb), 0, p)]
        tick = 0
        for t, kind, p in sorted(msgs, key=lambda m: (m[0], m[1])):
            msg = "note_on" if kind else "note_off"
            trk.append(mido.Message(msg, note=p, velocity=80 if kind else 0, time=t - tick))
            tick = t
        mid.tracks.append(trk)
    mid.save(path)


def test_midi_melody_gets_the_chords_of_its_accompaniment(tmp_path):
    """The non-melody track's block chords become the melody's progression, beat 0 at its first note."""
    from rnnkit.music.midi import read_midi, read_progression

    path = tmp_path / "song.mid"
    melody = [(1, 2, 76), (2, 3, 79), (3, 4, 77), (4, 5, 76)]  # starts a beat late
    chords = [(0, 2, p) for p in (48, 52, 55)] + [(2, 4, p) for p in (43, 47, 50, 53)]
    chords += [(4, 5, p) for p in (45, 48, 52)]
    _two_track_midi(path, melody, chords)
    m = read_midi(path)
    assert m.pitches.tolist() == [76, 79, 77, 76]
    assert [c.symbol for c in m.chords.chords()] == ["C", "G7", "G7", "Am"]
    assert [c.symbol for c in read_progression(path).chords()] == ["C", "C", "G7", "G7", "Am"]


def test_single_part_midi_has_no_chords_but_read_progression_uses_it(tmp_path):
    """A file of one part gives a melody without chords; --chords-from reads its own notes as the harmony."""
    from rnnkit.music.midi import read_midi, read_progression, write_midi

    path = tmp_path / "one.mid"
    write_midi([(60, 1.0), (64, 1.0), (67, 2.0)], path)
    assert read_midi(path).chords is None
    assert read_progression(path).chords()[0].symbol == "C"


def test_corpus_file_keeps_chords_and_transposition_moves_them(tmp_path):
    """save_corpus/load_corpus round-trip the progressions; transpose moves them with the notes."""
    from rnnkit.music.corpus import load_corpus, save_corpus
    from rnnkit.music.tokens import transpose

    _, prog = parse_progression("C G | Am F", beats_per_chord=2)
    a = Melody([60, 62, 64, 65, 67, 69, 71, 72], [1.0] * 8, chords=prog, piece_id="a")
    b = Melody([67, 65], [4.0, 4.0], chords=prog.transpose(2), piece_id="b")
    save_corpus([a, b], tmp_path / "c.npz")
    assert load_corpus(tmp_path / "c.npz") == [a, b]
    up = transpose(a, 3)
    assert up.chords == prog.transpose(3) and transpose(up, -3) == a
    save_corpus([a, Melody([60], [1.0])], tmp_path / "mixed.npz")  # not every melody has chords: none kept
    assert all(m.chords is None for m in load_corpus(tmp_path / "mixed.npz"))


def test_prepared_chorale_has_chords_that_fit_its_soprano():
    """A prepared chorale's chords cover its soprano beat by beat, and most of its notes are chord tones."""
    pytest.importorskip("music21")
    from rnnkit.music.prepare import prepare_music21_corpus

    (m,) = prepare_music21_corpus(pieces=["bach/bwv269"])
    assert len(m.chords) == int(np.ceil(m.total_beats))
    assert chord_tone_ratios(m, m.chords)["on_beat"] > 0.9


def test_bundled_chorales_carry_chords_that_fit_bach():
    """Every shipped soprano line has a chord per beat; Bach's notes are chord tones about 0.9 of the time."""
    from rnnkit.music.corpus import load_bundled_bach

    melodies = load_bundled_bach()
    assert all(m.chords is not None and len(m.chords) == int(np.ceil(m.total_beats)) for m in melodies)
    ratios = [chord_tone_ratios(m, m.chords) for m in melodies]
    notes = np.array([r["notes"] for r in ratios])
    count = np.nansum([r["count"] * r["notes"] for r in ratios]) / notes.sum()
    assert 0.85 < count < 0.95
