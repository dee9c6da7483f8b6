"""Every option of every subcommand, given hostile values, exits 0 or 2 with no traceback; exit 2 writes nothing.

Each case runs in a fresh working folder with small caps (one training step, a tiny model, four events), so a
value that is accepted does little work; the cap a case needs to stay small is replaced when it is the option
under test (--max-steps is then capped by --max-time 1).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
from conftest import TINY
from test_music_data import note_file

from rnnkit import cli
from rnnkit.music.corpus import load_bundled_bach, save_corpus
from rnnkit.rundir import RunDir

HOSTILE = ["0", "-1", "nan", "inf", "1e300", "", str(10**30), "abc"]
TEXT_TRAIN_CAPS = ["--max-steps", "1", "--eval-every", "1", "--num-samples", "0", *TINY]
MUSIC_TINY = ["--hidden-size", "16", "--embedding-size", "8", "--batch-size", "8", "--tx", "12", "--quiet"]
MUSIC_TRAIN_CAPS = ["--max-steps", "1", "--eval-every", "1", "--num-samples", "0", *MUSIC_TINY]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tiny_run):
    """Small inputs for every subcommand: names, a run of each kind, a corpus, a MIDI folder."""
    root = tmp_path_factory.mktemp("hostile")
    names = root / "names.txt"
    names.write_text("\n".join(["anna", "bert", "carl", "dora", "emil", "fred", "gina", "hugo"] * 4), "utf-8")
    corpus = root / "few.npz"
    save_corpus(load_bundled_bach()[:6], corpus)
    midi = root / "midi"
    midi.mkdir()
    note_file(midi / "a.mid", [[(0, 60, 0, 1), (0, 64, 1, 2), (0, 67, 2, 3)]])
    note_file(midi / "b.mid", [[(0, 62, 0, 1), (0, 65, 1, 2), (0, 69, 2, 4)]])
    melody = root / "melody"
    argv = ["music", "train", "--data", corpus, "--out", melody, *MUSIC_TRAIN_CAPS]
    assert cli.main([str(a) for a in argv]) == 0
    return {"names": names, "corpus": corpus, "midi": midi, "text_run": tiny_run, "music_run": melody}


def bases(i: dict) -> dict[tuple[str, str], list]:
    """The argv of each subcommand that the option under test is appended to (the last value of a flag wins)."""
    return {
        ("text", "train"): ["--data", i["names"], "--out", "run", *TEXT_TRAIN_CAPS],
        ("text", "sample"): [i["text_run"], "-n", "2", "--max-length", "8"],
        ("text", "eval"): [i["text_run"], "--data", i["names"]],
        ("text", "score"): [i["text_run"], "anna"],
        ("music", "prepare"): ["--data", i["midi"], "--out", "c.npz"],
        ("music", "train"): ["--data", i["corpus"], "--out", "run", *MUSIC_TRAIN_CAPS],
        ("music", "generate"): [i["music_run"], "--out", "song.mid", "--steps", "4"],
        ("music", "eval"): [i["music_run"], "-n", "2"],
    }


# a cap that would contradict the option under test, and what stands in for it
REPLACED_CAPS = {
    "--max-steps": ("--max-steps", ["--max-time", "1"]),
    "--epochs": ("--max-steps", ["--max-time", "1"]),
    "--beam": ("-n", []),
    "--greedy": ("-n", []),
}


def options(command: str, action: str) -> list[argparse.Action]:
    """The options of `rnnkit command action` that take a value."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    sub = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction)).choices[action]
    return [a for a in sub._actions if a.option_strings and a.nargs != 0 and a.dest != "help"]


def _drop(argv: list, flag: str) -> list:
    """argv without `flag` and its value."""
    if flag not in argv:
        return argv
    at = argv.index(flag)
    return argv[:at] + argv[at + 2 :]


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


@pytest.mark.parametrize(
    "command, action",
    [
        ("text", "train"),
        ("text", "sample"),
        ("text", "eval"),
        ("text", "score"),
        ("music", "prepare"),
        ("music", "train"),
        ("music", "generate"),
        ("music", "eval"),
    ],
)
def test_hostile_values_exit_0_or_2_without_a_traceback(inputs, tmp_path, monkeypatch, capsys, command, action):
    """0, -1, nan, inf, 1e300, '', 10^30 and 'abc' for every option: exit 0 or 2, one-line errors, no new files."""
    base = bases(inputs)[command, action]
    monkeypatch.setattr(RunDir, "plot", lambda self, title="": None)  # loss.png is tested elsewhere; this is slow
    tried = 0
    for option in options(command, action):
        flag = max(option.option_strings, key=len)
        argv = list(base)
        if flag in REPLACED_CAPS:
            cap, stand_in = REPLACED_CAPS[flag]
            argv = [*_drop(argv, cap), *stand_in]
        for value in HOSTILE:
            case = tmp_path / f"case{tried}"
            case.mkdir()
            monkeypatch.chdir(case)
            full = [command, action, *map(str, argv), flag, value]
            code = cli.main(full)
            _, err = capsys.readouterr()
            assert code in (0, 2), (full, code, err)
            assert "Traceback" not in err, (full, err)
            if code == 2:
                assert err.strip() and _files(case) == set(), (full, err, _files(case))
            tried += 1
    assert tried >= 8
    os.chdir(tmp_path)
