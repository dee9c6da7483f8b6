"""Nothing lost, nothing mixed up: outputs, run directories, locks, signals, resume and hand-edited run files."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal

import numpy as np
import pytest
from conftest import TINY, interrupt_at, run_cli

from rnnkit import cli
from rnnkit.music import train as music_train
from rnnkit.music.midi import write_midi
from rnnkit.rundir import RunDir
from rnnkit.text import train as text_train

MUSIC_TINY = ["--hidden-size", "8", "--embedding-size", "4", "--batch-size", "4", "--tx", "8", "--num-samples", "0"]
MUSIC_TINY += ["--quiet", "--threads", "1"]


def expect_error(capsys, *argv, fragment: str = "") -> str:
    """Exit 2, one line on stderr that holds `fragment`; return that line."""
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (argv, out, err)
    assert len(err.strip().split("\n")) == 1 and fragment in err, err
    return err


def train_text(out, data, steps, *extra) -> int:
    argv = ["text", "train", "--data", data, "--out", out, "--max-steps", steps, "--eval-every", "5", *TINY, *extra]
    return cli.main([str(a) for a in argv])


def same_weights(a, b) -> None:
    wa, _ = RunDir(a).load_checkpoint()
    wb, _ = RunDir(b).load_checkpoint()
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)


@pytest.fixture(scope="module")
def melody_run(tmp_path_factory, corpus):
    """A tiny melody model trained 6 steps on a corpus file (so the run keeps melodies.npz)."""
    out = tmp_path_factory.mktemp("runs") / "melody"
    argv = ["music", "train", "--data", corpus, "--out", out, "--max-steps", "6", "--eval-every", "3", *MUSIC_TINY]
    assert cli.main([str(a) for a in argv]) == 0
    return out


@pytest.fixture
def primer(tmp_path):
    write_midi([(60, 1.0), (62, 1.0), (64, 1.0), (65, 1.0), (67, 2.0)], tmp_path / "theme.mid")
    return tmp_path / "theme.mid"


# ------------------------------------------------------------------------------------------ files the user had


def test_generate_never_replaces_a_file_without_force(melody_run, tmp_path, capsys, monkeypatch):
    """An existing --out, the default song.mid and a numbered song-2.mid are refused; --force replaces them."""
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "mine.mid"
    mine.write_bytes(b"my own file")
    expect_error(capsys, "music", "generate", melody_run, "--out", mine, "--steps", "4", fragment="--force")
    assert mine.read_bytes() == b"my own file"
    (tmp_path / "song.mid").write_bytes(b"mine too")
    expect_error(capsys, "music", "generate", melody_run, "--steps", "4", fragment="song.mid")
    (tmp_path / "song-2.mid").write_bytes(b"and this")
    expect_error(capsys, "music", "generate", melody_run, "-n", "3", "--steps", "4", fragment="song-2.mid")
    assert not (tmp_path / "song-1.mid").exists() and (tmp_path / "song-2.mid").read_bytes() == b"and this"
    code, _, err = run_cli(capsys, "music", "generate", melody_run, "--out", mine, "--steps", "4", "--force")
    assert code == 0, err
    assert mine.read_bytes().startswith(b"MThd")


def test_generate_never_writes_over_its_primer(melody_run, primer, capsys):
    """--prime theme.mid --out theme.mid is refused even with --force, and the primer is untouched."""
    before = primer.read_bytes()
    for extra in ([], ["--force"]):
        argv = ["music", "generate", melody_run, "--prime", primer, "--out", primer, "--steps", "4", *extra]
        expect_error(capsys, *argv, fragment="input --prime")
    assert primer.read_bytes() == before


def test_generate_refuses_colliding_outputs(melody_run, tmp_path, capsys):
    """--out x.mid --png x.mid (and a numbered file that another output names) are refused before writing."""
    x = tmp_path / "x.mid"
    expect_error(capsys, "music", "generate", melody_run, "--out", x, "--png", x, fragment="same file")
    y = tmp_path / "y.png"
    argv = ["music", "generate", melody_run, "--out", x, "-n", "2", "--png", y, "--wav", y]
    expect_error(capsys, *argv, "--steps", "4", fragment="same file")
    assert not list(tmp_path.iterdir())


def test_the_shipped_models_are_never_written(tmp_path, capsys):
    """--out inside the installed package's data is refused, --force or not, and the error offers no --force."""
    surnames, bach = text_train.pretrained_path(), music_train.pretrained_path()
    before = {p: p.read_bytes() for d in (surnames, bach) for p in d.iterdir()}
    for argv in (
        ["text", "train", "--out", surnames, "--max-steps", "1", "--force", *TINY],
        ["text", "train", "--out", surnames / "sub", "--max-steps", "1", *TINY],
        ["music", "train", "--out", bach, "--max-steps", "1", "--force", *MUSIC_TINY],
        ["text", "train", "--resume", surnames],
        ["music", "generate", "--out", bach / "song.mid", "--steps", "4"],
        ["music", "prepare", "--data", tmp_path, "--out", bach / "c.npz"],
    ):
        err = expect_error(capsys, *argv, fragment="installed rnnkit package")
        assert "--force" not in err.split(":", 3)[-1]
    assert before == {p: p.read_bytes() for d in (surnames, bach) for p in d.iterdir()}


