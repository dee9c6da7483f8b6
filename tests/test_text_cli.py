"""The name generator end to end, through cli.main, in temporary folders."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import TINY, interrupt_at, run_cli

from rnnkit import checkpoint, cli
from rnnkit.rundir import RunDir
from rnnkit.text import train as text_train


def test_training_writes_a_complete_run_and_the_loss_falls(tiny_run):
    """A run holds config, vocabulary, weights, checkpoint, metrics and plot; validation loss improves."""
    for name in (
        "config.json",
        "vocab.json",
        "model.safetensors",
        "checkpoint.safetensors",
        "metrics.jsonl",
        "loss.png",
        "items.txt.gz",
    ):
        assert (tiny_run / name).exists(), name
    rows = RunDir(tiny_run).read_metrics()
    assert [r["step"] for r in rows] == [20, 40]
    assert rows[-1]["val_loss"] < np.log(27)  # better than uniform over the alphabet
    config = json.loads((tiny_run / "config.json").read_text())
    assert config["model"]["hidden_size"] == 16 and config["kind"] == "text"


def test_sample_flags(tiny_run, capsys):
    """Every sampling flag runs and gives names that respect it."""
    code, out, _ = run_cli(capsys, "text", "sample", tiny_run, "-n", "7", "--seed", "3")
    assert code == 0 and len(out.split("\n")) == 8
    code, out, _ = run_cli(
        capsys,
        "text",
        "sample",
        tiny_run,
        "-n",
        "5",
        "--prefix",
        "ma",
        "--temperature",
        "0.7",
        "--top-k",
        "5",
        "--top-p",
        "0.9",
        "--max-length",
        "8",
        "--seed",
        "1",
    )
    names = out.split()
    assert code == 0 and len(names) == 5
    assert all(n.startswith("ma") and len(n) <= 8 for n in names)
    code, out, _ = run_cli(capsys, "text", "sample", tiny_run, "-n", "5", "--novel", "--seed", "2")
    training = set((tiny_run / "items.txt.gz").read_bytes() and text_train.load(tiny_run).training_items)
    assert code == 0 and len(out.split()) == 5 and not set(out.split()) & training
    code, out, _ = run_cli(capsys, "text", "sample", tiny_run, "--greedy")
    assert code == 0 and len(out.split()) == 1
    code, greedy_again, _ = run_cli(capsys, "text", "sample", tiny_run, "--greedy", "--seed", "9")
    assert greedy_again == out


def test_many_names_are_drawn_a_batch_at_a_time(tiny_run, monkeypatch):
    """More names than SAMPLE_BATCH come in several batches of at most that many, novel or not."""
    from rnnkit.text import generate

    gen = text_train.load(tiny_run)
    batches = []
    sample_batch = gen._sample_batch
    monkeypatch.setattr(gen, "_sample_batch", lambda batch, *a: batches.append(batch) or sample_batch(batch, *a))
    monkeypatch.setattr(generate, "SAMPLE_BATCH", 7)
    assert len(gen.sample(20, seed=1)) == 20 and batches == [7, 7, 6]
    batches.clear()
    novel = gen.sample(20, seed=1, novel=True)
    assert len(novel) == 20 == len(set(novel)) and not {s.lower() for s in novel} & gen.training_items
    assert batches and max(batches) == 7


def test_sampling_with_a_seed_is_reproducible(tiny_run, capsys):
    """The same seed gives the same names; another seed gives others."""
    a = run_cli(capsys, "text", "sample", tiny_run, "-n", "20", "--seed", "5")[1]
    b = run_cli(capsys, "text", "sample", tiny_run, "-n", "20", "--seed", "5")[1]
    c = run_cli(capsys, "text", "sample", tiny_run, "-n", "20", "--seed", "6")[1]
    assert a == b and a != c


def test_beam_search_is_sorted_and_agrees_with_scoring(tiny_run, capsys):
    """--beam K returns K names by descending log-probability, each equal to what `score` gives it."""
    code, out, _ = run_cli(capsys, "text", "sample", tiny_run, "--beam", "6")
    rows = [line.split("\t") for line in out.strip().split("\n")]
    assert code == 0 and len(rows) == 6
    log_probs = [float(lp) for _, lp in rows]
    assert log_probs == sorted(log_probs, reverse=True)
    code, out, _ = run_cli(capsys, "text", "score", tiny_run, *[name for name, _ in rows])
    scored = [float(line.split("\t")[1]) for line in out.strip().split("\n")]
    np.testing.assert_allclose(scored, log_probs, atol=1e-3)


def test_beam_search_finds_the_most_probable_names_of_a_brute_force_search(tiny_run):
    """With a wide beam, the top names are the most probable among all short strings scored directly."""
    gen = text_train.load(tiny_run)
    chars = "aeinorst"
    candidates = [a + b for a in chars for b in chars] + [a + b + c for a in chars for b in chars for c in "aen"]
    best = max(gen.score(candidates), key=lambda s: s.log_prob)
    beam = gen.beam(50, max_length=3)
    assert beam[0].log_prob >= best.log_prob - 1e-6


def test_eval_json_reports_makemore_measure(tiny_run, names_file, capsys):
    """eval --json prints nll, bpc, perplexity, items and chars (len + 1 per item), consistent with each other."""
    code, out, _ = run_cli(capsys, "text", "eval", tiny_run, "--data", names_file, "--json")
    result = json.loads(out)
    items = names_file.read_text().split()
    assert code == 0 and result["items"] == len(items)
    assert result["chars"] == sum(len(s) + 1 for s in items)
    assert result["bpc"] == pytest.approx(result["nll"] / np.log(2))
    assert result["perplexity"] == pytest.approx(np.exp(result["nll"]))
    total = sum(-s.log_prob for s in text_train.load(tiny_run).score(items))
    assert result["nll"] == pytest.approx(total / result["chars"])


def test_score_prints_a_log_probability_per_name(tiny_run, capsys):
    """score gives each name a finite negative log-probability; a likelier-looking name scores higher."""
    code, out, _ = run_cli(capsys, "text", "score", tiny_run, "smith", "qqqqqq")
    rows = dict(line.split("\t") for line in out.strip().split("\n"))
    assert code == 0 and float(rows["smith"]) < 0 and float(rows["smith"]) > float(rows["qqqqqq"])


def test_score_takes_chars_between_the_run_and_the_names(tiny_run, capsys):
    """`score RUN --chars NAME ...` prints what `score --chars RUN NAME ...` does; unknown words still fail (2)."""
    run = str(tiny_run)
    between = run_cli(capsys, "text", "score", run, "--chars", "smith", "lee")
    before = run_cli(capsys, "text", "score", "--chars", run, "smith", "lee")
    assert between[0] == before[0] == 0 and between[1] == before[1] and len(before[1].splitlines()) == 2
    code, _, err = run_cli(capsys, "text", "score", run, "--chars", "smith", "--bogus")
    assert code == 2 and "unrecognized arguments: smith --bogus" in err
    code, _, err = run_cli(capsys, "text", "train", "--out", run + "-never", "stray")  # other commands as before
    assert code == 2 and "unrecognized arguments: stray" in err and not os.path.exists(run + "-never")


def test_the_bundled_surnames_model_samples_and_scores_without_a_run(capsys):
    """After install, `rnnkit text sample` and `rnnkit text score Smith Zyxw` need no run directory."""
    code, out, _ = run_cli(capsys, "text", "sample", "-n", "5", "--novel", "--seed", "0")
    names = out.split()
    assert code == 0 and len(names) == 5 and all(n[0].isupper() for n in names)
    code, out, _ = run_cli(capsys, "text", "score", "Smith", "Zyxw")
    rows = dict(line.split("\t") for line in out.strip().split("\n"))
    # Smith is the most common US surname: the trained model must find it far likelier than Zyxw
    assert code == 0 and float(rows["Smith"]) > -12 and float(rows["Smith"]) > float(rows["Zyxw"]) + 10


def _train(out, data, steps, *extra):
    return cli.main(
        [
            "text",
            "train",
            "--data",
            str(data),
            "--out",
            str(out),
            "--max-steps",
            str(steps),
            "--eval-every",
            "5",
            "--dropout",
            "0.2",
            *TINY,
            *extra,
        ]
    )


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path, names_file, monkeypatch):
    """Ctrl-C at step 12, then --resume, gives the same metrics and bit-identical weights as a straight run."""
    assert _train(tmp_path / "straight", names_file, 25) == 0

    interrupt_at(monkeypatch, text_train.NameTask, 12)  # Ctrl-C in step 12
    assert _train(tmp_path / "split", names_file, 25) == 130  # saved, exit 128 + SIGINT
    stopped = RunDir(tmp_path / "split")
    assert [r["step"] for r in stopped.read_metrics()] == [5, 10, 12]
    assert cli.main(["text", "train", "--resume", str(tmp_path / "split"), "--quiet"]) == 0

    straight, split = RunDir(tmp_path / "straight"), RunDir(tmp_path / "split")
    a, _ = straight.load_checkpoint()
    b, _ = split.load_checkpoint()
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    rows_a = {r["step"]: r for r in straight.read_metrics()}
    rows_b = {r["step"]: r for r in split.read_metrics()}
    for step in (5, 10, 20, 25):
        assert rows_a[step]["val_loss"] == rows_b[step]["val_loss"]
    assert rows_a[10]["train_loss"] == rows_b[10]["train_loss"]


def test_a_kill_during_a_checkpoint_write_leaves_a_loadable_run(tmp_path, names_file, monkeypatch):
    """If the process dies while writing a checkpoint, the one before is intact and resumable."""
    real_replace = os.replace
    writes = {"n": 0}

    def dying_replace(src, dst):
        if str(dst).endswith("checkpoint.safetensors"):
            writes["n"] += 1
            if writes["n"] == 3:  # the checkpoints at step 0 and 5 went through
                raise KeyboardInterrupt  # dies after the temp file is written, before the rename
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", dying_replace)
    assert _train(tmp_path / "run", names_file, 20) == 130  # the interrupt ends the command as Ctrl-C does
    monkeypatch.setattr(checkpoint.os, "replace", real_replace)
    run = RunDir(tmp_path / "run")
    _, meta = run.load_checkpoint()
    assert meta["step"] == 5
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]
    assert text_train.load(run.path).sample(3, seed=0)
    assert cli.main(["text", "train", "--resume", str(run.path), "--quiet"]) == 0
    assert run.load_checkpoint()[1]["step"] == 20


def test_unicode_names_round_trip(tmp_path, capsys):
    """Names with é, ß, ñ and Cyrillic train, sample, score and evaluate without loss of characters."""
    names = ["josé", "strauß", "muñoz", "иванов", "петров", "zoë", "ångström", "çelik"] * 10
    data = tmp_path / "u.txt"
    data.write_text("\n".join(names), encoding="utf-8")
    assert _train(tmp_path / "u", data, 10, "--val-fraction", "0.1") == 0
    capsys.readouterr()
    vocab = json.loads((tmp_path / "u" / "vocab.json").read_text(encoding="utf-8"))
    assert {"é", "ß", "ñ", "и", "å"} <= set(vocab["chars"])
    code, out, _ = run_cli(capsys, "text", "score", tmp_path / "u", "иванов", "strauß")
    assert code == 0 and out.split("\n")[0].startswith("иванов\t")
    code, out, _ = run_cli(capsys, "text", "sample", tmp_path / "u", "--prefix", "ива", "-n", "2", "--seed", "0")
    assert code == 0 and all(n.startswith("ива") for n in out.split())


def _expect_error(capsys, argv, fragment):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (argv, out, err)
    lines = err.strip().split("\n")
    assert fragment in err and "Traceback" not in err, err
    return lines


BAD_TRAIN = "--max-steps 5 --quiet".split()


def test_bad_data_files_give_one_line_errors(tmp_path, capsys):
    """Missing, empty, binary and non-UTF-8 data, and too few items for a split: exit 2, one line, no run made."""
    empty, binary, latin, one = (tmp_path / n for n in ("empty.txt", "bin.txt", "latin.txt", "one.txt"))
    empty.write_text("\n\n")
    binary.write_bytes(b"abc\x00\x01\x02")
    latin.write_bytes("müller\n".encode("latin-1"))
    one.write_text("solo\n")
    cases = [
        (tmp_path / "missing.txt", "not found"),
        (empty, "no items"),
        (binary, "binary"),
        (latin, "not UTF-8"),
        (one, ""),
    ]
    for i, (path, fragment) in enumerate(cases):
        out = tmp_path / f"run{i}"
        lines = _expect_error(capsys, ["text", "train", "--data", path, "--out", out, *BAD_TRAIN], fragment)
        assert len(lines) == 1 and str(path.name) in lines[0] or path == one
        assert not out.exists()


def test_nonsense_numbers_are_refused(tmp_path, names_file, capsys):
    """Negative sizes, dropout >= 1, a zero learning rate, temperature < 0 and top-p outside (0, 1] are refused."""
    base = ["text", "train", "--data", names_file, "--out", tmp_path / "x", *BAD_TRAIN]
    for flag, value in [
        ("--hidden-size", "-3"),
        ("--num-layers", "0"),
        ("--dropout", "1.0"),
        ("--lr", "0"),
        ("--batch-size", "0"),
        ("--val-fraction", "1.5"),
        ("--clip-norm", "-1"),
        ("--cell", "tcn"),
    ]:
        _expect_error(capsys, [*base, flag, value], flag)
    assert not (tmp_path / "x").exists()


def test_bad_sampling_arguments_are_refused(tiny_run, capsys):
    """temperature < 0, top-p outside (0, 1], top-k 0 and a prefix with unseen characters give one-line errors."""
    for argv, fragment in [
        (["--temperature", "-1"], "--temperature"),
        (["--top-p", "0"], "--top-p"),
        (["--top-p", "1.5"], "--top-p"),
        (["--top-k", "0"], "--top-k"),
        (["--prefix", "x9"], "never saw: '9'"),
        (["-n", "0"], "-n"),
    ]:
        _expect_error(capsys, ["text", "sample", tiny_run, *argv], fragment)


def test_broken_run_directories_are_refused(tmp_path, tiny_run, capsys):
    """Missing, partial, corrupt and incompatible runs give one-line errors naming the problem."""
    _expect_error(capsys, ["text", "sample", tmp_path / "nothing"], "no such run directory")
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "config.json").write_text((tiny_run / "config.json").read_text())
    _expect_error(capsys, ["text", "sample", partial], "missing vocab.json")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in ("config.json", "vocab.json"):
        (corrupt / name).write_text((tiny_run / name).read_text())
    (corrupt / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    _expect_error(capsys, ["text", "sample", corrupt], "not a readable safetensors")
    old = tmp_path / "old"
    old.mkdir()
    for name in ("config.json", "vocab.json"):
        (old / name).write_text((tiny_run / name).read_text())
    arrays, meta = RunDir(tiny_run).load_model()
    from safetensors.numpy import save

    (old / "model.safetensors").write_bytes(save(arrays, metadata={"rnnkit": json.dumps({"format": 0})}))
    _expect_error(capsys, ["text", "sample", old], "incompatible")
    _expect_error(capsys, ["text", "train", "--resume", partial], "missing")


def test_out_directory_with_another_run_is_not_overwritten(tiny_run, names_file, capsys):
    """Training into a folder that holds a run is refused (exit 2) and leaves the run untouched."""
    before = (tiny_run / "model.safetensors").read_bytes()
    _expect_error(capsys, ["text", "train", "--data", names_file, "--out", tiny_run, *BAD_TRAIN], "--resume")
    assert (tiny_run / "model.safetensors").read_bytes() == before


def test_force_replaces_a_run(tmp_path, names_file):
    """--force trains afresh into a folder that held a run."""
    assert _train(tmp_path / "r", names_file, 5) == 0
    assert _train(tmp_path / "r", names_file, 10, "--force") == 0
    assert [r["step"] for r in RunDir(tmp_path / "r").read_metrics()] == [5, 10]


def test_exploding_loss_stops_with_a_message_and_keeps_the_checkpoint(tmp_path, names_file, capsys):
    """A learning rate that makes the loss blow up stops training with exit 2 and a loadable last checkpoint."""
    code, _, err = run_cli(
        capsys,
        "text",
        "train",
        "--data",
        names_file,
        "--out",
        tmp_path / "boom",
        "--max-steps",
        "200",
        "--eval-every",
        "2",
        "--optimizer",
        "sgd",
        "--lr",
        "1e6",
        "--clip-norm",
        "1e9",
        "--lr-schedule",
        "constant",
        *TINY,
    )
    assert code == 2 and "training stopped" in err and "Traceback" not in err
    RunDir(tmp_path / "boom").load_checkpoint()


def test_help_builds_without_numpy():
    """`rnnkit --help` stays quick: building every subcommand's flags imports no numpy (the configs are light)."""
    import subprocess
    import sys

    code = "import sys, rnnkit.cli as c; c.build_parser(); print('numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_light_cell_list_matches_the_engine():
    from rnnkit import nn
    from rnnkit.lm.config import CELLS

    assert CELLS == tuple(nn.CELLS)


def test_run_files_get_the_usual_permissions(tiny_run):
    """Atomic writes go through a private temporary file; the finished files follow the umask like any other."""
    mask = os.umask(0)
    os.umask(mask)
    for name in ("config.json", "model.safetensors", "checkpoint.safetensors", "metrics.jsonl"):
        assert (tiny_run / name).stat().st_mode & 0o777 == 0o666 & ~mask, name
