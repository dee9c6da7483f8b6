"""Every input answered: bad values refused by name with exit 2 and nothing written, sizes estimated before they are
allocated, hostile MIDI and corpus files read or refused in one line, the time budget spent."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import mido
import numpy as np
import pytest
from conftest import TINY, run_cli
from test_music_data import note_file

from rnnkit import cli
from rnnkit.music.corpus import load_bundled_bach, load_corpus, save_corpus
from rnnkit.music.midi import read_midi, read_midi_paths
from rnnkit.music.tokens import Key, Melody
from rnnkit.music.train import prepare_pieces
from rnnkit.text import generate as text_generate
from rnnkit.text.train import load

MUSIC_TINY = ["--hidden-size", "16", "--embedding-size", "8", "--batch-size", "8", "--tx", "12", "--num-samples", "1"]


def refused(capsys, *argv, fragment: str) -> str:
    """The command exits 2 with one line on stderr that holds `fragment`, and no traceback."""
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (argv, out, err)
    assert fragment in err and "Traceback" not in err, err
    assert len(err.strip().split("\n")) == 1, err
    return err


def train_args(names_file, out, *extra) -> list:
    return ["text", "train", "--data", names_file, "--out", out, "--max-steps", "2", "--eval-every", "2", *TINY, *extra]


@pytest.fixture(scope="module")
def melody_run(tmp_path_factory, corpus):
    out = tmp_path_factory.mktemp("runs") / "melody"
    argv = ["music", "train", "--data", corpus, "--out", out, "--max-steps", "4", "--eval-every", "4", *MUSIC_TINY]
    assert cli.main([str(a) for a in [*argv, "--quiet"]]) == 0
    return out


# -- 1. the time budget ------------------------------------------------------------------------------------------
def test_a_small_model_trains_for_nine_tenths_of_its_time_budget(tmp_path, names_file, capsys):
    """--max-time 3 on a tiny model trains about 3 s (it stopped after 0.3 s when the first steps set the pace)."""
    out = tmp_path / "timed"
    argv = ["text", "train", "--data", names_file, "--out", out, "--max-time", "3", *TINY]
    start = time.perf_counter()
    code, stdout, _ = run_cli(capsys, *argv)
    wall = time.perf_counter() - start
    elapsed = float(re.search(r"stopped \(max-time\) at step \d+ after ([\d.]+) s", stdout).group(1))
    assert code == 0 and 0.9 * 3 <= elapsed and wall < 3 + 5
    assert "the cosine schedule follows the clock" in stdout


# -- 2. the vocabulary ---------------------------------------------------------------------------------------------
def test_a_character_only_in_the_validation_split_does_not_stop_training(tmp_path, capsys):
    """The vocabulary is built from training and validation items alike: every item's rare letter has an id."""
    data = tmp_path / "rare.txt"
    data.write_text("\n".join(f"ив{chr(0x410 + i)}" for i in range(30)), encoding="utf-8")  # 30 distinct letters
    code, _, err = run_cli(capsys, *train_args(data, tmp_path / "rare", "--val-fraction", "0.2"))
    assert code == 0, err
    vocab = json.loads((tmp_path / "rare" / "vocab.json").read_text(encoding="utf-8"))
    assert {chr(0x410 + i) for i in range(30)} <= set(vocab["chars"])


# -- 5. tracebacks that are now one-line errors ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--seed", "-1"], "--seed"),
        (["--beta-1", "1"], "--beta-1"),
        (["--beta-1", "-1"], "--beta-1"),
        (["--max-time", "inf"], "--max-time"),
        (["--hidden-size", "1000000"], "would need about"),  # more than any machine has (the 100000
        (["--embedding-size", "1000000000"], "would need about"),  # and 10000000 need less with TINY's sizes)
        (["--beta-1", "2"], "--beta-1"),
        (["--beta-2", "1"], "--beta-2"),
        (["--beta-2", "nan"], "--beta-2"),
        (["--decay", "nan"], "--decay"),
        (["--weight-decay", "inf"], "--weight-decay"),
        (["--min-lr", "nan"], "--min-lr"),
        (["--lr", "inf"], "--lr"),
        (["--num-samples", "-1"], "--num-samples"),
    ],
)
def test_bad_training_flags_are_refused_before_the_run_exists(tmp_path, names_file, capsys, flags, fragment):
    """Each bad training value is one line naming the flag, exit 2, and no run directory."""
    refused(capsys, *train_args(names_file, tmp_path / "run", *flags), fragment=fragment)
    assert not (tmp_path / "run").exists()


