"""The melody generator end to end, through cli.main, in temporary folders: prepare, train, resume, generate, eval."""

from __future__ import annotations

import json
import shutil
import sys
import wave

import mido
import numpy as np
import pytest
from conftest import interrupt_at, run_cli
from test_music_data import note_file, read_back

from rnnkit import cli
from rnnkit.music import metrics
from rnnkit.music import train as music_train
from rnnkit.music.corpus import load_bundled_bach, load_corpus
from rnnkit.music.midi import RenderError, find_soundfont
from rnnkit.music.tokens import REST, Melody, key_shift
from rnnkit.music.train import WindowBatcher, load, load_run, pretrained_path, stream
from rnnkit.rundir import RunDir

TINY = ["--hidden-size", "16", "--embedding-size", "8", "--batch-size", "8", "--tx", "12", "--num-samples", "1"]
TINY += ["--quiet"]


def _train(out, steps: int, *extra) -> int:
    argv = ["music", "train", "--out", out, "--max-steps", steps, "--eval-every", "5", *TINY, *extra]
    return cli.main([str(a) for a in argv])


@pytest.fixture(scope="module")
def music_run(tmp_path_factory):
    """A melody model trained for 30 steps on the bundled chorales."""
    out = tmp_path_factory.mktemp("runs") / "melody"
    assert _train(out, 30) == 0
    return out


def _notes(path) -> list[tuple[int, float]]:
    return [e for e in read_back(path) if e[0] != REST]


# ------------------------------------------------------------------------------------------------ train


def test_training_writes_a_complete_run_and_the_loss_falls(music_run):
    """A run holds config, vocabulary, weights, checkpoint, metrics and plot; the held-out loss beats uniform."""
    for name in (
        "config.json",
        "vocab.json",
        "model.safetensors",
        "checkpoint.safetensors",
        "metrics.jsonl",
        "loss.png",
    ):
        assert (music_run / name).exists(), name
    rows = RunDir(music_run).read_metrics()
    assert [r["step"] for r in rows] == [5, 10, 15, 20, 25, 30]
    vocab_size = len(json.loads((music_run / "vocab.json").read_text())["tokens"]) + 1
    assert rows[-1]["val_loss"] < rows[0]["val_loss"] < np.log(vocab_size) + 0.5
    config = json.loads((music_run / "config.json").read_text())
    assert config["kind"] == "music" and config["model"]["hidden_size"] == 16 and config["data"]["tx"] == 12
    assert config["stats"]["val_pieces"] == 35 and config["stats"]["train_pieces"] == 315


def test_training_and_generation_never_import_music21(tmp_path, monkeypatch, capsys):
    """With music21 unavailable, the bundled data loads, a model trains and writes a melody."""
    monkeypatch.setitem(sys.modules, "music21", None)  # `import music21` now raises ImportError
    assert _train(tmp_path / "run", 3) == 0
    code, out, err = run_cli(capsys, "music", "generate", tmp_path / "run", "--out", tmp_path / "a.mid", "--steps", "5")
    assert code == 0, err


def test_seed_preset_is_the_original_djmodel(tmp_path):
    """--preset seed: LSTM 64, Adam lr 0.01 (0.9, 0.999), decay 0.01, m = 60, constant rate, no clipping."""
    assert cli.main(["music", "train", "--preset", "seed", "--out", str(tmp_path / "s"), "--max-steps", "1"]) == 0
    config = json.loads((tmp_path / "s" / "config.json").read_text())
    m, t = config["model"], config["train"]
    assert (m["cell"], m["hidden_size"], m["num_layers"], m["dropout"]) == ("lstm", 64, 1, 0.0)
    assert (t["lr"], t["beta_1"], t["beta_2"], t["decay"], t["batch_size"]) == (0.01, 0.9, 0.999, 0.01, 60)
    assert t["lr_schedule"] == "constant" and t["clip_norm"] is None and t["clip_value"] is None