def test_a_folder_that_is_not_an_rnnkit_run_is_never_replaced(tmp_path, names_file, capsys):
    """A folder with someone else's config.json is refused with and without --force, and left as it was."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "config.json").write_text('{"my": 1}')
    (proj / "metrics.jsonl").write_text("mine\n")
    for extra in ([], ["--force"]):
        argv = ["text", "train", "--data", names_file, "--out", proj, "--max-steps", "2", *TINY, *extra]
        err = expect_error(capsys, *argv, fragment="holds no rnnkit run")
        assert "--force" not in err and "--resume" not in err
    assert sorted(p.name for p in proj.iterdir()) == ["config.json", "metrics.jsonl"]
    assert (proj / "config.json").read_text() == '{"my": 1}'


def test_force_removes_what_rnnkit_wrote_and_nothing_else(tmp_path, names_file):
    """--force over an rnnkit run removes all of the old run (its data copy too) and keeps the user's files."""
    run = tmp_path / "r"
    assert train_text(run, names_file, 5) == 0
    (run / "notes.txt").write_text("keep me")
    (run / ".checkpoint.safetensors.x1.tmp").write_bytes(b"left by a kill")
    assert train_text(run, "surnames", 2, "--force") == 0
    assert (run / "notes.txt").read_text() == "keep me"
    assert not (run / "items.txt.gz").exists() and not (run / ".checkpoint.safetensors.x1.tmp").exists()
    assert [r["step"] for r in RunDir(run).read_metrics()] == [2]


# -------------------------------------------------------------------------------------- two processes, one run


def test_a_run_being_trained_is_locked(tmp_path, names_file, capsys):
    """While a process holds the run's lock, --resume and --out --force there exit 2; a freed lock blocks nothing."""
    run = tmp_path / "r"
    assert train_text(run, names_file, 5) == 0
    before = (run / "checkpoint.safetensors").read_bytes()
    from rnnkit.rundir import RunLock

    lock = RunLock(RunDir(run))  # what a second rnnkit process training this run holds
    expect_error(capsys, "text", "train", "--resume", run, "--max-steps", "10", "--quiet", fragment="another rnnkit")
    argv = ["text", "train", "--data", names_file, "--out", run, "--max-steps", "3", "--force", *TINY]
    expect_error(capsys, *argv, fragment="another rnnkit")
    assert (run / "checkpoint.safetensors").read_bytes() == before
    lock.release()  # as when that process ends, killed or not: the lock file stays, unlocked
    assert (run / ".rnnkit.lock").exists()
    assert cli.main(["text", "train", "--resume", str(run), "--max-steps", "10", "--quiet"]) == 0