def test_a_data_file_of_one_huge_line_is_refused_with_the_estimate(tmp_path, capsys):
    """One 1 MB line would need terabytes for a batch: refused with the estimate before anything is allocated."""
    data = tmp_path / "one-line.txt"
    data.write_text("ab" * 500_000 + "\nab\n", encoding="utf-8")
    args = ["text", "train", "--data", data, "--out", tmp_path / "run", "--val-fraction", "0", "--quiet"]
    err = refused(capsys, *args, fragment="would need about")
    assert "1,000,000 characters" in err and not (tmp_path / "run").exists()


@pytest.mark.parametrize("flags", [["--seed", "-1"], ["--temperature", "nan"], ["--temperature", "inf"]])
def test_sampling_evaluating_and_generating_refuse_bad_seeds_and_temperatures(
    tiny_run, melody_run, names_file, tmp_path, capsys, flags
):
    """--seed -1 and temperatures nan/inf are refused by name in sample, music generate and music eval."""
    refused(capsys, "text", "sample", tiny_run, *flags, fragment=flags[0])
    refused(capsys, "music", "generate", melody_run, "--out", tmp_path / "s.mid", *flags, fragment=flags[0])
    refused(capsys, "music", "eval", melody_run, "-n", "2", *flags, fragment=flags[0])
    assert not (tmp_path / "s.mid").exists()


def test_tiny_temperatures_are_refused(tiny_run, melody_run, tmp_path, capsys):
    """1e-320 would overflow the softmax into 'Zzzz...': below 0.01 the range ends (0 is greedy)."""
    refused(capsys, "text", "sample", tiny_run, "--temperature", "1e-320", fragment="--temperature")
    refused(capsys, "music", "generate", melody_run, "--temperature", "1e-320", fragment="--temperature")


def test_music_epochs_and_tempos_out_of_range_are_refused(tmp_path, corpus, melody_run, capsys):
    """--epochs inf, and --tempo 3, inf or 1e9 (a set_tempo MIDI cannot hold) are refused by name."""
    out = tmp_path / "m"
    refused(capsys, "music", "train", "--data", corpus, "--out", out, "--epochs", "inf", fragment="--epochs")
    assert not out.exists()
    for tempo in ("3", "inf", "1e9"):
        args = ["music", "generate", melody_run, "--out", tmp_path / "t.mid", "--tempo", tempo]
        refused(capsys, *args, fragment="--tempo must be between 4 and 1000")
    assert not (tmp_path / "t.mid").exists()


def test_huge_generation_is_estimated_and_refused(melody_run, tiny_run, tmp_path, capsys):
    """--steps 1e9 melodies, and names of 10^30 characters, are refused with the memory they would need."""
    err = refused(capsys, "music", "generate", melody_run, "--steps", "1000000000", fragment="would need about")
    assert "GiB" in err
    refused(capsys, "text", "sample", tiny_run, "--max-length", str(10**30), fragment="would need about")
    refused(capsys, "text", "sample", tiny_run, "-n", str(10**30), fragment="would need about")


def test_very_long_names_are_sampled_in_smaller_batches(tiny_run, monkeypatch):
    """A long --max-length shrinks the batches so the ids stay within SAMPLE_IDS_BYTES (was n x max-length)."""
    sizes = []
    real = text_generate.NameGenerator._sample_batch

    def spy(self, batch, *args):
        sizes.append(batch)
        return real(self, batch, *args)

    monkeypatch.setattr(text_generate.NameGenerator, "_sample_batch", spy)
    names = load(tiny_run).sample(40, seed=0, max_length=1_000_000)
    assert len(names) == 40
    assert max(sizes) * 1_000_000 * 8 <= text_generate.SAMPLE_IDS_BYTES


def test_midi_files_at_the_edges_are_read(tmp_path):
    """Notes at 0 and 127 move to C an octave the other way; 0/4 time signatures are ignored; a first tempo of
    0xFFFFFF us is read as the slowest tempo rnnkit writes."""
    high = note_file(tmp_path / "high.mid", [[(0, 127, 0, 1), (0, 126, 1, 2), (0, 124, 2, 3), (0, 121, 3, 4)]])
    melody = prepare_pieces([read_midi(high)], transpose=True)
    assert len(melody) == 1 and melody[0].pitches.max() <= 127
    sig = note_file(
        tmp_path / "sig.mid",
        [[(0, mido.MetaMessage("time_signature", numerator=0, denominator=4)), (0, 60, 0, 1)]],
    )
    assert read_midi(sig).time_signature == (4, 4)
    slow = note_file(tmp_path / "slow.mid", [[(0, mido.MetaMessage("set_tempo", tempo=0xFFFFFF)), (0, 60, 0, 1)]])
    assert read_midi(slow).tempo_bpm == 4.0