def test_epochs_map_onto_steps(tmp_path, chorales, capsys):
    """--epochs 2 trains 2 * ceil(ceil(tokens / tx) / batch) steps; --epochs with --max-steps is refused."""
    assert (
        run_cli(capsys, "music", "train", "--data", chorales, "--out", tmp_path / "e", "--epochs", "2", *TINY)[0] == 0
    )
    config = json.loads((tmp_path / "e" / "config.json").read_text())
    train, _ = music_train.split_pieces(load_corpus(chorales), 0.1)
    windows = -(-len(stream([np.zeros(len(m)) for m in train])) // 12)  # the stream holds the boundaries too
    assert config["train"]["max_steps"] == 2 * -(-windows // 8)
    assert RunDir(tmp_path / "e").load_checkpoint()[1]["step"] == config["train"]["max_steps"]


def test_window_batcher_resumes_exactly():
    """A batcher restored from state_dict serves the same windows as one that never stopped."""
    tokens = np.arange(500)
    a = WindowBatcher(tokens, tx=10, batch_size=4, seed=7)
    for _ in range(3):
        a.next_batch()
    b = WindowBatcher(tokens, tx=10, batch_size=4, seed=7)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    for _ in range(3):
        (xa, ya), (xb, yb) = a.next_batch(), b.next_batch()
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    x, y = a.next_batch()
    assert x.shape == (10, 4) and np.array_equal(y[:-1], x[1:])  # targets are the inputs one step on


def test_pieces_are_split_whole():
    """The held-out pieces are whole pieces, none of them also in training, the same split every time."""
    melodies = load_bundled_bach()
    train, val = music_train.split_pieces(melodies, 0.1)
    assert len(val) == 35 and len(train) + len(val) == len(melodies)
    assert not {m.piece_id for m in train} & {m.piece_id for m in val}
    assert [m.piece_id for m in music_train.split_pieces(melodies, 0.1)[1]] == [m.piece_id for m in val]


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path, chorales, monkeypatch):
    """Ctrl-C at step 7, then --resume, gives the same metrics and bit-identical weights as a straight run."""
    assert _train(tmp_path / "straight", 15, "--data", chorales) == 0
    interrupt_at(monkeypatch, music_train.MusicTask, 7)  # Ctrl-C in step 7
    assert _train(tmp_path / "split", 15, "--data", chorales) == 130  # saved, exit 128 + SIGINT
    assert [r["step"] for r in RunDir(tmp_path / "split").read_metrics()] == [5, 7]
    assert cli.main(["music", "train", "--resume", str(tmp_path / "split"), "--quiet"]) == 0
    a, _ = RunDir(tmp_path / "straight").load_checkpoint()
    b, _ = RunDir(tmp_path / "split").load_checkpoint()
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    rows_a = {r["step"]: r for r in RunDir(tmp_path / "straight").read_metrics()}
    rows_b = {r["step"]: r for r in RunDir(tmp_path / "split").read_metrics()}
    assert [rows_a[s]["val_loss"] for s in (5, 10, 15)] == [rows_b[s]["val_loss"] for s in (5, 10, 15)]


# --------------------------------------------------------------------------------------------- generate


def test_generate_with_every_flag_writes_valid_midi(music_run, tmp_path, capsys):
    """Every flag at once: n numbered files with tempo, time signature, instrument and `--steps` events."""
    out = tmp_path / "song.mid"
    code, stdout, err = run_cli(
        capsys, "music", "generate", music_run, "--out", out, "--steps", "24", "-n", "2", "--temperature", "0.8",
        "--top-k", "5", "--seed", "3", "--tempo", "90", "--key", "G", "--instrument", "violin",
        "--png", tmp_path / "roll.png",
    )  # fmt: skip
    assert code == 0, err
    assert stdout.count("wrote ") == 2 and "roll-1.png" in stdout
    for i in (1, 2):
        path = tmp_path / f"song-{i}.mid"
        mid = mido.MidiFile(path)
        meta = {m.type: m for m in mid.tracks[0]}
        assert round(mido.tempo2bpm(meta["set_tempo"].tempo)) == 90
        assert (meta["time_signature"].numerator, meta["time_signature"].denominator) == (4, 4)
        programs = [m.program for m in mid.tracks[1] if m.type == "program_change"]
        assert programs == [40]  # violin
        ons = [m for m in mid.tracks[1] if m.type == "note_on" and m.velocity > 0]
        offs = [m for m in mid.tracks[1] if m.type == "note_off" or (m.type == "note_on" and m.velocity == 0)]
        assert len(ons) == len(offs) > 0
        events = read_back(path)  # rests between notes come back as gaps; adjacent rests merge
        assert len(ons) <= 24 and len(events) <= 24
        assert (tmp_path / f"roll-{i}.png").read_bytes()[:4] == b"\x89PNG"


def test_generated_events_round_trip_through_midi(music_run, tmp_path):
    """The events written are the events generated: same notes and durations read back with mido."""
    gen = load(music_run)
    melody = gen.generate(1, 40, seed=5)[0]
    gen.write([melody], tmp_path / "a.mid")
    expected = [(p, d) for p, d in melody.events if p != REST]
    assert _notes(tmp_path / "a.mid") == expected
    assert len(melody) == 40


def test_greedy_is_deterministic_and_seeds_reproduce(music_run, tmp_path, capsys):
    """--greedy writes the same file every time whatever the seed; one seed gives one melody, another another."""
    for name, seed in (("g1", "1"), ("g2", "2")):
        assert (
            run_cli(
                capsys, "music", "generate", music_run, "--greedy", "--seed", seed, "--out", tmp_path / f"{name}.mid"
            )[0]
            == 0
        )
    assert (tmp_path / "g1.mid").read_bytes() == (tmp_path / "g2.mid").read_bytes()
    gen = load(music_run)
    a, b, c = (gen.generate_ids(2, 30, seed=s) for s in (4, 4, 5))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_key_moves_the_melody(music_run, tmp_path):
    """--key D writes the C-major melody two semitones up; A minor (relative of C) leaves it where it is."""
    gen = load(music_run)
    melody = gen.generate(1, 30, seed=2)[0]
    gen.write([melody], tmp_path / "c.mid")
    gen.write([melody], tmp_path / "d.mid", key="D")
    gen.write([melody], tmp_path / "am.mid", key="Am")
    c, d = _notes(tmp_path / "c.mid"), _notes(tmp_path / "d.mid")
    assert [p + key_shift("D") for p, _ in c] == [p for p, _ in d] and key_shift("D") == 2
    assert _notes(tmp_path / "am.mid") == c


def test_prime_continues_a_melody_in_its_key(music_run, tmp_path, capsys):
    """--prime reads a MIDI melody; the continuation has --steps events and is written in the primer's key."""
    primer = note_file(
        tmp_path / "primer.mid", [[(0, p, i, i + 1) for i, p in enumerate([67, 69, 71, 72, 74, 71, 67])]]
    )
    code, out, err = run_cli(
        capsys, "music", "generate", music_run, "--prime", primer, "--steps", "16", "--out", tmp_path / "p.mid",
        "--seed", "0",
    )  # fmt: skip
    assert code == 0, err
    gen = load(music_run)
    from rnnkit.music.midi import read_midi

    melody = gen.generate(1, 16, prime=read_midi(primer), seed=0)[0]
    assert melody.transposition == 5 and len(melody) == 16  # the G major primer moved up to C ...
    notes = _notes(tmp_path / "p.mid")
    assert [p for p, _ in notes] == [p - 5 for p, _ in melody.events if p != REST]  # ... and the output back down


def test_generate_wav_is_not_silent(music_run, tmp_path, capsys):
    """Where fluidsynth and a General MIDI soundfont are installed, --wav writes audible audio."""
    if shutil.which("fluidsynth") is None:
        pytest.skip("fluidsynth is not installed (apt-get install fluidsynth timgm6mb-soundfont)")
    try:
        find_soundfont()
    except RenderError:
        pytest.skip("no General MIDI soundfont installed (apt-get install timgm6mb-soundfont)")
    code, _, err = run_cli(
        capsys,
        "music",
        "generate",
        music_run,
        "--steps",
        "12",
        "--out",
        tmp_path / "a.mid",
        "--wav",
        tmp_path / "a.wav",
    )
    assert code == 0, err
    with wave.open(str(tmp_path / "a.wav")) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert samples.size > 0 and np.abs(samples).max() > 100


def test_wav_without_fluidsynth_says_how_to_install(music_run, tmp_path, capsys, monkeypatch):
    """Without fluidsynth, --wav is a one-line error with the apt-get command."""
    from rnnkit.music import midi

    monkeypatch.setattr(midi.shutil, "which", lambda name: None)
    lines = _expect_error(
        capsys, ["music", "generate", music_run, "--out", tmp_path / "a.mid", "--wav", tmp_path / "a.wav"], "apt-get"
    )
    assert len(lines) == 1


def test_pretrained_model_writes_a_melody(tmp_path, capsys):
    """`rnnkit music generate --out song.mid` with no run uses the model shipped in the package."""
    if not (pretrained_path() / "model.safetensors").exists():
        pytest.skip("the pretrained model is not built (scripts/train_pretrained_bach.py)")
    code, out, err = run_cli(capsys, "music", "generate", "--out", tmp_path / "song.mid", "--seed", "0")
    assert code == 0, err
    assert len(read_back(tmp_path / "song.mid")) > 20
    assert load_run().config["data"]["data"] == ["bach"]


# ------------------------------------------------------------------------------------------------- eval


def test_eval_reports_every_metric(music_run, capsys):
    """eval --json: held-out NLL, and the generated and reference metrics, each in its range."""
    code, out, err = run_cli(capsys, "music", "eval", music_run, "-n", "10", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["held_out"]["pieces"] == 35 and 0 < result["nll"] < 6
    for row in ("model", "reference"):
        r = result[row]
        for key in ("pitch_class_jsd", "duration_jsd", "interval_jsd", "scale_consistency", "copy_rate"):
            assert 0 <= r[key] <= 1, (row, key)
        assert r["pitch_range"] > 0 and r["distinct_pitches"] >= 1
    assert result["model"]["pieces"] == 10
    code, out, _ = run_cli(capsys, "music", "eval", music_run, "-n", "5")
    assert code == 0 and "scale consistency" in out and "copy rate" in out


def test_metrics_on_known_cases():
    """JSD is 0 for equal and 1 for disjoint histograms; a C major scale is fully consistent; copies copy."""
    assert metrics.js_divergence([1, 2, 3], [2, 4, 6]) == pytest.approx(0.0)
    assert metrics.js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)
    scale = Melody([60, 62, 64, 65, 67, 69, 71, 72, REST, 60], [1.0] * 10)
    assert metrics.scale_consistency(scale) == 1.0
    assert metrics.scale_consistency(Melody([60, 61, 62, 63], [1.0] * 4)) == 0.75
    assert metrics.copy_rate([scale], [scale]) == 1.0
    assert metrics.copy_rate([Melody([60] * 9, [1.0] * 9)], [scale]) == 0.0
    assert metrics.interval_histogram([scale])[12 + 2] == 5  # five whole-tone steps up (rests skipped)


# ---------------------------------------------------------------------------------------- user MIDI data


def _midi_folder(tmp_path, good: int = 3, bad: bool = True):
    folder = tmp_path / "songs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(good):
        pitches = rng.choice([60, 62, 64, 65, 67, 69, 71, 72], size=40)
        note_file(folder / f"song{i}.mid", [[(0, int(p), j * 0.5, j * 0.5 + 0.5) for j, p in enumerate(pitches)]])
    if bad:
        (folder / "broken.mid").write_bytes(b"definitely not midi")
    return folder


def test_train_on_a_midi_folder_skips_bad_files_with_a_warning(tmp_path, capsys):
    """A folder with a bad file trains on the good ones and says what it skipped, and how many."""
    folder = _midi_folder(tmp_path)
    code, out, err = run_cli(
        capsys, "music", "train", "--data", folder, "--out", tmp_path / "run", "--max-steps", "3", *TINY
    )
    assert code == 0, err
    assert "broken.mid" in out and "skipped 1 unreadable MIDI file(s); read 3" in out
    assert (tmp_path / "run" / "melodies.npz").exists()  # eval and resume need not reread the MIDI
    assert cli.main(["music", "eval", str(tmp_path / "run"), "-n", "2"]) == 0


def test_prepare_midi_folder_and_refuse_to_overwrite(tmp_path, capsys):
    """prepare --data writes a corpus train can read; a second prepare needs --force."""
    folder = _midi_folder(tmp_path, bad=False)
    out = tmp_path / "mine.npz"
    code, stdout, err = run_cli(capsys, "music", "prepare", "--data", folder, "--out", out)
    assert code == 0, err
    assert len(load_corpus(out)) == 3 and "3 melodies" in stdout
    _expect_error(capsys, ["music", "prepare", "--data", folder, "--out", out], "exists; use --force")
    assert run_cli(capsys, "music", "prepare", "--data", folder, "--out", out, "--force")[0] == 0


def test_prepare_bach_chorales_with_music21(tmp_path, capsys):
    """prepare --corpus bach --limit 2 extracts two soprano lines from music21's corpus."""
    pytest.importorskip("music21")
    out = tmp_path / "bach.npz"
    code, stdout, err = run_cli(capsys, "music", "prepare", "--corpus", "bach", "--limit", "2", "--out", out)
    assert code == 0, err
    melodies = load_corpus(out)
    assert len(melodies) == 2 and all(m.num_notes > 20 for m in melodies)


# ------------------------------------------------------------------------------------------ bad input


def _expect_error(capsys, argv, fragment):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (argv, out, err)
    assert fragment in err and "Traceback" not in err, err
    return err.strip().split("\n")


def _bad_file(tmp_path, case: str):
    path = tmp_path / f"{case.replace(' ', '_')}.mid"
    if case == "not midi":
        path.write_bytes(np.random.default_rng(3).bytes(300))
    elif case == "truncated":
        data = note_file(tmp_path / "ok.mid", [[(0, 60 + i, i, i + 1) for i in range(20)]]).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "no notes":
        note_file(path, [[(0, mido.MetaMessage("set_tempo", tempo=500000))]])
    elif case == "only drums":
        note_file(path, [[(9, 36, i, i + 0.5) for i in range(8)]])
    elif case == "empty folder":
        path = tmp_path / "nothing_here"
        path.mkdir()
        (path / "readme.txt").write_text("no midi")
    return path


BAD = {
    "not midi": "not a MIDI file",
    "truncated": "truncated",
    "no notes": "no notes",
    "only drums": "only drums",
    "empty folder": "no MIDI files",
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_midi_data_gives_a_one_line_error(tmp_path, capsys, case):
    """Each bad --data input: exit 2, one line naming the file, no traceback, no run left behind."""
    path = _bad_file(tmp_path, case)
    lines = _expect_error(capsys, ["music", "train", "--data", path, "--out", tmp_path / "run", *TINY], BAD[case])
    assert len(lines) == 1 and str(path) in lines[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("case", ["not midi", "only drums"])
def test_bad_primer_gives_a_one_line_error(music_run, tmp_path, capsys, case):
    """A bad --prime file: exit 2, one line naming the file."""
    path = _bad_file(tmp_path, case)
    lines = _expect_error(
        capsys, ["music", "generate", music_run, "--prime", path, "--out", tmp_path / "a.mid"], BAD[case]
    )
    assert len(lines) == 1 and str(path) in lines[0]


def test_bad_arguments_are_refused(music_run, tmp_path, capsys):
    """Nonsense flags and missing runs: exit 2 and a one-line reason."""
    gen = ["music", "generate", music_run, "--out", tmp_path / "a.mid"]
    _expect_error(capsys, [*gen, "--steps", "0"], "--steps must be >= 1")
    _expect_error(capsys, [*gen, "--temperature", "-1"], "--temperature must be 0 (greedy) or between")
    _expect_error(capsys, [*gen, "--top-k", "0"], "--top-k must be >= 1")
    _expect_error(capsys, [*gen, "--key", "H major"], "--key")
    _expect_error(capsys, [*gen, "--instrument", "kazoo"], "unknown instrument")
    _expect_error(capsys, [*gen, "--tempo", "0"], "--tempo must be between 4 and 1000")
    _expect_error(capsys, [*gen, "--greedy", "-n", "3"], "--greedy writes one melody")
    _expect_error(capsys, ["music", "generate", tmp_path / "nope", "--out", tmp_path / "a.mid"], "no such run")
    _expect_error(capsys, ["music", "generate", music_run, "--out", tmp_path / "no" / "a.mid"], "does not exist")
    _expect_error(capsys, ["music", "train", "--out", tmp_path / "r", "--epochs", "1", "--max-steps", "3"], "not both")
    _expect_error(capsys, ["music", "train", "--out", tmp_path / "r", "--tx", "0"], "--tx must be >= 1")
    _expect_error(capsys, ["music", "train", "--out", music_run, "--max-steps", "1"], "holds another run")
    _expect_error(capsys, ["music", "eval", tmp_path / "nope"], "no such run")