def test_plots_use_unique_temporary_files(tiny_run, tmp_path):
    """loss.png is written through a temporary file of its own, not a fixed name another process may hold."""
    run = tmp_path / "r"
    shutil.copytree(tiny_run, run)
    (run / ".loss.png.tmp.png").mkdir()  # the old fixed name, taken
    (run / "loss.png").unlink()
    RunDir(run).plot()
    assert (run / "loss.png").read_bytes().startswith(b"\x89PNG")


# --------------------------------------------------------------------------------------------------- faults


def test_sigterm_saves_like_ctrl_c(tmp_path, names_file, monkeypatch, capsys):
    """SIGTERM at step 7 saves a checkpoint at step 7, says so, and exits 143; resuming finishes the run exactly."""
    assert train_text(tmp_path / "straight", names_file, 12) == 0
    interrupt_at(monkeypatch, text_train.NameTask, 7, signal.SIGTERM)
    code, out, err = run_cli(capsys, "text", "train", "--data", names_file, "--out", tmp_path / "split",
                             "--max-steps", "12", "--eval-every", "5", *TINY)  # fmt: skip
    assert code == 143 and "interrupted by SIGTERM" in out and "--resume" in err
    assert RunDir(tmp_path / "split").load_checkpoint()[1]["step"] == 7
    monkeypatch.undo()
    assert cli.main(["text", "train", "--resume", str(tmp_path / "split"), "--quiet"]) == 0
    same_weights(tmp_path / "straight", tmp_path / "split")


def test_a_start_killed_before_its_first_checkpoint_is_recognisably_unfinished(tmp_path, names_file, monkeypatch,
                                                                               capsys):  # fmt: skip
    """Killed before the first checkpoint: no config.json, sample says so, and --out trains it again without --force."""
    from rnnkit.training import Trainer

    def killed(self):
        raise KeyboardInterrupt  # the process dies here

    monkeypatch.setattr(Trainer, "begin", killed)
    assert train_text(tmp_path / "r", names_file, 5) == 130  # the command ends as Ctrl-C ends it, quietly
    monkeypatch.undo()
    assert not (tmp_path / "r" / "config.json").exists()
    expect_error(capsys, "text", "sample", tmp_path / "r", fragment="unfinished run")
    expect_error(capsys, "text", "train", "--resume", tmp_path / "r", fragment="unfinished run")
    assert train_text(tmp_path / "r", names_file, 5) == 0
    assert text_train.load(tmp_path / "r").sample(2, seed=0)


def test_a_new_run_samples_from_its_first_checkpoint(tmp_path, names_file, monkeypatch, capsys):
    """Once config.json is there the run samples, even stopped before its first evaluation."""
    interrupt_at(monkeypatch, text_train.NameTask, 1, signal.SIGINT)
    assert train_text(tmp_path / "r", names_file, 50, "--eval-every", "40") == 130
    capsys.readouterr()
    code, out, err = run_cli(capsys, "text", "sample", tmp_path / "r", "-n", "3", "--seed", "0")
    assert code == 0 and len(out.strip().split("\n")) == 3, err


def test_resume_removes_what_a_killed_write_left(tiny_run, tmp_path):
    """A .checkpoint.safetensors.*.tmp left by a kill mid-write is deleted when the run is next trained."""
    run = tmp_path / "r"
    shutil.copytree(tiny_run, run)
    left = [run / ".checkpoint.safetensors.k2j4h1.tmp", run / ".metrics.jsonl.x.tmp", run / ".loss.png.ab.tmp"]
    for p in left:
        p.write_bytes(b"\0" * 1000)
    (run / ".mine.tmp").write_text("not rnnkit's")
    assert cli.main(["text", "train", "--resume", str(run), "--max-steps", "42", "--quiet"]) == 0
    assert not any(p.exists() for p in left) and (run / ".mine.tmp").exists()


