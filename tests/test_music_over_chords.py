"""Melodies over chords end to end: training with --chords, generating over a progression (typed or read from a
MIDI file), the chord track, the metrics of eval, and the errors of bad input."""

from __future__ import annotations

import mido
import numpy as np
import pytest
from conftest import interrupt_at, run_cli

from rnnkit import cli
from rnnkit.music.chords import Progression, parse_chord, parse_progression
from rnnkit.music.corpus import save_corpus
from rnnkit.music.midi import chord_blocks, read_progression, voice_chord, write_midi
from rnnkit.music.tokens import Melody
from rnnkit.music.train import WindowBatcher, context_stream, load, piece_context, stream

TINY = ["--hidden-size", "16", "--embedding-size", "8", "--batch-size", "8", "--tx", "12", "--num-samples", "1"]
TINY += ["--quiet"]


@pytest.fixture(scope="module")
def chord_run(tmp_path_factory, chorales):
    """A chord-conditioned model trained for 30 steps."""
    out = tmp_path_factory.mktemp("runs") / "chords"
    argv = ["music", "train", "--chords", "--data", chorales, "--out", out, "--max-steps", 30, "--eval-every", 10]
    assert cli.main([str(a) for a in [*argv, *TINY]]) == 0
    return out


def _tracks(path):
    """{track name: [(start beat, end beat, pitch, channel)]} with every note_on paired with its note_off."""
    mid = mido.MidiFile(path)
    out = {}
    for trk in mid.tracks:
        tick, sounding, notes, name = 0, {}, [], None
        for msg in trk:
            tick += msg.time
            if msg.type == "track_name":
                name = msg.name
            elif msg.type == "note_on" and msg.velocity > 0:
                assert msg.note not in sounding, f"{msg.note} struck again before its note_off"
                sounding[msg.note] = tick
            elif msg.type in ("note_off", "note_on"):
                start = sounding.pop(msg.note)
                notes.append((start / mid.ticks_per_beat, tick / mid.ticks_per_beat, msg.note, msg.channel))
        assert not sounding, f"track {name}: notes never switched off"
        out[name] = notes
    return out


def test_piece_context_reads_the_chord_under_the_next_event():
    """Input i (the boundary, then event i - 1) reads the chord at event i's onset and the onset's sixteenth in
    the beat; the last input reads zeros, and the stream's features line up with its ids piece after piece."""
    _, prog = parse_progression("C G", beats_per_chord=1)
    a = Melody([60, 62, 67], [0.5, 0.5, 1.0], chords=prog)  # onsets 0, 0.5, 1
    ctx = piece_context(a)
    assert ctx.shape == (4, 28)
    assert [int(np.argmax(r[:12])) for r in ctx[:3]] == [0, 0, 7] and not ctx[3].any()
    assert [int(np.argmax(r[24:])) for r in ctx[:3]] == [0, 2, 0]  # on, half-way through, on the beat
    b = Melody([55], [2.0], chords=Progression.from_chords([parse_chord("G"), parse_chord("G")]))
    ids = stream([np.array([1, 2, 3]), np.array([4])])
    context = context_stream([ctx, piece_context(b)])
    assert len(context) == len(ids) == 7
    assert int(np.argmax(context[4, :12])) == 7  # the boundary before b reads b's first chord
    batcher = WindowBatcher(ids, tx=3, batch_size=5, seed=1, context=context)
    inputs, targets, feats = batcher.next_context_batch()
    assert feats.shape == (3, 5, 28)
    for b_ in range(5):  # every window's features are the stream's rows at its inputs
        start = int(np.flatnonzero((ids[np.arange(len(ids) - 3)[:, None] + np.arange(3)] == inputs[:, b_]).all(1))[0])
        np.testing.assert_array_equal(feats[:, b_], context[start : start + 3])