def test_a_primer_near_the_top_of_the_range_generates(melody_run, tmp_path, capsys):
    """A primer whose notes reach 127 continues instead of failing in the transposition (was a traceback)."""
    prime = note_file(tmp_path / "p.mid", [[(0, 127, 0, 1), (0, 125, 1, 2), (0, 123, 2, 3), (0, 122, 3, 4)]])
    code, _, err = run_cli(capsys, "music", "generate", melody_run, "--prime", prime, "--out", tmp_path / "o.mid")
    assert code == 0, err


def test_a_key_signature_of_20_sharps_is_skipped_in_a_folder(tmp_path):
    """mido cannot decode 20 sharps: that file is skipped like any unreadable one, the others are read."""
    folder = tmp_path / "songs"
    folder.mkdir()
    note_file(folder / "good.mid", [[(0, 60, 0, 1), (0, 62, 1, 2)]])
    bad = note_file(folder / "bad.mid", [[(0, mido.MetaMessage("key_signature", key="C")), (0, 60, 0, 1)]])
    raw = bytearray(bad.read_bytes())
    at = raw.find(bytes([0xFF, 0x59, 0x02]))
    raw[at + 3] = 20
    bad.write_bytes(bytes(raw))
    with pytest.warns(UserWarning):
        melodies, skipped = read_midi_paths(folder)
    assert len(melodies) == 1 and [p.name for p, _ in skipped] == ["bad.mid"]


def test_a_piece_dropped_by_transposition_is_reported():
    """A piece that cannot move to C in either octave is dropped with a warning, and the count is told."""
    wide = Melody(np.array([0, 127, 1, 126, 66]), np.ones(5), key=Key(7, "major"))  # from 0 to 127: no shift fits
    fine = Melody(np.array([60, 62, 64]), np.ones(3))
    said = []
    kept = prepare_pieces([wide, fine], transpose=True, warn=said.append)
    assert len(kept) == 1 and len(said) == 2 and "1 of 2 pieces" in said[-1]


def _corpus_arrays(tmp_path):
    path = tmp_path / "ok.npz"
    save_corpus(load_bundled_bach()[:3], path)
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize(
    "field, value",
    [
        ("pitches", lambda a: np.array([object()] * len(a["pitches"]), dtype=object)),
        ("meta", lambda a: np.array("{not json")),
        ("durations", lambda a: np.where(np.arange(len(a["durations"])) == 3, 0.0, a["durations"])),
        ("durations", lambda a: np.where(np.arange(len(a["durations"])) == 3, np.nan, a["durations"])),
        ("pitches", lambda a: np.where(np.arange(len(a["pitches"])) == 2, 200, a["pitches"]).astype(np.int16)),
    ],
)
def test_a_bad_corpus_file_is_one_error_naming_the_file_and_field(tmp_path, capsys, field, value):
    """Object arrays, non-JSON meta, durations <= 0 or NaN and pitch 200 are refused naming file and field."""
    arrays = _corpus_arrays(tmp_path)
    arrays[field] = value(arrays)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(Exception) as caught:
        load_corpus(bad)
    assert str(bad) in str(caught.value) and f"field {field}" in str(caught.value)
    out = tmp_path / "run"
    refused(capsys, "music", "train", "--data", bad, "--out", out, fragment=f"field {field}")
    assert not out.exists()