def test_resume_trains_on_the_data_the_run_kept(tmp_path, names_file, monkeypatch):
    """--resume after the data file changed and moved (relative path, other cwd) continues exactly as a straight run."""
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "names.txt"
    shutil.copy(names_file, data)
    assert train_text("straight", "names.txt", 12) == 0
    with monkeypatch.context() as m:
        interrupt_at(m, text_train.NameTask, 6, signal.SIGINT)
        assert train_text("split", "names.txt", 12) == 130
    data.write_text("changed\nnames\n" + data.read_text())
    os.rename(data, tmp_path / "moved.txt")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert cli.main(["text", "train", "--resume", "../split", "--quiet"]) == 0
    same_weights(tmp_path / "straight", tmp_path / "split")


def test_music_resume_never_rereads_the_original_data(melody_run, tmp_path, capsys):
    """A melody run whose copy of its data is gone is refused rather than retrained on whatever --data holds now."""
    run = tmp_path / "m"
    shutil.copytree(melody_run, run)
    (run / "melodies.npz").unlink()
    expect_error(capsys, "music", "train", "--resume", run, "--max-steps", "8", fragment="melodies.npz")


@pytest.mark.parametrize("bad", ["{not json", "42", "[]", "null", "{}", '{"step": "x"}', '{"step": 3}'])
def test_bad_metrics_lines_are_skipped_and_reported(tiny_run, tmp_path, capsys, bad):
    """A bad line in the middle of metrics.jsonl is reported by number; the rows after it survive resume and plot."""
    run = tmp_path / "r"
    shutil.copytree(tiny_run, run)
    rows = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text(f"{rows[0]}\n{bad}\n{rows[1]}\n")
    assert [r["step"] for r in RunDir(run).read_metrics()] == [20, 40]
    code, out, err = run_cli(capsys, "text", "train", "--resume", run, "--max-steps", "45", "--quiet")
    assert code == 0, err
    assert "metrics.jsonl" in out + err and "line(s) 2" in out + err
    assert [r["step"] for r in RunDir(run).read_metrics()] == [20, 40, 45]