def test_training_with_chords_then_generation_fills_the_progression(chord_run, tmp_path, capsys):
    """The run reads chords; over 'C G/B Am F | Dm G C C' each melody lasts 8 bars (a bar per chord), the MIDI
    holds the melody and a chord track on its own channel and instrument, every note switched off, G/B with B
    in the bass, and a seed repeats it."""
    gen = load(chord_run)
    assert gen.chords and gen.model.context_size == 28
    out = tmp_path / "over.mid"
    code, text, err = run_cli(
        capsys,
        "music",
        "generate",
        chord_run,
        "--chords",
        "C G/B Am F | Dm G C C",
        "--seed",
        3,
        "--out",
        out,
        "--png",
        tmp_path / "over.png",
    )
    assert code == 0, err
    assert "32 beats over 32 beats of chords, C major" in text
    tracks = _tracks(out)
    assert set(tracks) == {"rnnkit", "melody", "chords"}
    melody, chords = tracks["melody"], tracks["chords"]
    assert max(end for _, end, _, _ in melody) <= 32 and {ch for *_, ch in chords} == {1}
    assert {ch for *_, ch in melody} == {0}
    programs = [m.program for t in mido.MidiFile(out).tracks for m in t if m.type == "program_change"]
    assert programs == [0, 48]  # piano melody, strings chords
    # the chords as voiced: C (bass C2), G/B (bass B2), Am, F, Dm, G, then C held for two bars
    bass = sorted((s, e, p) for s, e, p, _ in chords if p < 48)
    assert bass == [(0, 4, 36), (4, 8, 47), (8, 12, 45), (12, 16, 41), (16, 20, 38), (20, 24, 43), (24, 32, 36)]
    assert (tmp_path / "over.png").stat().st_size > 1000
    again = tmp_path / "again.mid"
    run_cli(capsys, "music", "generate", chord_run, "--chords", "C G/B Am F | Dm G C C", "--seed", 3, "--out", again)
    assert again.read_bytes() == out.read_bytes()


def test_generation_in_another_key_moves_melody_and_chords_together(chord_run, tmp_path, capsys):
    """'D G A D' is generated in C and written back in D: the chord track's basses are D, G, A, D."""
    out = tmp_path / "d.mid"
    code, _, err = run_cli(
        capsys, "music", "generate", chord_run, "--chords", "D G A D", "--beats-per-chord", 2, "--seed", 0, "--out", out
    )
    assert code == 0, err
    bass = [p for s, e, p, _ in sorted(_tracks(out)["chords"]) if p < 48]
    assert bass == [38, 43, 45, 38]


