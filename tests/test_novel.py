"""New names (`--novel` on score and eval): the model conditioned on a name not being a training name.

The oracle is the sampler: drawing from the model and dropping the training names is the conditioned
distribution by definition, so the share of draws that are training names estimates M, and each new name's
share among the rest estimates P(name) / (1 - M).
"""

from __future__ import annotations

import collections
import json
import math
import sys
from pathlib import Path

import pytest
from conftest import TINY, run_cli, train_tiny

from rnnkit.errors import RnnkitError
from rnnkit.text import train as text_train
from rnnkit.text.data import read_items
from rnnkit.text.generate import NameGenerator
from rnnkit.text.novel import NovelNames

FEW = ["ana", "bo", "cara", "dan", "ed", "fay", "gil", "hal", "ida", "jo"]  # so few that the model learns them


@pytest.fixture(scope="module")
def memorising_run(tmp_path_factory):
    """A run that has learnt ten short names well: it gives them a large share of its probability."""
    data = tmp_path_factory.mktemp("data") / "few.txt"
    data.write_text("\n".join(FEW) + "\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("runs") / "few"
    train_tiny(out, data, 300, "--lr", "0.01", "--dropout", "0")
    return out


def test_the_training_mass_is_the_training_names_probability_and_new_names_gain_its_log(tiny_run):
    gen = text_train.load(tiny_run)
    novel = NovelNames(gen)
    training = sorted(gen.training_items)
    M = sum(math.exp(s.log_prob) for s in gen.score(training))
    assert 0 < M < 1 and novel.training_mass == pytest.approx(M, rel=1e-12)
    new = ["zyxw", "smithson", "qua"]
    assert not any(gen.is_training_item(n) for n in new)
    plain = [s.log_prob for s in gen.score(new)]
    assert [s.log_prob for s in novel.score(new)] == pytest.approx([lp - math.log(1 - M) for lp in plain])
    assert novel.score([training[0]])[0].log_prob == -math.inf


def test_sampling_and_dropping_the_training_names_draws_with_the_conditioned_probabilities(memorising_run):
    gen = text_train.load(memorising_run)
    novel = NovelNames(gen)
    assert novel.training_mass > 0.3  # large enough that conditioning changes every probability by much
    n = 20_000
    drawn = gen.sample(n, seed=0)
    trained = sum(gen.is_training_item(name) for name in drawn)
    sd = math.sqrt(n * novel.training_mass * (1 - novel.training_mass))
    assert abs(trained - n * novel.training_mass) < 4 * sd  # the share of training names is M
    new = collections.Counter(name for name in drawn if not gen.is_training_item(name))
    for name, count in new.most_common(5):
        p = math.exp(novel.score([name])[0].log_prob)  # P(name) / (1 - M)
        total = n - trained
        assert abs(count - total * p) < 4 * math.sqrt(total * p * (1 - p)) + 1, name


def test_novel_scores_a_mixture_of_both_ways_by_the_mixtures_mass(tmp_path, names_file):
    forward, backward = tmp_path / "fwd", tmp_path / "rev"
    train_tiny(forward, names_file, 30)
    train_tiny(backward, names_file, 30, "--reverse")
    mixture = text_train.load([forward, backward])
    novel = NovelNames(mixture)
    training = sorted(mixture.training_items)
    assert novel.training_mass == pytest.approx(sum(math.exp(s.log_prob) for s in mixture.score(training)))
    want = mixture.score(["zyxw"])[0].log_prob - math.log(1 - novel.training_mass)
    assert novel.score(["zyxw"])[0].log_prob == pytest.approx(want)


def test_a_model_without_training_names_is_refused(tiny_run):
    gen = text_train.load(tiny_run)
    with pytest.raises(RnnkitError, match="--novel needs the run's training names"):
        NovelNames(NameGenerator(gen.model, gen.vocab))


def test_cli_novel_scores_and_evaluates_and_refuses_training_names(tiny_run, stream_text_run, tmp_path, capsys):
    gen = text_train.load(tiny_run)
    novel = NovelNames(gen)
    new_file = tmp_path / "new.txt"
    new_file.write_text("zyxw\nsmithson\nqua\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "text", "eval", tiny_run, "--data", new_file, "--novel", "--json")
    report = json.loads(out)
    plain = gen.evaluate(read_items(str(new_file)))
    assert code == 0 and "training names" in err
    assert report["novel"]["training_mass"] == pytest.approx(novel.training_mass)
    assert report["nll"] == pytest.approx(plain["nll"] - 3 * novel.log_gain / plain["chars"])
    assert report["nll"] < plain["nll"]
    trained = sorted(gen.training_items)[0]
    code, out, _ = run_cli(capsys, "text", "score", tiny_run, "zyxw", trained, "--novel")
    zyxw, seen = out.splitlines()
    assert code == 0 and float(zyxw.split("\t")[1]) == pytest.approx(novel.score(["zyxw"])[0].log_prob, abs=1e-4)
    assert seen.split("\t")[1:] == ["-inf", "(a training name)"]
    with_training = tmp_path / "mixed.txt"
    with_training.write_text(f"zyxw\n{trained}\n", encoding="utf-8")
    for argv, fragment in (
        (["text", "eval", tiny_run, "--data", with_training, "--novel"], "1 of the 2 items are training names"),
        (["text", "score", tiny_run, "zyxw", "--novel", "--chars"], "give --chars or --novel, not both"),
        (["text", "eval", stream_text_run, "--data", new_file, "--novel"], "--novel scores names"),
    ):
        code, _, err = run_cli(capsys, *argv)
        assert code == 2 and fragment in err and "Traceback" not in err


def test_names_quality_novel_reports_the_training_mass_and_the_conditioned_nll(tiny_run, tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import names_quality

    new_file = tmp_path / "new.txt"
    new_file.write_text("zyxw\nsmithson\nqua\n", encoding="utf-8")
    assert names_quality.main(["--test", str(new_file), "--members", str(tiny_run), "--novel"]) == 0
    report = json.loads(capsys.readouterr().out)
    want = NovelNames(text_train.load(tiny_run)).evaluate(read_items(str(new_file)))["nll"]
    assert report["novel"] is True and report["members"][0]["test_nll"] == pytest.approx(want, abs=1e-4)
    assert report["ensemble"]["training_mass"] == pytest.approx(report["members"][0]["training_mass"])
    trained = sorted(text_train.load(tiny_run).training_items)[0]
    new_file.write_text(f"zyxw\n{trained}\n", encoding="utf-8")
    assert names_quality.main(["--test", str(new_file), "--members", str(tiny_run), "--novel"]) == 2
    assert "training names" in capsys.readouterr().err


def test_names_quality_novel_after_training_scores_the_new_run_conditioned(names_file, tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import names_quality

    new_file = tmp_path / "new.txt"
    new_file.write_text("zyxw\nqua\n", encoding="utf-8")
    out = tmp_path / "r"
    argv = ["--train", str(names_file), "--test", str(new_file), "--max-time", "0", "--out", str(out), "--novel"]
    assert names_quality.main([*argv, "--", "--max-steps", "3", "--eval-every", "3", *TINY]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    novel = NovelNames(text_train.load(out))
    assert report["novel"] is True and report["training_mass"] == pytest.approx(novel.training_mass, abs=1e-4)
    assert report["test_nll"] == pytest.approx(novel.evaluate(read_items(str(new_file)))["nll"], abs=1e-4)