def test_every_run_file_arrives_by_an_atomic_rename(tmp_path, names_file, monkeypatch):
    """Each file of a run but the appended metrics log is written to a temporary file and renamed into place."""
    from rnnkit import checkpoint

    renamed, real_replace = set(), os.replace

    def replace(src, dst):
        renamed.add(os.path.basename(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", replace)
    assert train_text(tmp_path / "r", names_file, 5, "--val-fraction", "0.2") == 0
    written = {p.name for p in (tmp_path / "r").iterdir()} - {".rnnkit.lock", "metrics.jsonl"}
    assert {"items.txt.gz", "val-items.txt.gz", "loss.png", "config.json"} <= written
    assert written <= renamed


# --------------------------------------------------------------------------------------------------- resume


def test_resume_refuses_flags_it_cannot_honour(tiny_run, tmp_path, capsys):
    """--resume with --lr, --out, --hidden-size is refused naming each; empty --resume and --out are refused."""
    err = expect_error(capsys, "text", "train", "--resume", tiny_run, "--max-steps", "60", "--lr", "0.1", "--out",
                       tmp_path / "elsewhere", "--hidden-size", "999", fragment="--lr")  # fmt: skip
    assert "--out" in err and "--hidden-size" in err and "--max-steps" not in err.split("cannot")[0]
    assert not (tmp_path / "elsewhere").exists()
    expect_error(capsys, "text", "train", "--resume", "", fragment="--resume")
    expect_error(capsys, "text", "train", "--out", "", "--max-steps", "1", fragment="--out")
    expect_error(capsys, "music", "train", "--resume", tmp_path, "--lr", "0.1", fragment="--lr")
    expect_error(capsys, "music", "train", "--resume", "", fragment="--resume")
    expect_error(capsys, "music", "train", "--out", "", fragment="--out")


def test_resume_extends_a_finished_run(tiny_run, tmp_path, capsys):
    """--resume --max-steps N trains a finished run on to step N; --max-time S trains S more seconds."""
    run = tmp_path / "r"
    shutil.copytree(tiny_run, run)
    expect_error(capsys, "text", "train", "--resume", run, "--max-steps", "40", fragment="already at step 40")
    code, out, err = run_cli(capsys, "text", "train", "--resume", run, "--max-steps", "60", "--quiet")
    assert code == 0 and "at step 60" in out, err
    assert [r["step"] for r in RunDir(run).read_metrics()] == [20, 40, 60]
    assert json.loads((run / "config.json").read_text())["train"]["max_steps"] == 60
    code, out, err = run_cli(capsys, "text", "train", "--resume", run, "--max-time", "0.5", "--quiet")
    assert code == 0, err
    assert RunDir(run).load_checkpoint()[1]["step"] > 60


def test_music_resume_extends_a_finished_run(melody_run, tmp_path, capsys):
    """`music train --resume RUN --max-steps N` trains on to step N."""
    run = tmp_path / "m"
    shutil.copytree(melody_run, run)
    code, out, err = run_cli(capsys, "music", "train", "--resume", run, "--max-steps", "9", "--quiet")
    assert code == 0 and "at step 9" in out, err


# --------------------------------------------------------------------------------------- hand-edited run files


def _edit_config(run, section, key, value):
    config = json.loads((run / "config.json").read_text())
    if key is None:
        config[section] = value
    elif value is KeyError:
        del config[section][key]
    else:
        config[section][key] = value
    (run / "config.json").write_text(json.dumps(config))


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (("model", "hidden_size", "256"), "model.hidden_size"),
        (("model", "hidden_size", 256.0), "model.hidden_size"),
        (("model", "hidden_size", True), "model.hidden_size"),
        (("model", "hidden_size", KeyError), "missing hidden_size"),
        (("model", "colour", "red"), "colour"),
        (("model", "hidden_size", -4), "hidden-size"),
        (("train", "lr", "fast"), "train.lr"),
        (("data", "dedupe", 1), "data.dedupe"),
        (("model", None, [1, 2]), "model"),
        (("rnnkit", None, 7), "rnnkit"),
        (("engine", None, {"engine": "tpu"}), "engine"),
        (("engine", None, {"engine": "numpy", "world_size": "2"}), "engine.world_size"),
    ],
)
def test_hand_edited_configs_are_refused_naming_the_field(tiny_run, tmp_path, capsys, edit, fragment):
    """Wrong types, missing and unknown keys in config.json: sample and resume exit 2 naming config.json and it."""
    run = tmp_path / "r"
    shutil.copytree(tiny_run, run)
    _edit_config(run, *edit)
    for argv in (["text", "sample", run], ["text", "train", "--resume", run, "--max-steps", "50", "--quiet"]):
        err = expect_error(capsys, *argv, fragment=fragment)
        assert "config.json" in err


@pytest.mark.parametrize("text", ["[1, 2]", "null", "42", DEEP])
def test_config_json_that_is_no_object_is_refused(tiny_run, tmp_path, capsys, text):
    """A top-level list, null, a number, deep nesting or a bare object: one line naming config.json."""
    run = tmp_path / "r"
    shutil.copytree(tiny_run, run)
    (run / "config.json").write_text(text)
    expect_error(capsys, "text", "sample", run, fragment="config.json")