def test_chords_from_a_midi_file(chord_run, tmp_path, capsys):
    """--chords-from reads the progression of a file's accompaniment; the melody lasts as long as it."""
    src = tmp_path / "accompaniment.mid"
    _, prog = parse_progression("F C | G C", beats_per_chord=2)
    write_midi([(72, 8.0)], src, chords=prog)  # a melody track and a chord track
    assert read_progression(src) == prog
    out = tmp_path / "from.mid"
    code, text, err = run_cli(capsys, "music", "generate", chord_run, "--chords-from", src, "--out", out, "--seed", 1)
    assert code == 0, err
    assert "8 beats over 8 beats of chords" in text
    bass = [p for s, e, p, _ in sorted(_tracks(out)["chords"]) if p < 48]
    assert bass == [41, 36, 43, 36]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--chords", "C H7 G"], "cannot read chord 'H7'"),
        (["--chords", "C | | G"], "bar 2 is empty"),
        (["--chords", "C G", "--steps", "10"], "drop --steps"),
        (["--beats-per-chord", "2"], "--beats-per-chord needs --chords"),
        (["--chords", "C G", "--beats-per-chord", "0"], "--beats-per-chord must be"),
        (["--chords", "C", "--chord-instrument", "kazoo"], "--chord-instrument: unknown instrument"),
        (["--chords-from", "missing.mid"], "no such file"),
    ],
)
def test_bad_chord_input_is_one_line_and_exit_2(chord_run, tmp_path, capsys, argv, message):
    """Bad symbols, empty bars, contradicting flags and missing files: a one-line error, nothing written."""
    out = tmp_path / "x.mid"
    code, _, err = run_cli(capsys, "music", "generate", chord_run, "--out", out, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_model_without_chords_fills_the_beats_and_says_it_does_not_hear_them(tmp_path, capsys):
    """The baseline generates over chords too (as eval measures it), with a note on stderr."""
    run = tmp_path / "plain"
    assert cli.main(["music", "train", "--out", str(run), "--max-steps", "5", "--eval-every", "5", *TINY]) == 0
    code, text, err = run_cli(capsys, "music", "generate", run, "--chords", "C F G C", "--out", tmp_path / "p.mid")
    assert code == 0 and "trained without chords" in err and "16 beats over 16 beats" in text


def test_training_with_chords_needs_chords_in_every_piece(tmp_path, capsys):
    """Pieces without chords (a MIDI file of one part) are refused with a one-line error before any run is made."""
    src = tmp_path / "one.npz"
    save_corpus([Melody([60, 62, 64] * 10, [1.0] * 30, piece_id="solo")] * 3, src)
    code, _, err = run_cli(capsys, "music", "train", "--chords", "--data", src, "--out", tmp_path / "r", *TINY)
    assert code == 2 and "3 of the 3 pieces have no chords" in err and not (tmp_path / "r").exists()


def test_eval_reports_chord_tone_ratios_for_the_model_and_bach(chord_run, capsys):
    """eval over the held-out progressions: the chord-tone rows beside Bach's own, in text and JSON."""
    code, text, _ = run_cli(capsys, "music", "eval", chord_run, "-n", 8)
    assert code == 0 and "chord tones, on the beat" in text and "trained with chords" in text
    code, text, _ = run_cli(capsys, "music", "eval", chord_run, "-n", 8, "--json")
    import json

    result = json.loads(text)
    tones = result["chord_tones"]
    assert result["chords"] and tones["model"]["notes"] > 0
    assert 0.85 < tones["reference"]["count"] < 0.95 and tones["reference"]["on_beat"] > 0.9


def test_chord_blocks_hold_repeats_and_voice_below_the_melody():
    """Equal beats are one held block; no-chord beats are silent; the root is the bass, tones in C3..B3."""
    _, prog = parse_progression("C C N.C. G7", beats_per_chord=1)
    blocks = chord_blocks(prog)
    assert blocks == [(0, 2, [36, 48, 52, 55], parse_chord("C")), (3, 4, [43, 50, 53, 55, 59], parse_chord("G7"))]
    assert voice_chord(9, parse_chord("Am").mask) == [45, 48, 52, 57]


@pytest.mark.parametrize(
    ("symbol", "bass"), [("G/B", 47), ("C/E", 40), ("Am/C", 36), ("D/F#", 42), ("C/Bb", 46), ("F/C", 36), ("G", 43)]
)
def test_a_slash_chord_is_voiced_over_its_bass_note(tmp_path, symbol, bass):
    """The chord track's lowest note under X/Y is Y (in C2..B2), below every chord tone; a block changes where
    only the bass does (C then C/E)."""
    _, prog = parse_progression(f"{symbol} C C/E", beats_per_chord=2)
    path = tmp_path / "slash.mid"
    write_midi([(72, 6.0)], path, chords=prog)
    chords = _tracks(path)["chords"]
    lowest = [min(p for s, _, p, _ in chords if s == start) for start in (0, 2, 4)]
    assert lowest == [bass, 36, 40]
    tones = {p for s, _, p, _ in chords if s == 0 and p != bass}
    assert {p % 12 for p in tones} == set(parse_chord(symbol).pitch_classes)
    assert min(tones) > bass


def test_the_shipped_chord_model_generates_over_chords_without_a_run(tmp_path, capsys):
    """`rnnkit music generate --chords "C F G C" --out x.mid` uses the bundled chord model: 16 beats, two tracks,
    and most of its notes on the beat are chord tones."""
    from rnnkit.music.chords import chord_tone_ratios

    out = tmp_path / "x.mid"
    code, text, err = run_cli(capsys, "music", "generate", "--chords", "C F G C", "--out", out, "--seed", 0)
    assert code == 0, err
    assert "16 beats over 16 beats of chords" in text and out.exists()
    assert {"melody", "chords"} <= set(_tracks(out))
    gen = load(None, chords=True)
    assert gen.chords
    _, prog = parse_progression("C F G C")
    melodies = gen.generate_over(prog, 20, seed=0)
    counts = [chord_tone_ratios(m, m.chords) for m in melodies]
    on_beat = np.nanmean([c["on_beat"] for c in counts])
    assert on_beat > 0.8


def test_prepare_a_midi_folder_keeps_the_accompaniments_chords(tmp_path, capsys):
    """`rnnkit music prepare --data FOLDER`: each file's other tracks give its melody's chords, kept in the corpus."""
    from rnnkit.music.corpus import load_corpus

    folder = tmp_path / "midi"
    folder.mkdir()
    for i, text in enumerate(["C F | G C", "Am Dm | E Am"]):
        _, prog = parse_progression(text, beats_per_chord=2)
        write_midi([(76, 2.0), (77, 2.0), (79, 4.0)], folder / f"{i}.mid", chords=prog)
    out = tmp_path / "mine.npz"
    code, text, err = run_cli(capsys, "music", "prepare", "--data", folder, "--out", out)
    assert code == 0, err
    assert "with the chords of every beat" in text
    melodies = load_corpus(out)
    assert [m.chords.symbols() for m in melodies] == ["C C F F G G C C", "Am Am Dm Dm E E Am Am"]


def test_the_chord_benchmark_measures_the_first_chorales():
    """benchmarks/chords.py compares derived roots with the analyses of chorales that line up."""
    pytest.importorskip("music21")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import chords as bench

    result = bench.measure(first=2)
    assert result["lined_up"] == 2 and result["beats"] > 100 and result["root_accuracy"] > 0.85


def test_a_chord_run_resumes_exactly(tmp_path, chorales, monkeypatch):
    """Ctrl-C at step 4 of a --chords run, then --resume: bit-identical weights (W_c too) and the same losses."""
    from rnnkit.music import train as music_train
    from rnnkit.rundir import RunDir

    def train(out) -> int:
        argv = ["music", "train", "--chords", "--data", chorales, "--out", out, "--max-steps", 8, "--eval-every", 4]
        return cli.main([str(a) for a in [*argv, *TINY]])

    assert train(tmp_path / "straight") == 0
    interrupt_at(monkeypatch, music_train.MusicTask, 4)  # Ctrl-C in step 4
    assert train(tmp_path / "split") == 130  # saved, exit 128 + SIGINT
    assert cli.main(["music", "train", "--resume", str(tmp_path / "split"), "--quiet"]) == 0
    a, _ = RunDir(tmp_path / "straight").load_checkpoint()
    b, _ = RunDir(tmp_path / "split").load_checkpoint()
    assert any(k.endswith("context.W") for k in a)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    losses = [[r["val_loss"] for r in RunDir(tmp_path / d).read_metrics()] for d in ("straight", "split")]
    assert losses[0] == losses[1]


def test_the_chord_track_is_heard_in_the_wav(tmp_path):
    """Where fluidsynth and a soundfont are installed: a melody of rests over chords still renders audible audio,
    so the audio plays the chord track (CI installs both)."""
    import shutil
    import wave

    from rnnkit.music import midi
    from rnnkit.music.tokens import REST

    if shutil.which("fluidsynth") is None:
        pytest.skip("fluidsynth is not installed (apt-get install fluidsynth timgm6mb-soundfont)")
    try:
        midi.find_soundfont()
    except midi.RenderError:
        pytest.skip("no General MIDI soundfont installed")
    path = tmp_path / "c.mid"
    write_midi([(REST, 4.0)], path, chords=parse_progression("C G", beats_per_chord=2)[1])
    with wave.open(str(midi.render_wav(path, tmp_path / "c.wav"))) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert samples.size > 0 and np.abs(samples).max() > 100


def test_a_chord_model_trains_on_the_torch_engine_and_generates_on_numpy(tmp_path, chorales, capsys):
    """--chords --engine torch: the run reads chords, and generation over chords runs on the NumPy engine."""
    pytest.importorskip("torch")
    out = tmp_path / "t"
    argv = ["music", "train", "--chords", "--engine", "torch", "--data", chorales, "--out", out, "--max-steps", 4]
    code, _, err = run_cli(capsys, *argv, "--eval-every", 2, *TINY)
    assert code == 0, err
    assert load(out).chords
    code, text, err = run_cli(capsys, "music", "generate", out, "--chords", "C F", "--out", tmp_path / "t.mid")
    assert code == 0 and "8 beats over 8 beats of chords" in text, err


def test_two_gloo_processes_train_a_chord_model_like_one_with_twice_the_batch(tmp_path, chorales):
    """torchrun, 2 ranks x 4 windows with their chord features (sharded with the ids): the weights of one process
    x 8 windows, float64."""
    pytest.importorskip("torch")
    from test_engines import _torchrun

    from rnnkit.rundir import RunDir

    flags = ["--engine", "torch", "--device", "cpu", "--precision", "fp64", "--dropout", "0", "--chords"]
    common = ["music", "train", "--data", chorales, "--max-steps", 4, "--eval-every", 2, *TINY, *flags]
    assert cli.main([str(a) for a in [*common, "--out", tmp_path / "one", "--batch-size", 8]]) == 0
    done = _torchrun(*common, "--out", tmp_path / "two", "--batch-size", 4)
    assert done.returncode == 0, done.stderr[-3000:]
    a, _ = RunDir(tmp_path / "one").load_checkpoint()
    b, _ = RunDir(tmp_path / "two").load_checkpoint()
    assert a.keys() == b.keys() and any(k.endswith("context.W") for k in a)
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_a_chord_model_draws_at_its_own_default_temperature(tmp_path, capsys):
    """Without --temperature, the bundled chord model generates over chords as with --temperature 0.8 (where its
    on-beat chord tones meet the target), not 1, and eval measures it there; both --help texts say so."""
    from rnnkit.music.config import CHORD_TEMPERATURE

    assert CHORD_TEMPERATURE == 0.8
    files = {}
    for name, extra in (("default", []), ("t08", ["--temperature", "0.8"]), ("t1", ["--temperature", "1"])):
        files[name] = tmp_path / f"{name}.mid"
        code, _, err = run_cli(
            capsys, "music", "generate", "--chords", "C F G C", "--seed", 2, "--out", files[name], *extra
        )
        assert code == 0, err
    assert files["default"].read_bytes() == files["t08"].read_bytes() != files["t1"].read_bytes()
    code, text, err = run_cli(capsys, "music", "eval", "--chords", "-n", 2, "--json")
    assert code == 0, err
    import json

    assert json.loads(text)["generated"]["temperature"] == 0.8
    for action, says in (("generate", "trained with chords, such as the bundled one: 0.8"), ("eval", "1; 0.8 for")):
        assert cli.main(["music", action, "--help"]) == 0
        assert says in " ".join(capsys.readouterr().out.split())


def test_melodies_over_chords_are_in_the_chords_key(tmp_path):
    """Every melody over a progression carries the chords' key, not a guess from its own few notes (which names
    E minor, G major or A minor for melodies over a plain C-major progression); written out it is in the
    progression's own key."""
    gen = load(None, chords=True)
    for text, key in [("C G/B Am F | Dm G C C", "C major"), ("Am Dm E Am", "A minor"), ("G C D G", "G major")]:
        melodies = gen.generate_over(parse_progression(text, 1)[1], 20, seed=0)
        written = gen.write(melodies, tmp_path / "k.mid")
        assert {w.melody.key.name for w in written} == {key}, text