def test_ctrl_c_outside_training_exits_130_quietly(tiny_run, monkeypatch, capsys):
    """A KeyboardInterrupt while sampling ends the command with 130 and no traceback."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(text_generate.NameGenerator, "sample", interrupted)
    code, _, err = run_cli(capsys, "text", "sample", tiny_run)
    assert code == 130 and "Traceback" not in err and "KeyboardInterrupt" not in err


def test_a_closed_stdout_pipe_ends_sampling_quietly(tiny_run):
    """`rnnkit text sample -n 20000 | head -2` prints two names and no error (was "error: Broken pipe")."""
    # 20,000 names are more than the 64 KB a pipe buffers, so the writer meets the closed pipe
    command = f"{sys.executable} -m rnnkit.cli text sample {tiny_run} -n 20000 --seed 0 | head -2"
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120, check=False)
    assert len(proc.stdout.split()) == 2
    assert proc.stderr == "", proc.stderr


# -- 6. accepted before, wrong ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--beam", "0"], "--beam must be >= 1"),
        (["--beam", "3", "-n", "5"], "-n cannot apply with --beam"),
        (["--beam", "3", "--novel"], "--novel cannot apply with --beam"),
        (["--beam", "3", "--temperature", "0.5"], "--temperature cannot apply with --beam"),
        (["--beam", "3", "--top-k", "2"], "--top-k cannot apply with --beam"),
        (["--beam", "3", "--greedy"], "--greedy cannot apply with --beam"),
        (["--beam", "3", "--seed", "1"], "--seed cannot apply with --beam"),
        (["--greedy", "-n", "5"], "-n 5 cannot apply"),
        (["--prefix", "abcdef", "--max-length", "3"], "--prefix has 6 characters, more than --max-length 3"),
    ],
)
def test_sampling_flags_that_cannot_apply_are_refused(tiny_run, capsys, flags, fragment):
    """A flag the sampler would ignore, or two that contradict each other, are refused by name."""
    refused(capsys, "text", "sample", tiny_run, *flags, fragment=fragment)


def test_beam_log_probs_with_a_prefix_are_the_whole_names_as_score_gives(tiny_run, capsys):
    """--beam with --prefix prints log P(name), prefix included: the same number `score` prints."""
    code, out, _ = run_cli(capsys, "text", "sample", tiny_run, "--beam", "3", "--prefix", "ma")
    rows = [line.split("\t") for line in out.strip().split("\n")]
    assert code == 0 and all(name.startswith("ma") for name, _ in rows)
    code, scored, _ = run_cli(capsys, "text", "score", tiny_run, *(name for name, _ in rows))
    assert [line.split("\t")[1] for line in scored.strip().split("\n")] == [lp for _, lp in rows]


def test_scoring_an_empty_name_is_refused(tiny_run, capsys):
    """The sampler never writes an empty name, so `score ""` is refused instead of given a number."""
    refused(capsys, "text", "score", tiny_run, "", fragment="empty name")


def test_split_flags_with_a_validation_file_are_refused(tmp_path, names_file, capsys):
    """--val-fraction and --max-val split --data: with --val-data they cannot apply."""
    for flag, value in (("--val-fraction", "0.2"), ("--max-val", "10")):
        args = train_args(names_file, tmp_path / "run", "--val-data", names_file, flag, value)
        refused(capsys, *args, fragment=f"{flag} splits --data")
    assert not (tmp_path / "run").exists()


def test_prepare_limit_must_be_positive(tmp_path, capsys):
    """`prepare --limit -1` prepared all pieces but one; now it is refused."""
    args = ["music", "prepare", "--corpus", "bach", "--limit", "-1", "--out", tmp_path / "c.npz"]
    refused(capsys, *args, fragment="--limit")


def test_wav_rendering_passes_paths_that_cannot_read_as_options(tmp_path, monkeypatch):
    """A MIDI path that starts with '-' reaches fluidsynth as an absolute path, not as an option."""
    from rnnkit.music import midi

    seen = {}

    def fake_run(cmd, **kwargs):
        seen["cmd"] = cmd
        with open(cmd[cmd.index("-F") + 1], "wb") as fh:
            fh.write(b"\0" * 100)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(midi.shutil, "which", lambda name: "/usr/bin/fluidsynth")
    monkeypatch.setattr(midi.subprocess, "run", fake_run)
    font = tmp_path / "font.sf2"
    font.write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    mid = note_file(tmp_path / "-song.mid", [[(0, 60, 0, 1)]])
    midi.render_wav("-song.mid", "out.wav", soundfont=font)
    assert str(mid) in seen["cmd"] and "-song.mid" not in seen["cmd"]


def test_threads_limit_the_blas_that_numpy_loads_later():
    """`--threads` holds when the command line has not loaded NumPy yet (it loads it lazily, to start fast).

    threadpoolctl limits only the libraries already loaded: before the fix, `rnnkit text train --threads 1` ran
    OpenBLAS on every core, and two such runs side by side each took six times as long.
    """
    code = (
        "import sys\n"
        "from rnnkit import cli\n"
        "assert 'numpy' not in sys.modules\n"
        "with cli._threads(1):\n"
        "    import numpy\n"
        "    from threadpoolctl import threadpool_info\n"
        "    print(max(i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'))\n"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}  # a default above the limit, on any machine
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["1"]


def test_help_shows_real_defaults_once_and_threads_everywhere(capsys):
    """No "(default: None)", --max-steps shows its real default, --threads is in every action's help."""
    parser = cli.build_parser()
    helps = {}
    for argv in (["text", "train"], ["text", "sample"], ["text", "eval"], ["text", "score"], ["music", "generate"]):
        with pytest.raises(SystemExit):
            parser.parse_args([*argv, "--help"])
        helps[" ".join(argv)] = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in helps["text train"]
    assert "(default: runs/<timestamp>) (default" not in helps["text train"]
    assert "(default: 5000" in helps["text train"]
    assert all("--threads THREADS BLAS threads" in text for text in helps.values()), helps