def _rewrite_model(run, name="model.safetensors", arrays=None, meta=None, raw_meta=None, dtype=None):
    """Rewrite a safetensors file of the run with changed arrays, metadata or one tensor's dtype in the header."""
    from safetensors.numpy import save

    old_arrays, old_meta = RunDir(run).load_model() if name == "model.safetensors" else RunDir(run).load_checkpoint()
    arrays = old_arrays if arrays is None else arrays(old_arrays)
    header = {"rnnkit": raw_meta if raw_meta is not None else json.dumps(meta(old_meta) if meta else old_meta)}
    data = bytearray(save(arrays, metadata=header))
    if dtype is not None:  # relabel the first tensor as another dtype of the same width (F16 -> BF16)
        n = int.from_bytes(data[:8], "little")
        head = json.loads(data[8 : 8 + n])
        first = next(k for k in head if k != "__metadata__")
        head[first]["dtype"] = dtype
        text = json.dumps(head, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        data = len(text).to_bytes(8, "little") + text + data[8 + n :]
    (run / name).write_bytes(bytes(data))


def _f16(arrays):
    return {k: v.astype(np.float16) for k, v in arrays.items()}


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"arrays": lambda a: {k: np.full_like(v, np.nan) for k, v in a.items()}}, "NaN"),
        ({"arrays": lambda a: {k: v.astype(np.int32) for k, v in a.items()}}, "floating point"),
        ({"arrays": _f16, "dtype": "BF16"}, "BF16"),
        ({"arrays": lambda a: {k: v.astype(np.uint8) for k, v in a.items()}, "dtype": "F8_E4M3"}, "F8_E4M3"),
        ({"raw_meta": DEEP}, "nested too deeply"),
    ],
)
def test_weights_that_cannot_be_right_are_refused(tiny_run, tmp_path, capsys, change, fragment):
    """NaN, integer, bfloat16 and float8 weights and unreadable metadata: one line naming model.safetensors."""
    run = tmp_path / "r"
    shutil.copytree(tiny_run, run)
    _rewrite_model(run, **change)
    err = expect_error(capsys, "text", "sample", run, fragment=fragment)
    assert "model.safetensors" in err


@pytest.mark.parametrize(
    "meta, fragment",
    [
        (lambda m: {**m, "step": "20"}, "step"),
        (lambda m: {**m, "step": 2.5}, "step"),
        (lambda m: {**m, "best_val": "low"}, "best_val"),
        (lambda m: {**m, "rng": 5}, "rng"),
        (lambda m: {**m, "data": None}, "data"),
        (lambda m: {k: v for k, v in m.items() if k != "elapsed"}, "elapsed"),
        (lambda m: {**m, "step": -1}, "step"),
    ],
)
def test_checkpoint_metadata_of_the_wrong_types_is_refused(tiny_run, tmp_path, capsys, meta, fragment):
    """--resume of a checkpoint whose metadata was edited: one line naming the checkpoint and the field."""
    run = tmp_path / "r"
    shutil.copytree(tiny_run, run)
    _rewrite_model(run, "checkpoint.safetensors", meta=meta)
    err = expect_error(capsys, "text", "train", "--resume", run, "--max-steps", "50", "--quiet", fragment=fragment)
    assert "checkpoint.safetensors" in err


# ------------------------------------------------------------------------- every run file, corrupted every way


def _corruptions(name: str, data: bytes) -> dict[str, bytes]:
    ways = {"empty": b"", "truncated": data[: len(data) // 2], "garbage": bytes(range(256)) * 4}
    if name.endswith((".json", ".jsonl")):
        ways.update({"list": b"[1, 2]", "null": b"null", "number": b"42", "deep": DEEP.encode()})
        first = json.loads(data if name.endswith(".json") else data.splitlines()[0])
        ways["wrong types"] = json.dumps({k: [] for k in first}).encode()
    if name.endswith(".gz"):
        ways["gzip of garbage"] = gzip.compress(bytes(range(256)))
    return ways


def _commands(kind: str, run, tmp_path) -> list[list]:
    if kind == "text":
        return [
            ["text", "sample", run, "-n", "3", "--seed", "0"],
            ["text", "sample", run, "-n", "3", "--novel", "--seed", "0"],
            ["text", "score", run, "smith"],
            ["text", "eval", run, "--data", run.parent / "names.txt"],
            ["text", "train", "--resume", run, "--max-steps", "42", "--quiet"],
        ]
    return [
        ["music", "generate", run, "--out", tmp_path / "out.mid", "--steps", "4", "--force"],
        ["music", "eval", run, "-n", "2"],
        ["music", "train", "--resume", run, "--max-steps", "7", "--quiet"],
    ]


@pytest.mark.parametrize("kind", ["text", "music"])
def test_every_run_file_corrupted_every_way_gives_exit_0_or_2(kind, tiny_run, melody_run, names_file, tmp_path,
                                                              capsys):  # fmt: skip
    """Each file of a run truncated, emptied, garbled or of the wrong JSON types: every command exits 0 or 2."""
    source = tiny_run if kind == "text" else melody_run
    shutil.copy(names_file, tmp_path / "names.txt")
    files = sorted(p.name for p in source.iterdir() if not p.name.startswith("."))
    assert len(files) >= 7
    for name in files:
        for way, data in _corruptions(name, (source / name).read_bytes()).items():
            run = tmp_path / "run"
            shutil.rmtree(run, ignore_errors=True)
            shutil.copytree(source, run)
            (run / name).write_bytes(data)
            for argv in _commands(kind, run, tmp_path):
                code, _, err = run_cli(capsys, *argv)
                assert code in (0, 2), (name, way, argv, err)
                assert code == 0 or len(err.strip().split("\n")) == 1, (name, way, argv, err)


def test_resume_of_a_folder_that_holds_no_run_leaves_it_alone(tmp_path, capsys):
    """--resume on someone else's folder is refused without making a lock file (or anything else) there."""
    (tmp_path / "config.json").write_text('{"my": 1}')
    expect_error(capsys, "text", "train", "--resume", tmp_path, fragment="not written by rnnkit")
    expect_error(capsys, "music", "train", "--resume", tmp_path / "none", fragment="no such run directory")
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (("stats", "tempo_bpm", "fast"), "stats.tempo_bpm"),
        (("stats", "time_signature", [4, 0]), "time_signature"),
        (("data", "tx", 8.0), "data.tx"),
        (("data", "data", "bach"), "data.data"),
        (("model", "hidden_size", KeyError), "missing hidden_size"),
        (("epochs", None, "many"), "epochs"),
    ],
)
def test_hand_edited_melody_configs_are_refused_naming_the_field(melody_run, tmp_path, capsys, edit, fragment):
    """A melody run's config.json with a field of the wrong type or value: generate and resume exit 2 naming it."""
    run = tmp_path / "m"
    shutil.copytree(melody_run, run)
    _edit_config(run, *edit)
    for argv in (
        ["music", "generate", run, "--out", tmp_path / "a.mid", "--steps", "4"],
        ["music", "train", "--resume", run, "--max-steps", "9", "--quiet"],
    ):
        err = expect_error(capsys, *argv, fragment=fragment)
        assert "config.json" in err


def test_a_safetensors_header_nested_too_deeply_is_refused(tiny_run, tmp_path, capsys):
    """A safetensors header that is one deep nest of lists: one line naming the file, no RecursionError."""
    run = tmp_path / "r"
    shutil.copytree(tiny_run, run)
    header = DEEP.encode()
    (run / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    err = expect_error(capsys, "text", "sample", run, fragment="nested too deeply")
    assert "model.safetensors" in err


def test_resume_max_steps_lifts_the_old_time_budget(tmp_path, names_file, capsys):
    """A run that stopped at its --max-time trains on to --max-steps N on resume instead of stopping again."""
    assert train_text(tmp_path / "r", names_file, 10, "--max-time", "0.01") == 0
    assert RunDir(tmp_path / "r").load_checkpoint()[1]["step"] < 10
    code, out, err = run_cli(capsys, "text", "train", "--resume", tmp_path / "r", "--max-steps", "20", "--quiet")
    assert code == 0 and "at step 20" in out, err


def test_a_damaged_rnnkit_run_can_be_replaced_with_force(tiny_run, tmp_path, names_file, capsys):
    """A run of rnnkit's files whose config.json is garbage is still rnnkit's: --force trains afresh there."""
    run = tmp_path / "r"
    shutil.copytree(tiny_run, run)
    (run / ".rnnkit.lock").touch()  # as every run trained by this version has
    (run / "config.json").write_bytes(b"\0garbage")
    argv = ["text", "train", "--data", names_file, "--out", run, "--max-steps", "2", *TINY]
    expect_error(capsys, *argv, fragment="--force")
    assert train_text(run, names_file, 2, "--force") == 0
    assert text_train.load(run).sample(2, seed=0)
